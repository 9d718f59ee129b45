// ESLint over the web UI's modules and their node tests (the vendored libraries are theirs).
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["web/vendor/**", "node_modules/**", ".venv/**"] },
  js.configs.recommended,
  {
    files: ["web/js/**/*.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: globals.browser },
    rules: { "no-unused-vars": ["error", { args: "after-used" }], eqeqeq: ["error", "smart"], "prefer-const": "error" },
  },
  {
    files: ["tests/web/js/**/*.mjs"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: globals.node },
  },
];
