// @ts-check
// The tool-trace panel: the calls of each answer under a heading of its own (the current one
// open, earlier ones folded), one entry per call, built only from the chat stream's tool_call
// events and the trace stored with each answer (never by re-running a tool).
import { $, el } from "./dom.js";

/** @type {Map<string, HTMLElement>} */
const entries = new Map();
/** @type {HTMLElement | null} */
let group = null; // the list of the answer being shown or written
let count = 0;

function updateCount() {
  $("trace-count").textContent = count ? String(count) : "";
}

export function clearTrace() {
  entries.clear();
  group = null;
  count = 0;
  $("trace").replaceChildren(el("li", "empty", "Tool calls appear here as they happen."));
  updateCount();
}

/**
 * Start the calls of one answer, under a heading; the earlier answers fold away.
 * @param {string} title what it answers (its question)
 * @param {number} number which answer of the conversation it is
 */
export function startAnswer(title, number) {
  const list = $("trace");
  list.querySelector(".empty")?.remove();
  for (const details of list.querySelectorAll(".trace-group > details")) details.open = false;
  const item = el("li", "trace-group");
  const details = el("details");
  details.open = true;
  const summary = el("summary", "trace-group-head");
  summary.append(el("span", "trace-group-number", `Answer ${number}`), el("span", "trace-group-title", title));
  summary.title = title;
  group = el("ol", "trace-calls");
  details.append(summary, group);
  item.append(details);
  list.append(item);
}

/**
 * A tool_call event (or a stored trace entry): a new entry, or the outcome of a running one.
 * @param {any} event
 */
export function onToolEvent(event) {
  if (!group) startAnswer("", 1);
  let entry = entries.get(event.id);
  if (!entry) {
    entry = el("li", "trace-entry running");
    entry.dataset.id = event.id;
    const head = el("div", "trace-head");
    head.append(el("span", "spinner"), el("span", "tool-name", event.name), el("span", "status", "running"), el("span", "duration", ""));
    const details = el("details", "result");
    details.append(el("summary", "", "Result"), el("pre", "result-text", ""));
    details.hidden = true;
    entry.append(head, el("code", "args", JSON.stringify(event.arguments || {})), el("div", "summary", ""), details);
    group?.append(entry);
    entries.set(event.id, entry);
    count += 1;
    updateCount();
  }
  if (event.status === "started") return;
  entry.classList.remove("running");
  entry.classList.add(event.status);
  entry.querySelector(".status").textContent = event.status;
  entry.querySelector(".duration").textContent = `${event.duration_ms} ms`;
  entry.querySelector(".summary").textContent = event.error ? `${event.error.message} (${event.error.code})` : event.summary || "";
  const details = /** @type {HTMLElement} */ (entry.querySelector(".result"));
  details.hidden = false;
  const result = event.result || { content: "", truncated: false };
  details.querySelector("pre").textContent = result.content + (result.truncated ? "\n[cut]" : "");
}
