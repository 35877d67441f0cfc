"""With no writable install and no writable HOME, numba's cache falls back to a writable
directory, or to no caching, with one warning — never a crash at import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from specmarket import _numba_cache

ROOT = Path(__file__).resolve().parents[1]


def _blocked(tmp_path: Path, name: str) -> Path:
    """A path that cannot be created even by root: its parent is a regular file."""
    wall = tmp_path / f"{name}-wall"
    wall.write_text("not a directory")
    return wall / name


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)


def test_writable_install_changes_nothing(tmp_path: Path, no_env: None) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _numba_cache.configure(tmp_path) is True
    assert "NUMBA_CACHE_DIR" not in os.environ


def test_read_only_install_and_home_fall_back_to_tmp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_env: None
) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__pycache__").write_text("a file where the cache folder would go")
    monkeypatch.setenv("HOME", str(_blocked(tmp_path, "home")))
    monkeypatch.setattr(_numba_cache.tempfile, "tempdir", str(tmp_path / "tmp"))
    with pytest.warns(RuntimeWarning, match="caches compiled kernels in") as caught:
        assert _numba_cache.configure(package) is True
    assert len(caught) == 1
    chosen = Path(os.environ["NUMBA_CACHE_DIR"])
    assert chosen.parent == tmp_path / "tmp" and chosen.is_dir()


def test_nothing_writable_means_no_caching(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_env: None
) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__pycache__").write_text("x")
    monkeypatch.setenv("HOME", str(_blocked(tmp_path, "home")))
    monkeypatch.setattr(_numba_cache.tempfile, "tempdir", str(_blocked(tmp_path, "tmp")))
    with pytest.warns(RuntimeWarning, match="kernels compile on every run"):
        assert _numba_cache.configure(package) is False
    assert "NUMBA_CACHE_DIR" not in os.environ


def test_a_set_cache_dir_is_respected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    (tmp_path / "__pycache__").write_text("x")
    assert _numba_cache.configure(tmp_path) is True
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "mine")


@pytest.mark.slow
def test_kernels_compile_and_cache_from_a_read_only_install(tmp_path: Path) -> None:
    """The real thing, in a subprocess: a copy of the package whose every ``__pycache__`` is a
    file and an unusable HOME. Numba would raise at import; instead the kernels cache in the
    temporary directory, with one warning, and run."""
    site = tmp_path / "site"
    shutil.copytree(
        ROOT / "src" / "specmarket",
        site / "specmarket",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    package = site / "specmarket"
    for folder in [package, *(p for p in package.rglob("*") if p.is_dir())]:
        (folder / "__pycache__").write_text("read-only install")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {
        k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")
    }
    env.update(
        PYTHONPATH=str(site),
        HOME=str(_blocked(tmp_path, "home")),
        TMPDIR=str(tmp),
        PYTHONDONTWRITEBYTECODE="1",
    )
    code = (
        "import warnings, numpy as np\n"
        "warnings.simplefilter('always')\n"
        "from specmarket import _numba_cache\n"
        "from specmarket.mechanisms import _district_kernels as k\n"
        "print('CACHE', _numba_cache.CACHE)\n"
        "print('BITS', k.count_reusable(np.array([7], np.uint64), np.array([5], np.uint64)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr
    assert "CACHE True" in proc.stdout and "BITS 2" in proc.stdout
    assert proc.stderr.count("caches compiled kernels in") == 1
    cached = list((tmp / f"specmarket-numba-{os.getuid()}").rglob("*.nbi"))
    assert cached, "numba wrote no cache index in the fallback directory"
