"""The command line starts light: common commands load none of the heavy packages.

Each case runs the CLI in a fresh interpreter (as ``python -m specmarket ...`` does), then prints
which of the heavy packages ended up in ``sys.modules``. Time is measured by
``benchmarks/bench_cold_start.py``, never asserted here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import specmarket

ROOT = Path(__file__).resolve().parents[1]
SRC = Path(specmarket.__file__).resolve().parents[1]  # the tree under test, not an installed copy
HEAVY = ("numba", "scipy", "matplotlib", "pandas", "pyarrow", "ray", "networkx")
MARKER = "--- loaded heavy packages ---"

PROBE = """
import runpy, sys
sys.argv = ["specmarket", *sys.argv[1:]]
try:
    runpy.run_module("specmarket", run_name="__main__", alter_sys=True)
    code = 0
except SystemExit as exc:
    code = exc.code
heavy = sorted({name.split(".")[0] for name in sys.modules} & set(HEAVY))
print(MARKER)
print(code, *heavy)
""".replace("HEAVY", repr(HEAVY)).replace("MARKER", repr(MARKER))


def run_cli(*args: str) -> tuple[int, str, list[str]]:
    """Exit code, output and the heavy packages loaded by ``specmarket ARGS`` in a new process."""
    path = os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path, "COLUMNS": "100"}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    output, _, tail = proc.stdout.rpartition(MARKER + "\n")
    code, *heavy = tail.split()
    return int(code), output, heavy


def test_clear_vickrey_loads_no_heavy_package() -> None:
    code, output, heavy = run_cli("clear", "vickrey", "examples/vickrey.json")
    assert code == 0 and heavy == []
    result = json.loads(output)
    assert result["winner"] == "b" and result["price"] == 5.0
    assert result["payments"] == {"a": 0.0, "b": 5.0, "c": 0.0}


def test_mechanisms_loads_no_heavy_package_and_no_mechanism() -> None:
    code, output, heavy = run_cli("mechanisms", "--json")
    assert code == 0 and heavy == []
    names = [m["name"] for m in json.loads(output)]
    assert {"vickrey", "district", "data-market", "adaptive", "cat"} <= set(names)
    code, output, heavy = run_cli("mechanisms")
    assert code == 0 and heavy == [] and "District-D" in output and "bb-ex-ante" in output


@pytest.mark.parametrize(
    "args",
    [("--help",), ("reproduce", "--help"), ("simulate", "--help"), ("--version",)],
    ids=" ".join,
)
def test_help_and_version_load_no_heavy_package(args: tuple[str, ...]) -> None:
    code, output, heavy = run_cli(*args)
    assert code == 0 and heavy == [] and output.strip()


def test_probe_would_see_a_heavy_package() -> None:
    """The probe is not blind: clearing District-D does load scipy (its priors)."""
    code, output, heavy = run_cli("clear", "district", "examples/district.json")
    assert code == 0 and "scipy" in heavy and json.loads(output)["mechanism"] == "district"
