// The session review page: video, timeline, evidence, transcript, session map, notes, exports,
// upload and analysis progress. Data comes from the API; nothing here decides what a clinician
// may see.
import { CHANNELS, api, clock, el, onActivate, svgEl } from "./js/common.js";
import { drawTimeline, placePlayhead, windowAt, WIDTH } from "./js/timeline_chart.js";
import { attendedFrames, showEvidence } from "./js/evidence.js";
import { drawTranscript, filterTranscript, followPlayback } from "./js/transcript.js";
import { uploadResumable } from "./js/upload.js";

const root = document.getElementById("review");
if (root) start();

function start() {
  const player = document.getElementById("player");
  const svg = document.getElementById("chart");
  const evidenceBox = document.getElementById("evidence");
  const transcriptList = document.getElementById("transcript");
  const state = {
    overview: null, view: null, notes: [], range: null, drag: null, drawn: null,
    lanes: Object.fromEntries(CHANNELS.map((c) => [c, true])),
  };

  function seek(t) {
    if (!player || !Number.isFinite(t)) return;
    player.currentTime = t;
    updatePlayhead();
  }

  // --- timeline ---------------------------------------------------------------------------------
  function drawChart() {
    state.drawn = drawTimeline(svg, state.view, state);
    svg.querySelectorAll(".moment").forEach((marker) => {
      const moment = (state.view.moments || []).find((m) => String(m.t_s) === marker.dataset.moment);
      onActivate(marker, (event) => { if (event) event.stopPropagation(); openMoment(moment); });
      marker.addEventListener("mousedown", (event) => event.stopPropagation());
    });
    updatePlayhead();
  }

  function updatePlayhead() {
    if (!player) return;
    const t = player.currentTime || 0;
    document.getElementById("note-time").textContent = clock(t);
    if (state.drawn) placePlayhead(svg, state.drawn.scale, t);
    const current = followPlayback(transcriptList, t);
    if (current && !player.paused && document.getElementById("follow").checked) {
      current.scrollIntoView({ block: "nearest" });
    }
  }

  async function openWindow(t) {
    const w = windowAt(state.view, t);
    if (!w) return;
    showEvidence(evidenceBox, { window: w, start: w.start_s, end: w.end_s, frames: await framesOf(w) }, evidenceContext());
  }
  // An overview point stands for one or more windows read without their frames: ask the API for
  // those windows in full detail. A zoomed range's windows carry them already.
  async function framesOf(w) {
    if (w.modalities && !Array.isArray(w.modalities)) return attendedFrames([w]);
    const url = root.dataset.timelineUrl + "?start_s=" + w.start_s.toFixed(3) + "&end_s=" + w.end_s.toFixed(3);
    try {
      const detail = await api(url);
      return attendedFrames(detail.windows.filter((d) => d.start_s >= w.start_s - 1e-6 && d.end_s <= w.end_s + 1e-6));
    } catch (error) {
      return [];  // the evidence still shows what the overview holds
    }
  }
  function openMoment(moment) {
    if (!moment) return;
    const w = windowAt(state.view, moment.t_s) || windowAt(state.overview, moment.t_s);
    showEvidence(evidenceBox, { moment, window: w, start: moment.start_s, end: moment.end_s }, evidenceContext());
    seek(moment.start_s !== undefined ? moment.start_s : moment.t_s);
  }
  function evidenceContext() {
    return { transcript: state.overview.transcript, seek, frameUrl: root.dataset.frameUrl || null };
  }

  function svgX(event) {
    const box = svg.getBoundingClientRect();
    return ((event.clientX - box.left) / box.width) * WIDTH;
  }
  svg.addEventListener("mousedown", (event) => {
    if (!state.drawn) return;
    const x = svgX(event);
    state.drag = { x0: x, rect: svgEl("rect", { class: "selection", y: 24, height: state.drawn.bottom - 24, x, width: 0 }) };
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
    const scale = state.drawn.scale;
    if (Math.abs(x1 - x0) < 8) {
      const t = scale.t(x1);
      seek(t);
      openWindow(t);
      return;
    }
    zoom(scale.t(Math.min(x0, x1)), scale.t(Math.max(x0, x1)));
  });
  // From the keyboard: arrows move the playhead by a window, Enter opens its evidence.
  svg.addEventListener("keydown", (event) => {
    if (!player || !state.view) return;
    const step = state.view.window_s || 2;
    if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
      event.preventDefault();
      seek((player.currentTime || 0) + (event.key === "ArrowRight" ? step : -step));
    } else if (event.key === "Enter") {
      event.preventDefault();
      openWindow(player.currentTime || 0);
    }
  });

  async function zoom(start, end) {
    const started = performance.now();
    const url = root.dataset.timelineUrl + "?start_s=" + start.toFixed(2) + "&end_s=" + end.toFixed(2);
    state.view = await api(url);
    state.range = [start, end];
    document.getElementById("zoom-reset").classList.remove("hidden");
    document.getElementById("chart-status").textContent = "Showing " + clock(start) + " – " + clock(end) + " in full detail.";
    drawChart();
    svg.dataset.zoomMs = String(Math.round(performance.now() - started));
  }
  document.getElementById("zoom-reset").addEventListener("click", () => {
    state.range = null;
    state.view = state.overview;
    document.getElementById("zoom-reset").classList.add("hidden");
    document.getElementById("chart-status").textContent = "";
    drawChart();
  });
  document.querySelectorAll("input[data-lane]").forEach((box) => {
    box.addEventListener("change", () => {
      state.lanes[box.dataset.lane] = box.checked;
      drawChart();
    });
  });

  // --- transcript, session map, summary ----------------------------------------------------------
  const search = document.getElementById("transcript-search");
  search.addEventListener("input", () => filterTranscript(transcriptList, search.value, document.getElementById("transcript-status")));

  function drawMoments(moments) {
    const list = document.getElementById("moments");
    list.replaceChildren();
    moments.forEach((m) => {
      const li = el("li", { "data-t": m.t_s, tabindex: "0" });
      const direction = m.value >= 0 ? "higher" : "lower";
      li.appendChild(el("div", { class: "what" }, clock(m.t_s) + " · " + (m.kind === "shift" ? "Shift in " : "Peak of ") + m.dimension + " (" + direction + ")"));
      const words = (m.evidence && m.evidence.words) || [];
      if (words.length) li.appendChild(el("div", { class: "quote" }, "“" + words.map((w) => w.text).join(" ") + "”"));
      const shares = (m.evidence && m.evidence.modalities) || {};
      const said = Object.entries(shares).sort((x, y) => y[1] - x[1]).map(([name, share]) => name + " " + Math.round(share * 100) + "%");
      if (said.length) li.appendChild(el("div", { class: "muted small" }, "from " + said.join(", ")));
      if (m.confidence !== undefined) li.appendChild(el("div", { class: "muted small" }, "confidence " + Math.round(m.confidence * 100) + "%"));
      onActivate(li, () => openMoment(m));
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
    const track = document.getElementById("upload-progress");
    message.classList.remove("error");
    message.textContent = "Uploading " + file.name + "…";
    track.classList.remove("hidden");
    const shown = (sent, size) => {
      const percent = size ? Math.round((sent / size) * 100) : 0;
      document.getElementById("upload-bar").style.width = percent + "%";
      track.setAttribute("aria-valuenow", String(percent));
      message.textContent = "Uploading " + file.name + "… " + percent + "%";
    };
    try {
      const recording = await uploadResumable(root.dataset.uploadStartUrl, file, shown);
      player.src = "/recordings/" + recording.id + "/media";
      reanalyse.dataset.url = "/api/v1/recordings/" + recording.id + "/analyse";
      document.getElementById("roles-form").dataset.url = "/api/v1/recordings/" + recording.id + "/roles";
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
    } finally {
      track.classList.add("hidden");
      event.target.value = "";
    }
  });

  // --- who is who ---------------------------------------------------------------------------------
  const ROLE_LABELS = { client: "Client", clinician: "Clinician", unknown: "Other" };
  function drawRoles(view) {
    const rows = document.getElementById("roles-rows");
    rows.replaceChildren();
    const add = (kind, id, what, role, source) => {
      const tr = el("tr", { "data-kind": kind, "data-id": id });
      tr.appendChild(el("th", { scope: "row" }, (kind === "speakers" ? "Voice " : "Face ") + id));
      tr.appendChild(el("td", {}, what));
      const cell = el("td");
      const select = el("select", { "aria-label": "Role of " + (kind === "speakers" ? "voice " : "face ") + id, "data-initial": role });
      Object.entries(ROLE_LABELS).forEach(([value, label]) => {
        const option = el("option", { value }, label);
        if (value === role) option.selected = true;
        select.appendChild(option);
      });
      cell.appendChild(select);
      if (source === "clinician") cell.appendChild(el("span", { class: "muted small" }, " set by a clinician"));
      tr.appendChild(cell);
      rows.appendChild(tr);
    };
    (view.speakers || []).forEach((s) => add("speakers", s.id, clock(s.talk_time_s) + " of speech", s.role, s.role_source));
    (view.face_tracks || []).forEach((t) => add("face_tracks", t.id, clock(t.start_s) + "–" + clock(t.end_s), t.role, t.role_source));
    if (!rows.children.length) rows.appendChild(el("tr")).appendChild(el("td", { colspan: "3", class: "muted" }, "No voices or faces were found."));
  }
  document.getElementById("roles-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const message = document.getElementById("roles-message");
    const body = { speakers: {}, face_tracks: {} };
    form.querySelectorAll("tr[data-kind]").forEach((tr) => {
      const select = tr.querySelector("select");
      if (select.value !== select.dataset.initial) body[tr.dataset.kind][tr.dataset.id] = select.value;
    });
    if (!Object.keys(body.speakers).length && !Object.keys(body.face_tracks).length) {
      message.textContent = "Change a role first.";
      return;
    }
    try {
      const job = await api(form.dataset.url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      message.textContent = "Fusing again with the new roles…";
      progress.show(Object.assign({ job: job.id }, job));
    } catch (error) {
      message.textContent = error.message;
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
    drawTranscript(transcriptList, state.overview.transcript, seek);
    drawMoments(state.overview.moments);
    drawSummary(state.overview.summary);
    drawRoles(state.overview);
    drawChart();
    document.getElementById("exports").classList.remove("hidden");
    svg.dataset.firstDrawMs = String(Math.round(performance.now()));
  }
  if (player) player.addEventListener("timeupdate", updatePlayhead);
  if (player) player.addEventListener("seeked", updatePlayhead);
  watchProgress();
  loadTimeline();
  loadNotes();
}
