"""The bundled ``baselines`` reproduction: its scenario file and the shape of its findings."""

from __future__ import annotations

from pathlib import Path

from specmarket.reproductions import ReproContext, get, registry
from specmarket.reproductions.baselines import scenario


def test_bundled_scenario_loads_full_and_quick() -> None:
    full = scenario()
    assert full.mechanisms == ("mcafee", "vcg") and full.generator == "double-auction"
    assert full.sweep["buyers"] == [2, 4, 8, 16, 32, 64, 128] and full.repetitions == 400
    quick = scenario(quick=True, seed=5)
    assert quick.sweep["buyers"] == [2, 4, 8, 16, 32] and quick.repetitions == 40
    assert quick.seed == 5 and quick.quick is None
    assert "baselines" in registry()


def test_quick_run_finds_the_textbook_picture(tmp_path: Path) -> None:
    res = get("baselines").run(ReproContext(out_dir=tmp_path, quick=True, seed=1))
    assert "This matches the textbook picture" in res.summary
    assert all(p.exists() and p.with_suffix(".svg").exists() for p in res.figures.values())
    assert all(p.exists() for p in res.tables.values())
    assert res.parameters["seed"] == 1
