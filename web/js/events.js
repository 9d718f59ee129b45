// @ts-check
// One stream of the workspace's events (/api/v1/events): the index's progress in the header, the
// file browser and an open file refreshed when their files change, the conversation list in step
// with other tabs, the model server's state the moment it changes. It reconnects by itself with
// the last event's id, so nothing is missed across a short drop; `events.reset` means read again.
import { getStream } from "./api.js";

/**
 * @typedef {{[type: string]: (event: any) => void}} Handlers
 */

let lastId = /** @type {string | null} */ (null);

/**
 * Read one connection's frames, calling `handlers[type]` for each event.
 * @param {Response} response
 * @param {Handlers} handlers
 */
async function read(response, handlers) {
  const reader = /** @type {ReadableStreamDefaultReader<Uint8Array>} */ (response.body?.getReader());
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let id = null;
      let data = null;
      for (const line of block.split("\n")) {
        if (line.startsWith("id: ")) id = line.slice(4);
        else if (line.startsWith("data: ")) data = line.slice(6);
      }
      if (id !== null) lastId = id;
      if (data === null) continue;
      const event = JSON.parse(data);
      const handler = handlers[event.type] || handlers["*"];
      if (handler) handler(event);
    }
  }
}

/**
 * Follow the events for as long as the page lives. `onState(true|false)` says whether the stream
 * is connected (while it is not, the page may poll what it would have been told).
 * @param {Handlers} handlers
 * @param {(connected: boolean) => void} onState
 */
export async function followEvents(handlers, onState) {
  let wait = 500;
  for (;;) {
    try {
      const response = await getStream("/api/v1/events", lastId ? { "Last-Event-ID": lastId } : {});
      onState(true);
      wait = 500;
      await read(response, handlers);
    } catch {
      // the server restarted, or a proxy closed an idle stream: try again, less often each time
    }
    onState(false);
    await new Promise((resolve) => setTimeout(resolve, wait));
    wait = Math.min(wait * 2, 10_000);
  }
}
