// The repository picker and file browser, over /api/v1/files.
import { getJSON } from "./api.js";
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

export async function preview(path) {
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
}
