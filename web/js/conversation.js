// @ts-check
// The open conversation, as the server keeps it (a reload or a restart brings it back): open,
// new, refresh, create on the first question, switch branch, fork. Listeners hear of every
// change; nothing here draws.
import { ApiError, getJSON, requestJSON } from "./api.js";

const OPEN = "repo-assistant.open-conversation";
/** @type {any} the conversation as the server gives it ({id, title, repo, messages, …}), or null */
let current = null;
/** @type {string[]} the repositories this server serves (a conversation of another is read-only) */
let served = [];
/** @type {((conversation: any) => void)[]} */
const listeners = [];

/** @param {(conversation: any) => void} listener */
export function onConversationChange(listener) {
  listeners.push(listener);
}

function changed() {
  for (const listener of listeners) listener(current);
}

export function currentConversation() {
  return current;
}

/** @param {string[]} repos */
export function setServed(repos) {
  served = repos;
}

/** Why the open conversation cannot be continued here, or null when it can. */
export function readOnlyReason() {
  if (!current || !current.repo || !served.length || served.includes(current.repo)) return null;
  return `This conversation is about ${current.repo}, which this server does not serve: it is read-only here.`;
}

/** @param {string} id */
export async function openConversation(id) {
  try {
    current = await getJSON(`/api/v1/conversations/${encodeURIComponent(id)}`);
    localStorage.setItem(OPEN, current.id);
  } catch (error) {
    if (error instanceof ApiError && error.code === "conversation_not_found") {
      localStorage.removeItem(OPEN);
      current = null;
    } else throw error;
  }
  changed();
}

export function newConversation() {
  current = null;
  localStorage.removeItem(OPEN);
  changed();
}

/** Open the conversation open before the page was reloaded, if any. */
export async function restore() {
  const id = localStorage.getItem(OPEN);
  if (id) await openConversation(id);
  else changed();
}

/** Read the open conversation again (after a turn: ids, branches, the stored trace). */
export async function refresh() {
  if (current) await openConversation(current.id);
}

/**
 * The open conversation, made now if there is none. `made` says whether it was.
 * @param {string | undefined} repo
 * @param {string | undefined} model
 */
export async function ensureConversation(repo, model) {
  if (current) return { conversation: current, made: false };
  const body = {};
  if (repo) body.repo = repo;
  if (model) body.model = model;
  current = await requestJSON("POST", "/api/v1/conversations", body);
  localStorage.setItem(OPEN, current.id);
  changed();
  return { conversation: current, made: true };
}

/** Delete the open conversation if it holds nothing (made for a question that failed before it was kept). */
export async function discardIfEmpty() {
  if (!current) return;
  const fresh = await getJSON(`/api/v1/conversations/${encodeURIComponent(current.id)}`);
  if (fresh.messages.length) return;
  await requestJSON("DELETE", `/api/v1/conversations/${encodeURIComponent(current.id)}`);
  newConversation();
}

/** @param {string} messageId show this version of a message (and its newest continuation) */
export async function switchBranch(messageId) {
  current = await requestJSON("PATCH", `/api/v1/conversations/${encodeURIComponent(current.id)}`, { active_id: messageId });
  changed();
}

/** @param {string} messageId a new conversation with everything up to this message */
export async function forkAt(messageId) {
  current = await requestJSON("POST", `/api/v1/conversations/${encodeURIComponent(current.id)}/fork`, { message_id: messageId });
  localStorage.setItem(OPEN, current.id);
  changed();
}

/** @param {string} id forget the open conversation if it is this one (it was deleted) */
export function forgetIf(id) {
  if (current && current.id === id) newConversation();
}

/** @param {any} conversation it was renamed */
export function renamed(conversation) {
  if (current && current.id === conversation.id) current.title = conversation.title;
}
