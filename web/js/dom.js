// @ts-check
// Building page elements: text always goes in as text (never as HTML), and the two helpers
// every module needs.

/**
 * The element with this id (the page has every element a module asks for).
 * @param {string} id
 * @returns {any}
 */
export function $(id) {
  return document.getElementById(id);
}

/**
 * @param {string} tag
 * @param {string} [className]
 * @param {string} [text]
 * @returns {any}
 */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * A button (never a form's submit button) that calls `onClick`.
 * @param {string} label
 * @param {{className?: string, title?: string, onClick?: (event: MouseEvent) => void}} [options]
 * @returns {HTMLButtonElement}
 */
export function button(label, { className = "ghost", title, onClick } = {}) {
  const node = /** @type {HTMLButtonElement} */ (el("button", className, label));
  node.type = "button";
  if (title) node.title = title;
  if (onClick) node.addEventListener("click", onClick);
  return node;
}
