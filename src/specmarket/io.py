"""Reading instance files and writing outcomes: the boundary of the CLI (and later the service).

Formats are documented in ``docs/formats.md``. Reading never raises anything but
:class:`~specmarket.errors.InvalidInput` for a bad file, and writing is atomic (temporary file, then
rename), so a failed run changes nothing on disk.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from specmarket.errors import InvalidInput


def read_json(path: str | Path) -> Any:
    """Decode a JSON file; a missing, unreadable or malformed file is one clear error.

    ``NaN``/``Infinity`` literals are decoded (as Python's json does) so that validation can reject
    them naming the field they stand in. A key repeated in one object is an error, not last-wins.
    """
    p = Path(path)
    text = _read_text(p)
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            "file", str(p), f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except _DuplicateKey as exc:
        raise InvalidInput(json.dumps(exc.key), str(p), "key appears twice in one object") from None
    except (ValueError, RecursionError) as exc:  # e.g. a 5,000-digit number, absurd nesting
        reason = f"malformed JSON: {exc.__class__.__name__}: {str(exc)[:120]}"
        raise InvalidInput("file", str(p), reason) from None


def read_toml(path: str | Path) -> dict[str, Any]:
    """Decode a TOML file with clear errors."""
    import tomllib  # here, not at the top: most commands read no TOML

    p = Path(path)
    text = _read_text(p)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput("file", str(p), f"malformed TOML: {exc}") from None
    except RecursionError:
        raise InvalidInput("file", str(p), "malformed TOML: nested too deeply") from None


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


#: The file name that stands for standard input, wherever a file is read.
STDIN = "-"


def _read_text(p: Path) -> str:
    """The file's text, or one :class:`InvalidInput` naming the file for any OS/encoding error.
    The name ``-`` reads standard input instead."""
    if str(p) == STDIN:
        import sys

        try:
            return sys.stdin.buffer.read().decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("file", "<stdin>", "is not UTF-8 text") from None
        except (AttributeError, OSError, ValueError) as exc:  # no stdin, or a closed one
            raise InvalidInput("file", "<stdin>", f"cannot be read ({exc})") from None
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput("file", str(p), "no such file") from None
    except IsADirectoryError:
        raise InvalidInput("file", str(p), "is a directory, not a file") from None
    except UnicodeDecodeError:
        raise InvalidInput("file", str(p), "is not UTF-8 text") from None
    except OSError as exc:
        raise InvalidInput("file", str(p), f"cannot be read ({exc.strerror or exc})") from None


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
    """JSON text of an outcome (indent 2); a non-finite number is an :class:`InvalidInput`."""
    try:
        return json.dumps(obj, indent=2, allow_nan=False)
    except ValueError:
        raise InvalidInput("outcome", "inf/nan", "a computed number is not finite") from None
