// @ts-check
// The repository picker, the file browser and the search box, over /api/v1/files and /search.
import { getJSON } from "./api.js";
import { $, button, el } from "./dom.js";
import { preview } from "./viewer.js";

/** @type {string | null} */
let repo = null;
let shownPath = ""; // the directory the file browser lists

/** The directory the file browser lists (relative to the repository). */
export function currentPath() {
  return shownPath;
}
/** @type {((repo: string | null) => void)[]} */
const listeners = [];

export function currentRepo() {
  return repo;
}

/** @param {(repo: string | null) => void} listener told when another repository is picked */
export function onRepoChange(listener) {
  listeners.push(listener);
}

/** The repositories this server serves, into the picker; their paths. */
export async function loadRepos() {
  const picker = $("repo-picker");
  const status = await getJSON("/api/v1/status");
  const paths = status.repos.map((/** @type {any} */ r) => r.path);
  $("search-all").hidden = paths.length < 2; // one repository: nothing more to search
  picker.replaceChildren(...paths.map((/** @type {string} */ path) => new Option(path.split("/").pop() || path, path)));
  for (const option of picker.options) option.title = option.value;
  repo = paths[0] || null;
  picker.addEventListener("change", () => {
    repo = picker.value;
    browse("");
    for (const listener of listeners) listener(repo);
  });
  return paths;
}

/** @param {any} entry */
function entryItem(entry) {
  const item = el("li");
  const open = button(entry.type === "directory" ? `${entry.name}/` : entry.name, {
    className: `entry ${entry.type}`,
    title: entry.path,
    onClick: () => (entry.type === "directory" ? browse(entry.path) : preview(entry.path)),
  });
  if (entry.undecodable) open.disabled = true;
  item.append(open);
  return item;
}

/** @param {string} path */
export async function browse(path) {
  try {
    const params = new URLSearchParams({ path });
    if (repo) params.set("repo", repo);
    const listing = await getJSON(`/api/v1/files?${params}`);
    const items = [];
    if (path) items.push(entryItem({ name: "..", path: path.split("/").slice(0, -1).join("/"), type: "directory" }));
    for (const entry of listing.entries) items.push(entryItem(entry));
    if (listing.truncated) items.push(el("li", "muted", "(more entries not shown)"));
    $("file-list").replaceChildren(...items);
    $("files-path").textContent = `/${path}`;
    shownPath = path;
  } catch (error) {
    $("file-list").replaceChildren(el("li", "error-inline", `${error.message} (${error.code})`));
  }
}

// The search box above the file browser: results grouped by file, `why` as small labels; a
// click opens the code viewer at those lines.
export function setupSearch() {
  const input = $("code-search-input");
  const box = $("search-results");
  let asked = 0;
  $("code-search").addEventListener("submit", async (/** @type {Event} */ event) => {
    event.preventDefault();
    const q = input.value.trim();
    if (!q) {
      box.hidden = true;
      return;
    }
    const mine = ++asked;
    const params = new URLSearchParams({ q, limit: "40" });
    const everywhere = $("search-all-input").checked;
    if (everywhere) params.set("repo", "*");
    else if (repo) params.set("repo", repo);
    box.hidden = false;
    box.replaceChildren(el("p", "muted", "Searching…"));
    try {
      const found = await getJSON(`/api/v1/search?${params}`);
      if (mine === asked) showResults(found);
    } catch (error) {
      if (mine === asked) box.replaceChildren(el("p", "error-inline", `${error.message} (${error.code})`));
    }
  });
  input.addEventListener("input", () => {
    if (!input.value) box.hidden = true;
  });
  input.addEventListener("keydown", (/** @type {KeyboardEvent} */ event) => {
    if (event.key === "Escape") {
      input.value = "";
      box.hidden = true;
    }
  });
}

/** @param {any} found */
function showResults(found) {
  const parts = [];
  const head = `${found.results.length} result${found.results.length === 1 ? "" : "s"} · ${found.mode}` +
    (found.index.state === "building" ? " · index still building" : "");
  parts.push(el("p", "search-head", head));
  if (!found.results.length) parts.push(el("p", "muted", `Nothing found for “${found.query}”.`));
  /** @type {Map<string, any[]>} */
  const groups = new Map();
  for (const hit of found.results) {
    const key = `${hit.repo || ""}\u0000${hit.file}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)?.push(hit);
  }
  for (const hits of groups.values()) {
    const file = hits[0].file;
    const from = hits[0].repo || null;
    const group = el("div", "search-file");
    if (from) group.append(el("span", "search-repo", from.split("/").pop() || from));
    group.append(el("span", "search-path", file));
    for (const hit of hits) {
      const open = button("", { className: "search-hit", onClick: () => preview(file, hit.line, hit.end_line, hit.match_line, from) });
      open.dataset.file = file;
      open.dataset.line = String(hit.line);
      const lines = hit.end_line > hit.line ? `${hit.line}–${hit.end_line}` : `${hit.line}`;
      const top = el("div");
      top.append(el("span", "search-lines", lines));
      if (hit.symbol) top.append(el("span", "search-symbol", hit.symbol));
      else if (hit.kind !== "chunk") top.append(el("span", "search-kind", hit.kind));
      open.append(top, el("span", "search-text", hit.text));
      if (hit.why && hit.why.length) {
        const why = el("div", "why");
        for (const reason of hit.why) why.append(el("span", "why-label", reason));
        open.append(why);
      }
      group.append(open);
    }
    parts.push(group);
  }
  $("search-results").replaceChildren(...parts);
}
