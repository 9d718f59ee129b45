"""p50 latency of GET /api/v1/files?read=true on a small file through the whole stack, against a
bare ASGI app returning the same bytes on the same uvicorn and the same client, in one run.

    python bench/http_overhead.py [--requests 3000]

Target: ratio <= 1.5x. Both servers run as separate processes (one uvicorn worker each) and are
measured in alternating rounds so that machine noise hits both alike.
"""

from __future__ import annotations

import argparse
import tempfile
from functools import partial
from pathlib import Path

import httpx

from bench._common import PYTHON, free_port, median, ms, p, start, stop, timed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        (repo / "small.py").write_text("def hello():\n    return 'world'\n" * 4)
        ours_port, bare_port = free_port(), free_port()
        ours_url = f"http://127.0.0.1:{ours_port}/api/v1/files?path=small.py&read=true"
        ours = start(
            [
                PYTHON,
                "-m",
                "assistant",
                "serve",
                "--repo",
                str(repo),
                "--port",
                str(ours_port),
                "--log-level",
                "error",
                "--cache-dir",
                f"{tmp}/cache",
                "--data-dir",
                f"{tmp}/data",
            ],
            ours_url,
        )
        try:
            body = httpx.get(ours_url).content
            body_file = Path(tmp) / "body.json"
            body_file.write_bytes(body)
            bare_url = f"http://127.0.0.1:{bare_port}/"
            bare = start(
                [
                    PYTHON,
                    "-m",
                    "uvicorn",
                    "bare_asgi:app",
                    "--port",
                    str(bare_port),
                    "--log-level",
                    "error",
                    "--app-dir",
                    str(Path(__file__).parent),
                ],
                bare_url,
                env={"BARE_BODY_FILE": str(body_file)},
            )
            try:
                per_round = args.requests // args.rounds
                ours_t: list[float] = []
                bare_t: list[float] = []
                with httpx.Client() as client:
                    for url in (ours_url, bare_url):  # warm up
                        timed(partial(client.get, url), 200)
                    for _ in range(args.rounds):
                        ours_t += timed(lambda: client.get(ours_url), per_round)
                        bare_t += timed(lambda: client.get(bare_url), per_round)
            finally:
                stop(bare)
        finally:
            stop(ours)
    print(f"requests per server: {len(ours_t)} (body {len(body)} bytes)")
    print(f"repo-assistant  p50 {ms(median(ours_t))}  p99 {ms(p(ours_t, 0.99))}")
    print(f"bare ASGI app   p50 {ms(median(bare_t))}  p99 {ms(p(bare_t, 0.99))}")
    print(f"ratio (p50): {median(ours_t) / median(bare_t):.2f}x  (target <= 1.5x)")


if __name__ == "__main__":
    main()
