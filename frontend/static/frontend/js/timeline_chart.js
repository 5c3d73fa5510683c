// The review page's timeline: fused valence and arousal with confidence bands, a stacked band
// of the seven emotions, one lane per channel (face, voice, text) with its own reading and
// confidence, gaps drawn as gaps with their reason, key moments, notes and the playhead.
import { CHANNELS, CHANNEL_STYLE, EMOTIONS, EMOTION_COLOURS, GAP_REASONS, channelsOf, clock, svgEl, timeTicks } from "./common.js";

export const WIDTH = 1000;
const LEFT = 64, RIGHT = 10, MAIN = 150, BAND = 30, LANE = 48, GAP = 10, AXIS = 22, TOP = 24;

// Where each part of the chart sits, given which lanes are shown.
export function layout(lanes) {
  const rows = [];
  let y = TOP;
  rows.push({ name: "main", y, height: MAIN });
  y += MAIN + GAP;
  rows.push({ name: "emotions", y, height: BAND });
  y += BAND + GAP;
  CHANNELS.filter((c) => lanes[c]).forEach((c) => {
    rows.push({ name: c, y, height: LANE });
    y += LANE + GAP;
  });
  return { rows, height: y + AXIS, plotBottom: y - GAP };
}

export class Scale {
  constructor(start, end) { this.start = start; this.end = end; }
  x(t) { return LEFT + ((t - this.start) / (this.end - this.start || 1)) * (WIDTH - LEFT - RIGHT); }
  t(x) {
    const frac = (x - LEFT) / (WIDTH - LEFT - RIGHT);
    return this.start + Math.min(1, Math.max(0, frac)) * (this.end - this.start);
  }
}

const mid = (w) => (w.start_s + w.end_s) / 2;

function yIn(row, v) { return row.y + ((1 - v) / 2) * row.height; }

function label(svg, row, text) {
  const node = svgEl("text", { class: "lane-label", x: 4, y: row.y + row.height / 2 + 4 });
  node.textContent = text;
  svg.appendChild(node);
}

// Runs of neighbouring windows that all have a value: a line or band never bridges a gap.
function runs(windows, value) {
  const out = [];
  let current = [];
  windows.forEach((w) => {
    if (value(w) === null || value(w) === undefined) { if (current.length) out.push(current); current = []; }
    else current.push(w);
  });
  if (current.length) out.push(current);
  return out;
}

function drawSeries(svg, scale, row, windows, key, read, style) {
  runs(windows, (w) => read(w, key)).forEach((run) => {
    if (style.band) {
      // Wider where the confidence is lower: the band is the reading ± (1 − confidence) / 2.
      const upper = run.map((w) => [scale.x(mid(w)), yIn(row, Math.min(1, read(w, key) + (1 - confidence(w, style)) / 2))]);
      const lower = run.map((w) => [scale.x(mid(w)), yIn(row, Math.max(-1, read(w, key) - (1 - confidence(w, style)) / 2))]).reverse();
      svg.appendChild(svgEl("polygon", { class: "band band-" + key, "data-band": key,
        points: upper.concat(lower).map((p) => p.join(",")).join(" ") }));
    }
    if (style.asPath) {
      // A lane: one path per run, as opaque as the run's mean confidence (a few elements, not
      // one per window: a zoom redraws in a fraction of the time).
      const mean = run.reduce((sum, w) => sum + confidence(w, style), 0) / run.length;
      const d = run.map((w, i) => (i ? "L" : "M") + scale.x(mid(w)).toFixed(1) + " " + yIn(row, read(w, key)).toFixed(1)).join(" ");
      const attrs = { class: style.className, "data-series": style.series, d, fill: "none",
        "stroke-width": 2, "stroke-opacity": (0.25 + 0.75 * mean).toFixed(2) };
      if (style.dash) attrs["stroke-dasharray"] = style.dash;
      svg.appendChild(svgEl("path", attrs));
      return;
    }
    // The fused reading: a segment per pair of neighbours, its opacity the confidence.
    for (let i = 0; i < run.length; i += 1) {
      const p = run[Math.max(0, i - 1)], q = run[i];
      const x1 = i === 0 ? scale.x(q.start_s) : scale.x(mid(p));
      const y1 = i === 0 ? yIn(row, read(q, key)) : yIn(row, read(p, key));
      svg.appendChild(svgEl("line", {
        class: style.className, "data-series": style.series,
        x1, y1, x2: scale.x(mid(q)), y2: yIn(row, read(q, key)),
        "stroke-width": 2, "stroke-opacity": (0.25 + 0.75 * confidence(q, style)).toFixed(2),
      }));
    }
  });
}

