// What the UI uses of the vendored marked (its types, for the type check only).
export const marked: { setOptions(options: object): void; parse(markdown: string): string };
