// @ts-check
// Drawing a conversation's messages: the answer's Markdown with its citations linked to the
// code viewer (or marked unverified), its sources, how it ended, the ‹ n/m › switcher between
// versions, and Edit, Ask again and Fork. What the buttons do is given by the caller.
import { branchState } from "./branches.js";
import { protectCitations, splitCitations } from "./citations.js";
import { $, button, el } from "./dom.js";
import { render } from "./markdown.js";
import { endNote } from "./status.js";
import { openCommit } from "./history.js";
import { preview } from "./viewer.js";

export const EMPTY = "Ask about the repository. The model searches and reads the code with tools; every call shows up in the trace.";

/**
 * @typedef {{
 *   edit: (message: any, index: number, text: string) => void,
 *   askAgain: (message: any, index: number) => void,
 *   fork: (message: any) => void,
 *   switchTo: (messageId: string) => void,
 *   busy: () => boolean,
 *   readOnly: () => boolean,
 * }} Actions
 */

/** @param {any} citation */
function citationNode(citation) {
  if (!citation.verified) {
    const span = el("span", "cite unverified", citation.ref);
    span.title = "not found in this repository (unverified)";
    return span;
  }
  const link = el("a", "cite", citation.ref);
  link.href = "#";
  link.title = `open ${citation.path} at line ${citation.line}`;
  link.addEventListener("click", (/** @type {Event} */ event) => {
    event.preventDefault();
    preview(citation.path, citation.line, citation.end_line);
  });
  return link;
}

/**
 * Citations in a rendered answer become links (verified) or marks (unverified).
 * @param {HTMLElement} body
 * @param {any[] | undefined} citations
 */
export function decorate(body, citations) {
  const known = new Map((citations || []).map((c) => [c.ref, c]));
  if (!known.size) return;
  const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT, {
    acceptNode: (node) => (node.parentElement?.closest("pre, a") ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT),
  });
  const nodes = [];
  while (walker.nextNode()) nodes.push(walker.currentNode);
  for (const node of /** @type {Text[]} */ (nodes)) {
    const pieces = splitCitations(node.nodeValue || "", known);
    if (pieces.length === 1 && "text" in pieces[0]) continue;
    node.replaceWith(...pieces.map((p) => ("text" in p ? document.createTextNode(p.text) : citationNode(p.citation))));
  }
}

/**
 * Commit ids in a rendered answer that the server verified become links to the commit.
 * @param {HTMLElement} body
 * @param {any[] | undefined} commits
 */
export function decorateCommits(body, commits) {
  const known = new Map((commits || []).map((c) => [c.ref, c]));
  if (!known.size) return;
  const pattern = new RegExp(`(?<![\\w/.:-])(${[...known.keys()].join("|")})(?![\\w-])`, "g");
  const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT, {
    acceptNode: (node) => (node.parentElement?.closest("pre, a") ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT),
  });
  const nodes = [];
  while (walker.nextNode()) nodes.push(walker.currentNode);
  for (const node of /** @type {Text[]} */ (nodes)) {
    const text = node.nodeValue || "";
    const parts = text.split(pattern);
    if (parts.length === 1) continue;
    node.replaceWith(
      ...parts.map((part, index) => {
        const commit = index % 2 === 1 ? known.get(part) : undefined;
        if (!commit) return document.createTextNode(part);
        const link = el("a", "cite commit", part);
        link.href = "#";
        link.title = `commit ${commit.id.slice(0, 12)}: ${commit.subject}`;
        link.addEventListener("click", (/** @type {Event} */ event) => {
          event.preventDefault();
          openCommit(commit.id);
        });
        return link;
      }),
    );
  }
}

/** @param {any[]} sources */
function sourcesNode(sources) {
  const box = el("div", "sources");
  box.append(el("span", "sources-label", "Sources:"));
  for (const source of sources) box.append(citationNode({ ...source, ref: source.label, verified: true }));
  return box;
}

