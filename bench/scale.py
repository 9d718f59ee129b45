"""The cost curve: cold build, warm start, memory and query times at 50 MB, 250 MB and ≥ 1 GB of
real source, with ripgrep on the same tree as the anchor for text and regex search.

The corpus is assembled from clones of public repositories (git mirrors brought by the tool
library's ``fetch``, checked out side by side in ``--sources``): whole repositories are added in a
fixed order until a size is reached (their files hard-linked into ``--work``, ``.git`` left out).
The size is the bytes of the files the index reads (regular files of at most 1 MiB).

For each size the server runs as its own process with an empty cache, the corpus read once
before (the page cache warm, as for ripgrep): the cold build's wall time and CPU (the server and
its parser processes, until ``/status`` says ready), the resident memory the indexes add (the
server's anonymous RSS at ready minus a server's on an empty repository, against the bytes of
text; the mapped files' resident pages, the text store's and tantivy's, printed beside it), a
warm start (the same cache, to ready), then p50/p95 over a fixed list of 30 queries (10 literal
words, 5 regular expressions, 10 symbol names, 5 questions in words) through ``/api/v1/search``,
and ripgrep searching the same literals and regexes on the same tree.

Run by hand: ``.venv/bin/python -m bench.scale --sources /tmp/corpus-src`` (slow: minutes).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

import httpx

from bench._common import PYTHON, free_port, p, start, stop

SIZES = (50, 250, 1000)  # MB of indexable text
ORDER = (
    "psf+requests", "pallets+flask", "spf13+cobra", "axios+axios", "tokio-rs+axum", "sympy+sympy",
    "redis+redis", "etcd-io+etcd", "gohugoio+hugo", "vuejs+core", "git+git", "ansible+ansible",
    "curl+curl", "numpy+numpy", "sveltejs+svelte", "scipy+scipy", "spring-projects+spring-framework",
    "denoland+deno", "hashicorp+terraform", "apache+kafka", "prometheus+prometheus", "grafana+loki",
    "rails+rails", "symfony+symfony", "laravel+framework", "moby+moby", "containerd+containerd",
)  # fmt: skip
TEXT = ("timeout", "deprecated", "connection", "TODO", "Copyright", "buffer", "parse", "retry", "locale", "mutex")
REGEX = (
    r"def \w+_error\(",
    r"func \(\w+ \*\w+\) Close",
    r"class \w+Exception",
    r"\bTODO\(\w+\)",
    r"[0-9]{4}-[0-9]{2}-",
)
SYMBOLS = (
    "parse_args", "Close", "main", "HTTPAdapter", "render", "Session", "fetch", "new_client", "Matrix", "Router",
)  # fmt: skip
RANKED = (
    "where are http retries configured",
    "how is the config file parsed",
    "what closes the connection on timeout",
    "how are command line flags registered",
    "where is the cache invalidated",
)
MAX_FILE = 1 << 20


def indexable_bytes(root: Path) -> int:
    total = 0
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in files:
            path = Path(folder) / name
            try:
                st = path.lstat()
            except OSError:
                continue
            if path.is_file() and not path.is_symlink() and st.st_size <= MAX_FILE:
                total += st.st_size
    return total


def assemble(sources: Path, work: Path, megabytes: int) -> tuple[Path, int, list[str]]:
    corpus = work / f"corpus-{megabytes}"
    used: list[str] = []
    size = 0
    sizes = {name: indexable_bytes(sources / name) for name in ORDER if (sources / name).exists()}
    for name in ORDER:
        if name not in sizes:
            continue
        used.append(name)
        size += sizes[name]
        if size >= megabytes * 1_000_000:
            break
    if not corpus.exists():
        corpus.mkdir(parents=True)
        for name in used:
            subprocess.run(["cp", "-al", str(sources / name), str(corpus / name)], check=True)
            shutil.rmtree(corpus / name / ".git", ignore_errors=True)
    return corpus, size, used


def cpu_seconds(pid: int) -> float:
    """The CPU a process and its children (the parser processes) used so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        pids += [int(c) for c in children]
    for one in pids:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / tick
    return total


