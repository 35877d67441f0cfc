"""The documentation site builds with ``mkdocs build --strict``: no broken link, no missing page,
an API reference from the docstrings and a CLI reference generated from the typer app.

The notebooks are rendered but not executed here (SPECMARKET_DOCS_EXECUTE=false):
tests/test_notebooks.py executes them, and the CI's own site build (mkdocs.yml's default)
executes them once more as part of the published pages.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _mkdocs(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec("mkdocs") is None:
        pytest.fail('mkdocs is not installed: python -m pip install -e ".[docs]"')
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "SPECMARKET_DOCS_EXECUTE": "false",
        "NO_MKDOCS_2_WARNING": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", *args], cwd=cwd, env=env, capture_output=True, text=True
    )


def _load_hook() -> object:
    spec = importlib.util.spec_from_file_location(
        "cli_reference", ROOT / "docs" / "hooks" / "cli_reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_site_builds_strict(tmp_path: Path) -> None:
    site = tmp_path / "site"
    run = _mkdocs(["build", "--strict", "-d", str(site)], ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "WARNING" not in run.stderr, run.stderr
    for page in [
        "index.html",
        "psp/index.html",
        "district/index.html",
        "cli/index.html",
        "api/core/index.html",
        "api/plots/index.html",
        "tutorials/01-clear-an-auction/index.html",
        "tutorials/04-replay-a-data-market-trace/index.html",
    ]:
        assert (site / page).is_file(), page
    # the API reference is rendered from the docstrings
    core = (site / "api" / "core" / "index.html").read_text()
    assert "to_frame" in core and "welfare" in core
    # the CLI reference is generated: every command has its section
    cli = (site / "cli" / "index.html").read_text()
    for command in ["clear", "audit", "run", "summary", "report", "simulate-data-market"]:
        assert f'id="specmarket-{command}"' in cli, command
    assert "cli-reference" not in cli  # the marker was replaced


def test_cli_reference_lists_every_command_and_option() -> None:
    hook = _load_hook()
    text = hook.render()  # type: ignore[attr-defined]
    headings = re.findall(r"^#+ `(specmarket[^`]*)`", text, flags=re.M)
    assert "specmarket clear" in headings and "specmarket simulate data-market" in headings
    assert len(headings) == len(set(headings))
    audit = text.split("`specmarket audit`", 1)[1].split("\n## ", 1)[0]
    assert "-n, --instances" in audit and "[default: 1000" in audit
    assert "--help" not in audit  # typer's own --help row is left out
    page = "# CLI\n\n<!-- cli-reference -->\n"
    assert hook.on_page_markdown(page, page=None) != page  # type: ignore[attr-defined]
    assert hook.on_page_markdown("# other\n", page=None) == "# other\n"  # type: ignore[attr-defined]


@pytest.mark.slow
def test_a_broken_link_fails_the_strict_build(tmp_path: Path) -> None:
    # the site's own strictness settings (strict and validation), on a one-page site
    config = (ROOT / "mkdocs.yml").read_text()
    validation = re.search(r"^validation:\n(?:[ \t]+.*\n)+", config, flags=re.M)
    assert validation and re.search(r"^strict: true$", config, flags=re.M)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# x\n\nSee [the missing page](missing.md).\n")
    (tmp_path / "mkdocs.yml").write_text("site_name: t\nstrict: true\n" + validation.group(0))
    run = _mkdocs(["build", "--strict", "-d", str(tmp_path / "site")], tmp_path)
    assert run.returncode != 0
    assert "missing.md" in run.stderr
