"""A session's timeline taken out of the app: CSV and JSON for analysis, WebVTT for a player's
captions, and a one-page PDF summary to print.

Each export is made from the stored timeline document alone: notes (psychotherapy notes) are
never read here, so they can never leave in one. The views audit every export.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from analysis.labels import EMOTIONS
from analysis.timeline import NOTICE

CHANNELS = ("face", "voice", "text")
CHANNEL_FIELDS = ("valence", "arousal", "confidence", "weight", "emotions_confidence")


@dataclass(frozen=True)
class ExportFile:
    content: bytes
    content_type: str
    kind: str  # one of EXPORT_KINDS, the end of the file's name


def timeline_csv(document: dict[str, Any]) -> str:
    """One row per window: the fused reading, the seven emotions, each channel's own reading,
    and the gaps (modality:reason) in it."""
    header = [
        "start_s",
        "end_s",
        "valence",
        "arousal",
        "confidence",
        "dominant",
        *(f"emotion_{label}" for label in EMOTIONS),
        *(f"{channel}_{field}" for channel in CHANNELS for field in CHANNEL_FIELDS),
        "gaps",
    ]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for window in document.get("windows", []):
        emotions = window.get("emotions") or {}
        channels = window.get("modalities") or {}
        writer.writerow(
            [
                window["start_s"],
                window["end_s"],
                _cell(window.get("valence")),
                _cell(window.get("arousal")),
                _cell(window.get("confidence")),
                window.get("dominant") or "",
                *(_cell(emotions.get(label)) for label in EMOTIONS),
                *(
                    _cell((channels.get(channel) or {}).get(field))
                    for channel in CHANNELS
                    for field in CHANNEL_FIELDS
                ),
                ";".join(f"{g['modality']}:{g['reason']}" for g in window.get("gaps", [])),
            ]
        )
    return out.getvalue()


def _cell(value: object) -> object:
    return "" if value is None else value


def transcript_webvtt(transcript: Iterable[dict[str, Any]]) -> str:
    """The transcript as WebVTT cues, each voiced by its speaker's role (`<v client>`)."""
    cues = ["WEBVTT", ""]
    for number, line in enumerate(transcript, start=1):
        speaker = _vtt_text(line.get("role") or line.get("speaker") or "unknown")
        cues += [
            str(number),
            f"{_vtt_time(line['start_s'])} --> {_vtt_time(line['end_s'])}",
            f"<v {speaker}>{_vtt_text(line['text'])}",
            "",
        ]
    return "\n".join(cues)


def _vtt_time(seconds: float) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def _vtt_text(text: str) -> str:
    # A cue's text is markup: "<" and "&" would start a tag or an entity, and "-->" ends a cue
    # line's timing; a blank line would end the cue.
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(escaped.split())


@dataclass(frozen=True)
class SummaryHeading:
    patient: str  # the pseudonym: a summary carries no name
    session_date: str
    clinician: str


