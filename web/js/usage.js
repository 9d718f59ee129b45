// @ts-check
// The Usage view (from Settings): tokens per day per model as a bar chart drawn here in SVG (no
// chart library: a few dozen lines), and the slowest answers, from /api/v1/usage.
import { getJSON } from "./api.js";
import { $, el } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const COLOURS = ["#2f6feb", "#1a7f37", "#bf8700", "#cf222e", "#8250df", "#0969da", "#57606a"];
const WIDTH = 640;
const HEIGHT = 180;

/**
 * @param {string} tag
 * @param {Record<string, string | number>} attributes
 */
function svg(tag, attributes) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  return node;
}

/** @param {number} ms */
function seconds(ms) {
  if (ms == null) return "–";
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/**
 * Stacked bars: one a day, a segment a model, its height the day's tokens (in and out).
 * @param {any[]} groups the day groups (key: the day, model)
 * @param {string[]} models
 */
function chart(groups, models) {
  const days = [...new Set(groups.map((g) => g.key))].sort();
  const tokens = (/** @type {any} */ g) => g.tokens_in + g.tokens_out;
  const perDay = days.map((day) => groups.filter((g) => g.key === day).reduce((sum, g) => sum + tokens(g), 0));
  const top = Math.max(1, ...perDay);
  const root = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT + 24}`, width: "100%", height: HEIGHT + 24 });
  root.append(svg("line", { x1: 40, y1: HEIGHT, x2: WIDTH, y2: HEIGHT, stroke: "#d0d7de" }));
  const label = svg("text", { x: 0, y: 12, "font-size": 11, fill: "#57606a" });
  label.textContent = top.toLocaleString();
  root.append(label);
  const step = (WIDTH - 48) / Math.max(days.length, 1);
  const bar = Math.max(4, Math.min(32, step * 0.7));
  days.forEach((day, i) => {
    let y = HEIGHT;
    const x = 44 + i * step + (step - bar) / 2;
    for (const group of groups.filter((g) => g.key === day)) {
      const h = (tokens(group) / top) * (HEIGHT - 16);
      y -= h;
      const rect = svg("rect", { x, y, width: bar, height: Math.max(h, 1), fill: COLOURS[models.indexOf(group.model) % COLOURS.length] });
      const tip = svg("title", {});
      tip.textContent = `${day} · ${group.model}: ${group.tokens_in.toLocaleString()} in, ${group.tokens_out.toLocaleString()} out, ${group.answers} answers`;
      rect.append(tip);
      root.append(rect);
    }
    if (days.length <= 12 || i % Math.ceil(days.length / 12) === 0) {
      const text = svg("text", { x: x + bar / 2, y: HEIGHT + 16, "font-size": 10, "text-anchor": "middle", fill: "#57606a" });
      text.textContent = day.slice(5);
      root.append(text);
    }
  });
  return root;
}

export async function showUsage() {
  const dialog = $("usage-dialog");
  dialog.showModal();
  $("usage-summary").textContent = "Loading…";
  try {
    const usage = await getJSON("/api/v1/usage?group=day");
    const models = [...new Set(usage.groups.map((/** @type {any} */ g) => g.model))].sort();
    const t = usage.totals;
    $("usage-summary").textContent = t.answers
      ? `${t.answers} answers, ${t.tokens_in.toLocaleString()} tokens in and ${t.tokens_out.toLocaleString()} out, ${t.tool_calls} tool calls; first token p50 ${seconds(t.first_token_ms_p50)}, p95 ${seconds(t.first_token_ms_p95)}`
      : "No answers in the last 30 days.";
    $("usage-chart").replaceChildren(chart(usage.groups, /** @type {string[]} */ (models)));
    $("usage-legend").replaceChildren(
      ...models.map((model, i) => {
        const item = el("span", "legend-item", /** @type {string} */ (model));
        item.style.setProperty("--swatch", COLOURS[i % COLOURS.length]);
        return item;
      }),
    );
    const rows = usage.slowest.map((/** @type {any} */ s) => {
      const row = el("tr");
      const from = s.source === "v1" ? "/v1 (an editor)" : "a conversation";
      for (const text of [s.at.replace("T", " ").slice(0, 16), s.model || "–", seconds(s.total_ms), seconds(s.first_token_ms), from]) {
        row.append(el("td", "", text));
      }
      return row;
    });
    $("usage-slowest").querySelector("tbody").replaceChildren(...rows);
  } catch (error) {
    $("usage-summary").textContent = `${/** @type {any} */ (error).message}`;
  }
}

export function setupUsage() {
  $("usage-open").addEventListener("click", showUsage);
}
