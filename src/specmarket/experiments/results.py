"""The results of a sweep: storage while it runs, the tidy table, and the summary with 95% CIs.

Layout of a results folder::

    RESULTS/
      scenario.json          the (validated, quick-resolved) scenario that produced the runs
      provenance.json        one record per invocation that wrote here: specmarket version,
                             commit when known, command, seed (:mod:`specmarket.provenance`)
      runs/chunk-*.json      finished runs, one small file per batch, each written atomically
      results.parquet        the tidy table (one row per run × mechanism), written at the end
      results.csv            the same table, on request (``--csv``)

Runs are the source of truth: the table is rebuilt from ``runs/`` whenever it exists, so a killed
sweep loses only the batches in flight and a rerun skips every run already stored.

A chunk that cannot be read back (truncated, edited, unreadable) is an error that names the file
wherever runs are read (``summary``, ``report``); a resumed sweep instead moves it to
``runs/damaged/`` with one warning and redoes just its runs.
"""

from __future__ import annotations

import json
import os
import uuid
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from specmarket import io
from specmarket.errors import InvalidInput, SpecmarketError
from specmarket.experiments.scenario import RESERVED_COLUMNS, Scenario

SCENARIO_FILE = "scenario.json"
RUNS_DIR = "runs"
TABLE_FILE = "results.parquet"
CSV_FILE = "results.csv"
PROVENANCE_FILE = "provenance.json"
_META_KEY = b"specmarket.scenario"
_PROVENANCE_KEY = b"specmarket.provenance"
DAMAGED_DIR = "damaged"


class DamagedChunk(SpecmarketError):
    """A stored chunk of runs that cannot be read back; names the file and what is wrong."""

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(
            f"results: {path}: damaged chunk of runs ({why}); `specmarket run` on the same "
            "scenario and folder redoes its runs"
        )
        self.path = path


