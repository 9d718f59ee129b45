// The conversation: stored on the server (so a reload or a restart brings it back, tool traces
// included), streamed answers, stop, branches (editing a question or asking again), and
// citations checked against the repository. When the server keeps no conversations, the
// conversation lasts as long as the tab.
import { ApiError, describe, getJSON, postJSON, readEvents, requestJSON } from "./api.js";
import { preview } from "./files.js";
import { render } from "./markdown.js";
import { clearTrace, onToolEvent } from "./trace.js";
import { el } from "./dom.js";

const OPEN = "repo-assistant.open-conversation";
const EMPTY = "Ask about the repository. The model searches and reads the code with tools; every call shows up in the trace.";
// path:line or path:line-line (the server's rule: a path with a `/` or an extension)
const CITATION = /(?<![\w/.:-])((?:[\w.-]+\/)*[\w.-]*[\w-]\.\w+|(?:[\w.-]+\/)+[\w.-]+):(\d{1,7})(?:[-–](\d{1,7}))?\b/g;

let current = null; // the open conversation as the server gives it ({id, title, messages, …}), or null
let stateless = false; // the server keeps no conversations: they live in `local`
let local = [];
let controller = null;
let listeners = [];
let settingsOf = () => ({});

// Where edits and "Ask again" take the chat settings from (the header's pickers).
export function useSettings(read) {
  settingsOf = read;
}

const $ = (id) => document.getElementById(id);

export function onConversationChange(listener) {
  listeners.push(listener);
}

function changed() {
  for (const listener of listeners) listener(current);
}

export function currentConversation() {
  return current;
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
  for (const button of document.querySelectorAll(".message .tools button")) button.disabled = on;
}

// Citations in a rendered answer become links to the preview when the server verified them
// (the file is in the repository and the lines within it), and are marked otherwise.
function decorate(body, citations) {
  const known = new Map((citations || []).map((c) => [c.ref, c]));
  if (!known.size) return;
  const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT, {
    acceptNode: (node) => (node.parentElement.closest("pre, a") ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT),
  });
  const nodes = [];
  while (walker.nextNode()) nodes.push(walker.currentNode);
  for (const node of nodes) {
    const text = node.nodeValue;
    CITATION.lastIndex = 0;
    let match;
    let last = 0;
    const parts = [];
    while ((match = CITATION.exec(text))) {
      const citation = known.get(match[0]);
      if (!citation) continue;
      parts.push(document.createTextNode(text.slice(last, match.index)));
      parts.push(citationNode(citation));
      last = match.index + match[0].length;
    }
    if (!parts.length) continue;
    parts.push(document.createTextNode(text.slice(last)));
    node.replaceWith(...parts);
  }
}

function citationNode(citation) {
  if (!citation.verified) {
    const span = el("span", "cite unverified", citation.ref);
    span.title = "not found in this repository (unverified)";
    return span;
  }
  const link = el("a", "cite", citation.ref);
  link.href = "#";
  link.title = `open ${citation.path} at line ${citation.line}`;
  link.dataset.path = citation.path;
  link.dataset.line = String(citation.line);
  link.addEventListener("click", (event) => {
    event.preventDefault();
    preview(citation.path, citation.line, citation.end_line);
  });
  return link;
}

function sourcesNode(sources) {
  const box = el("div", "sources");
  box.append(el("span", "sources-label", "Sources:"));
  for (const source of sources) {
    box.append(citationNode({ ...source, ref: source.label, verified: true }));
  }
  return box;
}

