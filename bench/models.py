"""Overhead of GET /api/v1/models over calling the (fake) Ollama server's /api/tags directly,
in one run, with the same client.

    python bench/models.py [--requests 1000]

Our endpoint asks Ollama for /api/tags on every request and each model's /api/show at most
once per 30 s (capabilities are cached), then wraps the list in the envelope.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import PYTHON, free_port, median, ms, p, start, stop, timed
from tests.fakes.ollama import FakeOllama


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeOllama() as fake:
        port = free_port()
        ours_url = f"http://127.0.0.1:{port}/api/v1/models"
        server = start(
            [
                PYTHON,
                "-m",
                "assistant",
                "serve",
                "--repo",
                tmp,
                "--port",
                str(port),
                "--ollama-url",
                fake.url,
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
            direct_url = f"{fake.url}/api/tags"
            ours_t: list[float] = []
            direct_t: list[float] = []
            per_round = args.requests // args.rounds
            with httpx.Client() as client:
                timed(lambda: client.get(ours_url), 50)
                timed(lambda: client.get(direct_url), 50)
                for _ in range(args.rounds):
                    ours_t += timed(lambda: client.get(ours_url), per_round)
                    direct_t += timed(lambda: client.get(direct_url), per_round)
        finally:
            stop(server)
    print(f"requests each: {len(ours_t)}")
    print(f"GET /api/v1/models        p50 {ms(median(ours_t))}  p99 {ms(p(ours_t, 0.99))}")
    print(f"GET fake Ollama /api/tags p50 {ms(median(direct_t))}  p99 {ms(p(direct_t, 0.99))}")
    print(f"overhead p50: +{ms(median(ours_t) - median(direct_t))} ({median(ours_t) / median(direct_t):.2f}x)")


if __name__ == "__main__":
    main()
