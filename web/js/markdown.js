// @ts-check
// Markdown -> sanitised HTML with highlighted code and copy buttons. Remote images in model
// output are replaced by a note (rules.js), and the page's Content-Security-Policy
// (img-src 'self' data:) blocks any that slip through.
import { marked } from "../vendor/marked.esm.js";
import DOMPurify from "../vendor/purify.es.js";
import hljs from "../vendor/highlight.min.js";
import { button, el } from "./dom.js";
import { blockedImageLabel, keepImage, languageOf } from "./rules.js";

marked.setOptions({ gfm: true, breaks: false });

DOMPurify.addHook("uponSanitizeElement", (/** @type {any} */ node, /** @type {any} */ data) => {
  if (data.tagName !== "img") return;
  const src = node.getAttribute("src") || "";
  if (keepImage(src)) return;
  node.replaceWith(el("span", "blocked-image", blockedImageLabel(node.getAttribute("alt"), src)));
});

/**
 * @param {HTMLElement} target
 * @param {string} markdown
 */
export function render(target, markdown) {
  target.innerHTML = DOMPurify.sanitize(marked.parse(markdown), {
    FORBID_TAGS: ["style", "form", "input", "iframe", "object", "embed"],
    FORBID_ATTR: ["style", "srcset"],
  });
  for (const link of target.querySelectorAll("a[href]")) {
    link.setAttribute("target", "_blank");
    link.setAttribute("rel", "noopener noreferrer");
  }
  for (const code of target.querySelectorAll("pre code")) {
    hljs.highlightElement(code);
    const pre = /** @type {HTMLElement} */ (code.parentElement);
    const copy = button("Copy", {
      className: "copy",
      title: "copy the code",
      onClick: async () => {
        await navigator.clipboard.writeText(code.textContent || "");
        copy.textContent = "Copied";
      },
    });
    copy.addEventListener("mouseleave", () => (copy.textContent = "Copy"));
    const bar = el("div", "code-bar");
    bar.append(copy);
    pre.before(bar); // above the code, never over it
  }
}

/**
 * Highlight a file's text in place by its extension.
 * @param {HTMLElement} code
 * @param {string} path
 */
export function highlight(code, path) {
  const lang = languageOf(path, (name) => Boolean(hljs.getLanguage(name)));
  code.className = lang ? `language-${lang}` : "";
  if (lang) hljs.highlightElement(code);
}