// ‹ 2/3 › between the versions of a message (edits of a question, answers asked again)
function switcher(message) {
  const box = el("span", "branches");
  const go = (step) => async () => {
    const target = message.sibling_ids[message.sibling_index + step];
    if (!target || controller) return;
    try {
      current = await requestJSON("PATCH", `/api/v1/conversations/${encodeURIComponent(current.id)}`, { active_id: target });
      show();
      changed();
    } catch (error) {
      showError(error);
    }
  };
  const back = el("button", "ghost", "‹");
  back.type = "button";
  back.title = "previous version";
  back.disabled = message.sibling_index === 0;
  back.addEventListener("click", go(-1));
  const next = el("button", "ghost", "›");
  next.type = "button";
  next.title = "next version";
  next.disabled = message.sibling_index >= message.sibling_count - 1;
  next.addEventListener("click", go(1));
  box.append(back, el("span", "branch-count", `${message.sibling_index + 1}/${message.sibling_count}`), next);
  return box;
}

function messageNode(message, index) {
  const node = el("article", `message ${message.role}`);
  if (message.id) node.dataset.id = message.id;
  const body = el("div", "body");
  node.append(body);
  if (message.role === "user") body.textContent = message.content;
  else {
    render(body, message.finish_reason === "cancelled" ? `${message.content}\n\n*(stopped)*` : message.content);
    decorate(body, message.citations);
    if (message.sources && message.sources.length) node.append(sourcesNode(message.sources));
    if (message.finish_reason === "cancelled") node.classList.add("stopped");
    if (message.error) node.append(el("p", "note", `The answer failed: ${message.error.message} (${message.error.code})`));
    if (message.model === null && message.role === "assistant" && message.content.startsWith("**Search results")) node.classList.add("search-answer");
  }
  const tools = el("div", "tools");
  if (message.sibling_count > 1) tools.append(switcher(message));
  if (message.id && !stateless) {
    if (message.role === "user") {
      const edit = el("button", "ghost", "Edit");
      edit.type = "button";
      edit.title = "edit this question (the answer to the edit is a new branch)";
      edit.addEventListener("click", () => startEdit(node, message, index));
      tools.append(edit);
    } else {
      const again = el("button", "ghost", "Ask again");
      again.type = "button";
      again.title = "answer this question again (a new branch)";
      again.addEventListener("click", () => askAgain(message, index));
      const fork = el("button", "ghost", "Fork");
      fork.type = "button";
      fork.title = "a new conversation with everything up to this answer";
      fork.addEventListener("click", () => forkAt(message));
      tools.append(again, fork);
    }
  }
  if (tools.childElementCount) node.append(tools);
  return node;
}

function show(upTo) {
  const box = $("messages");
  box.replaceChildren();
  clearTrace();
  const messages = stateless ? local : current ? current.messages : [];
  const shown = upTo === undefined ? messages : messages.slice(0, upTo);
  if (!shown.length) box.append(el("p", "empty", EMPTY));
  shown.forEach((message, index) => {
    box.append(messageNode(message, index));
    for (const event of message.tool_events || []) onToolEvent(event);
  });
  box.scrollTop = box.scrollHeight;
}

function startEdit(node, message, index) {
  if (controller) return;
  const editor = el("textarea", "edit-box");
  editor.value = message.content;
  editor.rows = Math.min(8, message.content.split("\n").length + 1);
  const save = el("button", "", "Save and ask");
  save.type = "button";
  const cancel = el("button", "ghost", "Cancel");
  cancel.type = "button";
  const actions = el("div", "edit-actions");
  actions.append(save, cancel);
  node.replaceChildren(editor, actions);
  editor.focus();
  cancel.addEventListener("click", () => show());
  save.addEventListener("click", () => {
    const text = editor.value.trim();
    if (!text) return;
    show(index); // the conversation up to the edited question
    ask(text, settingsOf(), { parentId: message.parent_id ?? null });
  });
}

function askAgain(message, index) {
  if (controller) return;
  show(index); // up to the question
  ask(null, settingsOf(), { parentId: message.parent_id });
}

async function forkAt(message) {
  if (controller) return;
  try {
    current = await requestJSON("POST", `/api/v1/conversations/${encodeURIComponent(current.id)}/fork`, { message_id: message.id });
    localStorage.setItem(OPEN, current.id);
    show();
    changed();
  } catch (error) {
    showError(error);
  }
}

