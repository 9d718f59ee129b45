// The repository picker and file browser, over /api/v1/files.
import { getJSON } from "./api.js";
import { el } from "./dom.js";
import { highlight } from "./markdown.js";

const $ = (id) => document.getElementById(id);
let repo = null;

export function currentRepo() {
  return repo;
}

export async function loadRepos(onError) {
  const picker = $("repo-picker");
  try {
    const status = await getJSON("/api/v1/status");
    const paths = status.repos.map((r) => r.path);
    picker.replaceChildren(...paths.map((path) => new Option(path.split("/").pop() || path, path)));
    for (const option of picker.options) option.title = option.value;
    repo = paths[0] || null;
  } catch (error) {
    onError(error);
  }
  picker.addEventListener("change", () => {
    repo = picker.value;
    browse("");
  });
}

function entryItem(entry) {
  const item = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.className = `entry ${entry.type}`;
  button.textContent = entry.type === "directory" ? `${entry.name}/` : entry.name;
  button.title = entry.path;
  button.addEventListener("click", () => (entry.type === "directory" ? browse(entry.path) : preview(entry.path)));
  if (entry.undecodable) button.disabled = true;
  item.append(button);
  return item;
}

export async function browse(path, onError = showInline) {
  try {
    const params = new URLSearchParams({ path });
    if (repo) params.set("repo", repo);
    const listing = await getJSON(`/api/v1/files?${params}`);
    const items = [];
    if (path) {
      const up = path.split("/").slice(0, -1).join("/");
      items.push(entryItem({ name: "..", path: up, type: "directory" }));
      items[0].firstChild.textContent = "../";
    }
    for (const entry of listing.entries) items.push(entryItem(entry));
    if (listing.truncated) {
      const more = document.createElement("li");
      more.className = "muted";
      more.textContent = "(more entries not shown)";
      items.push(more);
    }
    $("file-list").replaceChildren(...items);
    $("files-path").textContent = `/${path}`;
  } catch (error) {
    onError(error);
  }
}

function showInline(error) {
  const item = document.createElement("li");
  item.className = "error-inline";
  item.textContent = `${error.message} (${error.code})`;
  $("file-list").replaceChildren(item);
}

// The search box above the file browser: results grouped by file, `why` as small labels; a
// click opens the preview at those lines.
export function setupSearch() {
  const form = $("code-search");
  const input = $("code-search-input");
  const box = $("search-results");
  let asked = 0;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const q = input.value.trim();
    if (!q) {
      box.hidden = true;
      return;
    }
    const mine = ++asked;
    const params = new URLSearchParams({ q, limit: "40" });
    if (repo) params.set("repo", repo);
    box.hidden = false;
    box.replaceChildren(note("Searching…"));
    try {
      const found = await getJSON(`/api/v1/search?${params}`);
      if (mine === asked) showResults(found);
    } catch (error) {
      if (mine === asked) box.replaceChildren(note(`${error.message} (${error.code})`, "error-inline"));
    }
  });
  input.addEventListener("input", () => {
    if (!input.value) box.hidden = true;
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      input.value = "";
      box.hidden = true;
    }
  });
}

function note(text, className = "muted") {
  const p = document.createElement("p");
  p.className = className;
  p.textContent = text;
  return p;
}

function showResults(found) {
  const box = $("search-results");
  const parts = [];
  const head = `${found.results.length} result${found.results.length === 1 ? "" : "s"} · ${found.mode}` +
    (found.index.state === "building" ? " · index still building" : "");
  parts.push(note(head, "search-head"));
  if (!found.results.length) parts.push(note(`Nothing found for “${found.query}”.`));
  const groups = new Map();
  for (const hit of found.results) {
    if (!groups.has(hit.file)) groups.set(hit.file, []);
    groups.get(hit.file).push(hit);
  }
  for (const [file, hits] of groups) {
    const group = document.createElement("div");
    group.className = "search-file";
    group.append(el("span", "search-path", file));
    for (const hit of hits) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "search-hit";
      button.dataset.file = file;
      button.dataset.line = String(hit.line);
      const lines = hit.end_line > hit.line ? `${hit.line}–${hit.end_line}` : `${hit.line}`;
      const top = document.createElement("div");
      top.append(el("span", "search-lines", lines));
      if (hit.symbol) top.append(el("span", "search-symbol", hit.symbol));
      else if (hit.kind !== "chunk") top.append(el("span", "search-kind", hit.kind));
      button.append(top, el("span", "search-text", hit.text));
      if (hit.why && hit.why.length) {
        const why = document.createElement("div");
        why.className = "why";
        for (const reason of hit.why) why.append(el("span", "why-label", reason));
        button.append(why);
      }
      button.addEventListener("click", () => preview(file, hit.line, hit.end_line, hit.match_line));
      group.append(button);
    }
    parts.push(group);
  }
  box.replaceChildren(...parts);
}

// Scroll the preview to `line` and mark lines `line`..`endLine` (1-based).
function markLines(line, endLine, focusLine) {
  const pre = $("preview-pre");
  const code = $("preview-code");
  const mark = $("preview-mark");
  if (!line) {
    mark.hidden = true;
    pre.scrollTop = 0;
    return;
  }
  const height = parseFloat(getComputedStyle(code).lineHeight) || 19;
  const top = code.offsetTop + (line - 1) * height;
  mark.style.top = `${top}px`;
  mark.style.height = `${(Math.max(endLine || line, line) - line + 1) * height}px`;
  mark.hidden = false;
  mark.dataset.line = String(line);
  const focus = code.offsetTop + ((focusLine || line) - 1) * height;
  pre.scrollTop = Math.max(0, Math.min(top, focus - pre.clientHeight / 3));
}

export async function preview(path, line = null, endLine = null, focusLine = null) {
  const params = new URLSearchParams({ path, read: "true", max_bytes: "200000" });
  if (repo) params.set("repo", repo);
  const panel = $("file-preview");
  const code = $("preview-code");
  $("preview-name").textContent = path;
  try {
    const file = await getJSON(`/api/v1/files?${params}`);
    if (file.binary || file.encoding !== "utf-8") code.textContent = `(binary file, ${file.size} bytes)`;
    else {
      code.textContent = file.content + (file.truncated ? "\n… (cut)" : "");
      code.className = "";
      highlight(code, path);
    }
  } catch (error) {
    code.textContent = `${error.message} (${error.code})`;
  }
  panel.hidden = false;
  markLines(line, endLine, focusLine);
}
