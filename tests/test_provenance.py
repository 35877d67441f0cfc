"""Every results folder and report records the specmarket version, the commit when known, the
command and the seed."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

from specmarket import provenance as prov

SCENARIO = """
name = "prov"
title = "provenance test sweep"
mechanisms = ["vickrey"]
generator = "single-item"
repetitions = 2
seed = 11

[sweep]
bidders = [2]
"""


def test_record_fields() -> None:
    record = prov.provenance(5, ["/usr/bin/specmarket", "run", "a b.toml"])
    assert record["seed"] == 5 and record["command"] == "specmarket run 'a b.toml'"
    assert record["specmarket"] == prov.version()
    assert record["commit"] is None or re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", record["commit"])
    assert "seed 5" in prov.footer(record) and "specmarket run" in prov.footer(record)


def test_sweep_folder_and_report_record_provenance(tmp_path: Path) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text(SCENARIO)
    out, rep = tmp_path / "res", tmp_path / "rep"
    cli = [sys.executable, "-m", "specmarket"]
    for args in (
        ["run", str(scenario), "-o", str(out), "--no-progress"],
        ["report", str(out), "-o", str(rep)],
    ):
        proc = subprocess.run(cli + args, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
    records = json.loads((out / "provenance.json").read_text())
    assert len(records) == 1 and records[0]["seed"] == 11
    assert records[0]["command"] == f"specmarket run {scenario} -o {out} --no-progress"
    meta = pq.read_schema(out / "results.parquet").metadata
    assert json.loads(meta[b"specmarket.provenance"])["seed"] == 11
    page = (rep / "index.html").read_text()
    assert f"specmarket {prov.version()}" in page and "seed 11" in page
    assert json.loads((rep / "provenance.json").read_text())["seed"] == 11
