// @ts-check
// Wires the page together. Start-up never waits for the model server: the repositories, the
// open conversation and the files load at once; the model list and the model server's state
// arrive when they arrive.
import { ask, asking, hideError, showApiError, stop } from "./ask.js";
import {
  currentConversation,
  forkAt,
  newConversation,
  onConversationChange,
  readOnlyReason,
  restore,
  setServed,
  switchBranch,
} from "./conversation.js";
import { loadConversations, setupConversations } from "./conversations.js";
import { $ } from "./dom.js";
import { getJSON } from "./api.js";
import { followEvents } from "./events.js";
import { browse, currentPath, currentRepo, loadRepos, onRepoChange, setupSearch } from "./files.js";
import { showMessages } from "./messages.js";
import { checkHealth, loadModels, setupPull } from "./models.js";
import { clearTrace, onContext, onToolEvent, startAnswer } from "./trace.js";
import { preview, setupViewer, useRepo, viewed } from "./viewer.js";
import { setupHistory } from "./history.js";
import { setupUsage } from "./usage.js";

/** What a chat asks with: the pickers and the settings (no model chosen yet: the server's rule). */
function settings() {
  return {
    model: $("model-picker").value || undefined,
    repo_path: currentRepo() || undefined,
    temperature: Number($("temperature").value),
    max_tokens: Number($("max-tokens").value),
    tool_mode: $("tool-mode").value,
  };
}

/** @type {import("./messages.js").Actions} */
const actions = {
  edit: (message, index, text) => {
    draw(index); // the conversation up to the edited question
    ask(text, settings(), { parentId: message.parent_id ?? null });
  },
  askAgain: (message, index) => {
    draw(index); // up to the question
    ask(null, settings(), { parentId: message.parent_id });
  },
  fork: (message) => forkAt(message.id).catch(showApiError),
  switchTo: (messageId) => switchBranch(messageId).catch(showApiError),
  busy: asking,
  readOnly: () => readOnlyReason() !== null,
};

/** Draw the open conversation (the first `upTo` messages), its trace under one heading an answer. */
function draw(upTo = undefined) {
  const conversation = currentConversation();
  const messages = conversation ? conversation.messages : [];
  const shown = upTo === undefined ? messages : messages.slice(0, upTo);
  showMessages(shown, actions, readOnlyReason());
  clearTrace();
  let number = 0;
  shown.forEach((/** @type {any} */ message, /** @type {number} */ index) => {
    if (message.role !== "assistant") return;
    number += 1;
    const question = index > 0 && shown[index - 1].role === "user" ? shown[index - 1].content : "";
    startAnswer(question, number);
    if (message.context) onContext(message.context);
    for (const entry of message.tool_events || []) onToolEvent(entry);
  });
  const locked = readOnlyReason() !== null;
  $("prompt").disabled = locked;
  $("send").disabled = locked;
}

function send() {
  const prompt = $("prompt");
  const text = prompt.value.trim();
  if (!text || asking() || readOnlyReason()) return;
  // the text stays in the composer until the server has the question
  ask(text, settings(), {
    onAccepted: () => {
      if (prompt.value === text) prompt.value = "";
      loadConversations(); // its title now comes from the question
    },
  });
}

function setupTabs() {
  for (const tab of document.querySelectorAll(".tabs button")) {
    tab.addEventListener("click", () => {
      for (const other of document.querySelectorAll(".tabs button")) other.classList.toggle("active", other === tab);
      for (const panel of document.querySelectorAll("[data-panel]")) {
        panel.classList.toggle("active", /** @type {HTMLElement} */ (panel).dataset.panel === /** @type {HTMLElement} */ (tab).dataset.tab);
      }
    });
  }
}

// The divider between the file panel and the chat: drag to widen.
function setupDivider() {
  const layout = /** @type {HTMLElement} */ (document.querySelector(".layout"));
  const divider = $("files-divider");
  const saved = localStorage.getItem("repo-assistant.files-width");
  if (saved) layout.style.setProperty("--files-width", saved);
  divider.addEventListener("pointerdown", (/** @type {PointerEvent} */ event) => {
    event.preventDefault();
    divider.setPointerCapture(event.pointerId);
    divider.classList.add("dragging");
    const left = layout.getBoundingClientRect().left;
    const move = (/** @type {PointerEvent} */ e) => {
      const width = Math.max(180, Math.min(e.clientX - left, layout.clientWidth * 0.7));
      layout.style.setProperty("--files-width", `${Math.round(width)}px`);
    };
    const up = () => {
      divider.classList.remove("dragging");
      divider.removeEventListener("pointermove", move);
      localStorage.setItem("repo-assistant.files-width", layout.style.getPropertyValue("--files-width"));
    };
    divider.addEventListener("pointermove", move);
    divider.addEventListener("pointerup", up, { once: true });
  });
}

