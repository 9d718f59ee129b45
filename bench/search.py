"""Search and index benchmarks on a copy of this interpreter's standard library (.py files,
no site-packages), each against an anchor measured in the same run:

- text search p50 over fixed queries vs ripgrep (`rg`, Debian's ripgrep; installed if missing);
- cold index build (tags, symbol table and the ranked index): CPU time and wall time vs a bare
  single-threaded parse+tags-query loop;
- warm restart (nothing changed) wall time;
- re-index after touching one file (tags and ranked index) / cold build;
- symbol lookup p50 over 100 names;
- the resident memory the indexes add to a process that has loaded the server, against the
  bytes of text indexed (after a cold build, and after a warm restart; then again after a
  round of text, ranked and symbol searches, which must keep no copies).

    python bench/search.py [--runs 7] [--builds 5]

The machine this was developed on is noisy (the bare loop alone ranges over ±20 % between
runs, and the noise comes in bursts of seconds), so each cold build is paired with a bare loop
run right after it; the headline is the median of the pairs' ratios (both runs of a pair see
much the same load), and the ratio of the two medians and every pair are printed too.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.index import RepoIndex, search_index
from bench._common import median, ms
from sandbox import Roots

QUERIES: list[tuple[str, str, list[str]]] = [
    # (our mode, query, rg flags) — literals, regexes, whole-word, smart case
    ("text", "def __init__", ["-F"]),
    ("text", "import os", ["-F"]),
    ("text", "NotImplementedError", ["-F"]),
    ("text", "subprocess.Popen", ["-F"]),
    ("text", "threading", ["-F"]),
    ("text", "getaddrinfo", ["-F"]),
    ("regex", r"def \w+_test\(", []),
    ("regex", r"class \w+Error\(", []),
    ("regex", r"\bself\.assertEqual\b", []),
    ("regex", r"^from __future__ import", []),
    ("regex", r"\bfrozenset\b", []),
    ("text", "Traceback", ["-F"]),
]

# Both scripts end their measurement when their work is done (see run_measured): the CPU
# of the process and its reaped children (the parser processes are reaped inside build()),
# and the wall clock. Interpreter start-up and imports count; tearing down afterwards does
# not (freeing a whole index at exit is not part of building it, and a server never does).
DONE = """
import resource as _r, time as _t
_s, _c = _r.getrusage(_r.RUSAGE_SELF), _r.getrusage(_r.RUSAGE_CHILDREN)
print("DONE", _t.time(), _s.ru_utime + _s.ru_stime + _c.ru_utime + _c.ru_stime)
"""

BUILD_SCRIPT = (
    """
import sys, time
sys.path.insert(0, {root!r})
from sandbox import Roots
from assistant.index import RepoIndex
roots = Roots([{corpus!r}])
index = RepoIndex(roots, roots.default, {cache!r})
t = time.perf_counter()
index.build()
print(time.perf_counter() - t, index.parsed_last_build)
"""
    + DONE
    + """
index.close()
"""
)

BARE_SCRIPT = (
    """
import os, sys
from tree_sitter import Parser, QueryCursor
sys.path.insert(0, {root!r})
from assistant.index.languages import compiled
language, query = compiled("python")
parser = Parser(language)
for dirpath, _, names in os.walk({corpus!r}):
    for name in sorted(names):
        with open(os.path.join(dirpath, name), "rb") as handle:
            tree = parser.parse(handle.read())
        for _ in QueryCursor(query).matches(tree.root_node):
            pass
"""
    + DONE
)


MEMORY_SCRIPT = """
import gc, os, sys
sys.path.insert(0, {root!r})
import assistant.app  # the server's code, as a running server has it loaded
from sandbox import Roots
from assistant.index import RepoIndex
def rss():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
gc.collect()
before = rss()
roots = Roots([{corpus!r}])
index = RepoIndex(roots, roots.default, {cache!r})
index.build()
gc.collect()
after = rss()
text = sum(len(r.text) for r in index.files.values())
from assistant.index import search_index
for mode, query in {queries!r}:  # a round of searches must not grow it (no per-search copies kept)
    search_index(index, query, mode)
    search_index(index, query.lower(), mode)