def read_chunk(path: Path) -> dict[str, Any]:
    """Read one ``runs/chunk-*.json`` and check its shape: ``{"runs": [int, ...], "rows": [{...,
    "run": int in runs}, ...]}``. Raises :class:`DamagedChunk` naming the file otherwise."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DamagedChunk(path, f"unreadable: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DamagedChunk(path, f"not valid JSON: {str(exc)[:80]}") from None
    if not isinstance(data, dict) or set(data) != {"runs", "rows"}:
        raise DamagedChunk(path, 'expected an object with exactly "runs" and "rows"')
    runs, rows = data["runs"], data["rows"]
    if (
        not isinstance(runs, list)
        or not runs
        or not all(isinstance(r, int) and not isinstance(r, bool) and r >= 0 for r in runs)
    ):
        raise DamagedChunk(path, '"runs" must be a non-empty list of run indices')
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise DamagedChunk(path, '"rows" must be a list of objects')
    index = set(runs)
    for k, row in enumerate(rows):
        if row.get("run") not in index or not isinstance(row.get("mechanism"), str):
            raise DamagedChunk(path, f"rows[{k}] lacks a run of this chunk or a mechanism")
    return data


class ResultStore:
    """A results folder being filled by a sweep (see the module docstring for its layout)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.runs_dir = self.root / RUNS_DIR

    def open(self, scenario: Scenario, fresh: bool = False) -> set[int]:
        """Prepare the folder for ``scenario`` and return the indices of runs already done.

        Refuses (``InvalidInput`` on ``results``) a folder that holds runs of a different scenario,
        unless ``fresh`` is set, in which case the stored runs are deleted first.
        """
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        stored = self.root / SCENARIO_FILE
        if fresh:
            for f in self.runs_dir.glob("chunk-*.json"):
                f.unlink()
            (self.root / TABLE_FILE).unlink(missing_ok=True)
            (self.root / CSV_FILE).unlink(missing_ok=True)
        elif stored.exists():
            old = Scenario.parse(io.read_json(stored))
            if old.fingerprint() != scenario.fingerprint() and any(self.runs_dir.glob("chunk-*")):
                raise InvalidInput(
                    "results",
                    str(self.root),
                    "holds runs of a different scenario; use --fresh or another folder",
                )
        io.write_atomic(stored, json.dumps(scenario.to_dict(), indent=2))
        self.record_provenance(scenario.seed)
        self.set_aside_damaged()
        return self.done_runs()

    def record_provenance(self, seed: int) -> dict[str, Any]:
        """Append this invocation's :func:`~specmarket.provenance.provenance` record to
        ``provenance.json`` (a list, oldest first; an unreadable file is started afresh)."""
        from specmarket.provenance import provenance

        record = provenance(seed)
        path = self.root / PROVENANCE_FILE
        history: list[Any] = []
        if path.exists():
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
                history = loaded if isinstance(loaded, list) else []
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                history = []
        io.write_atomic(path, json.dumps([*history, record], indent=2))
        return record

    def set_aside_damaged(self) -> list[Path]:
        """Move every chunk that cannot be read back to ``runs/damaged/`` (one warning each), so
        that a resumed sweep redoes just those runs. Returns the new paths."""
        moved: list[Path] = []
        for f in self.chunks():
            try:
                read_chunk(f)
            except DamagedChunk as exc:
                target = self.runs_dir / DAMAGED_DIR / f.name
                target.parent.mkdir(exist_ok=True)
                os.replace(f, target)
                moved.append(target)
                warnings.warn(f"{exc}; moved to {target}", stacklevel=2)
        return moved

    def chunks(self) -> list[Path]:
        return sorted(self.runs_dir.glob("chunk-*.json"))

    def done_runs(self) -> set[int]:
        """Indices of the runs stored so far."""
        done: set[int] = set()
        for f in self.chunks():
            done.update(read_chunk(f)["runs"])
        return done

    def write_chunk(self, runs: Sequence[int], rows: list[dict[str, Any]]) -> Path:
        """Store finished runs atomically (temporary file + rename: all or nothing)."""
        name = f"chunk-{min(runs):09d}-{len(runs)}-{uuid.uuid4().hex[:8]}.json"
        return io.write_atomic(self.runs_dir / name, json.dumps({"runs": list(runs), "rows": rows}))

    def rows(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for f in self.chunks():
            out.extend(read_chunk(f)["rows"])
        return out


def tidy_table(rows: Iterable[dict[str, Any]], scenario: Scenario) -> pd.DataFrame:
    """Rows → one tidy DataFrame: run columns, generator parameters, metrics; sorted by run and
    by the scenario's mechanism order; duplicates of a (run, mechanism) dropped."""
    df = pd.DataFrame(list(rows))
    if df.empty:
        return pd.DataFrame(columns=[*RESERVED_COLUMNS, *scenario.axes, *scenario.metric_names])
    order = {m: k for k, m in enumerate(scenario.mechanisms)}
    df = df.drop_duplicates(subset=["run", "mechanism"], keep="first")
    df = df.assign(_m=df["mechanism"].map(order)).sort_values(["run", "_m"]).drop(columns="_m")
    first = [c for c in RESERVED_COLUMNS if c in df.columns]
    params = [c for c in scenario.gen.params.model_fields if c in df.columns]
    rest = [c for c in df.columns if c not in first and c not in params]
    return df[first + params + rest].reset_index(drop=True)


def write_table(
    df: pd.DataFrame, scenario: Scenario, root: str | Path, csv: bool = False
) -> dict[str, Path]:
    """Write ``results.parquet`` (scenario JSON in its metadata) and optionally ``results.csv``,
    each atomically. Returns the paths written."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[_META_KEY] = json.dumps(scenario.to_dict()).encode()
    from specmarket.provenance import provenance

    meta[_PROVENANCE_KEY] = json.dumps(provenance(scenario.seed)).encode()
    table = table.replace_schema_metadata(meta)
    out = {"parquet": root / TABLE_FILE}
    tmp = root / f".{TABLE_FILE}.{uuid.uuid4().hex[:8]}"
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, out["parquet"])
    finally:
        tmp.unlink(missing_ok=True)
    if csv:
        out["csv"] = io.write_atomic(root / CSV_FILE, df.to_csv(index=False))
    return out


@dataclass
class Results:
    """A results table and the scenario that produced it."""

    table: pd.DataFrame
    scenario: Scenario
    source: Path


def load_results(path: str | Path) -> Results:
    """Load results from a results folder, a ``.parquet`` file or a ``.csv`` file.

    A folder is read from its ``runs/`` (the source of truth) when present, else from its
    ``results.parquet``. A CSV needs ``scenario.json`` beside it.
    """
    p = Path(path)
    if not p.exists():
        raise InvalidInput("results", str(p), "no such file or folder")
    if p.is_dir():
        if not (p / SCENARIO_FILE).exists():
            if (p / TABLE_FILE).exists():
                return load_results(p / TABLE_FILE)
            raise InvalidInput("results", str(p), f"not a results folder (no {SCENARIO_FILE})")
        scenario = Scenario.parse(io.read_json(p / SCENARIO_FILE))
        store = ResultStore(p)
        if store.chunks():
            return Results(tidy_table(store.rows(), scenario), scenario, p)
        if (p / TABLE_FILE).exists():
            return Results(_read_parquet(p / TABLE_FILE).to_pandas(), scenario, p)
        return Results(tidy_table([], scenario), scenario, p)
    if p.suffix == ".parquet":
        table = _read_parquet(p)
        meta = (table.schema.metadata or {}).get(_META_KEY)
        if meta is None:
            raise InvalidInput("results", str(p), "Parquet file without a specmarket scenario")
        return Results(table.to_pandas(), Scenario.parse(json.loads(meta)), p)
    if p.suffix == ".csv":
        sc = p.parent / SCENARIO_FILE
        if not sc.exists():
            raise InvalidInput("results", str(p), f"a CSV needs {SCENARIO_FILE} beside it")
        return Results(pd.read_csv(p), Scenario.parse(io.read_json(sc)), p)
    raise InvalidInput("results", str(p), "expected a results folder, a .parquet or a .csv file")


def _read_parquet(path: Path) -> pa.Table:
    """A Parquet table, or one :class:`InvalidInput` naming the file if it cannot be read."""
    try:
        return pq.read_table(path)
    except PermissionError as exc:
        raise InvalidInput("results", str(path), f"unreadable ({exc.strerror})") from None
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInput("results", str(path), f"not a readable Parquet file ({exc})") from None


def mean_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and the Student-t confidence interval ``mean ± t_{n−1} s/√n`` (NaN bounds if n < 2)."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = x.size
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    m = float(x.mean())
    if n < 2:
        return m, float("nan"), float("nan")
    from scipy.special import stdtrit  # here: loading scipy costs ~0.5 s at start-up

    half = float(stdtrit(n - 1, 0.5 + level / 2) * x.std(ddof=1) / np.sqrt(n))
    return m, m - half, m + half


def summarize(
    res: Results, metrics: Sequence[str] | None = None, by: Sequence[str] | None = None
) -> pd.DataFrame:
    """Mean and 95% CI of each metric per mechanism and sweep point.

    Returns a long table with columns ``mechanism``, the ``by`` axes (default: all sweep axes),
    ``metric``, ``n``, ``mean``, ``ci_low``, ``ci_high``.
    """
    sc = res.scenario
    df = res.table
    metrics = list(metrics) if metrics is not None else [m for m in sc.metric_names if m in df]
    by = list(by) if by is not None else sc.axes
    for k, m in enumerate(metrics):
        if m not in df.columns:
            raise InvalidInput(
                f"metric[{k}]", m, f"not in the results; have: {', '.join(df.columns)}"
            )
    for k, a in enumerate(by):
        if a not in df.columns:
            raise InvalidInput(f"axis[{k}]", a, f"not in the results; axes: {', '.join(sc.axes)}")
    order = {m: k for k, m in enumerate(sc.mechanisms)}
    out: list[dict[str, Any]] = []
    if df.empty:
        return pd.DataFrame(columns=["mechanism", *by, "metric", "n", "mean", "ci_low", "ci_high"])
    for keys, grp in df.groupby(["mechanism", *by], sort=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        for m in metrics:
            mean, lo, hi = mean_ci(grp[m].to_numpy())
            row = dict(zip(["mechanism", *by], keys, strict=True))
            row.update(metric=m, n=int(grp[m].notna().sum()), mean=mean, ci_low=lo, ci_high=hi)
            out.append(row)
    table = pd.DataFrame(out)
    table["_m"] = table["mechanism"].map(order)
    table["_k"] = table["metric"].map({m: k for k, m in enumerate(metrics)})
    return table.sort_values(["_k", "_m", *by]).drop(columns=["_m", "_k"]).reset_index(drop=True)
