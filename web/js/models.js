// The model picker, pulling a model with a progress bar, and the health indicator.
import { describe, getJSON, postJSON, readEvents } from "./api.js";

const $ = (id) => document.getElementById(id);

export async function loadModels(onError) {
  const picker = $("model-picker");
  try {
    const data = await getJSON("/api/v1/models");
    const options = data.models.map((m) => {
      const tools = m.capabilities.includes("tools");
      const option = new Option(`${m.name}${tools ? "  ⚒ tools" : ""}`, m.name);
      option.title = tools ? "can call tools natively" : "no native tool calls: tools are described in the prompt";
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

export async function checkHealth() {
  const box = $("health");
  try {
    const health = await getJSON("/api/v1/health");
    const ollama = health.services.ollama;
    const ok = ollama.status === "connected";
    box.className = `health ${ok ? "ok" : "down"}`;
    box.querySelector(".label").textContent = ok ? `Ollama connected (${Math.round(ollama.latency_ms)} ms)` : "Ollama unavailable";
    box.title = ok ? "the model server answers" : ollama.error || "the model server cannot be reached";
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