search_index(index, "how are subprocess pipes closed on timeout", "ranked")
search_index(index, "Popen", "symbol")
gc.collect()
print(after - before, text, index.parsed_last_build, rss() - before)
index.close()
"""


def copy_stdlib(target: Path) -> int:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    count = 0
    for dirpath, dirnames, filenames in os.walk(stdlib):
        dirnames[:] = [d for d in dirnames if d not in ("site-packages", "__pycache__")]
        for name in filenames:
            if name.endswith(".py"):
                src = Path(dirpath) / name
                dst = target / src.relative_to(stdlib)
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dst)
                count += 1
    return count


def ensure_rg() -> str:
    found = shutil.which("rg")
    if found:
        return found
    print("installing ripgrep (apt-get) ...", file=sys.stderr)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "ripgrep"],
        check=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    return shutil.which("rg") or "rg"


def run_measured(code: str) -> tuple[float, float, str]:
    """(wall, CPU, stdout) of a fresh interpreter running ``code``, up to its DONE line: wall
    from launch, CPU of the process and its reaped children (checked against what this
    process sees once the child has exited, which also counts the teardown)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.time()
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    whole = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    done = next(line.split() for line in out.splitlines() if line.startswith("DONE "))
    wall, cpu = float(done[1]) - started, float(done[2])
    assert cpu <= whole + 0.05, (cpu, whole)
    return wall, cpu, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7, help="timed runs per search query")
    parser.add_argument("--builds", type=int, default=5, help="cold builds (each paired with a bare loop)")
    args = parser.parse_args()
    root = str(Path(__file__).resolve().parents[1])
    rg = ensure_rg()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "stdlib"
        files = copy_stdlib(corpus)
        cache = str(Path(tmp) / "cache")
        print(f"corpus: {files} .py files, {sum(p.stat().st_size for p in corpus.rglob('*.py')) / 1e6:.1f} MB")

        # cold build vs the bare loop (each in a fresh interpreter, alternating)
        cold_walls, cold_cpus, bare_walls, bare_cpus = [], [], [], []
        for _ in range(args.builds):
            shutil.rmtree(cache, ignore_errors=True)
            wall, cpu, _ = run_measured(BUILD_SCRIPT.format(root=root, corpus=str(corpus), cache=cache))
            cold_walls.append(wall)
            cold_cpus.append(cpu)
            wall, cpu, _ = run_measured(BARE_SCRIPT.format(root=root, corpus=str(corpus)))
            bare_walls.append(wall)
            bare_cpus.append(cpu)
        warm = []
        for _ in range(3):
            _, _, out = run_measured(BUILD_SCRIPT.format(root=root, corpus=str(corpus), cache=cache))
            seconds, parsed = out.splitlines()[0].split()
            assert parsed == "0", "warm restart re-parsed files"
            warm.append(float(seconds))

        memory = []
        for label in ("cold", "warm"):
            if label == "cold":
                shutil.rmtree(cache, ignore_errors=True)
            queries = [(mode, query) for mode, query, _ in QUERIES]
            script = MEMORY_SCRIPT.format(root=root, corpus=str(corpus), cache=cache, queries=queries)
            _, _, out = run_measured(script + DONE)
            added, text, _, searched = (int(v) for v in out.splitlines()[0].split())
            memory.append((label, added, text, searched))

        roots = Roots([str(corpus)])
        index = RepoIndex(roots, roots.default, cache)
        index.build()

        # text search vs ripgrep
        ratios = []
        print(f"\n{'query':<32} {'ours p50':>10} {'rg p50':>10} {'ratio':>7}")
        ours_all, rg_all = [], []
        for mode, query, flags in QUERIES:
            search_index(index, query, mode)  # warm (lower-case copies etc.)
            ours = []
            for _ in range(args.runs):
                t = time.perf_counter()
                search_index(index, query, mode)
                ours.append(time.perf_counter() - t)
            theirs = []
            for _ in range(args.runs):
                t = time.perf_counter()
                subprocess.run(
                    [rg, "-n", "-S", "-C1", "--no-heading", *flags, query, str(corpus)],
                    stdout=subprocess.DEVNULL,
                    check=False,
                )
                theirs.append(time.perf_counter() - t)
            ratio = median(ours) / median(theirs)
            ratios.append(ratio)
            ours_all.append(median(ours))
            rg_all.append(median(theirs))
            print(f"{mode + ' ' + query:<32} {ms(median(ours)):>10} {ms(median(theirs)):>10} {ratio:>6.2f}x")
        print(
            f"text search p50 over {len(QUERIES)} queries: ours {ms(median(ours_all))}, rg "
            f"{ms(median(rg_all))}; median ratio {median(ratios):.2f}x (target <= 1.0x)"
        )

        # symbol lookups
        rng = random.Random(7)
        names = sorted(index.symbols.names())
        picked = rng.sample([n for n in names if index.symbols.definers(n)], 100)
        lookups = []
        for name in picked:
            t = time.perf_counter()
            search_index(index, name, "symbol", limit=20)
            lookups.append(time.perf_counter() - t)

        # re-index after touching one file
        victim = corpus / "json" / "decoder.py"
        touches = []
        for i in range(5):
            victim.write_text(victim.read_text() + f"\ndef bench_touch_{i}():\n    pass\n")
            t = time.perf_counter()
            changed = index.refresh()
            touches.append(time.perf_counter() - t)
            assert changed == 1
        index.close()
        roots.close()

    print()
    print(f"cold build: wall {median(cold_walls):.2f} s, CPU {median(cold_cpus):.2f} s (both cores: {os.cpu_count()})")
    print(f"bare single-threaded loop: wall {median(bare_walls):.2f} s, CPU {median(bare_cpus):.2f} s")
    cpu_ratios = [c / b for c, b in zip(cold_cpus, bare_cpus, strict=True)]
    wall_ratios = [c / b for c, b in zip(cold_walls, bare_walls, strict=True)]
    print(
        f"cold build CPU / bare CPU: {median(cpu_ratios):.2f}x median of the pairs (target <= 1.5x); ratio "
        f"of the medians {median(cold_cpus) / median(bare_cpus):.2f}x"
    )
    print(
        f"cold build wall / bare wall: {median(wall_ratios):.2f}x median of the pairs (target <= 0.75x); "
        f"ratio of the medians {median(cold_walls) / median(bare_walls):.2f}x"
    )
    print(
        f"  each pair, CPU/wall: {', '.join(f'{c:.2f}/{w:.2f}' for c, w in zip(cpu_ratios, wall_ratios, strict=True))}"
    )
    print(f"warm restart (nothing changed): {median(warm):.2f} s (target < 1 s)")
    print(
        f"re-index after touching one file: {ms(median(touches))} = "
        f"{median(touches) / median(cold_walls):.2%} of the cold build (target <= 1%)"
    )
    print(f"symbol lookup p50 over 100 names: {ms(median(lookups))} (target <= 2 ms)")
    for label, added, text, searched in memory:
        print(
            f"resident memory the indexes add ({label}): {added / 1e6:.0f} MB for {text / 1e6:.1f} MB of text = "
            f"{added / text:.2f}x (target <= 2x); after {2 * len(QUERIES) + 2} searches {searched / text:.2f}x"
        )


if __name__ == "__main__":
    main()
