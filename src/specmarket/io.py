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
from typing import Any, BinaryIO

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


# --------------------------------------------------------------------------- columnar files

#: File suffixes read as tables (one participant per row) instead of JSON.
COLUMNAR_SUFFIXES = (".parquet", ".pq", ".csv")

#: Mechanisms with a columnar reader: name → ``module:function`` taking the path and returning
#: the outcome's JSON text as a list of ASCII pieces (bytes).
COLUMNAR_READERS = {"mcafee": "specmarket.mechanisms.mcafee:columnar_outcome_parts"}


def is_columnar(path: str | Path) -> bool:
    """Whether ``path`` names a Parquet or CSV file (by suffix, case-insensitive)."""
    return Path(path).suffix.lower() in COLUMNAR_SUFFIXES


def clear_columnar(mechanism: str, path: str | Path, out: BinaryIO | None = None) -> str:
    """Clear the instance in a columnar file with ``mechanism`` and return the outcome's JSON text
    (the same text as the JSON path on the same data). Formats: ``docs/formats.md``.

    With ``out`` (a binary stream, e.g. ``sys.stdout.buffer``) the text and a newline are written
    there piece by piece instead — what ``print`` of the returned text would write, without
    assembling ~100 MB twice — and ``""`` is returned.

    Raises
    ------
    UnknownMechanism
        for an unknown name.
    InvalidInput
        naming the file for a mechanism without a columnar reader, or the column and row of a bad
        value (before anything is written).
    """
    import importlib

    from specmarket.mechanisms import get

    if mechanism not in COLUMNAR_READERS:
        get(mechanism)  # an unknown name: the registry's own error (importing it costs ~1 s)
        known = ", ".join(sorted(COLUMNAR_READERS))
        raise InvalidInput(
            "file", str(path), f"{mechanism} reads JSON only; columnar files are for: {known}"
        )
    module, func = COLUMNAR_READERS[mechanism].split(":")
    parts: list[bytes | memoryview] = getattr(importlib.import_module(module), func)(path)
    if out is None:
        return b"".join(parts).decode("ascii")
    for piece in parts:
        out.write(piece)
    out.write(b"\n")
    out.flush()
    return ""


def read_columns(path: str | Path, columns: dict[str, str]) -> Any:
    """Read a Parquet or CSV file into a :class:`pyarrow.Table` with exactly ``columns``.

    ``columns`` maps each column name to ``"string"`` or ``"number"``. The result has the columns
    in that order, strings as ``pa.string()`` and numbers as ``pa.float64()``, no missing values and
    only finite numbers. Rows are numbered from 0 in the data (a CSV file's header line is not a
    row, so row ``i`` is on line ``i + 2``).

    Raises
    ------
    InvalidInput
        ``file`` for an unreadable or malformed file; ``columns`` for a missing or unknown column;
        ``rows[i].NAME`` for the first bad value of column ``NAME`` (wrong type, missing, NaN or
        infinite).
    """
    import pyarrow as pa

    p = Path(path)
    if not p.is_file():
        raise InvalidInput("file", str(p), "no such file" if not p.exists() else "is not a file")
    table = _read_csv(p, columns) if p.suffix.lower() == ".csv" else _read_parquet(p)
    names = table.column_names
    missing = [c for c in columns if c not in names]
    extra = [c for c in names if c not in columns]
    if missing or extra or len(set(names)) != len(names):
        why = "; ".join(
            [f"missing column {c!r}" for c in missing]
            + [f"unknown column {c!r}" for c in extra]
            + (["a column name repeats"] if len(set(names)) != len(names) else [])
        )
        raise InvalidInput("columns", names, f"{why} (expected {', '.join(columns)})")
    out = {}
    for name, kind in columns.items():
        col = table.column(name)
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        col = col.combine_chunks()
        out[name] = _as_strings(col, name) if kind == "string" else _as_numbers(col, name)
    return pa.Table.from_arrays(list(out.values()), names=list(out))


