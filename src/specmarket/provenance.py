"""Where a result came from: the specmarket version, the commit when known, the command, the seed.

Every results folder (``provenance.json`` beside ``scenario.json``, and the Parquet table's
metadata) and every HTML report (its footer, and ``provenance.json`` beside ``index.html``)
records :func:`provenance`, so that a figure found months later can be traced to the code and the
command that drew it. The commit is read from git only when specmarket runs from a checkout
(an editable install); ``"+dirty"`` marks uncommitted changes to tracked files.
"""

from __future__ import annotations

import platform
import shlex
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any


def version() -> str:
    """The installed specmarket version (package metadata, else ``specmarket.__version__``)."""
    from importlib import metadata

    try:
        return metadata.version("specmarket")
    except metadata.PackageNotFoundError:
        from specmarket import __version__

        return __version__


@cache
def commit() -> str | None:
    """The git commit of the checkout specmarket runs from, or ``None`` outside a checkout."""
    here = Path(__file__).resolve().parent

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", "-C", str(here), *args], capture_output=True, text=True, timeout=5
        )

    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return None
        dirty = git("diff", "--quiet", "HEAD", "--", ".").returncode == 1
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty else "")


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command as typed (``sys.argv`` by default); the script is shown by its name, and
    ``python -m specmarket`` as ``specmarket``."""
    args = list(sys.argv if argv is None else argv)
    if args:
        name = Path(args[0]).name
        args[0] = "specmarket" if name == "__main__.py" else name
    return shlex.join(args)


def provenance(seed: int | None = None, argv: Sequence[str] | None = None) -> dict[str, Any]:
    """One provenance record: ``specmarket`` version, ``commit`` (or ``None``), ``command``,
    ``seed`` (or ``None`` when the work took none), ``python`` and ``created`` (UTC, ISO 8601)."""
    return {
        "specmarket": version(),
        "commit": commit(),
        "command": command_line(argv),
        "seed": seed,
        "python": platform.python_version(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def footer(record: dict[str, Any]) -> str:
    """The record in one line of plain text, for a report's footer."""
    parts = [f"specmarket {record['specmarket']}"]
    if record.get("commit"):
        parts.append(f"commit {str(record['commit'])[:12]}")
    if record.get("seed") is not None:
        parts.append(f"seed {record['seed']}")
    parts.append(f"command: {record['command']}")
    parts.append(f"generated {record['created']}")
    return " · ".join(parts)
