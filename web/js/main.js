// Wires the page together.
import { ask, clearConversation, restore, showError, stop } from "./chat.js";
import { browse, currentRepo, loadRepos } from "./files.js";
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

async function start() {
  setupTabs();
  setupPull();
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
  $("clear").addEventListener("click", clearConversation);
  $("preview-close").addEventListener("click", () => ($("file-preview").hidden = true));
  $("settings-open").addEventListener("click", () => {
    const panel = $("settings");
    panel.hidden = !panel.hidden;
    $("settings-open").setAttribute("aria-expanded", String(!panel.hidden));
  });
  restore();
  await checkHealth();
  await loadRepos(showError);
  await Promise.all([loadModels(() => {}), browse("")]);
  setInterval(checkHealth, 15000);
  document.body.dataset.ready = "true";
}

start();
