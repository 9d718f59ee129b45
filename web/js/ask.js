// @ts-check
// Asking: the question shows at once, the answer streams in under a live line saying what the
// server is doing (waiting for the model, running a tool, writing), tool calls go to the trace
// under this answer's heading, Stop closes the stream. The composer keeps the text until the
// server has the question: a question that failed is never lost.
import { ApiError, describe, postJSON, readEvents } from "./api.js";
import { currentConversation, discardIfEmpty, ensureConversation, refresh } from "./conversation.js";
import { $, el } from "./dom.js";
import { render } from "./markdown.js";
import { decorate, decorateCommits, fillAnswer } from "./messages.js";
import { describeStatus } from "./status.js";
import { onContext, onToolEvent, startAnswer } from "./trace.js";

/** @type {AbortController | null} */
let controller = null;

export function asking() {
  return controller !== null;
}

export function stop() {
  controller?.abort();
}

/** @param {string} text */
export function showError(text) {
  const box = $("error");
  box.textContent = text;
  box.hidden = false;
}

/** @param {any} error */
export function showApiError(error) {
  showError(error instanceof ApiError ? describe(error) : describe({ code: error.code || "error", message: String(error.message || error) }));
}

export function hideError() {
  $("error").hidden = true;
}

/** @param {boolean} on */
function busy(on) {
  $("send").hidden = on;
  $("stop").hidden = !on;
  for (const node of document.querySelectorAll(".message .tools button")) /** @type {HTMLButtonElement} */ (node).disabled = on;
}

/**
 * The live line under a streaming answer: what the server says it is doing, the seconds
 * counted here.
 */
class StatusLine {
  constructor(/** @type {HTMLElement} */ node) {
    this.node = el("p", "status-line", "Sending…");
    node.append(this.node);
    /** @type {any} */
    this.status = null;
    this.timer = setInterval(() => this.draw(), 1000);
  }

  /** @param {any} status */
  set(status) {
    this.status = status;
    this.draw();
  }

  draw() {
    if (this.status) this.node.textContent = describeStatus(this.status, Date.now());
  }

  end() {
    clearInterval(this.timer);
    this.node.remove();
  }
}

/**
 * @typedef {{model?: string, repo_path?: string, temperature?: number, max_tokens?: number, tool_mode?: string}} Settings
 */

/**
 * Ask `question` (null: answer the question `parentId` again) and stream the answer in.
 * @param {string | null} question
 * @param {Settings} settings
 * @param {{parentId?: string | null, onAccepted?: () => void, onEnd?: () => void}} [options]
 */
export async function ask(question, settings, { parentId, onAccepted = () => {}, onEnd = () => {} } = {}) {
  hideError();
  let made = false;
  let stateless = false;
  try {
    made = (await ensureConversation(settings.repo_path, settings.model)).made;
  } catch (error) {
    if (!(error instanceof ApiError && error.code === "conversations_unavailable")) {
      showApiError(error);
      return;
    }
    stateless = true; // the store fails right now: this question goes alone, without the history
    showError(`${error.message} This question is asked on its own, without the conversation before it.`);
  }
  const conversation = currentConversation();
  const before = new Set((conversation?.messages || []).map((/** @type {any} */ m) => m.id));
  /** @type {any} */
  const body = { settings, stream: true };
  if (stateless || !conversation) body.messages = [{ role: "user", content: question }];
  else {
    body.conversation_id = conversation.id;
    body.messages = question === null ? [] : [{ role: "user", content: question }];
    if (parentId !== undefined) body.parent_id = parentId;
  }
  const box = $("messages");
  box.querySelector(".empty")?.remove();
  if (question !== null) {
    const mine = el("article", "message user pending");
    mine.append(el("div", "body", question));
    box.append(mine);
  }
  const node = el("article", "message assistant streaming");
  const target = el("div", "body");
  node.append(target);
  const status = new StatusLine(node);
  box.append(node);
  box.scrollTop = box.scrollHeight;
  const answers = (conversation?.messages || []).filter((/** @type {any} */ m) => m.role === "assistant").length;
  startAnswer(question ?? "(asked again)", answers + 1);
  let answer = "";
  /** @type {any} */
  let done = null;
  /** @type {any} */
  let failed = null;
  controller = new AbortController();
  busy(true);
  try {
    const response = await postJSON("/api/v1/chat/completions", body, controller.signal);
    onAccepted(); // the server has the question now
    await readEvents(response, (/** @type {any} */ event) => {
      if (event.type === "tool_call") onToolEvent(event);
      else if (event.type === "context") onContext(event);
      else if (event.type === "status") status.set(event);
      else if (event.type === "error") failed = new ApiError(event.error.code, event.error.message, 200);
      else if (event.type === "done") done = event;
      else if (event.choices) {
        const delta = event.choices[0].delta || {};
        if (delta.content) {
          answer += delta.content;
          render(target, answer);
          box.scrollTop = box.scrollHeight;
        }
      }
    });
  } catch (error) {
    if (/** @type {any} */ (error).name === "AbortError") failed = "stopped";
    else failed = error;
  } finally {
    controller = null;
    status.end();
    node.classList.remove("streaming");
    busy(false);
  }
  if (failed === "stopped") {
    // the server keeps what was written, marked stopped, as the stream closes
    fillAnswer(node, { content: answer, finish_reason: "cancelled" });
  } else if (stateless || !currentConversation()) {
    fillAnswer(node, { content: answer, ...(done || {}), finish_reason: done?.finish_reason });
    decorate(target, done?.citations);
    decorateCommits(target, done?.commits);
    if (failed) showApiError(failed);
    else onAccepted();
  } else {
    await refresh(); // what the server kept is the one truth: ids, branches, the trace, the error
    const kept = (currentConversation()?.messages || []).some(
      (/** @type {any} */ m) => m.role === "user" && !before.has(m.id) && m.content === question,
    );
    if (kept || question === null) onAccepted();
    if (failed && !kept && question !== null) {
      showApiError(failed); // it never reached the conversation: the text stays in the composer
      if (made) await discardIfEmpty();
    }
  }
  onEnd();
}
