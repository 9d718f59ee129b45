// @ts-check
// The ‹ 2/3 › switcher between the versions of a message (edits of a question, answers asked
// again), as state (pure: node's tests run it).

/**
 * @param {{sibling_ids: string[], sibling_index: number, sibling_count: number}} message
 * @returns {{label: string, previous: string | null, next: string | null, shown: boolean}}
 */
export function branchState(message) {
  const ids = message.sibling_ids || [];
  const index = message.sibling_index || 0;
  return {
    label: `${index + 1}/${message.sibling_count}`,
    previous: index > 0 ? ids[index - 1] : null,
    next: index + 1 < ids.length ? ids[index + 1] : null,
    shown: message.sibling_count > 1,
  };
}
