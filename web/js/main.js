// Wires the page together.
import { ask, newConversation, restore, showError, stop, useSettings } from "./chat.js";
import { loadConversations, setupConversations } from "./conversations.js";
import { browse, currentRepo, loadRepos, setupSearch } from "./files.js";
import { checkHealth, loadModels, setupPull } from "./models.js";

const $ = (id) => document.getElementById(id);

function settings() {
  return {
    model: $("model-picker").value || undefined,
    repo_path: currentRepo() || undefined,
    temperature: Number($("temperature").value),
    max_tokens: Number($("max-tokens").value),
    tool_mode: $("tool-mode").value,
  };
}

function send() {
  const text = $("prompt").value.trim();
  if (!text || !$("stop").hidden) return;
  $("prompt").value = "";
  ask(text, settings());
}

function setupTabs() {
  for (const tab of document.querySelectorAll(".tabs button")) {
    tab.addEventListener("click", () => {
      for (const other of document.querySelectorAll(".tabs button")) other.classList.toggle("active", other === tab);
      for (const panel of document.querySelectorAll("[data-panel]")) panel.classList.toggle("active", panel.dataset.panel === tab.dataset.tab);
    });
  }
}

// The divider between the file panel (and its preview) and the chat: drag to widen.
function setupDivider() {
  const layout = document.querySelector(".layout");
  const divider = $("files-divider");
  const saved = localStorage.getItem("repo-assistant.files-width");
  if (saved) layout.style.setProperty("--files-width", saved);
  divider.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    divider.setPointerCapture(event.pointerId);
    divider.classList.add("dragging");
    const left = layout.getBoundingClientRect().left;
    const move = (e) => {
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

async function start() {
  setupTabs();
  setupDivider();
  setupPull();
  setupSearch();
  setupConversations();
  useSettings(settings);
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  $("prompt").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  });
  $("stop").addEventListener("click", stop);
  $("clear").addEventListener("click", newConversation);
  $("preview-close").addEventListener("click", () => ($("file-preview").hidden = true));
  $("settings-open").addEventListener("click", () => {
    const panel = $("settings");
    panel.hidden = !panel.hidden;
    $("settings-open").setAttribute("aria-expanded", String(!panel.hidden));
  });
  await checkHealth();
  await loadRepos(showError);
  await restore();
  await loadConversations();
  await Promise.all([loadModels(() => {}), browse("")]);
  setInterval(checkHealth, 15000);
  document.body.dataset.ready = "true";
}

start();
