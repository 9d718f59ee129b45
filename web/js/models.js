// The model picker, pulling a model with a progress bar, and the health indicator.
import { describe, getJSON, postJSON, readEvents } from "./api.js";

const $ = (id) => document.getElementById(id);

export async function loadModels(onError) {
  const picker = $("model-picker");
  try {
    const data = await getJSON("/api/v1/models");
    const options = data.models.map((m) => {
      const tools = m.capabilities.includes("tools");
      const option = new Option(`${shortName(m.name)}${tools ? "  ⚒ tools" : ""}`, m.name);
      option.title = `${m.name}: ${tools ? "can call tools natively" : "tools are described in the prompt"}`;
      return option;
    });
    picker.replaceChildren(...options);
    if (data.default_model) picker.value = data.default_model;
    if (!options.length) picker.append(new Option("(no models: pull one)", ""));
  } catch (error) {
    picker.replaceChildren(new Option("(model server unavailable)", ""));
    onError(error);
  }
}

// A model's short name: a GGUF path's file name without the extension (the full id is the tooltip).
export function shortName(id) {
  if (!id.endsWith(".gguf") && !id.includes("/")) return id;
  return id.split("/").pop().replace(/\.gguf$/, "");
}

export async function checkHealth() {
  const box = $("health");
  try {
    const health = await getJSON("/api/v1/health");
    const server = health.services.model_server;
    const ok = server.status === "connected";
    box.className = `health ${ok ? "ok" : "down"}`;
    box.querySelector(".label").textContent = ok ? `${server.name} · connected (${Math.round(server.latency_ms)} ms)` : `${server.label} not reachable`;
    box.title = ok ? `${server.name} answers` : server.error || `${server.name} cannot be reached`;
    document.body.dataset.modelServer = server.status;
  } catch (error) {
    box.className = "health down";
    box.querySelector(".label").textContent = "server unreachable";
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
      let failed = null;
      await readEvents(response, (event) => {
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
      else await loadModels(() => {});
    } catch (error) {
      status.textContent = describe(error);
    }
  });
}
