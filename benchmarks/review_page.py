"""Review page latency in headless Chromium: how soon a 60-minute session's chart is drawn, and
how soon a zoom is answered, on the benchmark database of benchmarks/web.py.

For each of `--sessions` 60-minute sessions (a thousand-odd windows, 2-second windows, with
every channel, the seven emotions and the transcript) the page is opened afresh and timed from
navigation start to the first full chart (the page records `performance.now()` when it has
drawn the timeline, the transcript and the session map); then a 5-minute stretch is zoomed by
dragging across the chart, timed from the request to the redrawn chart. Beside each, measured
in the same run and the same page: the server's floor, the bare fetch of the same API read
(the overview, or the range) with nothing drawn.

Two conditions: an idle machine, and the machine with one busy process per core (an analysis
per core, as a worker beside the web process would be). Targets: first chart <= 1.5 s, zoom <=
200 ms, p95 over the sessions.

    python -m benchmarks.review_page               # 10 sessions, both conditions
    python -m benchmarks.review_page --sessions 4  # quicker
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import secrets
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from benchmarks import web
from benchmarks._server import free_port, start_server, stop_server
from benchmarks.common import Row, percentile, print_rows, summarise, write_result

TARGET_FIRST_CHART_S = 1.5
TARGET_ZOOM_S = 0.2
CHROMIUM_PATH = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ZOOM_FROM, ZOOM_TO = 0.40, 0.40 + web.ZOOM_SPAN_S / web.LONG_SESSION_S  # of the chart's width


def _busy(stop_at: float) -> None:
    x = 0
    while time.monotonic() < stop_at:
        x = (x * 31 + 7) % 1_000_003


@contextmanager
def contention(busy: bool) -> Iterator[None]:
    """One process spinning per core while the block runs, when `busy`."""
    workers: list[multiprocessing.Process] = []
    if busy:
        stop_at = time.monotonic() + 3600
        workers = [
            multiprocessing.Process(target=_busy, args=(stop_at,), daemon=True)
            for _ in range(len(os.sched_getaffinity(0)))
        ]
        for worker in workers:
            worker.start()
    try:
        yield
    finally:
        for worker in workers:
            worker.terminate()
            worker.join()


def clinician_password() -> str:
    """A fresh password for the seeded clinician, to sign in as a person would."""
    from clinic.models import User

    password = secrets.token_urlsafe(16)
    clinician = User.objects.get(username=web.CLINICIAN_USERNAME)
    clinician.set_password(password)
    clinician.save(update_fields=["password"])
    return password


def _chart_fraction(of_width: float) -> float:
    """Where in the session a point `of_width` across the chart falls (the chart's plot runs
    from 64 to 990 of its 1000 units; frontend/static/frontend/js/timeline_chart.js)."""
    return (of_width * 1000 - 64) / (1000 - 64 - 10)


def _fetch_seconds(page: Any, url: str) -> float:
    """The same API read the page makes, fetched and parsed in the page, nothing drawn."""
    ms = page.evaluate(
        """async (url) => {
            const t0 = performance.now();
            await (await fetch(url, {headers: {Accept: "application/json"}})).json();
            return performance.now() - t0;
        }""",
        url,
    )
    return float(ms) / 1000


def measure_page(page: Any, base: str, session_id: str) -> dict[str, float]:
    page.goto(f"{base}/sessions/{session_id}/")
    page.wait_for_selector("#chart[data-first-draw-ms]", timeout=60_000)
    first_ms = float(page.get_attribute("#chart", "data-first-draw-ms"))
    timeline_url = f"/api/v1/sessions/{session_id}/timeline/"
    overview_s = _fetch_seconds(page, timeline_url)
    box = page.locator("#chart").bounding_box()
    y = box["y"] + 80
    page.mouse.move(box["x"] + box["width"] * ZOOM_FROM, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * ZOOM_TO, y, steps=4)
    page.mouse.up()
    page.wait_for_selector("#chart[data-zoom-ms]", timeout=30_000)
    zoom_ms = float(page.get_attribute("#chart", "data-zoom-ms"))
    start_s = web.LONG_SESSION_S * _chart_fraction(ZOOM_FROM)  # where the drag began
    range_s = _fetch_seconds(
        page, f"{timeline_url}?start_s={start_s:.1f}&end_s={start_s + web.ZOOM_SPAN_S:.1f}"
    )
    return {
        "first_chart_s": first_ms / 1000,
        "overview_fetch_s": overview_s,
        "zoom_s": zoom_ms / 1000,
        "range_fetch_s": range_s,
    }


def measure(
    sessions: Sequence[str], base: str, password: str, busy: bool
) -> list[dict[str, float]]:
    from playwright.sync_api import sync_playwright

    results = []
    with contention(busy), sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS, headless=True
        )
        context = browser.new_context(viewport={"width": 1360, "height": 1000})
        page = context.new_page()
        page.goto(f"{base}/login/")
        page.fill("#id_username", web.CLINICIAN_USERNAME)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        for session_id in sessions:
            results.append(measure_page(page, base, session_id))
        browser.close()
    return results


def rows_of(condition: str, results: list[dict[str, float]]) -> list[Row]:
    def figure(key: str) -> tuple[float, str]:
        values = [r[key] for r in results]
        summary = summarise(values)
        return percentile(values, 0.95), f"median {summary.median:.3f}, n={len(values)}"

    first, first_spread = figure("first_chart_s")
    overview, _ = figure("overview_fetch_s")
    zoom, zoom_spread = figure("zoom_s")
    ranged, _ = figure("range_fetch_s")
    return [
        Row(
            case=f"60-min session, first chart drawn ({condition})",
            metric="p95 s",
            value=round(first, 3),
            spread=first_spread,
            baseline="the overview fetched alone, nothing drawn",
            baseline_value=round(overview, 3),
            note=f"target <= {TARGET_FIRST_CHART_S} s",
        ),
        Row(
            case=f"zoom into 5 minutes, chart redrawn ({condition})",
            metric="p95 s",
            value=round(zoom, 3),
            spread=zoom_spread,
            baseline="the range fetched alone, nothing drawn",
            baseline_value=round(ranged, 3),
            note=f"target <= {TARGET_ZOOM_S} s",
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.review_page", description=__doc__)
    parser.add_argument("--sessions", type=int, default=10, help="60-minute sessions opened")
    args = parser.parse_args(argv)
    seeded = web.seed(max(args.sessions, web.LONG_SESSIONS))
    password = clinician_password()
    sessions = seeded["long_sessions"][: args.sessions]
    port = free_port()
    workers = int(os.environ.get("WEB_WORKERS") or 2 * len(os.sched_getaffinity(0)))
    server = start_server("uvicorn", port, os.environ, workers=workers)
    base = f"http://127.0.0.1:{port}"
    try:
        measure(sessions[:1], base, password, busy=False)  # warm the server's caches once
        details: dict[str, Any] = {"load_average_before": os.getloadavg()}
        rows: list[Row] = []
        for condition, busy in (("idle", False), ("one busy process per core", True)):
            results = measure(sessions, base, password, busy)
            details[condition] = results
            rows += rows_of(condition, results)
        details["load_average_after"] = os.getloadavg()
    finally:
        stop_server(server)
    print_rows("Review page in headless Chromium", rows)
    write_result("review_page", rows, details)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
