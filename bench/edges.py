"""The edges of scale, each served by a real server process with an empty cache: a single 900 KB
source file with 50,000 definitions, 200,000 files in one directory, and fifty repositories
given with ``--repo`` (the clones ``--sources`` holds, repeated under other names (hard links)
until there are fifty), each used once (a search), the server's resident memory measured after
(target: within 3 GB).

For each: the time to ready (or, for fifty repositories, to the last one's first answer), a
symbol search and a text search that must find what was planted, and the resident memory (all
of it, VmRSS, and the anonymous part). Ripgrep searching the same literal on the same tree is
printed beside the text search.

Run by hand: ``.venv/bin/python -m bench.edges --sources /tmp/corpus-src`` (minutes).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import time
from pathlib import Path

import httpx

from bench._common import PYTHON, free_port, start, stop
from bench.scale import rss


def serve(repos: list[Path], cache: Path, data: Path) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [PYTHON, "-m", "assistant", "serve", "--port", str(port), "--log-level", "error"]
    for repo in repos:
        args += ["--repo", str(repo)]
    proc = start([*args, "--cache-dir", str(cache), "--data-dir", str(data)], f"{url}/api/v1/health")
    return url, proc


def wait_ready(url: str, repo: Path) -> float:
    started = time.perf_counter()
    while True:
        repos = httpx.get(f"{url}/api/v1/status", timeout=60).json()["data"]["repos"]
        mine = [r for r in repos if r["path"] == str(repo)]
        if mine and mine[0]["state"] == "ready":
            return time.perf_counter() - started
        time.sleep(0.2)


def search(url: str, repo: Path, q: str, mode: str) -> tuple[float, int]:
    started = time.perf_counter()
    found = httpx.get(
        f"{url}/api/v1/search", params={"q": q, "mode": mode, "repo": str(repo), "limit": 20}, timeout=300
    ).json()
    return time.perf_counter() - started, int(found["data"]["total"])


def ripgrep(tree: Path, literal: str) -> float:
    started = time.perf_counter()
    subprocess.run(["rg", "-F", "-c", literal, str(tree)], capture_output=True)
    return time.perf_counter() - started


def one(name: str, repo: Path, work: Path, symbol: str, literal: str) -> None:
    shutil.rmtree(work / f"cache-{name}", ignore_errors=True)
    url, proc = serve([repo], work / f"cache-{name}", work / "data")
    try:
        ready = wait_ready(url, repo)
        symbol_s, symbol_n = search(url, repo, symbol, "symbol")
        search(url, repo, literal, "text")
        text_s, text_n = search(url, repo, literal, "text")
        memory, anon = rss(proc.pid, "VmRSS"), rss(proc.pid)
        print(
            f"{name}: ready in {ready:.1f} s; symbol {symbol!r}: {symbol_n} found in {symbol_s * 1000:.0f} ms; "
            f"text {literal!r}: {text_n} found in {text_s * 1000:.0f} ms (rg {ripgrep(repo, literal) * 1000:.0f} ms); "
            f"resident {memory / 1e6:.0f} MB ({anon / 1e6:.0f} MB anonymous)",
            flush=True,
        )
    finally:
        stop(proc)


def big_file(work: Path) -> Path:
    repo = work / "big-file"
    if not (repo / "generated.py").exists() or (repo / "generated.py").stat().st_size != 900_000:
        repo.mkdir(parents=True, exist_ok=True)
        body = "".join(f"def h{i}():0\n" for i in range(50_000)) + "MARKER_NEEDLE = 1\n"
        (repo / "generated.py").write_text(body + "#" * (900_000 - len(body) - 1) + "\n")  # 900,000 bytes
    return repo


def flat_dir(work: Path) -> Path:
    repo = work / "flat-dir"
    if not repo.exists():
        (repo / "items").mkdir(parents=True)
        for i in range(200_000):
            (repo / "items" / f"item_{i:06d}.py").write_text(f"def item_{i}():\n    return {i}\n")
        (repo / "items" / "item_123456.py").write_text("def item_123456():\n    return 'FLAT_NEEDLE'\n")
    return repo


def fifty(sources: Path, work: Path) -> list[Path]:
    clones = sorted(p for p in sources.iterdir() if p.is_dir())
    made = work / "fifty"
    repos = []
    for i in range(50):
        source = clones[i % len(clones)]
        repo = made / f"{i:02d}-{source.name}"
        if not repo.exists():
            repo.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(["cp", "-al", str(source), str(repo)], check=True)
            shutil.rmtree(repo / ".git", ignore_errors=True)
        repos.append(repo)
    return repos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path("/tmp/edges-bench"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    one("900 KB file, 50,000 definitions", big_file(args.work), args.work, "h43210", "MARKER_NEEDLE")
    one("200,000 files in one directory", flat_dir(args.work), args.work, "item_123456", "FLAT_NEEDLE")
    repos = fifty(args.sources, args.work)
    shutil.rmtree(args.work / "cache-fifty", ignore_errors=True)
    url, proc = serve(repos, args.work / "cache-fifty", args.work / "data")
    try:
        started = time.perf_counter()
        peak = 0
        for repo in repos:
            search(url, repo, "timeout", "text")  # its first use: indexed now
            wait_ready(url, repo)
            peak = max(peak, rss(proc.pid, "VmRSS"))
        took = time.perf_counter() - started
        states = [r["state"] for r in httpx.get(f"{url}/api/v1/status", timeout=60).json()["data"]["repos"]]
        answer = httpx.get(
            f"{url}/api/v1/search", params={"q": "timeout", "mode": "text", "repo": "*", "limit": 20}, timeout=300
        ).json()
        merged = answer["data"]["total"] if answer.get("data") else answer.get("error")
        print(
            f"fifty repositories: all {states.count('ready')} ready after first use in {took:.0f} s; "
            f"resident at most {peak / 1e9:.2f} GB (target 3 GB), now {rss(proc.pid, 'VmRSS') / 1e9:.2f} GB "
            f"({rss(proc.pid) / 1e9:.2f} GB anonymous); repo=* search: {merged} lines",
            flush=True,
        )
    finally:
        stop(proc)


if __name__ == "__main__":
    main()