/**
 * @param {any} message
 * @param {Actions} actions
 */
function switcher(message, actions) {
  const state = branchState(message);
  const box = el("span", "branches");
  const go = (/** @type {string | null} */ target) => () => {
    if (target && !actions.busy()) actions.switchTo(target);
  };
  const back = button("‹", { title: "previous version", onClick: go(state.previous) });
  back.disabled = !state.previous;
  const next = button("›", { title: "next version", onClick: go(state.next) });
  next.disabled = !state.next;
  box.append(back, el("span", "branch-count", state.label), next);
  return box;
}

/**
 * A stored (or just streamed) answer's body, sources and note.
 * @param {HTMLElement} node the message's article
 * @param {any} message
 */
export function fillAnswer(node, message) {
  const body = /** @type {HTMLElement} */ (node.querySelector(".body"));
  const refs = (message.citations || []).map((/** @type {any} */ c) => c.ref);
  render(body, protectCitations(message.content || "", refs));
  decorate(body, message.citations);
  decorateCommits(body, message.commits);
  node.querySelector(".sources")?.remove();
  node.querySelector(".note")?.remove();
  if (message.sources && message.sources.length) node.append(sourcesNode(message.sources));
  const note = endNote(message);
  if (note) node.append(el("p", "note", note));
  node.classList.toggle("stopped", message.finish_reason === "cancelled" || message.finish_reason === "interrupted");
  node.classList.toggle("failed", Boolean(message.error));
  node.classList.toggle("search-answer", Boolean(message.from_search));
}

/**
 * @param {any} message
 * @param {number} index its place in the branch shown
 * @param {Actions} actions
 */
export function messageNode(message, index, actions) {
  const node = el("article", `message ${message.role}`);
  if (message.id) node.dataset.id = message.id;
  const body = el("div", "body");
  node.append(body);
  if (message.role === "user") body.textContent = message.content;
  else fillAnswer(node, message);
  const tools = el("div", "tools");
  if (message.sibling_count > 1) tools.append(switcher(message, actions));
  if (message.id && !actions.readOnly()) {
    if (message.role === "user") {
      tools.append(button("Edit", { title: "edit this question (the answer to the edit is a new branch)", onClick: () => startEdit(node, message, index, actions) }));
    } else {
      tools.append(
        button("Ask again", { title: "answer this question again (a new branch)", onClick: () => actions.askAgain(message, index) }),
        button("Fork", { title: "a new conversation with everything up to this answer", onClick: () => actions.fork(message) }),
      );
    }
  }
  if (tools.childElementCount) node.append(tools);
  return node;
}

/**
 * @param {HTMLElement} node
 * @param {any} message
 * @param {number} index
 * @param {Actions} actions
 */
function startEdit(node, message, index, actions) {
  if (actions.busy()) return;
  const editor = el("textarea", "edit-box");
  editor.value = message.content;
  editor.rows = Math.min(8, message.content.split("\n").length + 1);
  const original = [...node.childNodes];
  const actionsBox = el("div", "edit-actions");
  actionsBox.append(
    button("Save and ask", {
      className: "",
      onClick: () => {
        const text = editor.value.trim();
        if (text) actions.edit(message, index, text);
      },
    }),
    button("Cancel", { onClick: () => node.replaceChildren(...original) }),
  );
  node.replaceChildren(editor, actionsBox);
  editor.focus();
}

/**
 * Draw the messages (all of them, or the first `upTo`).
 * @param {any[]} messages
 * @param {Actions} actions
 * @param {string | null} readOnly why the conversation cannot be continued here
 */
export function showMessages(messages, actions, readOnly) {
  const box = $("messages");
  box.replaceChildren();
  if (readOnly) box.append(el("p", "read-only", readOnly));
  if (!messages.length) box.append(el("p", "empty", EMPTY));
  messages.forEach((message, index) => box.append(messageNode(message, index, actions)));
  box.scrollTop = box.scrollHeight;
}
