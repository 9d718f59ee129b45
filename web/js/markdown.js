// Markdown -> sanitised HTML with highlighted code and copy buttons. Model output may name
// remote images (the classic exfiltration channel): they are replaced by plain links and the
// page's Content-Security-Policy (img-src 'self' data:) blocks any that slip through.
import { marked } from "/vendor/marked.esm.js";
import DOMPurify from "/vendor/purify.es.js";
import hljs from "/vendor/highlight.min.js";

marked.setOptions({ gfm: true, breaks: false });

DOMPurify.addHook("uponSanitizeElement", (node, data) => {
  if (data.tagName !== "img") return;
  const src = node.getAttribute("src") || "";
  if (src.startsWith("data:image/")) return;
  const note = node.ownerDocument.createElement("span");
  note.className = "blocked-image";
  note.textContent = `[image not loaded: ${node.getAttribute("alt") || src}]`;
  node.replaceWith(note);
});

export function render(target, markdown) {
  const html = DOMPurify.sanitize(marked.parse(markdown), {
    FORBID_TAGS: ["style", "form", "input", "iframe", "object", "embed"],
    FORBID_ATTR: ["style", "srcset"],
  });
  target.innerHTML = html;
  for (const link of target.querySelectorAll("a[href]")) {
    link.target = "_blank";
    link.rel = "noopener noreferrer";
  }
  for (const code of target.querySelectorAll("pre code")) {
    hljs.highlightElement(code);
    const pre = code.parentElement;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "copy";
    button.textContent = "Copy";
    button.addEventListener("click", async () => {
      await navigator.clipboard.writeText(code.textContent);
      button.textContent = "Copied";
      setTimeout(() => (button.textContent = "Copy"), 1200);
    });
    pre.append(button);
  }
}

export function highlight(code, path) {
  const ext = (path.split(".").pop() || "").toLowerCase();
  const lang = hljs.getLanguage(ext) ? ext : undefined;
  code.textContent = code.textContent;
  if (lang) code.className = `language-${lang}`;
  hljs.highlightElement(code);
}
