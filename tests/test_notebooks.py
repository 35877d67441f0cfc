"""The tutorial notebooks (docs/tutorials/*.ipynb) run top to bottom in a fresh kernel.

A cell that raises fails its test and names the cell. The notebooks are stored without outputs
(the site build executes them again); each test also checks that its figures and tables came out.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the test extra installs nbformat")
nbclient = pytest.importorskip("nbclient", reason="the test extra installs nbclient")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "docs" / "tutorials").glob("*.ipynb"))

#: Outputs each notebook must show: (figures, HTML tables) at least.
EXPECTED = {
    "01-clear-an-auction": (3, 4),
    "02-audit-a-mechanism": (0, 2),
    "03-run-a-sweep": (1, 2),
    "04-replay-a-data-market-trace": (2, 2),
}


def test_every_notebook_is_listed() -> None:
    assert sorted(p.stem for p in NOTEBOOKS) == sorted(EXPECTED)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_has_no_relative_links(path: Path) -> None:
    # the site renders a notebook at tutorials/NAME/, where a link relative to docs/tutorials/
    # breaks (and mkdocs does not check links inside notebooks): name pages in words instead
    book = nbformat.read(path, as_version=4)
    for cell in book.cells:
        if cell.cell_type == "markdown":
            links = re.findall(r"\]\(([^)]+)\)", cell.source)
            assert all(re.match(r"https?://", u) for u in links), (path.name, links)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path) -> None:
    book = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in book.cells if c.cell_type == "code"), (
        f"{path.name} is stored with outputs; clear them (the site build executes it)"
    )
    # the kernel sees this checkout's sources first, as the tests do
    src = str(ROOT / "src")
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = src + (os.pathsep + env_path if env_path else "")
    try:
        client = nbclient.NotebookClient(
            book,
            timeout=300,
            kernel_name="python3",
            resources={"metadata": {"path": str(tmp_path)}},
        )
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        pytest.fail(f"{path.name}: a cell raised:\n{exc}")
    finally:
        if env_path:
            os.environ["PYTHONPATH"] = env_path
        else:
            os.environ.pop("PYTHONPATH", None)
    outputs = [o for c in book.cells if c.cell_type == "code" for o in c.outputs]
    figures = sum("image/png" in o.get("data", {}) for o in outputs)
    tables = sum("text/html" in o.get("data", {}) for o in outputs)
    want_figures, want_tables = EXPECTED[path.stem]
    assert figures >= want_figures, f"{path.name}: {figures} figure(s), want {want_figures}"
    assert tables >= want_tables, f"{path.name}: {tables} HTML table(s), want {want_tables}"