/**
 * Where a repository's event paths sit for the repository picked: "" (the same), "sub/" (the
 * picked one is a subdirectory of the event's root), or null (another repository).
 * @param {string} root
 */
function baseIn(root) {
  const repo = currentRepo();
  if (!repo) return null;
  if (repo === root) return "";
  return repo.startsWith(`${root}/`) ? `${repo.slice(root.length + 1)}/` : null;
}

/** @param {() => void} work */
function soon(work, ms = 300) {
  let timer = /** @type {ReturnType<typeof setTimeout> | null} */ (null);
  return () => {
    if (timer === null) timer = setTimeout(() => ((timer = null), work()), ms);
  };
}

/**
 * The picked repository's index as /status has it now (the events say what changes after).
 * @param {HTMLElement} status
 */
async function indexState(status) {
  try {
    const repos = (await getJSON("/api/v1/status")).repos;
    const repo = repos.find((/** @type {any} */ r) => baseIn(r.path) !== null);
    if (!repo) return;
    status.hidden = false;
    status.textContent =
      repo.state === "ready"
        ? `${repo.files_indexed.toLocaleString()} files indexed`
        : repo.state === "idle"
          ? "indexed when first searched"
          : `indexing ${Math.floor(100 * repo.progress)}%`;
  } catch {
    // the header keeps what it showed
  }
}

// One event stream instead of polling: while it is down, /health is asked every 15 s as before.
function follow() {
  const status = $("index-status");
  const conversationsChanged = soon(() => loadConversations());
  /** @type {ReturnType<typeof setInterval> | null} */
  let polling = null;
  followEvents(
    {
      "index.progress": (event) => {
        if (baseIn(event.repo) === null) return;
        status.hidden = false;
        status.textContent = `indexing ${event.total ? Math.floor((100 * event.done) / event.total) : 0}%`;
        status.title = `${event.done} of ${event.total} files`;
      },
      "index.ready": (event) => {
        if (baseIn(event.repo) === null) return;
        status.hidden = false;
        status.textContent = `${event.files.toLocaleString()} files indexed`;
        status.title = `${event.symbols.toLocaleString()} symbols, in ${((event.index_ms || 0) / 1000).toFixed(1)} s`;
      },
      "files.changed": (event) => {
        const base = baseIn(event.repo);
        if (base === null) return;
        const paths = event.paths.filter((/** @type {string} */ p) => p.startsWith(base)).map((/** @type {string} */ p) => p.slice(base.length));
        const here = currentPath();
        if (event.more || paths.some((/** @type {string} */ p) => !here || p.startsWith(`${here}/`))) browse(here);
        const open = viewed();
        if (open.path && paths.includes(open.path) && !$("preview-pre").hidden) preview(open.path, open.line, open.endLine);
      },
      "conversation.created": conversationsChanged,
      "conversation.updated": conversationsChanged,
      "conversation.deleted": conversationsChanged,
      "model_server.up": () => checkHealth(),
      "model_server.down": () => checkHealth(),
      "events.reset": () => {
        checkHealth();
        conversationsChanged();
        browse(currentPath());
      },
    },
    (connected) => {
      document.body.dataset.events = connected ? "connected" : "disconnected";
      if (connected) indexState(status);
      if (connected && polling !== null) {
        clearInterval(polling);
        polling = null;
      } else if (!connected && polling === null) {
        polling = setInterval(checkHealth, 15000);
      }
    },
  );
}

async function start() {
  setupTabs();
  setupDivider();
  setupPull();
  setupSearch();
  setupViewer();
  setupHistory();
  setupUsage();
  useRepo(currentRepo);
  setupConversations(currentRepo);
  onConversationChange(() => draw());
  onRepoChange(() => loadConversations());
  $("composer").addEventListener("submit", (/** @type {Event} */ event) => {
    event.preventDefault();
    send();
  });
  $("prompt").addEventListener("keydown", (/** @type {KeyboardEvent} */ event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  });
  $("stop").addEventListener("click", stop);
  $("clear").addEventListener("click", () => {
    hideError();
    newConversation();
  });
  $("settings-open").addEventListener("click", () => {
    const panel = $("settings");
    panel.hidden = !panel.hidden;
    $("settings-open").setAttribute("aria-expanded", String(!panel.hidden));
  });
  // the model server may be slow to answer (busy generating): nothing below waits for it
  checkHealth();
  loadModels();
  follow();
  try {
    setServed(await loadRepos());
  } catch (error) {
    showApiError(error);
  }
  await Promise.all([restore().catch(showApiError), browse("")]);
  document.body.dataset.ready = "true";
}

start();
