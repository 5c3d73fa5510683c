// The transcript by turn: each speaker's consecutive lines are one turn, labelled with the
// speaker's role and the turn's strongest emotion; a click plays from the turn, the current turn
// follows playback, and the search box narrows the turns to those holding the words typed.
import { EMOTIONS, clock, el, onActivate, percent } from "./common.js";

export function turnsOf(lines) {
  const turns = [];
  lines.forEach((line) => {
    const last = turns[turns.length - 1];
    const who = line.speaker || line.role || "unknown";
    if (last && last.who === who && line.start_s - last.end_s < 2) {
      last.lines.push(line);
      last.end_s = line.end_s;
    } else {
      turns.push({ who, role: line.role || "unknown", start_s: line.start_s, end_s: line.end_s, lines: [line] });
    }
  });
  return turns;
}

function turnEmotion(turn) {
  const scored = turn.lines.filter((l) => l.emotions);
  if (!scored.length) return null;
  const totals = Object.fromEntries(EMOTIONS.map((e) => [e, 0]));
  scored.forEach((l) => EMOTIONS.forEach((e) => { totals[e] += (l.emotions[e] || 0) / scored.length; }));
  const [label, p] = Object.entries(totals).sort((x, y) => y[1] - x[1])[0];
  return { label, p };
}

export function drawTranscript(list, lines, seek) {
  list.replaceChildren();
  turnsOf(lines).forEach((turn) => {
    const li = el("li", { "data-start": turn.start_s, "data-end": turn.end_s, tabindex: "0", title: "Play from " + clock(turn.start_s) });
    const head = el("div", { class: "turn-head" });
    head.appendChild(el("span", { class: "time" }, clock(turn.start_s)));
    head.appendChild(el("span", { class: "role role-" + turn.role }, turn.role));
    const feeling = turnEmotion(turn);
    if (feeling && feeling.label !== "neutral") {
      head.appendChild(el("span", { class: "emotion-tag", "data-emotion": feeling.label }, feeling.label + " " + percent(feeling.p)));
    }
    const sentiment = turn.lines.map((l) => l.sentiment).find((s) => s && s.label !== "neutral");
    if (sentiment) head.appendChild(el("span", { class: "sentiment sentiment-" + sentiment.label }, sentiment.label));
    li.appendChild(head);
    li.appendChild(el("div", { class: "text" }, turn.lines.map((l) => l.text).join(" ")));
    onActivate(li, () => seek(turn.start_s));
    list.appendChild(li);
  });
  if (!lines.length) list.appendChild(el("li", { class: "muted" }, "No speech was transcribed."));
}

export function filterTranscript(list, query, status) {
  const needle = query.trim().toLowerCase();
  let shown = 0;
  list.querySelectorAll("li[data-start]").forEach((li) => {
    const match = !needle || li.querySelector(".text").textContent.toLowerCase().includes(needle);
    li.hidden = !match;
    if (match) shown += 1;
  });
  status.textContent = needle ? shown + " turn" + (shown === 1 ? "" : "s") + " with “" + query.trim() + "”" : "";
}

export function followPlayback(list, t) {
  let current = null;
  list.querySelectorAll("li[data-start]").forEach((li) => {
    const on = t >= Number(li.dataset.start) && t < Number(li.dataset.end);
    li.classList.toggle("current", on);
    if (on) { current = li; li.setAttribute("aria-current", "true"); } else li.removeAttribute("aria-current");
  });
  return current;
}
