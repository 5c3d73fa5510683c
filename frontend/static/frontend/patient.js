// The patient page: each analysed session's mean valence and arousal with their spread, and
// its share of time per emotion, in date order; the table below links into each session.
import { EMOTIONS, EMOTION_COLOURS, clock, el, percent, svgEl } from "./js/common.js";

const course = JSON.parse(document.getElementById("course-data").textContent);
const analysed = course.filter((entry) => entry.analysed);
const WIDTH = 1000, LEFT = 40, RIGHT = 20;

function xOf(i) {
  const n = analysed.length;
  return n === 1 ? (LEFT + WIDTH - RIGHT) / 2 : LEFT + (i * (WIDTH - LEFT - RIGHT)) / (n - 1);
}

function drawTrend() {
  const svg = document.getElementById("trend");
  const top = 16, bottom = 196;
  const yOf = (v) => top + ((1 - v) / 2) * (bottom - top);
  svg.replaceChildren();
  svg.appendChild(svgEl("line", { class: "zero", x1: LEFT, x2: WIDTH - RIGHT, y1: yOf(0), y2: yOf(0) }));
  [[1, "+1"], [0, "0"], [-1, "−1"]].forEach(([v, label]) => {
    const text = svgEl("text", { class: "tick", x: 6, y: yOf(v) + 4 });
    text.textContent = label;
    svg.appendChild(text);
  });
  ["valence", "arousal"].forEach((key, k) => {
    const points = analysed.map((entry, i) => [i, entry[key]]).filter(([, r]) => r);
    const offset = (k ? 6 : -6);  // the two series side by side, never hiding each other
    if (points.length > 1) {
      svg.appendChild(svgEl("polyline", {
        class: key, fill: "none", "stroke-width": 2,
        points: points.map(([i, r]) => (xOf(i) + offset) + "," + yOf(r.mean)).join(" "),
      }));
    }
    points.forEach(([i, r]) => {
      const x = xOf(i) + offset;
      const label = key + " " + r.mean.toFixed(2) + " ± " + r.spread.toFixed(2) + " on " + analysed[i].date;
      svg.appendChild(svgEl("line", { class: key + " spread", x1: x, x2: x,
        y1: yOf(Math.min(1, r.mean + r.spread)), y2: yOf(Math.max(-1, r.mean - r.spread)) }));
      svg.appendChild(svgEl("circle", { class: key + " point", "data-series": key, cx: x, cy: yOf(r.mean), r: 5 }, label));
    });
  });
  analysed.forEach((entry, i) => {
    const text = svgEl("text", { class: "tick", x: xOf(i), y: 214, "text-anchor": "middle" });
    text.textContent = entry.date;
    svg.appendChild(text);
  });
}

function drawShares() {
  const svg = document.getElementById("emotion-share");
  svg.replaceChildren();
  const band = Math.min(80, (WIDTH - LEFT - RIGHT) / Math.max(1, analysed.length) - 10);
  analysed.forEach((entry, i) => {
    let y = 10;
    EMOTIONS.forEach((label) => {
      const share = (entry.emotion_share || {})[label] || 0;
      const height = share * 100;
      if (height > 0) {
        svg.appendChild(svgEl("rect", { class: "share", "data-emotion": label, x: xOf(i) - band / 2, y,
          width: band, height, fill: EMOTION_COLOURS[label] }, label + " " + percent(share) + " on " + entry.date));
      }
      y += height;
    });
  });
  const legend = document.getElementById("emotion-legend");
  legend.replaceChildren(...EMOTIONS.map((label) => {
    const key = el("span", { class: "key swatch" }, label);
    key.dataset.emotion = label;
    return key;
  }));
}

function fillTable() {
  const byId = Object.fromEntries(course.map((entry) => [entry.session_id, entry]));
  document.querySelectorAll("[data-testid=course-table] tbody tr[data-session]").forEach((row) => {
    const entry = byId[row.dataset.session];
    const duration = row.querySelector(".duration");
    if (duration) duration.textContent = clock(Number(duration.dataset.seconds));
    const most = row.querySelector(".most-often");
    if (most && entry && entry.emotion_share) {
      const [label, share] = Object.entries(entry.emotion_share).sort((a, b) => b[1] - a[1])[0];
      most.textContent = label + " (" + percent(share) + ")";
    }
  });
}

drawTrend();
drawShares();
fillTable();
document.getElementById("trend-status").textContent = analysed.length
  ? analysed.length + " analysed session" + (analysed.length === 1 ? "" : "s") + " of " + course.length + "."
  : "No analysed sessions yet.";
