// The session review page: video, timeline chart, transcript, session map, notes, upload and
// analysis progress. Data comes from the API; nothing here decides what a clinician may see.
(function () {
  "use strict";

  const root = document.getElementById("review");
  if (!root) return;
  const player = document.getElementById("player");
  const svg = document.getElementById("chart");
  const SVG_NS = "http://www.w3.org/2000/svg";
  const CHART = { width: 1000, height: 240, left: 40, right: 10, top: 22, bottom: 24 };
  const state = { overview: null, view: null, notes: [], range: null, drag: null };

  // --- small helpers ---------------------------------------------------------------------------
  function clock(seconds) {
    const s = Math.max(0, Math.round(seconds));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function svgEl(tag, attrs) {
    const node = document.createElementNS(SVG_NS, tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, String(v)));
    return node;
  }
  function csrfToken() {
    const match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }
  async function api(url, options) {
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
  function onActivate(node, action) {
    // Click, or Enter/Space from the keyboard: the lists are usable without a mouse.
    node.addEventListener("click", action);
    node.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); action(); }
    });
  }
  function seek(t) {
    if (!player || !Number.isFinite(t)) return;
    player.currentTime = t;
    updatePlayhead();
  }

  // --- timeline chart ----------------------------------------------------------------------------
  function span() {
    const duration = state.overview ? state.overview.duration_s : 1;
    return state.range || [0, duration];
  }
  function xOf(t) {
    const [a, b] = span();
    return CHART.left + ((t - a) / (b - a || 1)) * (CHART.width - CHART.left - CHART.right);
  }
  function tOf(x) {
    const [a, b] = span();
    const frac = (x - CHART.left) / (CHART.width - CHART.left - CHART.right);
    return a + Math.min(1, Math.max(0, frac)) * (b - a);
  }
  function yOf(v) {
    return CHART.top + ((1 - v) / 2) * (CHART.height - CHART.top - CHART.bottom);
  }

  function drawChart() {
    const view = state.view;
    svg.replaceChildren();
    if (!view) return;
    const [a, b] = span();
    (view.gaps || []).filter((g) => g.modality === "face").forEach((g) => {
      const x0 = xOf(Math.max(a, g.start_s)), x1 = xOf(Math.min(b, g.end_s));
      svg.appendChild(svgEl("rect", { class: "gap", x: x0, y: CHART.top, width: Math.max(0, x1 - x0),
        height: CHART.height - CHART.top - CHART.bottom }));
    });
    svg.appendChild(svgEl("line", { class: "axis", x1: CHART.left, x2: CHART.width - CHART.right,
      y1: CHART.height - CHART.bottom, y2: CHART.height - CHART.bottom }));
    svg.appendChild(svgEl("line", { class: "zero", x1: CHART.left, x2: CHART.width - CHART.right, y1: yOf(0), y2: yOf(0) }));
    [[1, "+1"], [0, "0"], [-1, "−1"]].forEach(([v, label]) => {
      const text = svgEl("text", { class: "tick", x: 6, y: yOf(v) + 4 });
      text.textContent = label;
      svg.appendChild(text);
    });
    for (let i = 0; i <= 6; i += 1) {
      const t = a + ((b - a) * i) / 6;
      const anchor = i === 0 ? "start" : i === 6 ? "end" : "middle";
      const text = svgEl("text", { class: "tick", x: xOf(t), y: CHART.height - 6, "text-anchor": anchor });
      text.textContent = clock(t);
      svg.appendChild(text);
    }
    ["valence", "arousal"].forEach((dimension) => {
      // One segment per pair of neighbours, its opacity the confidence: weak evidence looks faint.
      const windows = view.windows;
      for (let i = 1; i < windows.length; i += 1) {
        const p = windows[i - 1], q = windows[i];
        if (p[dimension] === null || q[dimension] === null) continue;
        const mid = (w) => (w.start_s + w.end_s) / 2;
        svg.appendChild(svgEl("line", {
          class: dimension, "data-dimension": dimension,
          x1: xOf(mid(p)), y1: yOf(p[dimension]), x2: xOf(mid(q)), y2: yOf(q[dimension]),
          "stroke-width": 2.2, "stroke-opacity": (0.25 + 0.75 * Math.min(p.confidence, q.confidence)).toFixed(2),
        }));
      }
    });
    (view.moments || []).forEach((m) => {
      const marker = svgEl("circle", { class: "moment", cx: xOf(m.t_s), cy: CHART.top - 10, r: 5 });
      const title = svgEl("title");
      title.textContent = m.kind + " of " + m.dimension + " at " + clock(m.t_s);
      marker.appendChild(title);
      svg.appendChild(marker);
    });
    state.notes.filter((n) => n.t_s >= a && n.t_s <= b).forEach((n) => {
      svg.appendChild(svgEl("line", { class: "note-mark", x1: xOf(n.t_s), x2: xOf(n.t_s),
        y1: CHART.top, y2: CHART.height - CHART.bottom }));
    });
    svg.appendChild(svgEl("line", { id: "playhead", class: "playhead", x1: CHART.left, x2: CHART.left,
      y1: CHART.top, y2: CHART.height - CHART.bottom }));
    updatePlayhead();
  }

  function updatePlayhead() {
    const line = document.getElementById("playhead");
    if (!player) return;
    const t = player.currentTime || 0;
    document.getElementById("note-time").textContent = clock(t);
    if (line) {
      const [a, b] = span();
      const visible = t >= a && t <= b;
      line.setAttribute("x1", xOf(t));
      line.setAttribute("x2", xOf(t));
      line.setAttribute("visibility", visible ? "visible" : "hidden");
    }
    document.querySelectorAll("#transcript li").forEach((li) => {
      li.classList.toggle("current", t >= Number(li.dataset.start) && t < Number(li.dataset.end));
    });
  }

  function svgX(event) {
    const box = svg.getBoundingClientRect();
    return ((event.clientX - box.left) / box.width) * CHART.width;
  }
  svg.addEventListener("mousedown", (event) => {
    state.drag = { x0: svgX(event), rect: svgEl("rect", { class: "selection", y: CHART.top, height: CHART.height - CHART.top - CHART.bottom, x: svgX(event), width: 0 }) };
    svg.appendChild(state.drag.rect);
  });
  svg.addEventListener("mousemove", (event) => {
    if (!state.drag) return;
    const x = svgX(event);
    state.drag.rect.setAttribute("x", Math.min(x, state.drag.x0));
    state.drag.rect.setAttribute("width", Math.abs(x - state.drag.x0));
  });
  window.addEventListener("mouseup", (event) => {
    if (!state.drag) return;
    const x0 = state.drag.x0, x1 = svgX(event);
    state.drag.rect.remove();
    state.drag = null;
    if (Math.abs(x1 - x0) < 8) { seek(tOf(x1)); return; }
    zoom(tOf(Math.min(x0, x1)), tOf(Math.max(x0, x1)));
  });

  async function zoom(start, end) {
    const url = root.dataset.timelineUrl + "?start_s=" + start.toFixed(2) + "&end_s=" + end.toFixed(2);
    state.view = await api(url);
    state.range = [start, end];
    document.getElementById("zoom-reset").classList.remove("hidden");
    document.getElementById("chart-status").textContent = "Showing " + clock(start) + " – " + clock(end) + " in full detail.";
    drawChart();
  }
  document.getElementById("zoom-reset").addEventListener("click", () => {
    state.range = null;
    state.view = state.overview;
    document.getElementById("zoom-reset").classList.add("hidden");
    document.getElementById("chart-status").textContent = "";
    drawChart();
  });

  // --- transcript, session map, summary ----------------------------------------------------------
  function drawTranscript(lines) {
    const list = document.getElementById("transcript");
    list.replaceChildren();
    lines.forEach((line) => {
      const li = el("li", { "data-start": line.start_s, "data-end": line.end_s, title: "Play from here", tabindex: "0" });
      li.appendChild(el("span", { class: "time" }, clock(line.start_s)));
      li.appendChild(el("span", { class: "role role-" + line.role }, line.role));
      const text = el("span", { class: "text" }, line.text);
      if (line.sentiment && line.sentiment.label !== "neutral") {
        text.appendChild(el("span", { class: "sentiment sentiment-" + line.sentiment.label }, line.sentiment.label));
      }
      li.appendChild(text);
      onActivate(li, () => seek(line.start_s));
      list.appendChild(li);
    });
    if (!lines.length) list.appendChild(el("li", { class: "muted" }, "No speech was transcribed."));
  }

  function drawMoments(moments) {
    const list = document.getElementById("moments");
    list.replaceChildren();
    moments.forEach((m) => {
      const li = el("li", { "data-t": m.t_s, tabindex: "0" });
      const direction = m.value >= 0 ? "higher" : "lower";
      li.appendChild(el("div", { class: "what" }, clock(m.t_s) + " · " + (m.kind === "shift" ? "Shift in " : "Peak of ") + m.dimension + " (" + direction + ")"));
      const words = (m.evidence && m.evidence.words) || [];
      if (words.length) li.appendChild(el("div", { class: "quote" }, "“" + words.map((w) => w.text).join(" ") + "”"));
      if (m.confidence !== undefined) li.appendChild(el("div", { class: "muted small" }, "confidence " + Math.round(m.confidence * 100) + "%"));
      onActivate(li, () => seek(m.start_s !== undefined ? m.start_s : m.t_s));
      list.appendChild(li);
    });
    if (!moments.length) list.appendChild(el("li", { class: "muted" }, "No key moments were found."));
  }

  function drawSummary(summary) {
    const box = document.getElementById("summary");
    box.replaceChildren();
    const stat = (value, label) => {
      const div = el("div", { class: "stat" });
      div.appendChild(el("b", {}, value));
      div.appendChild(el("span", {}, label));
      box.appendChild(div);
    };
    const ratio = summary.client_talk_ratio;
    stat(ratio === null ? "–" : Math.round(ratio * 100) + "%", "of speech by the client");
    stat(String(summary.silence_count), "silences of 3 s or more");
    stat(clock(summary.longest_silence_s), "longest silence");
  }

  // --- notes ---------------------------------------------------------------------------------------
  function drawNotes() {
    const list = document.getElementById("notes");
    list.replaceChildren();
    state.notes.forEach((note) => {
      const li = el("li", { "data-id": note.id });
      const meta = el("div", { class: "meta" });
      const at = el("a", { href: "#" }, clock(note.t_s));
      at.addEventListener("click", (event) => { event.preventDefault(); seek(note.t_s); });
      meta.appendChild(at);
      meta.appendChild(el("span", {}, note.author));
      if (note.mine) {
        const remove = el("button", { class: "link", type: "button" }, "Delete");
        remove.addEventListener("click", async () => {
          await api(root.dataset.annotationBase + note.id + "/", { method: "DELETE" });
          await loadNotes();
        });
        meta.appendChild(remove);
      }
      li.appendChild(meta);
      li.appendChild(el("div", { class: "note-text" }, note.text));
      list.appendChild(li);
    });
    if (!state.notes.length) list.appendChild(el("li", { class: "muted" }, "No notes yet."));
    drawChart();
  }
  async function loadNotes() {
    state.notes = await api(root.dataset.annotationsUrl);
    drawNotes();
  }
  document.getElementById("note-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = document.getElementById("note-text");
    try {
      await api(root.dataset.annotationsUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ t_s: Number((player && player.currentTime) || 0), text: text.value }),
      });
      text.value = "";
      await loadNotes();
    } catch (error) {
      document.getElementById("chart-status").textContent = error.message;
    }
  });

  // --- upload and analysis progress ------------------------------------------------------------
  const progress = {
    box: document.getElementById("progress"),
    job: root.dataset.job || null,
    show(message) {
      this.job = message.job || this.job;
      const status = message.status || "running";
      const percent = Number(message.progress || 0);
      this.box.classList.remove("hidden");
      this.box.classList.toggle("failed", status === "failed");
      document.getElementById("progress-bar").style.width = Math.max(0, Math.min(100, percent)) + "%";
      document.getElementById("progress-percent").textContent = Math.round(percent) + "%";
      const labels = { queued: "Analysis queued", running: "Analysing", succeeded: "Analysis finished", failed: "Analysis failed", cancelled: "Analysis cancelled" };
      let label = (labels[status] || "Analysing") + (message.stage ? " · " + message.stage : "");
      if (status === "failed" && message.error_message) label += " — " + message.error_message;
      document.getElementById("progress-stage").textContent = label;
      const active = ["queued", "running"].includes(status);
      document.getElementById("progress-cancel").classList.toggle("hidden", !active);
      const again = document.getElementById("reanalyse");
      again.classList.toggle("hidden", active || !again.dataset.url);
      if (status === "succeeded") loadTimeline();
    },
  };
  let pollTimer = null;
  function pollJob() {
    // The fallback when the WebSocket is down: ask the API every few seconds.
    clearInterval(pollTimer);
    pollTimer = setInterval(async () => {
      if (!progress.job) return;
      const job = await api(root.dataset.jobUrlBase + progress.job + "/");
      progress.box.dataset.channel = "polling";
      progress.show(Object.assign({ job: job.id }, job));
      if (["succeeded", "failed", "cancelled"].includes(job.status)) clearInterval(pollTimer);
    }, 3000);
  }
  function watchProgress() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + root.dataset.progressWs);
    socket.addEventListener("open", () => clearInterval(pollTimer));
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      // On connect the server replays each recording's latest job; show only live work or
      // the job this page started.
      const live = ["queued", "running"].includes(message.status);
      if (live || (progress.job && message.job === progress.job)) {
        progress.box.dataset.channel = "websocket";
        progress.show(message);
      }
    });
    socket.addEventListener("close", () => { if (progress.job) pollJob(); });
  }
  const reanalyse = document.getElementById("reanalyse");
  reanalyse.addEventListener("click", async () => {
    const message = document.getElementById("upload-message");
    try {
      const job = await api(reanalyse.dataset.url, { method: "POST" });
      message.textContent = "";
      progress.show(Object.assign({ job: job.id }, job));
    } catch (error) {
      message.textContent = error.message;
    }
  });
  document.getElementById("progress-cancel").addEventListener("click", async () => {
    if (!progress.job) return;
    const job = await api(root.dataset.jobUrlBase + progress.job + "/cancel", { method: "POST" }).catch((error) => ({ status: "failed", error_message: error.message }));
    progress.show(Object.assign({ job: progress.job }, job));
  });
  document.getElementById("upload-file").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    if (!file) return;
    const message = document.getElementById("upload-message");
    message.textContent = "Uploading " + file.name + "…";
    const form = new FormData();
    form.append("file", file);
    try {
      const recording = await api(root.dataset.uploadUrl, { method: "POST", body: form });
      player.src = "/recordings/" + recording.id + "/media";
      reanalyse.dataset.url = "/api/v1/recordings/" + recording.id + "/analyse";
      player.classList.remove("hidden");
      if (recording.analysis_error) {
        message.textContent = "Uploaded. " + recording.analysis_error.message;
      } else {
        message.textContent = "Uploaded.";
        const job = recording.latest_job;
        if (job) progress.show(Object.assign({ job: job.id }, job));
      }
    } catch (error) {
      message.textContent = error.message;
      message.classList.add("error");
    }
  });

  // --- start ---------------------------------------------------------------------------------------
  async function loadTimeline() {
    try {
      state.overview = await api(root.dataset.timelineUrl);
    } catch (error) {
      document.getElementById("chart-status").textContent = error.message;
      return;
    }
    state.view = state.range ? state.view : state.overview;
    drawTranscript(state.overview.transcript);
    drawMoments(state.overview.moments);
    drawSummary(state.overview.summary);
    drawChart();
  }
  if (player) player.addEventListener("timeupdate", updatePlayhead);
  if (player) player.addEventListener("seeked", updatePlayhead);
  watchProgress();
  loadTimeline();
  loadNotes();
})();
