// @ts-check
// Citations in an answer's text (pure: no page, so node's tests run it). `path:line` or
// `path:line-line`, by the server's rule: a path with a `/` or an extension.

export const CITATION = /(?<![\w/.:-])((?:[\w.-]+\/)*[\w.-]*[\w-]\.\w+|(?:[\w.-]+\/)+[\w.-]+):(\d{1,7})(?:[-–](\d{1,7}))?\b/g;

/**
 * @typedef {{ref: string, path: string, line: number, end_line: number, verified: boolean}} Citation
 * @typedef {{text: string} | {citation: Citation}} Piece
 */

/**
 * `text` cut into plain pieces and the citations the server knows (`known`, by their `ref`);
 * a reference the server did not return stays text.
 * @param {string} text
 * @param {Map<string, Citation>} known
 * @returns {Piece[]}
 */
export function splitCitations(text, known) {
  /** @type {Piece[]} */
  const pieces = [];
  let last = 0;
  for (const match of text.matchAll(CITATION)) {
    const citation = known.get(match[0]);
    if (!citation || match.index === undefined) continue;
    if (match.index > last) pieces.push({ text: text.slice(last, match.index) });
    pieces.push({ citation });
    last = match.index + match[0].length;
  }
  if (last < text.length || !pieces.length) pieces.push({ text: text.slice(last) });
  return pieces;
}

const CODE = /(```[\s\S]*?(?:```|$)|`[^`\n]*`)/g;

/**
 * The Markdown of an answer with its citations kept whole: outside code, the `_` and `*` of a
 * cited path (`json/__init__.py:3`) would be read as emphasis and break it apart; they are
 * escaped there (code is left as written: Markdown does not read it).
 * @param {string} markdown
 * @param {Iterable<string>} refs
 */
export function protectCitations(markdown, refs) {
  const special = [...refs].filter((ref) => /[_*]/.test(ref));
  if (!special.length) return markdown;
  return markdown
    .split(CODE)
    .map((part, index) => {
      if (index % 2 === 1) return part; // code: a captured separator
      let out = part;
      for (const ref of special) out = out.split(ref).join(ref.replace(/([_*])/g, "\\$1"));
      return out;
    })
    .join("");
}
