// @ts-check
// The conversations sidebar: this repository's conversations (or all of them), newest first;
// search (titles and messages), rename, delete with undo, export as Markdown or JSON.
import { ApiError, getJSON, requestJSON } from "./api.js";
import { hideError, showApiError } from "./ask.js";
import { currentConversation, forgetIf, newConversation, onConversationChange, openConversation, renamed } from "./conversation.js";
import { $, button, el } from "./dom.js";

const UNDO_SECONDS = 6;
/** @type {Map<string, ReturnType<typeof setTimeout>>} conversation id -> the timer of its deletion (undo possible) */
const pending = new Map();
let query = "";
let everyRepo = false;
let repoOf = () => /** @type {string | null} */ (null);

/** @param {string} iso */
function when(iso) {
  const date = new Date(iso);
  const today = new Date();
  return date.toDateString() === today.toDateString()
    ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleDateString([], { month: "short", day: "numeric" });
}

/** @param {string} path */
function repoName(path) {
  return path.split("/").pop() || path;
}

export async function loadConversations() {
  const params = new URLSearchParams({ limit: "100" });
  if (query) params.set("q", query);
  const repo = repoOf();
  if (!everyRepo && repo) params.set("repo", repo);
  try {
    const page = await getJSON(`/api/v1/conversations?${params}`);
    show(page.conversations.filter((/** @type {any} */ c) => !pending.has(c.id)));
  } catch (error) {
    if (error instanceof ApiError && error.code === "conversations_unavailable") {
      $("conversation-list").replaceChildren(el("li", "muted", error.message));
    } else showApiError(error);
  }
}

/** @param {any[]} conversations */
function show(conversations) {
  const list = $("conversation-list");
  const open = currentConversation();
  if (!conversations.length) {
    list.replaceChildren(el("li", "muted", query ? "No conversation matches." : "No conversations yet."));
    return;
  }
  list.replaceChildren(...conversations.map((c) => item(c, open && open.id === c.id)));
}

/**
 * @param {any} conversation
 * @param {boolean} active
 */
function item(conversation, active) {
  const li = el("li", `conversation${active ? " active" : ""}`);
  li.dataset.id = conversation.id;
  const open = button("", {
    className: "conversation-open",
    onClick: () => {
      hideError();
      openConversation(conversation.id).catch(showApiError);
    },
  });
  const title = el("span", "conversation-title", conversation.title);
  const facts = el("span", "conversation-when", when(conversation.updated_at));
  if (conversation.forked_from) facts.prepend(el("span", "badge", "fork"), " ");
  if (everyRepo && conversation.repo) facts.append(` · ${repoName(conversation.repo)}`);
  open.append(title, facts);
  open.title = conversation.title + (conversation.forked_from ? " (a fork)" : "") + (conversation.repo ? `\n${conversation.repo}` : "");
  const label = (/** @type {string} */ what) => `${what} ${conversation.title}`;
  const rename = button("✎", { className: "ghost icon", title: "Rename", onClick: () => startRename(li, conversation) });
  rename.setAttribute("aria-label", label("rename"));
  const exportButton = button("⤓", {
    className: "ghost icon",
    title: "Export (Markdown; Shift-click: JSON)",
    onClick: (event) => download(conversation, event.shiftKey ? "json" : "md"),
  });
  exportButton.setAttribute("aria-label", label("export"));
  const remove = button("×", { className: "ghost icon", title: "Delete", onClick: () => deleteWithUndo(li, conversation) });
  remove.setAttribute("aria-label", label("delete"));
  li.append(open, rename, exportButton, remove);
  return li;
}

/**
 * @param {HTMLElement} li
 * @param {any} conversation
 */
function startRename(li, conversation) {
  const input = el("input", "rename-box");
  input.value = conversation.title;
  input.maxLength = 200;
  input.setAttribute("aria-label", "new title");
  li.replaceChildren(input);
  input.focus();
  input.select();
  let finished = false;
  const finish = async (/** @type {boolean} */ save) => {
    if (finished) return;
    finished = true;
    const title = input.value.trim();
    if (save && title && title !== conversation.title) {
      try {
        renamed(await requestJSON("PATCH", `/api/v1/conversations/${encodeURIComponent(conversation.id)}`, { title }));
      } catch (error) {
        showApiError(error);
      }
    }
    loadConversations();
  };
  input.addEventListener("keydown", (/** @type {KeyboardEvent} */ event) => {
    if (event.key === "Enter") finish(true);
    if (event.key === "Escape") finish(false);
  });
  input.addEventListener("blur", () => finish(true));
}

// Deleting hides the conversation at once and deletes it UNDO_SECONDS later unless undone.
/**
 * @param {HTMLElement} li
 * @param {any} conversation
 */
function deleteWithUndo(li, conversation) {
  li.hidden = true;
  forgetIf(conversation.id);
  const toast = $("toast");
  const undo = button("Undo");
  toast.replaceChildren(el("span", "", `Deleted “${conversation.title}”.`), undo);
  toast.hidden = false;
  const timer = setTimeout(async () => {
    pending.delete(conversation.id);
    toast.hidden = true;
    try {
      await requestJSON("DELETE", `/api/v1/conversations/${encodeURIComponent(conversation.id)}`);
    } catch (error) {
      if (!(error instanceof ApiError && error.code === "conversation_not_found")) showApiError(error);
    }
    loadConversations();
  }, UNDO_SECONDS * 1000);
  pending.set(conversation.id, timer);
  undo.addEventListener("click", () => {
    clearTimeout(timer);
    pending.delete(conversation.id);
    toast.hidden = true;
    li.hidden = false;
  });
}

/**
 * @param {any} conversation
 * @param {"md" | "json"} format
 */
async function download(conversation, format) {
  try {
    const exported = await getJSON(`/api/v1/conversations/${encodeURIComponent(conversation.id)}/export?format=${format}`);
    const text = format === "json" ? JSON.stringify(exported.content, null, 2) : exported.content;
    const url = URL.createObjectURL(new Blob([text], { type: format === "json" ? "application/json" : "text/markdown" }));
    const link = el("a");
    link.href = url;
    link.download = exported.filename;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url)); // after the click has started the download
  } catch (error) {
    showApiError(error);
  }
}

/** @param {() => string | null} read the repository picked (its conversations are listed) */
export function setupConversations(read) {
  repoOf = read;
  $("new-conversation").addEventListener("click", () => {
    hideError();
    newConversation();
    $("prompt").focus();
  });
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let typing;
  $("conversation-search").addEventListener("input", (/** @type {Event} */ event) => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      query = /** @type {HTMLInputElement} */ (event.target).value.trim();
      loadConversations();
    }, 200);
  });
  $("every-repo").addEventListener("change", (/** @type {Event} */ event) => {
    everyRepo = /** @type {HTMLInputElement} */ (event.target).checked;
    loadConversations();
  });
  onConversationChange(() => loadConversations());
}
