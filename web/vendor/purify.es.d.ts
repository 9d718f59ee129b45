// What the UI uses of the vendored DOMPurify (its types, for the type check only).
declare const DOMPurify: {
  sanitize(html: string, options?: object): string;
  addHook(hook: string, callback: (node: any, data: any) => void): void;
};
export default DOMPurify;
