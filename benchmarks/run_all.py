"""Run every benchmark script and print the whole goals table.

Each ``benchmarks/bench_*.py`` runs in its own process (so one script's imports, JIT caches and
thread pools do not touch another's timings), one after the other, its output streamed through
and kept. Every ``GOAL | work | goal | median | ratio | met`` line a script prints (the format of
``benchmarks/README.md``) becomes one row of the table printed at the end. A script that prints no
such line yet gets one row saying so, with its last line that mentions a goal or a target; a
script that fails or times out gets a row saying that.

Run: ``python benchmarks/run_all.py [--quick] [--only NAME ...] [--skip NAME ...]
[--timeout S] [--markdown FILE]``. ``--quick`` passes each script its own short option (see
:data:`QUICK_ARGS`; ``--quick`` for a script whose ``--help`` offers it).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from _harness import machine_note, parse_goal_line

HERE = Path(__file__).resolve().parent

#: Arguments that make a script short, for scripts without a ``--quick`` option.
QUICK_ARGS: dict[str, list[str]] = {
    "bench_data_market.py": ["--seeds", "5", "--skip", "big"],
}

Row = tuple[str, str, str, str, str]


def scripts() -> list[Path]:
    return sorted(p for p in HERE.glob("bench_*.py"))


def quick_args(script: Path) -> list[str]:
    if script.name in QUICK_ARGS:
        return QUICK_ARGS[script.name]
    try:
        help_text = subprocess.run(
            [sys.executable, str(script), "--help"],
            capture_output=True,
            text=True,
            timeout=120,
            env=_env(),
        ).stdout
    except subprocess.TimeoutExpired:
        return []
    return ["--quick"] if "--quick" in help_text else []


def _env() -> dict[str, str]:
    src = str(HERE.parent / "src")
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": src + (os.pathsep + path if path else "")}


def run_script(script: Path, args: list[str], timeout: float) -> tuple[list[Row], float]:
    """Run one script, streaming its output; its goal rows and its wall time."""
    cmd = [sys.executable, str(script), *args]
    print(f"\n=== {script.name} {' '.join(args)}", flush=True)
    t0 = time.perf_counter()
    rows: list[Row] = []
    lines: list[str] = []
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(), bufsize=1
    )
    assert proc.stdout is not None
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        proc.kill()

    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        for line in proc.stdout:
            print(line, end="", flush=True)
            lines.append(line.rstrip("\n"))
            parsed = parse_goal_line(line.rstrip("\n"))
            if parsed:
                rows.append(parsed)
        code = proc.wait()
    finally:
        timer.cancel()
    if timed_out.is_set():
        rows.append((script.name, "-", f"killed after {timeout:.0f} s", "-", "MISSED"))
        return rows, time.perf_counter() - t0
    secs = time.perf_counter() - t0
    if code != 0:
        rows.append((script.name, "-", f"exit status {code}", "-", "MISSED"))
    elif not rows:
        hint = next(
            (ln.strip() for ln in reversed(lines) if re.search(r"goal|target", ln, re.I)), ""
        )
        rows.append((script.name, "(prints no GOAL line)", hint[:90] or "-", "-", "?"))
    return rows, secs


def table(rows: list[Row]) -> str:
    head = ("work", "goal", "median", "ratio to the reference", "met")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(5)]
    fmt = "| " + " | ".join(f"{{:<{w}}}" for w in widths) + " |"
    out = [fmt.format(*head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [fmt.format(*r) for r in rows]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="each script's short version")
    ap.add_argument("--only", nargs="*", default=None, help="script names (bench_x.py or x)")
    ap.add_argument("--skip", nargs="*", default=[], help="script names to leave out")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per script")
    ap.add_argument("--markdown", type=Path, default=None, help="also write the table here")
    args = ap.parse_args()

    def norm(name: str) -> str:
        name = name if name.endswith(".py") else name + ".py"
        return name if name.startswith("bench_") else "bench_" + name

    chosen = [
        s
        for s in scripts()
        if (args.only is None or s.name in {norm(n) for n in args.only})
        and s.name not in {norm(n) for n in args.skip}
    ]
    note = machine_note()
    print(note)
    rows: list[Row] = []
    times: list[str] = []
    t0 = time.perf_counter()
    for script in chosen:
        extra = quick_args(script) if args.quick else []
        got, secs = run_script(script, extra, args.timeout)
        rows.extend(got)
        times.append(f"{script.name} {secs:.0f} s")
    text = table(rows)
    kind = "quick" if args.quick else "full"
    print(f"\n=== goals table ({kind} run, {time.perf_counter() - t0:.0f} s)")
    print(note)
    print(text)
    print("wall time per script: " + ", ".join(times))
    if args.markdown:
        args.markdown.write_text(f"{note}\n\n{text}\n")


if __name__ == "__main__":
    main()
