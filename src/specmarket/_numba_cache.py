"""Where numba may cache compiled kernels.

The compiled kernels are cached by numba next to the source (``__pycache__``) or, failing that,
in the user's cache directory; when neither is writable — a read-only install with no writable
``HOME``, a container, a shared cluster node — numba raises ``RuntimeError: cannot cache
function ...`` at import, so every command that touches a kernel would crash.

Every kernel module imports :data:`CACHE` from here and decorates with ``@njit(cache=CACHE)``
(numba reads ``NUMBA_CACHE_DIR`` when a cached function is decorated, and :func:`configure`
reloads numba's configuration if numba was imported first). Importing this module runs
:func:`configure` once: it changes nothing when the package's own ``__pycache__`` is writable
or ``NUMBA_CACHE_DIR`` is already set; otherwise it points ``NUMBA_CACHE_DIR`` at the first
writable directory among the user cache and the system's temporary directory, with one warning;
and if none is writable, :data:`CACHE` is ``False`` (kernels compile on every run instead of
crashing), again with one warning.
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from pathlib import Path

_ENV = "NUMBA_CACHE_DIR"


def writable(path: Path) -> bool:
    """Whether ``path`` can be created and written, probed the way numba probes its cache
    directory (create it, then open a temporary file in it). Permission bits alone do not tell
    for root, so this really tries."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError:
        return False
    return True


def candidates() -> list[Path]:
    """Fallback cache directories, best first: the user cache, then the temporary directory."""
    out: list[Path] = []
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        out.append(Path(xdg) / "specmarket" / "numba")
    home = os.environ.get("HOME")
    if home:
        out.append(Path(home) / ".cache" / "specmarket" / "numba")
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    out.append(Path(tempfile.gettempdir()) / f"specmarket-numba-{uid}")
    return out


def configure(package_dir: Path | None = None) -> bool:
    """Make sure numba has a writable cache directory; ``False`` when there is none, so that
    kernels are compiled without caching."""
    if os.environ.get(_ENV):
        return True
    here = package_dir if package_dir is not None else Path(__file__).resolve().parent
    if writable(here / "__pycache__"):
        return True
    for path in candidates():
        if writable(path):
            os.environ[_ENV] = str(path)
            if "numba" in sys.modules:  # imported before us: make it read the variable again
                from numba.core import config

                config.reload_config()  # type: ignore[no-untyped-call]  # numba is untyped
            warnings.warn(
                f"specmarket: {here} is not writable; numba caches compiled kernels in {path}",
                RuntimeWarning,
                stacklevel=2,
            )
            return True
    warnings.warn(
        "specmarket: no writable directory for numba's cache (the install, HOME and the "
        f"temporary directory are read-only); kernels compile on every run. Set {_ENV} to a "
        "writable directory to cache them",
        RuntimeWarning,
        stacklevel=2,
    )
    return False


#: Whether ``@njit(cache=CACHE)`` may cache: decided once, at first import.
CACHE: bool = configure()
