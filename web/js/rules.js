// @ts-check
// What the Markdown renderer keeps and how code is named (pure: node's tests run it). Model
// output may name remote images (the classic exfiltration channel): only data: images stay.

/** @param {string} src */
export function keepImage(src) {
  return src.startsWith("data:image/");
}

/**
 * @param {string | null} alt
 * @param {string} src
 */
export function blockedImageLabel(alt, src) {
  return `[image not loaded: ${alt || src}]`;
}

/**
 * highlight.js's name for a file's language, from its extension (undefined: plain text).
 * @param {string} path
 * @param {(name: string) => boolean} known
 */
export function languageOf(path, known) {
  const name = path.split("/").pop() || "";
  const ext = name.includes(".") ? (name.split(".").pop() || "").toLowerCase() : "";
  return ext && known(ext) ? ext : undefined;
}
