// @ts-check
// What the server says it is doing while an answer is written (the stream's status events),
// in words, with the seconds counted here (pure: node's tests run it).

/**
 * @param {{state: string, round: number, tool?: string, timestamp: string}} status
 * @param {number} now milliseconds since the epoch
 * @returns {string}
 */
export function describeStatus(status, now) {
  const seconds = Math.max(0, Math.round((now - Date.parse(status.timestamp)) / 1000));
  const round = status.round > 1 ? `, round ${status.round}` : "";
  if (status.state === "waiting_for_model") return `Waiting for the model${round}… ${seconds} s`;
  if (status.state === "running_tool") return `Running ${status.tool || "a tool"}… ${seconds} s`;
  return "Writing…";
}

/**
 * Why an answer ended as it did, for the note under it (null: it ended normally).
 * @param {{finish_reason?: string | null, error?: {code: string, message: string} | null, rounds_exhausted?: boolean}} message
 * @returns {string | null}
 */
export function endNote(message) {
  if (message.error) return `The answer failed: ${message.error.message} (${message.error.code})`;
  if (message.finish_reason === "interrupted") return "Interrupted: the server stopped before this answer was finished.";
  if (message.finish_reason === "cancelled") return "Stopped before the answer was finished.";
  if (message.finish_reason === "length") return "Cut at the answer's length limit (Settings: max tokens).";
  if (message.rounds_exhausted) return "The model ran out of tool rounds; this answer is from what it had found by then.";
  return null;
}
