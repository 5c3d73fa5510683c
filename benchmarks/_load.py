"""A bounded HTTP load generator, run as its own process by benchmarks/web.py.

`python -m benchmarks._load --token KEY --requests N --concurrency C URL [URL ...]` sends exactly
N GET requests, spread round-robin over the URLs, from C threads that each keep one HTTP/1.1
connection open (loopback only), and prints one JSON line: per-request latencies in
milliseconds, failures, bytes, and the wall time.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
REQUEST_TIMEOUT_S = 60.0


def _worker(
    urls: Sequence[str],
    token: str,
    counter: Iterator[int],
    total: int,
    latencies_ms: list[float],
    failures: list[str],
    sizes: list[int],
    lock: threading.Lock,
    deadline: float,
    ok_statuses: frozenset[int],
) -> None:
    first = urlsplit(urls[0])
    host = first.hostname or "127.0.0.1"
    connection = http.client.HTTPConnection(host, first.port, timeout=REQUEST_TIMEOUT_S)
    headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
    while True:
        with lock:
            index = next(counter)
        if index >= total or time.perf_counter() > deadline:
            break
        url = urlsplit(urls[index % len(urls)])
        target = url.path + (f"?{url.query}" if url.query else "")
        started = time.perf_counter()
        try:
            connection.request("GET", target, headers=headers)
            response = connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            connection = http.client.HTTPConnection(host, first.port, timeout=REQUEST_TIMEOUT_S)
            with lock:
                failures.append(type(error).__name__)
            continue
        elapsed_ms = (time.perf_counter() - started) * 1000
        with lock:
            if response.status not in ok_statuses:
                failures.append(str(response.status))
            latencies_ms.append(elapsed_ms)
            sizes.append(len(body))
    connection.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._load")
    parser.add_argument("urls", nargs="+")
    parser.add_argument("--token", required=True)
    parser.add_argument("--requests", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--ok-status", default="200", help="comma-separated statuses that count as answered"
    )
    parser.add_argument(
        "--time-limit-s", type=float, default=300.0, help="stop issuing requests after this"
    )
    args = parser.parse_args(argv)
    hosts = {urlsplit(u).hostname for u in args.urls}
    if not hosts <= LOOPBACK_HOSTS:
        parser.error(f"loopback only, got {sorted(h or '' for h in hosts)}")
    latencies_ms: list[float] = []
    failures: list[str] = []
    sizes: list[int] = []
    lock = threading.Lock()
    counter = itertools.count()
    started = time.perf_counter()
    deadline = started + args.time_limit_s
    threads = [
        threading.Thread(
            target=_worker,
            args=(
                args.urls,
                args.token,
                counter,
                args.requests,
                latencies_ms,
                failures,
                sizes,
                lock,
                deadline,
                frozenset(int(code) for code in args.ok_status.split(",")),
            ),
        )
        for _ in range(args.concurrency)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall_s = time.perf_counter() - started
    print(
        json.dumps(
            {
                "latencies_ms": latencies_ms,
                "failures": failures,
                "bytes": sizes,
                "wall_s": wall_s,
                "concurrency": args.concurrency,
                "stopped_by_time_limit": len(latencies_ms) + len(failures) < args.requests,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