function confidence(w, style) {
  return style.channel ? (channelsOf(w)[style.channel] || {}).confidence || 0 : w.confidence || 0;
}

function gapReasons(w, modality) {
  return (w.gaps || []).filter((g) => !modality || g.modality === modality).map((g) => GAP_REASONS[g.reason] || g.reason);
}

// Consecutive windows with no reading and the same reasons become one hatched block, labelled.
function drawGaps(svg, scale, row, windows, hasValue, modality) {
  let block = null;
  const flush = () => {
    if (!block) return;
    const x = scale.x(block.start), width = Math.max(1, scale.x(block.end) - x);
    const reason = block.reasons || "no reading";
    svg.appendChild(svgEl("rect", { class: "gap", "data-lane": row.name, "data-reason": reason, x, y: row.y, width, height: row.height },
      (modality ? modality + ": " : "") + reason + " (" + clock(block.start) + "–" + clock(block.end) + ")"));
    if (width > 70) {
      const text = svgEl("text", { class: "gap-label", x: x + 4, y: row.y + 12 });
      text.textContent = reason;
      svg.appendChild(text);
    }
    block = null;
  };
  windows.forEach((w) => {
    if (hasValue(w)) { flush(); return; }
    const reasons = Array.from(new Set(gapReasons(w, modality))).join(", ");
    if (block && block.reasons === reasons) block.end = w.end_s;
    else { flush(); block = { start: w.start_s, end: w.end_s, reasons }; }
  });
  flush();
}

// The seven emotions stacked, one filled shape per emotion and run of windows that have them.
function drawEmotionBand(svg, scale, row, windows) {
  runs(windows, (w) => w.emotions || null).forEach((run) => {
    const below = run.map(() => 0);  // each window's share stacked so far
    EMOTIONS.forEach((name) => {
      const top = [], bottom = [];
      run.forEach((w, i) => {
        const x0 = scale.x(w.start_s).toFixed(1), x1 = scale.x(w.end_s).toFixed(1);
        const y0 = (row.y + below[i] * row.height).toFixed(1);
        below[i] += w.emotions[name] || 0;
        const y1 = (row.y + below[i] * row.height).toFixed(1);
        bottom.push(x0 + "," + y0, x1 + "," + y0);
        top.push(x0 + "," + y1, x1 + "," + y1);
      });
      svg.appendChild(svgEl("polygon", { class: "emotion", "data-emotion": name, fill: EMOTION_COLOURS[name],
        points: bottom.concat(top.reverse()).join(" ") }, name));
    });
  });
}

