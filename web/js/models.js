// @ts-check
// The model picker, pulling a model with a progress bar (only where the model server can pull),
// and the model server's state in the header.
import { describe, getJSON, postJSON, readEvents } from "./api.js";
import { $ } from "./dom.js";

/** A model's short name: a GGUF path's file name without the extension (the full id is the tooltip). @param {string} id */
export function shortName(id) {
  if (!id.endsWith(".gguf") && !id.includes("/")) return id;
  return (id.split("/").pop() || id).replace(/\.gguf$/, "");
}

/** The installed models into the picker; the default one chosen. Until they are known, the
 * picker says the default rule applies (the server picks). */
export async function loadModels() {
  const picker = $("model-picker");
  try {
    const data = await getJSON("/api/v1/models");
    const options = data.models.map((/** @type {any} */ m) => {
      const tools = m.capabilities.includes("tools");
      const option = new Option(`${shortName(m.name)}${tools ? "  ⚒ tools" : ""}`, m.name);
      option.title = `${m.name}: ${tools ? "can call tools natively" : "tools are described in the prompt"}`;
      return option;
    });
    picker.replaceChildren(...options);
    if (data.default_model) picker.value = data.default_model;
    if (!options.length) picker.append(new Option(data.can_pull ? "(no models: pull one)" : "(no models)", ""));
    const pull = $("pull-open");
    pull.hidden = !data.can_pull;
  } catch {
    picker.replaceChildren(new Option("(the server's default)", ""));
  }
}

/** @param {any} server services.model_server of /health */
export function showModelServer(server) {
  const box = $("health");
  const up = server.status === "connected" || server.status === "busy";
  box.className = `health ${server.status === "busy" ? "busy" : up ? "ok" : "down"}`;
  const label = box.querySelector(".label");
  if (server.status === "busy") label.textContent = `${server.name} · busy generating`;
  else if (up) label.textContent = `${server.name} · connected${server.latency_ms != null ? ` (${Math.round(server.latency_ms)} ms)` : ""}`;
  else label.textContent = `${server.label} not reachable`;
  box.title = up ? `${server.name} answers` : server.error || `${server.name} cannot be reached`;
  document.body.dataset.modelServer = server.status;
}

export async function checkHealth() {
  try {
    const health = await getJSON("/api/v1/health");
    showModelServer(health.services.model_server);
  } catch {
    $("health").className = "health down";
    $("health").querySelector(".label").textContent = "server unreachable";
  }
}

export function setupPull() {
  const dialog = $("pull-dialog");
  const progress = $("pull-progress");
  const status = $("pull-status");
  $("pull-open").addEventListener("click", () => dialog.showModal());
  $("pull-close").addEventListener("click", () => dialog.close());
  $("pull-start").addEventListener("click", async () => {
    const name = $("pull-name").value.trim();
    if (!name) return;
    progress.hidden = false;
    progress.value = 0;
    status.textContent = "starting…";
    try {
      const response = await postJSON("/api/v1/models/pull", { model: name });
      /** @type {any} */
      let failed = null;
      await readEvents(response, (/** @type {any} */ event) => {
        if (event.type === "error") failed = event.error;
        else if (event.type === "done") {
          progress.value = 100;
          status.textContent = `${name} is ready`;
        } else if (event.status) {
          status.textContent = event.status;
          if (event.total) progress.value = Math.round((100 * (event.completed || 0)) / event.total);
        }
      });
      if (failed) status.textContent = describe(failed);
      else await loadModels();
    } catch (error) {
      status.textContent = describe(error);
    }
  });
}
