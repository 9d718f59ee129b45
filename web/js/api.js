// @ts-check
// Talking to the server: the API key (asked once, kept for the tab), the envelope, SSE.
import { $ } from "./dom.js";

const KEY_STORAGE = "repo-assistant.api-key";
let keyPrompt = null;

export class ApiError extends Error {
  constructor(code, message, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

function headers(extra = {}) {
  const key = sessionStorage.getItem(KEY_STORAGE);
  return key ? { ...extra, Authorization: `Bearer ${key}` } : { ...extra };
}

// Ask for the key once; concurrent 401s share one dialog.
function askForKey() {
  if (keyPrompt) return keyPrompt;
  const dialog = $("key-dialog");
  const form = $("key-form");
  const input = $("key-input");
  keyPrompt = new Promise((resolve) => {
    form.addEventListener(
      "submit",
      (event) => {
        event.preventDefault();
        sessionStorage.setItem(KEY_STORAGE, input.value.trim());
        dialog.close();
        keyPrompt = null;
        resolve();
      },
      { once: true },
    );
    dialog.showModal();
    input.focus();
  });
  return keyPrompt;
}

async function send(path, options = {}) {
  for (let attempt = 0; attempt < 3; attempt++) {
    const response = await fetch(path, { ...options, headers: headers(options.headers) });
    if (response.status !== 401) return response;
    await askForKey();
  }
  throw new ApiError("unauthorized", "The API key was not accepted.", 401);
}

async function errorOf(response) {
  try {
    const body = await response.json();
    const error = body.error || {};
    return new ApiError(error.code || "error", error.message || response.statusText, response.status);
  } catch {
    return new ApiError("error", `${response.status} ${response.statusText}`, response.status);
  }
}

/**
 * A GET whose answer is read as it comes (an event stream), with the API key; headers added.
 * @param {string} path
 * @param {Record<string, string>} [extra]
 * @param {AbortSignal} [signal]
 */
export async function getStream(path, extra = {}, signal) {
  const response = await send(path, { headers: extra, signal });
  if (!response.ok) throw await errorOf(response);
  return response;
}

export async function getJSON(path) {
  const response = await send(path);
  if (!response.ok) throw await errorOf(response);
  return (await response.json()).data;
}

export async function postJSON(path, body, signal) {
  const response = await send(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
    signal,
  });
  if (!response.ok) throw await errorOf(response);
  return response;
}

// A JSON request with any method; the envelope's data back (or an ApiError).
export async function requestJSON(method, path, body) {
  const options = { method };
  if (body !== undefined) {
    options.headers = { "Content-Type": "application/json" };
    options.body = JSON.stringify(body);
  }
  const response = await send(path, options);
  if (!response.ok) throw await errorOf(response);
  return (await response.json()).data;
}

// Read a server-sent event stream, calling onEvent for each parsed `data:` event (until a
// `[DONE]`) and onId, if given, with each `id:` (the events stream's, for Last-Event-ID).
export async function readEvents(response, onEvent, onId = null) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of block.split("\n")) {
        if (onId && line.startsWith("id: ")) onId(line.slice(4));
        if (!line.startsWith("data: ")) continue;
        const payload = line.slice(6);
        if (payload === "[DONE]") return;
        onEvent(JSON.parse(payload));
      }
    }
  }
}

// Plain words for the codes a user is most likely to meet.
const PLAIN = {
  ollama_model_not_found: "That model is not installed. Pull it first.",
  ollama_timeout: "The model server did not answer in time.",
  ollama_error: "The model server reported an error.",
  server_busy: "Too many chats are running right now. Try again in a moment.",
  unauthorized: "The API key was not accepted.",
  access_denied: "That path is outside what this server may read.",
  not_supported: "The model server cannot do that.",
};

// The server's message already says what to do for the rest (ollama_unavailable names the
// server and the way forward): it is shown alone, not after a second wording of the question.
export function describe(error) {
  const plain = PLAIN[error.code];
  if (!plain && error.message) return `${error.message} (${error.code})`;
  const detail = error.message && error.message !== plain ? ` ${error.message}` : "";
  return `${plain || "Something went wrong."}${detail} (${error.code})`;
}
