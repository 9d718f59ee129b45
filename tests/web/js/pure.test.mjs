// Unit tests of the web UI's pure modules (no page): run by `node --test tests/web/js/`.
import assert from "node:assert/strict";
import { test } from "node:test";

import { branchState } from "../../../web/js/branches.js";
import { CITATION, protectCitations, splitCitations } from "../../../web/js/citations.js";
import { blockedImageLabel, keepImage, languageOf } from "../../../web/js/rules.js";
import { describeStatus, endNote } from "../../../web/js/status.js";

const cite = (ref, path, line, end, verified = true) => ({ ref, path, line, end_line: end, verified });

test("citations are found as the server finds them, and only the ones it returned are linked", () => {
  const text = "See src/app.py:12-14 and README.md:3, not http://x.io/a.py:1 here.";
  assert.deepEqual(
    [...text.matchAll(CITATION)].map((m) => m[0]),
    ["src/app.py:12-14", "README.md:3"],
  );
  const known = new Map([["src/app.py:12-14", cite("src/app.py:12-14", "src/app.py", 12, 14)]]);
  const pieces = splitCitations(text, known);
  assert.deepEqual(pieces.map((p) => ("text" in p ? p.text : p.citation.ref)), [
    "See ",
    "src/app.py:12-14",
    " and README.md:3, not http://x.io/a.py:1 here.",
  ]);
  assert.deepEqual(splitCitations("nothing here", known), [{ text: "nothing here" }]);
});

test("a cited path with _ or * is kept whole through Markdown, code left as written", () => {
  const refs = ["pkg/__init__.py:3", "a*b.py:1"];
  const markdown = "In pkg/__init__.py:3 and `pkg/__init__.py:3` and a*b.py:1.\n```\npkg/__init__.py:3\n```";
  assert.equal(
    protectCitations(markdown, refs),
    "In pkg/\\_\\_init\\_\\_.py:3 and `pkg/__init__.py:3` and a\\*b.py:1.\n```\npkg/__init__.py:3\n```",
  );
  assert.equal(protectCitations("plain src/a.py:1", ["src/a.py:1"]), "plain src/a.py:1");
});

test("the branch switcher knows its neighbours", () => {
  const middle = branchState({ sibling_ids: ["a", "b", "c"], sibling_index: 1, sibling_count: 3 });
  assert.deepEqual(middle, { label: "2/3", previous: "a", next: "c", shown: true });
  const only = branchState({ sibling_ids: ["a"], sibling_index: 0, sibling_count: 1 });
  assert.deepEqual(only, { label: "1/1", previous: null, next: null, shown: false });
});

test("what the server is doing, in words, with the seconds counted here", () => {
  const at = Date.parse("2026-12-03T10:00:00.000Z");
  const since = "2026-12-03T10:00:00.000Z";
  assert.equal(describeStatus({ state: "waiting_for_model", round: 1, timestamp: since }, at + 34_400), "Waiting for the model… 34 s");
  assert.equal(describeStatus({ state: "waiting_for_model", round: 2, timestamp: since }, at + 1000), "Waiting for the model, round 2… 1 s");
  assert.equal(describeStatus({ state: "running_tool", round: 1, tool: "read_file", timestamp: since }, at), "Running read_file… 0 s");
  assert.equal(describeStatus({ state: "writing", round: 3, timestamp: since }, at), "Writing…");
});

test("how an answer ended is said from what was stored", () => {
  assert.equal(endNote({ finish_reason: "stop" }), null);
  assert.match(endNote({ finish_reason: "interrupted" }), /^Interrupted/);
  assert.match(endNote({ finish_reason: "cancelled" }), /^Stopped/);
  assert.match(endNote({ finish_reason: "stop", rounds_exhausted: true }), /ran out of tool rounds/);
  assert.equal(endNote({ finish_reason: "error", error: { code: "ollama_timeout", message: "too slow" } }), "The answer failed: too slow (ollama_timeout)");
});

test("only data: images stay, and code is named by its extension", () => {
  assert.equal(keepImage("data:image/png;base64,AAAA"), true);
  assert.equal(keepImage("https://evil.example/leak.png?d=KEY"), false);
  assert.equal(blockedImageLabel(null, "https://x/y.png"), "[image not loaded: https://x/y.png]");
  const known = (name) => ["py", "js"].includes(name);
  assert.equal(languageOf("src/app.py", known), "py");
  assert.equal(languageOf("Makefile", known), undefined);
  assert.equal(languageOf("notes.unknownext", known), undefined);
});
