// @ts-check
// The viewer's History and Blame tabs and the commit view, over /api/v1/history, /blame and
// /commits/{id}: a file's commits (click one to open it), who last changed the selected lines,
// and a commit's message, files and diff.
import { getJSON } from "./api.js";
import { $, button, el } from "./dom.js";
import { openViewer, preview, showPanel, viewed, viewerRepo } from "./viewer.js";

/** @param {Record<string, string>} values */
function query(values) {
  const params = new URLSearchParams(values);
  const repo = viewerRepo();
  if (repo) params.set("repo", repo);
  return params;
}

/** @param {HTMLElement} box @param {any} error */
function failure(box, error) {
  box.replaceChildren(el("p", "note", `${error.message}${error.code ? ` (${error.code})` : ""}`));
}

/**
 * One commit as a row: short id, day, author, subject; click → the commit.
 * @param {any} commit
 * @param {string | null} path the file the row was listed for
 */
function commitRow(commit, path) {
  const row = button("", { className: "commit-row", title: `open commit ${commit.id}`, onClick: () => openCommit(commit.id, path) });
  row.append(
    el("span", "sha", commit.short_id),
    el("span", "when", commit.date.slice(0, 10)),
    el("span", "who", commit.author),
    el("span", "subject", commit.subject),
  );
  return row;
}

/**
 * The commits that changed a file, newest first.
 * @param {string} path
 */
export async function showHistory(path) {
  showPanel("history");
  const box = $("preview-history");
  box.replaceChildren(el("p", "note", "Loading the history…"));
  try {
    const data = await getJSON(`/api/v1/history?${query({ path, limit: "100" })}`);
    const rows = data.commits.map((/** @type {any} */ c) => commitRow(c, path));
    const head = el("p", "note", `${data.commits.length} commit${data.commits.length === 1 ? "" : "s"} changed ${path}${data.shallow ? " (a shallow clone: older history is not here)" : ""}`);
    box.replaceChildren(head, ...(rows.length ? rows : [el("p", "empty", "No commit changed this file.")]));
  } catch (error) {
    failure(box, error);
  }
}

/** The lines selected in the code, as [first, last] (1-based), or null. */
function selectedLines() {
  const selection = window.getSelection();
  const code = $("preview-code");
  if (!selection || selection.isCollapsed || !selection.rangeCount) return null;
  const range = selection.getRangeAt(0);
  if (!code.contains(range.startContainer) || !code.contains(range.endContainer)) return null;
  const before = document.createRange();
  before.setStart(code, 0);
  before.setEnd(range.startContainer, range.startOffset);
  const first = before.toString().split("\n").length;
  const selected = range.toString().replace(/\n$/, "");
  return [first, first + selected.split("\n").length - 1];
}

/**
 * Who last changed lines `start`..`end` of a file, the lines under each commit.
 * @param {string} path
 * @param {number} start
 * @param {number} end
 */
export async function showBlame(path, start, end) {
  showPanel("blame");
  const box = $("preview-history");
  const lines = ($("preview-code").textContent || "").split("\n");
  box.replaceChildren(el("p", "note", "Looking up who changed these lines…"));
  try {
    const data = await getJSON(`/api/v1/blame?${query({ path, start_line: String(start), end_line: String(end) })}`);
    const head = el("p", "note", `Lines ${data.start_line}–${data.end_line} of ${path} as committed at HEAD`);
    const parts = data.ranges.map((/** @type {any} */ range) => {
      const part = el("div", "blame-range");
      const text = [];
      for (let n = range.start_line; n <= range.end_line; n += 1) text.push(`${String(n).padStart(5)}  ${lines[n - 1] ?? ""}`);
      part.append(commitRow({ ...range, id: range.commit }, path), el("pre", "blame-lines", text.join("\n")));
      return part;
    });
    const differs = data.working_copy_differs ? [el("p", "note", "The working copy has uncommitted changes to this file.")] : [];
    box.replaceChildren(head, ...differs, ...parts);
  } catch (error) {
    failure(box, error);
  }
}

/** @param {string} patch */
function diffNode(patch) {
  const pre = el("pre", "diff");
  for (const line of patch.replace(/\n$/, "").split("\n")) {
    if (/^(diff --git|index |--- |\+\+\+ |new file mode|deleted file mode|old mode|new mode)/.test(line)) continue;
    const kind = line.startsWith("@@") ? "hunk" : line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : "";
    pre.append(el("span", kind, line || " "));
  }
  return pre;
}

/**
 * A commit: its message, then each file it changed with its diff.
 * @param {string} id
 * @param {string | null} [from] the file whose history or blame led here (a way back)
 */
export async function openCommit(id, from = null) {
  openViewer(`commit ${id.slice(0, 7)}`, from);
  const box = $("preview-history");
  box.replaceChildren(el("p", "note", "Loading the commit…"));
  try {
    const commit = await getJSON(`/api/v1/commits/${encodeURIComponent(id)}?${query({})}`);
    $("preview-name").textContent = `${commit.short_id} ${commit.subject}`;
    $("preview-name").title = commit.id;
    const nodes = [];
    if (from) nodes.push(button(`← ${from}`, { title: "back to the file", onClick: () => preview(from) }));
    nodes.push(el("h4", "commit-head", `${commit.short_id} · ${commit.author} · ${commit.date.slice(0, 16).replace("T", " ")}`));
    nodes.push(el("div", "message", commit.message));
    for (const file of commit.files) {
      const label = `${file.old_path ? `${file.old_path} → ` : ""}${file.path}  ${file.status}  +${file.additions} −${file.deletions}`;
      const head = file.status === "deleted" ? el("div", "file-change", label) : button(label, { className: "file-change ghost", title: `open ${file.path}`, onClick: () => preview(file.path) });
      nodes.push(head, file.binary ? el("p", "note", "binary file") : diffNode(file.patch));
      if (file.truncated) nodes.push(el("p", "note", "(this file's diff is cut)"));
    }
    if (commit.hidden_files) nodes.push(el("p", "note", `${commit.hidden_files} git-ignored file${commit.hidden_files === 1 ? "" : "s"} not shown`));
    if (commit.files_truncated) nodes.push(el("p", "note", "More files changed than are listed."));
    box.replaceChildren(...nodes);
  } catch (error) {
    failure(box, error);
  }
}

export function setupHistory() {
  /** @type {number[] | null} */
  let picked = null;
  // the selection is read before the click can move it
  $("tab-blame").addEventListener("mousedown", () => {
    picked = selectedLines();
  });
  $("tab-code").addEventListener("click", () => {
    if (viewed().path) showPanel("code");
  });
  $("tab-history").addEventListener("click", () => {
    const { path } = viewed();
    if (path) showHistory(path);
  });
  $("tab-blame").addEventListener("click", () => {
    const { path, line, endLine, lines } = viewed();
    if (!path) return;
    const range = picked || selectedLines() || (line ? [line, endLine || line] : [1, Math.max(1, Math.min(lines, 200))]);
    picked = null;
    showBlame(path, range[0], range[1]);
  });
}