export async function openConversation(id) {
  try {
    current = await getJSON(`/api/v1/conversations/${encodeURIComponent(id)}`);
    localStorage.setItem(OPEN, current.id);
  } catch (error) {
    if (error.code === "conversation_not_found") {
      localStorage.removeItem(OPEN);
      current = null;
    } else if (error.code === "conversations_unavailable") {
      stateless = true;
    } else {
      showError(error);
    }
  }
  hideError();
  show();
  changed();
}

export function newConversation() {
  controller?.abort();
  current = null;
  local = [];
  localStorage.removeItem(OPEN);
  hideError();
  show();
  changed();
}

export async function restore() {
  const id = localStorage.getItem(OPEN);
  if (id) await openConversation(id);
  else show();
}

export function forgetIf(id) {
  if (current && current.id === id) newConversation();
}

export function renamed(conversation) {
  if (current && current.id === conversation.id) current.title = conversation.title;
}

async function ensureConversation(settings) {
  if (stateless || current) return;
  try {
    const repo = settings.repo_path ? { repo: settings.repo_path } : {};
    current = await requestJSON("POST", "/api/v1/conversations", { ...repo, model: settings.model || null });
    current.messages = [];
    localStorage.setItem(OPEN, current.id);
  } catch (error) {
    if (error.code !== "conversations_unavailable") throw error;
    stateless = true;
  }
}

// Ask `question` (null: answer `parentId`, a question, again) and stream the answer in.
export async function ask(question, settings, { parentId } = {}) {
  hideError();
  try {
    await ensureConversation(settings);
  } catch (error) {
    showError(error);
    return;
  }
  const box = $("messages");
  box.querySelector(".empty")?.remove();
  let body;
  if (stateless) {
    local.push({ role: "user", content: question });
    body = { messages: local, settings, stream: true };
  } else {
    body = { conversation_id: current.id, messages: question === null ? [] : [{ role: "user", content: question }], settings, stream: true };
    if (parentId !== undefined) body.parent_id = parentId;
  }
  if (question !== null) box.append(messageNode({ role: "user", content: question }, -1));
  const node = el("article", "message assistant streaming");
  const target = el("div", "body");
  node.append(target);
  box.append(node);
  box.scrollTop = box.scrollHeight;
  let answer = "";
  let done = null;
  let failed = null;
  controller = new AbortController();
  busy(true);
  try {
    const response = await postJSON("/api/v1/chat/completions", body, controller.signal);
    await readEvents(response, (event) => {
      if (event.type === "tool_call") onToolEvent(event);
      else if (event.type === "error") failed = new ApiError(event.error.code, event.error.message);
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
    if (error.name !== "AbortError") failed = error;
    else {
      node.classList.add("stopped");
      render(target, answer ? `${answer}\n\n*(stopped)*` : "*(stopped)*");
    }
  } finally {
    controller = null;
    node.classList.remove("streaming");
    busy(false);
  }
  if (failed) showError(failed);
  if (stateless) {
    if (answer) local.push({ role: "assistant", content: answer, citations: done?.citations, sources: done?.sources, model: done?.model });
    else if (failed) local.pop();
    show();
  } else if (current && done) {
    // what the server stored (ids, branches, the trace): the one truth after each turn
    await refresh();
  } else if (current) {
    // stopped or failed: the server stores the partial answer as the stream ends; read it then
    setTimeout(refresh, 1000);
  }
  if (done && done.rounds_exhausted) {
    $("messages").lastElementChild?.append(el("p", "note", "The model ran out of tool rounds; this answer is from what it had found by then."));
  }
  changed();
}

async function refresh() {
  if (!current || controller) return;
  try {
    current = await getJSON(`/api/v1/conversations/${encodeURIComponent(current.id)}`);
    show();
    changed();
  } catch (error) {
    showError(error);
  }
}

export function stop() {
  controller?.abort();
}
