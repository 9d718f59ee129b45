// @ts-check
// The code viewer: a file opened wide enough to read (it lies over the chat and the trace),
// with line numbers and highlighting, the lines a citation or a search result names marked
// and scrolled to; Close or Escape puts it away.
import { getJSON } from "./api.js";
import { $ } from "./dom.js";
import { highlight } from "./markdown.js";

let repoOf = () => /** @type {string | null} */ (null);

/** What the viewer shows: the file, the lines marked, how many lines it has. */
const shown = { path: /** @type {string | null} */ (null), line: /** @type {number | null} */ (null), endLine: /** @type {number | null} */ (null), lines: 0 };

/** The file open in the viewer and its marked lines. */
export function viewed() {
  return { ...shown };
}

/** The repository the viewer reads from: the open file's (a search of every repository may
 * open one of another), else the one picked. */
export function viewerRepo() {
  return openedFrom || repoOf();
}

let openedFrom = /** @type {string | null} */ (null);

/**
 * Show the code or the history panel of the viewer, the tab marked to match.
 * @param {"code" | "history" | "blame"} which
 */
export function showPanel(which) {
  $("preview-pre").hidden = which !== "code";
  $("preview-history").hidden = which === "code";
  for (const tab of ["code", "history", "blame"]) $(`tab-${tab}`).setAttribute("aria-selected", String(tab === which));
  $("preview-tabs").hidden = !shown.path; // a commit opened from an answer is about no one file
}

/**
 * Open the viewer on something that is not a file (a commit): its title, the history panel;
 * `path` the file it was reached from (its tabs stay), if any.
 * @param {string} title
 * @param {string | null} [path]
 */
export function openViewer(title, path = null) {
  if (shown.path !== path) Object.assign(shown, { path, line: null, endLine: null });
  $("preview-name").textContent = title;
  $("preview-name").title = title;
  $("preview-lines").textContent = "";
  $("file-preview").hidden = false;
  document.body.classList.add("viewing");
  showPanel("history");
}

/** @param {() => string | null} read where files are read from (the repository picked) */
export function useRepo(read) {
  repoOf = read;
}

export function closeViewer() {
  $("file-preview").hidden = true;
  document.body.classList.remove("viewing");
}

export function setupViewer() {
  $("preview-close").addEventListener("click", closeViewer);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !$("file-preview").hidden) closeViewer();
  });
}

/**
 * Scroll to `line` and mark `line`..`endLine` (1-based); focus on `focusLine` within them.
 * @param {number | null} line
 * @param {number | null} endLine
 * @param {number | null} focusLine
 */
function markLines(line, endLine, focusLine) {
  const scroller = $("preview-pre");
  const code = $("preview-code");
  const mark = $("preview-mark");
  if (!line) {
    mark.hidden = true;
    scroller.scrollTop = 0;
    return;
  }
  const height = parseFloat(getComputedStyle(code).lineHeight) || 19;
  const top = code.offsetTop + (line - 1) * height;
  const last = Math.max(endLine || line, line);
  mark.style.top = `${top}px`;
  mark.style.height = `${(last - line + 1) * height}px`;
  mark.hidden = false;
  mark.dataset.line = String(line);
  $("preview-lines").textContent = last > line ? `lines ${line}–${last}` : `line ${line}`;
  const focus = code.offsetTop + ((focusLine || line) - 1) * height;
  scroller.scrollTop = Math.max(0, Math.min(top, focus - scroller.clientHeight / 3));
}

/**
 * Open a file of the repository.
 * @param {string} path
 * @param {number | null} [line]
 * @param {number | null} [endLine]
 * @param {number | null} [focusLine]
 * @param {string | null} [fromRepo] another repository than the one picked (a search of them all)
 */
export async function preview(path, line = null, endLine = null, focusLine = null, fromRepo = null) {
  const params = new URLSearchParams({ path, read: "true", max_bytes: "400000" });
  const repo = fromRepo || repoOf();
  openedFrom = fromRepo;
  if (repo) params.set("repo", repo);
  const code = $("preview-code");
  const gutter = $("preview-gutter");
  $("preview-name").textContent = path;
  $("preview-name").title = path;
  $("preview-lines").textContent = "";
  Object.assign(shown, { path, line, endLine, lines: 0 });
  showPanel("code");
  let count = 0;
  try {
    const file = await getJSON(`/api/v1/files?${params}`);
    if (file.binary || file.encoding !== "utf-8") code.textContent = `(binary file, ${file.size} bytes)`;
    else {
      const text = file.content.endsWith("\n") ? file.content.slice(0, -1) : file.content;
      code.textContent = text + (file.truncated ? "\n… (the rest of the file is not shown)" : "");
      highlight(code, path);
      count = text.split("\n").length;
    }
  } catch (error) {
    code.textContent = `${error.message} (${error.code})`;
  }
  shown.lines = count;
  gutter.textContent = Array.from({ length: count }, (_, i) => String(i + 1)).join("\n");
  $("file-preview").hidden = false;
  document.body.classList.add("viewing"); // the conversations list makes room for the answer beside the code
  markLines(line, endLine, focusLine);
}
