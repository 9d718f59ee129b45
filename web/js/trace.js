// The tool-trace panel: one entry per tool call, built only from the chat stream's own
// tool_call events (never by re-running a tool).
import { el } from "./dom.js";

const entries = new Map();
let count = 0;

function updateCount() {
  document.getElementById("trace-count").textContent = count ? String(count) : "";
}

export function clearTrace() {
  entries.clear();
  count = 0;
  const list = document.getElementById("trace");
  list.replaceChildren(el("li", "empty", "Tool calls appear here as they happen."));
  updateCount();
}

export function onToolEvent(event) {
  const list = document.getElementById("trace");
  list.querySelector(".empty")?.remove();
  let entry = entries.get(event.id);
  if (!entry) {
    entry = el("li", "trace-entry running");
    entry.dataset.id = event.id;
    const head = el("div", "trace-head");
    head.append(el("span", "spinner"), el("span", "tool-name", event.name), el("span", "status", "running"), el("span", "duration", ""));
    const args = el("code", "args", JSON.stringify(event.arguments || {}));
    const summary = el("div", "summary", "");
    const details = el("details", "result");
    details.append(el("summary", "", "Result"), el("pre", "result-text", ""));
    details.hidden = true;
    entry.append(head, args, summary, details);
    list.append(entry);
    entries.set(event.id, entry);
    count += 1;
    updateCount();
  }
  if (event.status === "started") return;
  entry.classList.remove("running");
  entry.classList.add(event.status);
  entry.querySelector(".status").textContent = event.status;
  entry.querySelector(".duration").textContent = `${event.duration_ms} ms`;
  const summary = event.error ? `${event.error.message} (${event.error.code})` : event.summary || "";
  entry.querySelector(".summary").textContent = summary;
  const details = entry.querySelector(".result");
  details.hidden = false;
  const result = event.result || { content: "", truncated: false };
  details.querySelector("pre").textContent = result.content + (result.truncated ? "\n[cut]" : "");
}
