// What every page's script shares: DOM and SVG builders, the API call, time labels and the
// colour-blind-safe palette (Okabe & Ito), so that each module holds only its own page's logic.

export const SVG_NS = "http://www.w3.org/2000/svg";

export const EMOTIONS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"];
export const EMOTION_COLOURS = {
  angry: "#D55E00", disgust: "#009E73", fear: "#CC79A7", happy: "#E69F00",
  sad: "#0072B2", surprise: "#56B4E9", neutral: "#BBBBBB",
};
export const CHANNELS = ["face", "voice", "text"];
// Each channel's lane draws valence and arousal in their own colours; the channel is told by
// its dash (and its lane's label), so nothing rests on colour vision alone.
export const CHANNEL_STYLE = {
  face: { dash: "" },
  voice: { dash: "6 3" },
  text: { dash: "2 3" },
};
export const GAP_REASONS = {
  no_consent: "no consent",
  no_video_stream: "no video",
  no_audio_stream: "no audio",
  no_face: "no face in view",
  no_speech: "no speech",
  not_scored_role: "not the client",
  low_evidence: "low evidence",
};

export function clock(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = String(s % 60).padStart(2, "0");
  return h ? h + ":" + String(m).padStart(2, "0") + ":" + r : m + ":" + r;
}

// Tick times that are round numbers of seconds and distinct once printed: no "0:01 0:01".
export function timeTicks(start, end, most) {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
  const step = steps.find((s) => (end - start) / s <= most) || 3600;
  const ticks = [];
  for (let t = Math.ceil(start / step) * step; t <= end + 1e-9; t += step) ticks.push(t);
  return ticks;
}

export function el(tag, attrs, text) {
  const node = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
  if (text !== undefined) node.textContent = text;
  return node;
}

export function svgEl(tag, attrs, title) {
  const node = document.createElementNS(SVG_NS, tag);
  Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, String(v)));
  if (title) {
    const t = document.createElementNS(SVG_NS, "title");
    t.textContent = title;
    node.appendChild(t);
  }
  return node;
}

function csrfToken() {
  const match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export async function api(url, options) {
  const response = await fetch(url, Object.assign({ credentials: "same-origin" }, options || {}, {
    headers: Object.assign({ "X-CSRFToken": csrfToken(), Accept: "application/json" },
      (options && options.headers) || {}),
  }));
  const body = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const error = new Error((body && body.error && body.error.message) || response.statusText);
    error.code = body && body.error && body.error.code;
    throw error;
  }
  return body;
}

// Click, or Enter/Space from the keyboard: lists and marks are usable without a mouse.
export function onActivate(node, action) {
  node.addEventListener("click", action);
  node.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") { event.preventDefault(); action(); }
  });
}

export function percent(fraction) {
  return Math.round(fraction * 100) + "%";
}

// Each channel's reading in a window: the overview's points carry them as `channels`, a zoomed
// range's full windows as `modalities` (the stored document's own shape).
export function channelsOf(window) {
  if (!window) return {};
  if (window.channels) return window.channels;
  return window.modalities && !Array.isArray(window.modalities) ? window.modalities : {};
}
