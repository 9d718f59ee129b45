// @ts-check
// The tool-trace panel: the calls of each answer under a heading of its own (the current one
// open, earlier ones folded), one entry per call, built only from the chat stream's tool_call
// events and the trace stored with each answer (never by re-running a tool). The code given to
// the model before its first round (the stream's context event, kept with the answer) is the
// answer's first entry: folded, each part a link that opens it in the preview.
import { $, el } from "./dom.js";
import { preview } from "./viewer.js";

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

/**
 * The code given with the question before the first round: a `context` event (or the context
 * stored with an answer), shown as the first entry of the answer's calls.
 * @param {{parts: {path: string, start_line: number, end_line: number, symbol: string | null, why: string}[], tokens: number}} context
 */
export function onContext(context) {
  if (!context || !context.parts || !context.parts.length) return;
  if (!group) startAnswer("", 1);
  const entry = el("li", "trace-context");
  const details = el("details", "context-parts");
  const summary = el("summary", "trace-head");
  const n = context.parts.length;
  summary.append(
    el("span", "tool-name", "context"),
    el("span", "status", `${n} part${n === 1 ? "" : "s"} given first`),
    el("span", "duration", `${context.tokens} tokens`),
  );
  const list = el("ol", "context-list");
  for (const part of context.parts) {
    const link = el("a", "context-part", `${part.path}:${part.start_line}-${part.end_line}`);
    link.href = "#";
    link.title = part.why ? `ranked for: ${part.why}` : `open ${part.path}`;
    link.addEventListener("click", (/** @type {Event} */ event) => {
      event.preventDefault();
      preview(part.path, part.start_line, part.end_line);
    });
    const item = el("li");
    item.append(link);
    if (part.symbol) item.append(el("span", "context-symbol", part.symbol));
    list.append(item);
  }
  details.append(summary, list);
  entry.append(details);
  group?.prepend(entry);
}
