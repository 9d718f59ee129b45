// What the UI uses of the vendored highlight.js (its types, for the type check only).
declare const hljs: { highlightElement(element: Element): void; getLanguage(name: string): unknown };
export default hljs;
