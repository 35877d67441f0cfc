"""Every third-party package that the code imports is declared in ``pyproject.toml``.

A fresh ``pip install -e ".[test,…]"`` installs only what the project declares. A package that
arrives as somebody else's dependency (``click`` under an older typer, say) works on one machine and
breaks on the next, so this test reads every ``import`` in ``src/``, ``tests/`` and ``benchmarks/``
and checks it against the declarations:

* a module-level import in ``src/`` must be a core dependency, or belong to the extra that owns
  the module (:data:`EXTRA_OF_PATH`: the service subpackage needs the ``service`` extra);
* an import inside a function in ``src/`` (an optional feature, imported on first use) may come
  from any extra;
* ``tests/`` may use the core, the ``test`` extra and the extras that ``.ci/run`` installs;
* ``benchmarks/`` may use any declared package.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from functools import cache
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Source paths (relative to ``src/specmarket``) whose module-level imports may use an extra.
EXTRA_OF_PATH: dict[str, str] = {
    "service": "service",
    "client.py": "service",
}

#: Top-level modules that are part of this repository, not third-party packages.
LOCAL = {"specmarket", "tests", "conftest", "_harness", "benchmarks", "alembic_env"}

#: Import names whose distribution is named otherwise, for packages that may not be installed here
#: (an installed package is looked up in its own metadata instead).
ALIASES = {
    "markovianbandit": "markovianbandit-pkg",
    "yaml": "pyyaml",
    "multipart": "python-multipart",
}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(req: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
    assert match, req
    return _norm(match.group(1))


def _declared() -> tuple[set[str], dict[str, set[str]]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {_requirement_name(r) for r in project["dependencies"]}
    extras = {
        name: {_requirement_name(r) for r in reqs}
        for name, reqs in project.get("optional-dependencies", {}).items()
    }
    return core, extras


def _ci_extras() -> set[str]:
    text = (ROOT / ".ci" / "run").read_text()
    found = re.findall(r'-e\s+"?\.\[([a-z0-9_,-]+)\]', text)
    return {e for group in found for e in group.split(",")}


def _imports(path: Path) -> list[tuple[str, bool]]:
    """``(top-level module, at module level?)`` for every absolute import in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = top and not isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            if isinstance(child, ast.Import):
                found.extend((a.name.split(".")[0], top) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                found.append((child.module.split(".")[0], top))
            visit(child, inner)

    visit(tree, True)
    return found


@cache
def _installed() -> dict[str, list[str]]:
    return dict(metadata.packages_distributions())


def _distribution(module: str) -> str:
    """The distribution that provides top-level ``module`` (its own name when not installed)."""
    dists = _installed().get(module)
    if dists:
        return _norm(dists[0])
    return _norm(ALIASES.get(module, module))


@cache
def _scripts() -> frozenset[str]:
    """Modules that live beside the tests and benchmarks (a benchmark importing another one)."""
    return frozenset(
        p.stem for folder in ("tests", "benchmarks") for p in (ROOT / folder).rglob("*.py")
    )


def _third_party(module: str) -> bool:
    return module not in sys.stdlib_module_names and module not in LOCAL | _scripts()


def _files(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


def test_src_imports_are_declared() -> None:
    core, extras = _declared()
    any_extra = set().union(*extras.values()) if extras else set()
    problems = []
    for path in _files("src"):
        rel = path.relative_to(ROOT / "src" / "specmarket").as_posix()
        owner = next((e for p, e in EXTRA_OF_PATH.items() if rel.startswith(p)), None)
        allowed_top = core | (extras.get(owner, set()) if owner else set())
        for module, top in _imports(path):
            if not _third_party(module):
                continue
            dist = _distribution(module)
            allowed = allowed_top if top else core | any_extra
            if dist not in allowed:
                where = "module level" if top else "inside a function"
                problems.append(f"src/specmarket/{rel}: {module} ({dist}, {where})")
    assert not problems, "undeclared imports:\n" + "\n".join(problems)


def test_tests_imports_are_declared() -> None:
    core, extras = _declared()
    allowed = set(core) | extras.get("test", set())
    for extra in _ci_extras():
        allowed |= extras.get(extra, set())
    problems = [
        f"{path.relative_to(ROOT)}: {module} ({_distribution(module)})"
        for path in _files("tests")
        for module, _ in _imports(path)
        if _third_party(module) and _distribution(module) not in allowed
    ]
    assert not problems, "undeclared imports in tests:\n" + "\n".join(problems)


def test_benchmark_imports_are_declared() -> None:
    core, extras = _declared()
    allowed = set(core).union(*extras.values())
    problems = [
        f"{path.relative_to(ROOT)}: {module} ({_distribution(module)})"
        for path in _files("benchmarks")
        for module, _ in _imports(path)
        if _third_party(module) and _distribution(module) not in allowed
    ]
    assert not problems, "undeclared imports in benchmarks:\n" + "\n".join(problems)


def test_every_dependency_has_a_floor() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for group in project.get("optional-dependencies", {}).values():
        reqs.extend(group)
    missing = [r for r in reqs if ">=" not in r and "==" not in r]
    assert not missing, f"dependencies without a floor: {missing}"


def test_the_check_catches_an_undeclared_import(tmp_path: Path) -> None:
    """The checker itself: a file importing an undeclared package is reported."""
    path = tmp_path / "m.py"
    path.write_text("import click\n\ndef f():\n    import numpy\n")
    assert _imports(path) == [("click", True), ("numpy", False)]
    core, _ = _declared()
    assert _distribution("click") not in core


def _floors() -> dict[str, str]:
    """``name -> version`` pinned in ``.ci/floors.txt``."""
    pins = {}
    for line in (ROOT / ".ci" / "floors.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[_norm(name)] = version.strip()
    return pins


def _release(version: str) -> tuple[int, ...]:
    parts = tuple(int(p) for p in version.split("."))
    while parts and parts[-1] == 0:
        parts = parts[:-1]
    return parts


def test_floors_file_pins_the_declared_floors() -> None:
    """The floors that ``.ci/floors`` tests are the floors that ``pyproject.toml`` declares."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    tested = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    pins = _floors()
    for req in tested:
        name = _requirement_name(req)
        if name not in pins:
            continue
        floor = re.search(r">=\s*([0-9.]+)", req)
        assert floor, req
        assert _release(floor.group(1)) == _release(pins[name]), (req, pins[name])
    core = {_requirement_name(r) for r in project["dependencies"]}
    assert core <= set(pins), f"core dependencies without a tested floor: {core - set(pins)}"