def session_summary_pdf(document: dict[str, Any], heading: SummaryHeading) -> bytes:
    """One A4 page: the session's valence and arousal over time, its key moments with the words
    said, the talk figures, and the caption that scores are observations, not a diagnosis."""
    from fpdf import FPDF

    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=False)
    pdf.set_title(f"Session summary {heading.patient} {heading.session_date}")
    pdf.add_page()
    pdf.set_font("helvetica", "B", 15)
    pdf.cell(0, 8, f"Session summary: {heading.patient}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", "", 9.5)
    duration = _clock(float(document.get("duration_s") or 0.0))
    pdf.cell(
        0,
        5,
        f"Session of {heading.session_date} - {duration} long - clinician {heading.clinician}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    _plot(pdf, document.get("windows", []), float(document.get("duration_s") or 1.0), top=28)
    pdf.set_y(100)
    pdf.set_font("helvetica", "B", 11)
    pdf.cell(0, 6, "Key moments", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", "", 9)
    moments = document.get("moments", [])
    for moment in moments[:MAX_MOMENTS_PRINTED]:
        pdf.multi_cell(0, 4.5, _latin1(_moment_line(moment)), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
    if not moments:
        pdf.cell(0, 5, "No key moments were found.", new_x="LMARGIN", new_y="NEXT")
    elif len(moments) > MAX_MOMENTS_PRINTED:
        more = len(moments) - MAX_MOMENTS_PRINTED
        pdf.cell(0, 5, f"... and {more} more in the app.", new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(268)
    pdf.set_font("helvetica", "I", 8.5)
    pdf.multi_cell(0, 4, _latin1(NOTICE), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


MAX_MOMENTS_PRINTED = 12  # what fits on the page below the plot
PLOT_LEFT_MM, PLOT_WIDTH_MM, PLOT_HEIGHT_MM = 20.0, 170.0, 60.0
VALENCE_RGB, AROUSAL_RGB = (0, 114, 178), (213, 94, 0)  # Okabe-Ito blue and vermilion


def _plot(pdf: Any, windows: Sequence[dict[str, Any]], duration_s: float, top: float) -> None:
    def x(t: float) -> float:
        return PLOT_LEFT_MM + PLOT_WIDTH_MM * t / max(duration_s, 1e-6)

    def y(v: float) -> float:
        return top + PLOT_HEIGHT_MM * (1 - v) / 2

    pdf.set_draw_color(180, 180, 180)
    pdf.set_line_width(0.2)
    pdf.rect(PLOT_LEFT_MM, top, PLOT_WIDTH_MM, PLOT_HEIGHT_MM)
    pdf.line(PLOT_LEFT_MM, y(0), PLOT_LEFT_MM + PLOT_WIDTH_MM, y(0))
    pdf.set_font("helvetica", "", 7)
    for value, label in ((1, "+1"), (0, "0"), (-1, "-1")):
        pdf.text(PLOT_LEFT_MM - 6, y(value) + 1, label)
    for i in range(7):
        t = duration_s * i / 6
        pdf.text(x(t) - 3, top + PLOT_HEIGHT_MM + 4, _clock(t))
    for key, rgb in (("valence", VALENCE_RGB), ("arousal", AROUSAL_RGB)):
        pdf.set_draw_color(*rgb)
        pdf.set_line_width(0.5)
        for p, q in itertools.pairwise(windows):
            if p.get(key) is None or q.get(key) is None:
                continue
            pdf.line(
                x((p["start_s"] + p["end_s"]) / 2),
                y(p[key]),
                x((q["start_s"] + q["end_s"]) / 2),
                y(q[key]),
            )
    pdf.set_font("helvetica", "", 8)
    for offset, (label, rgb) in enumerate((("Valence", VALENCE_RGB), ("Arousal", AROUSAL_RGB))):
        pdf.set_text_color(*rgb)
        pdf.text(PLOT_LEFT_MM + 2 + offset * 18, top - 1.5, label)
    pdf.set_text_color(0, 0, 0)


def _moment_line(moment: dict[str, Any]) -> str:
    kind = "Shift in" if moment.get("kind") == "shift" else "Peak of"
    direction = "higher" if moment.get("value", 0) >= 0 else "lower"
    line = f"{_clock(moment['t_s'])}  {kind} {moment.get('dimension')} ({direction})"
    if moment.get("confidence") is not None:
        line += f", confidence {round(moment['confidence'] * 100)}%"
    words = " ".join(w["text"] for w in (moment.get("evidence") or {}).get("words", []))
    if words:
        line += f': "{words}"'
    return line


def _clock(seconds: float) -> str:
    s = max(0, round(seconds))
    hours, rest = divmod(s, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


PLAIN_PUNCTUATION = str.maketrans({"“": '"', "”": '"', "’": "'", "–": "-", "—": "-"})


def _latin1(text: str) -> str:
    # The PDF's core fonts hold Latin-1; typographic quotes and dashes are written plainly.
    plain = text.translate(PLAIN_PUNCTUATION)
    return plain.encode("latin-1", "replace").decode("latin-1")


EXPORT_KINDS = ("timeline.csv", "timeline.json", "transcript.vtt", "summary.pdf")


def session_export(kind: str, document: dict[str, Any], heading: SummaryHeading) -> ExportFile:
    """The export named `kind` (one of EXPORT_KINDS) of a timeline document."""
    if kind == "timeline.csv":
        return ExportFile(timeline_csv(document).encode(), "text/csv; charset=utf-8", kind)
    if kind == "timeline.json":
        import orjson

        return ExportFile(orjson.dumps(document), "application/json", kind)
    if kind == "transcript.vtt":
        vtt = transcript_webvtt(document.get("transcript", []))
        return ExportFile(vtt.encode(), "text/vtt; charset=utf-8", kind)
    if kind == "summary.pdf":
        return ExportFile(session_summary_pdf(document, heading), "application/pdf", kind)
    raise ValueError(f"unknown export {kind!r}; one of {', '.join(EXPORT_KINDS)}")
