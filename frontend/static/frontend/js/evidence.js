// The evidence behind a window or a key moment: the words said, each channel's reading,
// confidence and share of the fused score, and the frames the face model attended to, with
// thumbnails of the client's face when the video may be shown.
import { CHANNELS, CHANNEL_STYLE, GAP_REASONS, channelsOf, clock, el, onActivate, percent } from "./common.js";

function fmt(value) {
  return value === null || value === undefined ? "–" : (value >= 0 ? "+" : "") + Number(value).toFixed(2);
}

// Words weigh in the fused emotions only as far as they carry affect: say so where they weighed
// less there than in valence, so a plain sentence's emotion reading is not taken for a vote.
function confidenceCell(reading) {
  const cell = el("td", {}, reading.confidence == null ? "–" : percent(reading.confidence));
  const emotional = reading.emotions_confidence;
  if (typeof emotional === "number" && reading.confidence != null && emotional < reading.confidence - 0.005) {
    const why = emotional === 0 ? " (no feeling words)" : " (few feeling words)";
    cell.appendChild(el("span", { class: "small muted", "data-testid": "emotions-weight" }, " · emotions " + percent(emotional) + why));
  }
  return cell;
}

function channelTable(channels, shares, gaps) {
  const table = el("table", { class: "table evidence-channels", "data-testid": "evidence-channels" });
  const head = el("tr");
  ["Channel", "Valence", "Arousal", "Confidence", "Share of score"].forEach((h) => head.appendChild(el("th", { scope: "col" }, h)));
  table.appendChild(el("thead")).appendChild(head);
  const body = table.appendChild(el("tbody"));
  CHANNELS.forEach((name) => {
    const reading = (channels || {})[name];
    const row = el("tr", { "data-channel": name });
    const cell = el("th", { scope: "row" });
    const key = el("span", { class: "key channel-key", "data-channel": name }, name);
    key.dataset.dash = CHANNEL_STYLE[name].dash ? "dashed" : "solid";
    cell.appendChild(key);
    row.appendChild(cell);
    if (reading) {
      row.appendChild(el("td", {}, fmt(reading.valence)));
      row.appendChild(el("td", {}, fmt(reading.arousal)));
      row.appendChild(confidenceCell(reading));
      const share = shares && shares[name] !== undefined ? shares[name] : reading.weight;
      row.appendChild(el("td", {}, share == null ? "–" : percent(share)));
    } else {
      const why = (gaps || []).filter((g) => g.modality === name).map((g) => GAP_REASONS[g.reason] || g.reason);
      row.appendChild(el("td", { colspan: "4", class: "muted" }, "No reading" + (why.length ? ": " + why.join(", ") : "")));
    }
    body.appendChild(row);
  });
  return table;
}

// The frames a stretch of full-detail windows was read from, those attended to most first.
export function attendedFrames(windows, most = 6) {
  return windows
    .flatMap((w) => { const face = channelsOf(w).face; return (face && face.frames) || []; })
    .sort((a, b) => b.weight - a.weight)
    .slice(0, most);
}

function thumbnailUrl(frameUrl, frame) {
  const box = Array.isArray(frame.box) ? "&box=" + frame.box.map((v) => Math.round(v)).join(",") : "";
  return frameUrl + "?t_s=" + frame.t_s.toFixed(2) + box;
}

function wordsOf(transcript, start, end) {
  return (transcript || []).filter((line) => line.end_s > start && line.start_s < end);
}

export function showEvidence(box, subject, context) {
  box.replaceChildren();
  box.classList.remove("hidden");
  const { start, end } = subject;
  const title = subject.moment
    ? (subject.moment.kind === "shift" ? "Shift in " : "Peak of ") + subject.moment.dimension + " at " + clock(subject.moment.t_s)
    : "Window " + clock(start) + "–" + clock(end);
  const heading = el("h3", { id: "evidence-title" }, title);
  box.appendChild(heading);
  const w = subject.window;
  if (w) {
    const facts = el("p", { class: "evidence-summary" });
    facts.textContent = "Valence " + fmt(w.valence) + ", arousal " + fmt(w.arousal) + ", confidence " + percent(w.confidence || 0)
      + (w.dominant ? ", mostly " + w.dominant : "");
    box.appendChild(facts);
  }
  const shares = subject.moment && subject.moment.evidence ? subject.moment.evidence.modalities : null;
  box.appendChild(channelTable(channelsOf(w), shares, w ? w.gaps : []));

  box.appendChild(el("h4", {}, "What was said"));
  const quote = el("ol", { class: "evidence-words", "data-testid": "evidence-words" });
  const momentWords = subject.moment && subject.moment.evidence ? subject.moment.evidence.words : null;
  if (momentWords && momentWords.length) {
    quote.appendChild(el("li", {}, "“" + momentWords.map((x) => x.text).join(" ") + "”"));
  } else {
    wordsOf(context.transcript, start, end).forEach((line) => {
      quote.appendChild(el("li", {}, clock(line.start_s) + " " + (line.role || "unknown") + ": “" + line.text + "”"));
    });
  }
  if (!quote.children.length) quote.appendChild(el("li", { class: "muted" }, "Nothing was said here."));
  box.appendChild(quote);

  const frames = subject.moment && subject.moment.evidence ? subject.moment.evidence.frames || [] : subject.frames || [];
  if (frames.length) {
    box.appendChild(el("h4", {}, "Face frames the model attended to"));
    const list = el("ol", { class: "evidence-frames", "data-testid": "evidence-frames" });
    const weights = frames.map((f) => f.weight).filter((w) => typeof w === "number");
    const most = weights.length ? Math.max(...weights) : 0;
    frames.forEach((frame) => {
      const item = el("li", { tabindex: "0", title: "Play from " + clock(frame.t_s) });
      if (context.frameUrl) {
        item.appendChild(el("img", { src: thumbnailUrl(context.frameUrl, frame), alt: "Face at " + clock(frame.t_s), height: "96", loading: "lazy" }));
      }
      const weighed = typeof frame.weight === "number" && most > 0;
      if (weighed) {
        // The attention the face model's temporal head gave this frame, against the most given.
        const bar = el("span", { class: "attention", role: "img", "aria-label": "attention " + percent(frame.weight) });
        bar.appendChild(el("span", { class: "attention-fill", "data-weight": (frame.weight / most).toFixed(2) }));
        item.appendChild(bar);
      }
      item.appendChild(el("span", { class: "small" }, clock(frame.t_s) + (weighed ? " · attention " + percent(frame.weight) : "")));
      onActivate(item, () => context.seek(frame.t_s));
      list.appendChild(item);
    });
    box.appendChild(list);
    // The bars' widths are set through the CSSOM: the page's CSP allows no inline style.
    list.querySelectorAll(".attention-fill").forEach((fill) => { fill.style.width = Number(fill.dataset.weight) * 100 + "%"; });
  } else if (!context.frameUrl) {
    box.appendChild(el("p", { class: "muted" }, "No face frames: video was not analysed for this session."));
  } else {
    box.appendChild(el("p", { class: "muted", "data-testid": "evidence-no-frames" }, "No face frames: the client's face was not read in this stretch."));
  }
  heading.setAttribute("tabindex", "-1");
  heading.focus();
}