def to_numpy(arr: Any) -> Any:
    """A numpy view of a pyarrow float64 / int64 array (no nulls) or a copy of a boolean one.

    Read straight from the buffers: ``Array.to_numpy`` goes through pyarrow's pandas layer, whose
    first use imports pandas (≈ 0.3 s, a sixth of the columnar McAfee path's budget)."""
    import numpy as np
    import pyarrow as pa

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.null_count:
        raise ValueError("to_numpy: the array has missing values")
    n, off = len(arr), arr.offset
    data = arr.buffers()[1]
    if data is None:  # pragma: no cover - an empty array
        return np.zeros(0, dtype=bool if pa.types.is_boolean(arr.type) else float)
    if pa.types.is_boolean(arr.type):
        bits = np.frombuffer(data, dtype=np.uint8)
        return np.unpackbits(bits, count=off + n, bitorder="little")[off:].astype(bool)
    dtype = {pa.float64(): np.float64, pa.int64(): np.int64, pa.int32(): np.int32}[arr.type]
    return np.frombuffer(data, dtype=dtype)[off : off + n]


def _first(mask: Any) -> int:
    """Index of the first true entry of a pyarrow boolean array (nulls count as false)."""
    import numpy as np

    return int(np.argmax(to_numpy(mask.fill_null(False))))


def _check_nulls(col: Any, name: str) -> None:
    import pyarrow.compute as pc

    if col.null_count:
        i = _first(pc.is_null(col))
        raise InvalidInput(f"rows[{i}].{name}", None, "missing value")


def _as_strings(col: Any, name: str) -> Any:
    import pyarrow as pa

    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        raise InvalidInput(f"columns.{name}", str(col.type), "must be a column of strings")
    _check_nulls(col, name)
    return col.cast(pa.string())


def _as_numbers(col: Any, name: str) -> Any:
    import numpy as np
    import pyarrow as pa

    if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
        raise InvalidInput(f"columns.{name}", str(col.type), "must be a column of numbers")
    _check_nulls(col, name)
    col = col.cast(pa.float64())
    values = to_numpy(col)
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.argmax(bad))
        raise InvalidInput(
            f"rows[{i}].{name}", float(values[i]), "must be a finite number (no NaN or infinity)"
        )
    return col


def _read_parquet(p: Path) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        # one thread: decoding a few columns gains little from more, and extra threads cost CPU
        # (four times the CPU for 2 x 10^6 rows on a busy 2-core machine)
        # ParquetFile, not read_table: the latter imports pyarrow.dataset and pandas (≈ 0.3 s)
        with pq.ParquetFile(p) as fh:
            return fh.read(use_threads=False)
    except (pa.ArrowException, OSError) as exc:
        why = f"not a readable Parquet file: {str(exc)[:160]}"
        raise InvalidInput("file", str(p), why) from None


def _read_csv(p: Path, columns: dict[str, str]) -> Any:
    """CSV with the declared types; on a conversion error, find the row by reading as text."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    types = {c: (pa.string() if k == "string" else pa.float64()) for c, k in columns.items()}
    try:
        # only an empty field is missing; "nan" / "inf" are read as numbers and rejected by name
        convert = pcsv.ConvertOptions(column_types=types, null_values=[""])
        one_thread = pcsv.ReadOptions(use_threads=False)
        return pcsv.read_csv(p, read_options=one_thread, convert_options=convert)
    except pa.ArrowInvalid as exc:
        if "conversion error" not in str(exc):
            raise InvalidInput("file", str(p), f"malformed CSV: {str(exc)[:160]}") from None
    except (pa.ArrowException, OSError) as exc:
        raise InvalidInput("file", str(p), f"malformed CSV: {str(exc)[:160]}") from None
    text = pcsv.read_csv(
        p, convert_options=pcsv.ConvertOptions(column_types=dict.fromkeys(columns, pa.string()))
    )
    for name, kind in columns.items():
        if kind != "number" or name not in text.column_names:
            continue
        for i, v in enumerate(text.column(name).to_pylist()):
            try:
                float("" if v is None else v)
            except (TypeError, ValueError):
                raise InvalidInput(f"rows[{i}].{name}", v, "must be a number") from None
    raise InvalidInput("file", str(p), "malformed CSV")  # pragma: no cover - arrow disagreed
