// The conversations sidebar: newest first, search (titles and messages), rename, delete with
// undo, export as Markdown or JSON.
import { getJSON, requestJSON } from "./api.js";
import { el } from "./dom.js";
import { currentConversation, forgetIf, newConversation, onConversationChange, openConversation, renamed, showError } from "./chat.js";

const UNDO_SECONDS = 6;
const $ = (id) => document.getElementById(id);
const pending = new Map(); // conversation id -> timer of its deletion (undo still possible)
let query = "";
let unavailable = false;

function when(iso) {
  const date = new Date(iso);
  const today = new Date();
  return date.toDateString() === today.toDateString()
    ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleDateString([], { month: "short", day: "numeric" });
}

export async function loadConversations() {
  if (unavailable) return;
  const params = new URLSearchParams({ limit: "100" });
  if (query) params.set("q", query);
  try {
    const page = await getJSON(`/api/v1/conversations?${params}`);
    show(page.conversations.filter((c) => !pending.has(c.id)));
  } catch (error) {
    if (error.code === "conversations_unavailable") {
      unavailable = true;
      $("conversation-list").replaceChildren(el("li", "muted", "Conversations are not kept on this server; this one lasts as long as the tab."));
    } else {
      showError(error);
    }
  }
}

function show(conversations) {
  const list = $("conversation-list");
  const open = currentConversation();
  if (!conversations.length) {
    list.replaceChildren(el("li", "muted", query ? "No conversation matches." : "No conversations yet."));
    return;
  }
  list.replaceChildren(...conversations.map((c) => item(c, open && open.id === c.id)));
}

function item(conversation, active) {
  const li = el("li", `conversation${active ? " active" : ""}`);
  li.dataset.id = conversation.id;
  const open = el("button", "conversation-open");
  open.type = "button";
  open.append(el("span", "conversation-title", conversation.title), el("span", "conversation-when", when(conversation.updated_at)));
  open.title = conversation.title;
  open.addEventListener("click", () => openConversation(conversation.id));
  const rename = el("button", "ghost icon", "✎");
  rename.type = "button";
  rename.title = "Rename";
  rename.setAttribute("aria-label", `rename ${conversation.title}`);
  rename.addEventListener("click", () => startRename(li, conversation));
  const exportButton = el("button", "ghost icon", "⤓");
  exportButton.type = "button";
  exportButton.title = "Export (Markdown; Shift-click: JSON)";
  exportButton.setAttribute("aria-label", `export ${conversation.title}`);
  exportButton.addEventListener("click", (event) => download(conversation, event.shiftKey ? "json" : "md"));
  const remove = el("button", "ghost icon", "×");
  remove.type = "button";
  remove.title = "Delete";
  remove.setAttribute("aria-label", `delete ${conversation.title}`);
  remove.addEventListener("click", () => remove_(li, conversation));
  li.append(open, rename, exportButton, remove);
  return li;
}

function startRename(li, conversation) {
  const input = el("input", "rename-box");
  input.value = conversation.title;
  input.maxLength = 200;
  input.setAttribute("aria-label", "new title");
  li.replaceChildren(input);
  input.focus();
  input.select();
  let finished = false;
  const finish = async (save) => {
    if (finished) return;
    finished = true;
    const title = input.value.trim();
    if (save && title && title !== conversation.title) {
      try {
        renamed(await requestJSON("PATCH", `/api/v1/conversations/${encodeURIComponent(conversation.id)}`, { title }));
      } catch (error) {
        showError(error);
      }
    }
    loadConversations();
  };
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") finish(true);
    if (event.key === "Escape") finish(false);
  });
  input.addEventListener("blur", () => finish(true));
}

// Deleting hides the conversation at once and deletes it UNDO_SECONDS later unless undone.
function remove_(li, conversation) {
  li.hidden = true;
  forgetIf(conversation.id);
  const toast = $("toast");
  const undo = el("button", "ghost", "Undo");
  undo.type = "button";
  toast.replaceChildren(el("span", "", `Deleted “${conversation.title}”.`), undo);
  toast.hidden = false;
  const timer = setTimeout(async () => {
    pending.delete(conversation.id);
    toast.hidden = true;
    try {
      await requestJSON("DELETE", `/api/v1/conversations/${encodeURIComponent(conversation.id)}`);
    } catch (error) {
      if (error.code !== "conversation_not_found") showError(error);
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
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  } catch (error) {
    showError(error);
  }
}

export function setupConversations() {
  $("new-conversation").addEventListener("click", () => {
    newConversation();
    $("prompt").focus();
  });
  let typing = null;
  $("conversation-search").addEventListener("input", (event) => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      query = event.target.value.trim();
      loadConversations();
    }, 200);
  });
  onConversationChange(() => loadConversations());
}
