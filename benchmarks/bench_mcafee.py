"""Benchmark: McAfee's double auction at the goals' own sizes.

1. ``clear_arrays`` on 1,000,000 bids + 1,000,000 asks (goal ≤ 0.05 s): the fast engine (value
   sorts + threshold pass) against ``clear_arrays_reference`` (stable index sorts), interleaved,
   checked identical.
2. ``specmarket clear mcafee bids.parquet`` (and ``.csv``) with 2,000,000 rows end to end — a fresh
   ``python -m specmarket`` process, output to a file (goal ≤ 2 s) — against the JSON path on the
   same data (``bids.json``, one pydantic object per participant), checked byte-identical.

Run: ``python benchmarks/bench_mcafee.py [--quick] [--repeats N]``. ``--quick`` uses a tenth of
the sizes and skips the JSON reference.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from _harness import goal, machine_note, measure, parser, print_samples
from specmarket.mechanisms.mcafee import clear_arrays, clear_arrays_reference


def arrays(n: int, repeats: int) -> None:
    rng = np.random.default_rng(0)
    bids, asks = rng.uniform(0, 100, n), rng.uniform(0, 100, n)
    s = measure(
        {
            "clear_arrays (fast)": lambda: clear_arrays(bids, asks),
            "clear_arrays_reference": lambda: clear_arrays_reference(bids, asks),
        },
        repeats,
    )
    fast, ref = s["clear_arrays (fast)"], s["clear_arrays_reference"]
    a, b = fast.result, ref.result
    same = (
        np.array_equal(a.buyers, b.buyers)
        and np.array_equal(a.sellers, b.sellers)
        and (a.buyer_price, a.seller_price) == (b.buyer_price, b.seller_price)
    )
    title = f"McAfee clear_arrays, {n:,} bids + {n:,} asks ({a.buyers.size:,} trades)"
    print_samples(title, [fast, ref], "ms")
    print(f"  identical clearings: {same}")
    goal(
        f"McAfee clear_arrays {n:,} + {n:,}",
        "≤ 0.05 s",
        fast.median("cpu"),
        0.05,
        "cpu",
        ratio=ref.median("cpu") / fast.median("cpu"),
    )


def write_files(rows: int, folder: Path, with_json: bool) -> dict[str, Path]:
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    rng = np.random.default_rng(1)
    half = rows // 2
    ids = [f"b{i}" for i in range(half)] + [f"s{j}" for j in range(rows - half)]
    side = ["buyer"] * half + ["seller"] * (rows - half)
    report = np.concatenate([rng.uniform(0, 100, half), rng.uniform(0, 100, rows - half)])
    table = pa.table({"id": ids, "side": side, "report": report})
    out = {"parquet": folder / "bids.parquet", "csv": folder / "bids.csv"}
    pq.write_table(table, out["parquet"])
    pcsv.write_csv(table, out["csv"])
    if with_json:
        values = report.tolist()
        data = {
            "buyers": [{"id": ids[i], "bid": values[i]} for i in range(half)],
            "sellers": [{"id": ids[j], "ask": values[j]} for j in range(half, rows)],
        }
        out["json"] = folder / "bids.json"
        out["json"].write_text(json.dumps(data))
    return out


def cli(path: Path, dest: Path) -> None:
    with open(dest, "wb") as fh:
        subprocess.run(
            [sys.executable, "-m", "specmarket", "clear", "mcafee", str(path)],
            stdout=fh,
            check=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )


def columnar(rows: int, repeats: int, with_json: bool) -> None:
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        files = write_files(rows, folder, with_json)
        fns = {
            f"CLI {kind}": (lambda p=p, k=kind: cli(p, folder / f"out_{k}.json"))
            for kind, p in files.items()
        }
        s = measure(fns, repeats, warmup=False, skip_repeats={"CLI json": 1})
        title = f"specmarket clear mcafee, {rows:,} rows, end to end (fresh process)"
        print_samples(title, list(s.values()))
        texts = {k: (folder / f"out_{k}.json").read_bytes() for k in files}
        same = len(set(texts.values())) == 1
        size = len(texts["parquet"]) / 1e6
        print(f"  identical outputs ({', '.join(files)}): {same}; {size:.0f} MB of JSON")
        for kind in ("parquet", "csv"):
            fast = s[f"CLI {kind}"]
            ratio = s["CLI json"].median("cpu") / fast.median("cpu") if with_json else None
            goal(
                f"specmarket clear mcafee {rows:,} rows .{kind}",
                "≤ 2 s end to end",
                fast.median("cpu"),
                2.0,
                "cpu",
                ratio=ratio,
                versus="JSON path (1 run)",
            )


def main() -> None:
    ap = parser(__doc__, "a tenth of the sizes, no JSON reference")
    args = ap.parse_args()
    repeats = args.repeats or (5 if args.quick else 7)
    scale = 10 if args.quick else 1
    print(machine_note())
    arrays(1_000_000 // scale, repeats)
    columnar(2_000_000 // scale, max(5, repeats - 2), with_json=not args.quick)


if __name__ == "__main__":
    main()
