"""The event stream and the metrics, against their targets, with anchors measured in the same run.

1. Latency: 64 clients follow /api/v1/events; a file is written in the repository every 400 ms
   (30 times); for each write and client, the time from the write to the ``files.changed``
   event naming it (inotify -> event). Target p99 <= 50 ms.
2. A burst: 1,000 files written within one second; how many ``files.changed`` events each
   client gets for them. Target <= 4 (the first at once, then one every 250 ms).
3. ``GET /metrics`` p50 with 16 repositories indexed. Target <= 5 ms.
4. The metrics middleware's cost: ``GET /api/v1/files?read=true`` p50 through a server with
   ``--metrics on`` and one with ``--metrics off``, each against a bare ASGI app returning the
   same bytes (http_overhead.py's ratio), alternating rounds. Target: on/off <= 1.05.

Run by hand: ``.venv/bin/python -m bench.events``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench._common import PYTHON, free_port, median, ms, p, start, stop, timed

CLIENTS = 64


def serve(repos: list[Path], tmp: str, *extra: str) -> tuple[str, object]:
    port = free_port()
    command = [PYTHON, "-m", "assistant", "serve", "--port", str(port), "--log-level", "error"]
    for repo in repos:
        command += ["--repo", str(repo)]
    command += ["--cache-dir", f"{tmp}/cache-{port}", "--data-dir", f"{tmp}/data-{port}", *extra]
    url = f"http://127.0.0.1:{port}"
    proc = start(command, f"{url}/api/v1/health")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        repos_state = httpx.get(f"{url}/api/v1/status").json()["data"]["repos"]
        if all(r["state"] == "ready" for r in repos_state):
            break
        time.sleep(0.1)
    return url, proc


class Client(threading.Thread):
    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.arrived: list[tuple[float, dict[str, object]]] = []
        self.open = threading.Event()

    def run(self) -> None:
        with contextlib.suppress(httpx.HTTPError):  # the server stopped at the end of its part
            self.follow()

    def follow(self) -> None:
        with httpx.Client(timeout=None) as client, client.stream("GET", f"{self.url}/api/v1/events") as response:
            for line in response.iter_lines():
                if line.startswith(":"):
                    self.open.set()
                elif line.startswith("data: "):
                    event = json.loads(line[6:])
                    if event["type"] == "files.changed":
                        self.arrived.append((time.time(), event))


def latency(url: str, repo: Path, clients: list[Client]) -> list[float]:
    out = []
    for i in range(30):
        name = f"latency_{i}.txt"
        written = time.time()
        (repo / name).write_text(str(i))
        deadline = time.monotonic() + 5
        for client in clients:
            while time.monotonic() < deadline:
                hit = next((t for t, e in client.arrived if name in e["paths"]), None)  # type: ignore[operator]
                if hit is not None:
                    out.append(hit - written)
                    break
                time.sleep(0.001)
        time.sleep(0.4)
    return out


def burst(repo: Path, clients: list[Client]) -> list[int]:
    folder = repo / "burst"
    folder.mkdir()
    before = [len(c.arrived) for c in clients]
    started = time.monotonic()
    for i in range(1000):
        (folder / f"f{i}.txt").write_text(str(i))
        spare = started + (i + 1) / 1000 - time.monotonic()
        if spare > 0:
            time.sleep(spare)
    time.sleep(1.5)
    return [
        sum(1 for _, e in c.arrived[n:] if any(str(x).startswith("burst/") for x in e["paths"]))  # type: ignore[attr-defined, misc]
        for c, n in zip(clients, before, strict=True)
    ]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        (repo / "main.py").write_text("def main():\n    return 42\n")
        url, proc = serve([repo], tmp)
        try:
            clients = [Client(url) for _ in range(CLIENTS)]
            for follower in clients:
                follower.start()
            for follower in clients:
                follower.open.wait(10)
            seen = latency(url, repo, clients)
            counts = burst(repo, clients)
        finally:
            stop(proc)  # type: ignore[arg-type]
        print(f"1. files.changed to {CLIENTS} clients: {len(seen)} arrivals, p50 {ms(median(seen))}, "
              f"p99 {ms(p(seen, 0.99))} (target p99 <= 50 ms)")  # fmt: skip
        print(f"2. 1,000 files in one second: files.changed events per client median {statistics.median(counts)}, "
              f"max {max(counts)} (target <= 4)")  # fmt: skip

        repos = []
        for i in range(16):
            r = Path(tmp) / f"r{i}"
            r.mkdir()
            for j in range(50):
                (r / f"m{j}.py").write_text(f"def f{j}():\n    return {j}\n")
            repos.append(r)
        url, proc = serve(repos, tmp)
        try:
            with httpx.Client() as client:
                timed(lambda: client.get(f"{url}/metrics"), 20)
                scrape = timed(lambda: client.get(f"{url}/metrics"), 300)
        finally:
            stop(proc)  # type: ignore[arg-type]
        p50, p95 = ms(median(scrape)), ms(p(scrape, 0.95))
        print(f"3. GET /metrics with 16 repositories: p50 {p50}, p95 {p95} (target <= 5 ms)")

        (repo / "small.py").write_text("def hello():\n    return 'world'\n" * 4)
        on_url, on = serve([repo], tmp, "--metrics", "on")
        off_url, off = serve([repo], tmp, "--metrics", "off")
        bare_port = free_port()
        body = httpx.get(f"{on_url}/api/v1/files?path=small.py&read=true").content
        (Path(tmp) / "body.json").write_bytes(body)
        bare = start(
            [PYTHON, "-m", "uvicorn", "bare_asgi:app", "--port", str(bare_port), "--log-level", "error",
             "--app-dir", str(Path(__file__).parent)],
            f"http://127.0.0.1:{bare_port}/",
            env={"BARE_BODY_FILE": str(Path(tmp) / "body.json")},
        )  # fmt: skip
        try:
            times: dict[str, list[float]] = {"on": [], "off": [], "bare": []}
            targets = {
                "on": f"{on_url}/api/v1/files?path=small.py&read=true",
                "off": f"{off_url}/api/v1/files?path=small.py&read=true",
                "bare": f"http://127.0.0.1:{bare_port}/",
            }
            with httpx.Client() as client:
                for target in targets.values():
                    timed(functools.partial(client.get, target), 200)
                for _ in range(6):
                    for name, target in targets.items():
                        times[name] += timed(functools.partial(client.get, target), 500)
        finally:
            for process in (on, off, bare):
                stop(process)  # type: ignore[arg-type]
        ratio_on = median(times["on"]) / median(times["bare"])
        ratio_off = median(times["off"]) / median(times["bare"])
        print(f"4. /files?read=true p50: metrics on {ms(median(times['on']))} ({ratio_on:.2f}x bare), "
              f"off {ms(median(times['off']))} ({ratio_off:.2f}x bare); on/off {ratio_on / ratio_off:.3f} "
              f"(target <= 1.05)")  # fmt: skip


if __name__ == "__main__":
    main()
