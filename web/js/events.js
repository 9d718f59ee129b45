// @ts-check
// One stream of the workspace's events (/api/v1/events): the index's progress in the header, the
// file browser and an open file refreshed when their files change, the conversation list in step
// with other tabs, the model server's state the moment it changes. It reconnects by itself with
// the last event's id, so nothing is missed across a short drop; `events.reset` means read again.
import { getStream, readEvents } from "./api.js";

/**
 * @typedef {{[type: string]: (event: any) => void}} Handlers
 */

let lastId = /** @type {string | null} */ (null);

/**
 * Read one connection's frames, calling `handlers[type]` for each event.
 * @param {Response} response
 * @param {Handlers} handlers
 */
function read(response, handlers) {
  return readEvents(
    response,
    (/** @type {any} */ event) => {
      const handler = handlers[event.type] || handlers["*"];
      if (handler) handler(event);
    },
    (/** @type {string} */ id) => {
      lastId = id;
    },
  );
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