def rss(pid: int, kind: str = "RssAnon") -> int:
    """Resident memory of one kind: RssAnon (the heap and other private memory: what the
    indexes add), RssFile (mapped files: the text store's and tantivy's pages, which the
    kernel takes back under pressure) or VmRSS (both, and shared memory)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{kind}:"):
            return int(line.split()[1]) * 1024
    return 0


def warm_page_cache(corpus: Path) -> None:
    """Read every file once, so the cold build (like ripgrep's runs) reads from the page cache
    rather than measuring the disk."""
    subprocess.run(["rg", "--files", "-uuu", str(corpus)], capture_output=True)
    subprocess.run(
        ["rg", "-uuu", "-c", "--max-filesize", "1M", "a_pattern_nowhere_zq", str(corpus)], capture_output=True
    )


def serve(repo: Path, cache: Path, data: Path) -> tuple[str, subprocess.Popen[bytes], float]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    proc = start(
        [PYTHON, "-m", "assistant", "serve", "--repo", str(repo), "--port", str(port), "--log-level", "error",
         "--cache-dir", str(cache), "--data-dir", str(data)],
        f"{url}/api/v1/health",
    )  # fmt: skip
    while True:
        repos = httpx.get(f"{url}/api/v1/status", timeout=30).json()["data"]["repos"]
        if repos and all(r["state"] == "ready" for r in repos):
            return url, proc, time.perf_counter() - started
        time.sleep(0.2)


def query_times(url: str) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"text": [], "regex": [], "symbol": [], "ranked": []}
    with httpx.Client(base_url=url, timeout=60) as client:
        for mode, queries in (("text", TEXT), ("regex", REGEX), ("symbol", SYMBOLS), ("ranked", RANKED)):
            for q in queries:
                client.get("/api/v1/search", params={"q": q, "mode": mode, "limit": 20})  # warm
                started = time.perf_counter()
                client.get("/api/v1/search", params={"q": q, "mode": mode, "limit": 20})
                out[mode].append(time.perf_counter() - started)
    return out


def ripgrep_times(corpus: Path) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"text": [], "regex": []}
    for mode, queries in (("text", TEXT), ("regex", REGEX)):
        for q in queries:
            args = ["rg", "--max-filesize", "1M", "-m", "20", "-c"] + (["-F", "-S"] if mode == "text" else [])
            subprocess.run([*args, q, str(corpus)], capture_output=True)  # warm
            started = time.perf_counter()
            subprocess.run([*args, q, str(corpus)], capture_output=True)
            out[mode].append(time.perf_counter() - started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path("/tmp/scale-bench"))
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    empty = args.work / "empty"
    empty.mkdir(exist_ok=True)
    (empty / "a.py").write_text("x = 1\n")
    url, proc, _ = serve(empty, args.work / "cache-empty", args.work / "data")
    baseline, baseline_file = rss(proc.pid), rss(proc.pid, "RssFile")
    stop(proc)
    rows = []
    for megabytes in (int(s) for s in args.sizes.split(",")):
        corpus, size, used = assemble(args.sources, args.work, megabytes)
        cache = args.work / f"cache-{megabytes}"
        shutil.rmtree(cache, ignore_errors=True)
        warm_page_cache(corpus)
        url, proc, cold = serve(corpus, cache, args.work / "data")
        cpu = cpu_seconds(proc.pid)
        memory = rss(proc.pid) - baseline
        mapped = rss(proc.pid, "RssFile") - baseline_file
        ours = query_times(url)
        stop(proc)
        url, proc, warm = serve(corpus, cache, args.work / "data")
        stop(proc)
        theirs = ripgrep_times(corpus)
        rows.append((megabytes, size, len(used), cold, cpu, warm, memory, mapped, ours, theirs))
        print(f"{size / 1e6:.0f} MB from {len(used)} repositories: {', '.join(used)}", flush=True)

    def q(values: list[float]) -> str:
        return f"{statistics.median(values) * 1000:.0f}/{p(values, 0.95) * 1000:.0f}"

    print("\n| text | cold build wall | CPU | warm start | memory added (x text) | mapped pages | "
          "text p50/p95 ms (rg) | regex p50/p95 ms (rg) | symbol p50/p95 ms | ranked p50/p95 ms |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for _, size, _, cold, cpu, warm, memory, mapped, ours, theirs in rows:
        print(
            f"| {size / 1e6:.0f} MB | {cold:.0f} s | {cpu:.0f} s | {warm:.1f} s | "
            f"{memory / 1e6:.0f} MB ({memory / size:.2f}x) | {mapped / 1e6:.0f} MB | "
            f"{q(ours['text'])} ({q(theirs['text'])}) | "
            f"{q(ours['regex'])} ({q(theirs['regex'])}) | {q(ours['symbol'])} | {q(ours['ranked'])} |"
        )


if __name__ == "__main__":
    main()