export function drawTimeline(svg, view, state) {
  svg.replaceChildren();
  if (!view) return null;
  const shape = layout(state.lanes);
  svg.setAttribute("viewBox", "0 0 " + WIDTH + " " + shape.height);
  svg.setAttribute("height", shape.height);
  const [a, b] = state.range || [0, view.duration_s || 1];
  const scale = new Scale(a, b);
  const windows = view.windows || [];
  const rows = Object.fromEntries(shape.rows.map((r) => [r.name, r]));

  const main = rows.main;
  drawGaps(svg, scale, main, windows, (w) => w.valence !== null, null);
  svg.appendChild(svgEl("line", { class: "zero", x1: LEFT, x2: WIDTH - RIGHT, y1: yIn(main, 0), y2: yIn(main, 0) }));
  [[1, "+1"], [0, "0"], [-1, "−1"]].forEach(([v, text]) => {
    const node = svgEl("text", { class: "tick", x: LEFT - 22, y: yIn(main, v) + 4 });
    node.textContent = text;
    svg.appendChild(node);
  });
  label(svg, { y: main.y - 8, height: 0 }, "Fused");
  ["valence", "arousal"].forEach((key) => drawSeries(svg, scale, main, windows, key, (w, k) => w[k],
    { className: key, series: key, band: true }));

  label(svg, rows.emotions, "Emotions");
  drawEmotionBand(svg, scale, rows.emotions, windows);

  CHANNELS.filter((c) => state.lanes[c]).forEach((channel) => {
    const row = rows[channel];
    svg.appendChild(svgEl("rect", { class: "lane", "data-lane": channel, x: LEFT, y: row.y, width: WIDTH - LEFT - RIGHT, height: row.height }));
    label(svg, row, channel[0].toUpperCase() + channel.slice(1));
    const reading = (w) => (channelsOf(w)[channel] || {});
    drawGaps(svg, scale, row, windows, (w) => reading(w).valence != null || reading(w).arousal != null, channel);
    // The lane's own valence and arousal, coloured as the fused ones above, dashed per channel.
    const dash = CHANNEL_STYLE[channel].dash;
    ["valence", "arousal"].forEach((key) => drawSeries(svg, scale, row, windows, key,
      (w, k) => (reading(w)[k] == null ? null : reading(w)[k]),
      { className: key + " channel-line", series: channel + "-" + key, dash, channel, asPath: true }));
  });

  const bottom = shape.plotBottom;
  svg.appendChild(svgEl("line", { class: "axis", x1: LEFT, x2: WIDTH - RIGHT, y1: bottom, y2: bottom }));
  timeTicks(a, b, 8).forEach((t) => {
    const node = svgEl("text", { class: "tick", x: scale.x(t), y: bottom + 16, "text-anchor": "middle" });
    node.textContent = clock(t);
    svg.appendChild(node);
  });

  (view.moments || []).forEach((m) => {
    if (m.t_s < a || m.t_s > b) return;
    const x = scale.x(m.t_s);
    const marker = svgEl("path", { class: "moment", "data-moment": m.t_s, tabindex: 0, role: "button",
      d: "M" + (x - 6) + " 4 L" + (x + 6) + " 4 L" + x + " 16 Z",
      "aria-label": (m.kind === "shift" ? "Shift in " : "Peak of ") + m.dimension + " at " + clock(m.t_s) },
    (m.kind === "shift" ? "Shift in " : "Peak of ") + m.dimension + " at " + clock(m.t_s));
    svg.appendChild(marker);
  });
  (state.notes || []).filter((n) => n.t_s >= a && n.t_s <= b).forEach((n) => {
    svg.appendChild(svgEl("line", { class: "note-mark", x1: scale.x(n.t_s), x2: scale.x(n.t_s), y1: TOP, y2: bottom }));
  });
  svg.appendChild(svgEl("line", { id: "playhead", class: "playhead", x1: LEFT, x2: LEFT, y1: TOP, y2: bottom }));
  return { scale, bottom };
}

export function placePlayhead(svg, scale, t) {
  const line = svg.querySelector("#playhead");
  if (!line || !scale) return;
  line.setAttribute("x1", scale.x(t));
  line.setAttribute("x2", scale.x(t));
  line.setAttribute("visibility", t >= scale.start && t <= scale.end ? "visible" : "hidden");
}

// The window under time t: the evidence panel opens on it.
export function windowAt(view, t) {
  return (view.windows || []).find((w) => t >= w.start_s && t < w.end_s) || null;
}
