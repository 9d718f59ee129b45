// The conversation: kept for the tab's life (sessionStorage), streamed answers, stop, clear.
import { ApiError, describe, postJSON, readEvents } from "./api.js";
import { render } from "./markdown.js";
import { clearTrace, onToolEvent } from "./trace.js";

const STORAGE = "repo-assistant.conversation";
let conversation = JSON.parse(sessionStorage.getItem(STORAGE) || "[]");
let controller = null;

const $ = (id) => document.getElementById(id);

function save() {
  sessionStorage.setItem(STORAGE, JSON.stringify(conversation));
}

function bubble(role, text) {
  const messages = $("messages");
  messages.querySelector(".empty")?.remove();
  const node = document.createElement("article");
  node.className = `message ${role}`;
  const body = document.createElement("div");
  body.className = "body";
  if (role === "user") body.textContent = text;
  else render(body, text);
  node.append(body);
  messages.append(node);
  messages.scrollTop = messages.scrollHeight;
  return body;
}

function note(message, text) {
  const small = document.createElement("p");
  small.className = "note";
  small.textContent = text;
  message.append(small);
}

export function showError(error) {
  const box = $("error");
  box.textContent = error instanceof ApiError ? describe(error) : describe({ code: error.code || "error", message: String(error.message || error) });
  box.hidden = false;
}

function hideError() {
  $("error").hidden = true;
}

function busy(on) {
  $("send").hidden = on;
  $("stop").hidden = !on;
  $("prompt").disabled = false;
}

export function restore() {
  for (const message of conversation) bubble(message.role, message.content);
}

export function clearConversation() {
  controller?.abort();
  conversation = [];
  save();
  $("messages").replaceChildren();
  const empty = document.createElement("p");
  empty.className = "empty";
  empty.textContent = "Ask about the repository. The model searches and reads the code with tools; every call shows up in the trace.";
  $("messages").append(empty);
  clearTrace();
  hideError();
}

export async function ask(question, settings) {
  hideError();
  conversation.push({ role: "user", content: question });
  save();
  bubble("user", question);
  const body = bubble("assistant", "");
  body.parentElement.classList.add("streaming");
  let answer = "";
  controller = new AbortController();
  busy(true);
  let failed = null;
  let exhausted = false;
  try {
    const response = await postJSON("/api/v1/chat/completions", { messages: conversation, settings, stream: true }, controller.signal);
    await readEvents(response, (event) => {
      if (event.type === "tool_call") onToolEvent(event);
      else if (event.type === "error") failed = new ApiError(event.error.code, event.error.message);
      else if (event.type === "done") exhausted = Boolean(event.rounds_exhausted);
      else if (event.choices) {
        const delta = event.choices[0].delta || {};
        if (delta.content) {
          answer += delta.content;
          render(body, answer);
          $("messages").scrollTop = $("messages").scrollHeight;
        }
      }
    });
  } catch (error) {
    if (error.name === "AbortError") {
      answer += answer ? "\n\n*(stopped)*" : "*(stopped)*";
      render(body, answer);
      body.parentElement.classList.add("stopped");
    } else {
      failed = error;
    }
  } finally {
    controller = null;
    busy(false);
    body.parentElement.classList.remove("streaming");
  }
  if (failed) {
    showError(failed);
    if (!answer) body.parentElement.remove();
  }
  if (exhausted) note(body.parentElement, "The model ran out of tool rounds; this answer is from what it had found by then.");
  if (answer) {
    conversation.push({ role: "assistant", content: answer });
    save();
  } else if (!failed) {
    body.parentElement.remove();
  }
}

export function stop() {
  controller?.abort();
}
