"""Reading instance files and writing outcomes: the boundary of the CLI (and later the service).

Formats are documented in ``docs/formats.md``. Reading never raises anything but
:class:`~specmarket.errors.InvalidInput` for a bad file, and writing is atomic (temporary file, then
rename), so a failed run changes nothing on disk.
"""

from __future__ import annotations

import json
import os
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from specmarket.errors import InvalidInput


def read_json(path: str | Path) -> Any:
    """Decode a JSON file; a missing or malformed file is a clear error.

    ``NaN``/``Infinity`` literals are decoded (as Python's json does) so that validation can reject
    them naming the field they stand in.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput("file", str(p), "no such file") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        reason = f"cannot be read as UTF-8 text ({exc.__class__.__name__})"
        raise InvalidInput("file", str(p), reason) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            "file", str(p), f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None


def read_toml(path: str | Path) -> dict[str, Any]:
    """Decode a TOML file with clear errors."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise InvalidInput("file", str(p), "no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput("file", str(p), f"malformed TOML: {exc}") from None


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` atomically (a temporary file in the same folder, then rename)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=p.parent)
    try:
        with os.fdopen(fd, mode) as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; results are meant to be shared
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


def dumps(obj: Any) -> str:
    """JSON text of an outcome (indent 2, non-finite numbers refused)."""
    return json.dumps(obj, indent=2, allow_nan=False)
