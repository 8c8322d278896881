"""Rules about segkit's shape, read from its source with ``ast`` (nothing is imported).

- no module over :data:`MAX_LINES` lines;
- no import cycle between segkit's sub-packages and top-level modules;
- ``segkit.runs`` does not import ``segkit.training`` (training writes runs, not the reverse);
- every name in a module's ``__all__`` exists;
- the dependencies setup.cfg declares are the ones segkit imports;
- no test file skips silently with ``pytest.importorskip``.

Imports are counted wherever they are: at module level, inside functions (lazy imports), under
``if TYPE_CHECKING``, and ``importlib.import_module("segkit.x")`` with a literal name.
"""

from __future__ import annotations

import ast
import configparser
import itertools
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from support import REPO_ROOT

SEGKIT = REPO_ROOT / "segkit"
MAX_LINES = 450


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(SEGKIT.rglob("*.py"))}
TREES: dict[str, ast.Module] = {
    name: ast.parse(path.read_text(encoding="utf-8"), str(path)) for name, path in MODULES.items()
}


#: Modules that call ``importlib.import_module``: a literal segkit module name there is an import.
_DYNAMIC = {m for m, p in MODULES.items() if "import_module(" in p.read_text(encoding="utf-8")}


@dataclass(frozen=True)
class Import:
    """One import in module ``source``: ``target`` is what it loads (``numpy``, ``segkit.x.y``)."""

    source: str
    target: str
    lineno: int
    unconditional: bool  # module level, outside ``if TYPE_CHECKING`` and ``try: ... except``

    def where(self) -> str:
        return f"{MODULES[self.source].relative_to(REPO_ROOT)}:{self.lineno}"


def _package_of(module: str) -> str:
    return module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]


def _walk(body: list[ast.stmt], unconditional: bool) -> Iterator[tuple[ast.AST, bool]]:
    """Every node under ``body``, with whether it runs whenever the module is imported."""
    for stmt in body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            yield from ((n, False) for n in ast.walk(stmt))
        elif isinstance(stmt, ast.If):
            yield stmt.test, unconditional
            yield from _walk(stmt.body, False)
            yield from _walk(stmt.orelse, False)
        elif isinstance(stmt, ast.Try):
            yield from _walk(stmt.body + stmt.orelse + stmt.finalbody, False)
            for handler in stmt.handlers:
                yield from _walk(handler.body, False)
        elif isinstance(stmt, ast.ClassDef | ast.With):
            yield stmt, unconditional
            yield from _walk(stmt.body, unconditional)
        else:
            yield from ((n, unconditional) for n in ast.walk(stmt))


def imports_of(module: str) -> list[Import]:
    """What ``module`` imports, each segkit target as precise as a module name allows."""
    found = []
    for node, unconditional in _walk(TREES[module].body, True):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = _package_of(module).split(".")
                package = package[: len(package) - node.level + 1]
                base = ".".join(package + ([base] if base else []))
            targets = []
            for alias in node.names:
                if f"{base}.{alias.name}" in MODULES:
                    targets.append(f"{base}.{alias.name}")
                elif base == "segkit":  # what segkit/__init__.py re-exports counts where it lives
                    targets.append(_REEXPORTS.get(alias.name, base))
                else:
                    targets.append(base)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value in MODULES
            and module in _DYNAMIC
        ):
            targets = [node.value]
            unconditional = False  # it is imported when the function that imports it runs
        else:
            continue
        lineno = getattr(node, "lineno", 0)
        found += [Import(module, t, lineno, unconditional) for t in targets]
    return found


def _root_reexports() -> dict[str, str]:
    """``{name: module}`` for each ``from segkit.x import name`` in ``segkit/__init__.py``."""
    out = {}
    for node in TREES["segkit"].body:
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in MODULES:
            out |= {a.asname or a.name: node.module for a in node.names}
    return out


_REEXPORTS = _root_reexports()


def unit(module: str) -> str:
    """The sub-package or top-level module that ``module`` belongs to: ``segkit.training``."""
    return ".".join(module.split(".")[:2])


def unit_graph() -> dict[str, dict[str, list[Import]]]:
    """``{unit: {unit it imports: [the imports that make the edge]}}``, within segkit only."""
    graph: dict[str, dict[str, list[Import]]] = {unit(m): {} for m in MODULES}
    for module in MODULES:
        for imp in imports_of(module):
            if imp.target.split(".")[0] != "segkit":
                continue
            a, b = unit(module), unit(imp.target)
            if a != b and b != "segkit" and b in graph:
                graph[a].setdefault(b, []).append(imp)
    return graph


def find_cycles(graph: dict[str, dict[str, list[Import]]]) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) through each strongly connected group of units."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def connect(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while (w := stack.pop()) != v:
                group.append(w)
            groups.append([v, *group])

    for v in sorted(graph):
        if v not in index:
            connect(v)
    cycles = []
    for group in (g for g in groups if len(g) > 1):
        start, members = min(group), set(group)
        paths = {start: [start]}
        queue = [start]
        while queue:  # shortest way from start back to start, inside the group
            v = queue.pop(0)
            for w in sorted(graph[v]):
                if w == start:
                    cycles.append([*paths[v], start])
                    queue = []
                    break
                if w in members and w not in paths:
                    paths[w] = [*paths[v], w]
                    queue.append(w)
    return cycles


def test_no_module_is_longer_than_450_lines():
    lines = {m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in MODULES.items()}
    long = {m: n for m, n in lines.items() if n > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them by responsibility): " + ", ".join(
        f"{MODULES[m].relative_to(REPO_ROOT)} ({n})" for m, n in sorted(long.items())
    )


def test_the_import_graph_between_subpackages_has_no_cycle():
    graph = unit_graph()
    report = []
    for cycle in find_cycles(graph):
        report.append(" -> ".join(cycle))
        for a, b in itertools.pairwise(cycle):
            report += [f"    {imp.where()} imports {imp.target}" for imp in graph[a][b]]
    assert not report, "import cycles between segkit's sub-packages:\n" + "\n".join(report)


def test_cycle_finder_reports_a_cycle():
    edge = [Import("segkit", "segkit", 1, True)]
    graph = {"a": {"b": edge}, "b": {"c": edge}, "c": {"a": edge, "d": edge}, "d": {}}
    assert find_cycles(graph) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b": edge}, "b": {}}) == []


def test_runs_does_not_import_training():
    bad = [
        imp
        for m in MODULES
        if unit(m) == "segkit.runs"
        for imp in imports_of(m)
        if unit(imp.target) == "segkit.training"
    ]
    assert not bad, "segkit.runs must not import segkit.training (training writes runs):\n" + (
        "\n".join(f"    {imp.where()} imports {imp.target}" for imp in bad)
    )


def _module_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements that run in the module's namespace: also inside ``if``, ``try``, ``with``."""
    for stmt in body:
        yield stmt
        if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            for field in ("body", "orelse", "finalbody"):
                yield from _module_level(getattr(stmt, field, []))
            for handler in getattr(stmt, "handlers", []):
                yield from _module_level(handler.body)


def _defined_names(module: str) -> set[str]:
    """The names that ``module`` binds in its own namespace."""
    names: set[str] = set()
    for stmt in _module_level(TREES[module].body):
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(stmt.name)
        elif isinstance(stmt, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in stmt.names}
        elif isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign | ast.For | ast.With):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt]
            for target in targets:
                for node in ast.walk(target):
                    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                        names.add(node.id)
    return names


def _lazy_names(module: str) -> dict[str, str]:
    """``{name: module}`` from a module-level dict of strings that ``__getattr__`` imports from."""
    if "__getattr__" not in {n.name for n in TREES[module].body if isinstance(n, ast.FunctionDef)}:
        return {}
    lazy = {}
    for node in TREES[module].body:
        value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
        if isinstance(value, ast.Dict):
            for k, v in zip(value.keys, value.values, strict=True):
                if (
                    isinstance(k, ast.Constant)
                    and isinstance(v, ast.Constant)
                    and v.value in MODULES
                ):
                    lazy[k.value] = v.value
    return lazy


def test_every_name_in_all_exists():
    missing = []
    for module, tree in TREES.items():
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
            ):
                exported = ast.literal_eval(node.value)
                defined, lazy = _defined_names(module), _lazy_names(module)
                for name in exported:
                    if name in lazy:
                        if name not in _defined_names(lazy[name]):
                            missing.append(f"{module}.{name} (lazily from {lazy[name]})")
                    elif name not in defined:
                        missing.append(f"{module}.{name}")
    assert not missing, "names in __all__ that the module does not define: " + ", ".join(missing)


# --- declared dependencies = imported dependencies ---------------------------------------

#: Distribution names whose import name differs from the name with ``-`` written as ``_``.
IMPORT_NAMES = {
    "pillow": "PIL",
    "pyyaml": "yaml",
    "ipython": "IPython",
    "tensorflow-cpu": "tensorflow",
    "mlflow-skinny": "mlflow",
    "scikit-image": "skimage",
    "scikit-learn": "sklearn",
    "opencv-python": "cv2",
    "opencv-python-headless": "cv2",
    "openslide-python": "openslide",
}

#: What must work without extras: the package itself and its console script, which imports
#: every module of ``segkit.commands`` to build its parser.
ENTRY_POINTS = ("segkit", "segkit.cli", "segkit.__main__") + tuple(
    m for m in MODULES if m.startswith("segkit.commands.")
)


def _import_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    assert match, f"setup.cfg: cannot read a distribution name from {requirement!r}"
    dist = re.sub(r"[-_.]+", "-", match.group(0)).lower()
    return IMPORT_NAMES.get(dist, dist.replace("-", "_"))


def declared() -> tuple[dict[str, str], dict[str, str]]:
    """``({import name: requirement})`` for install_requires and for all extras together."""
    cfg = configparser.ConfigParser()
    cfg.read(REPO_ROOT / "setup.cfg", encoding="utf-8")

    def names(text: str) -> dict[str, str]:
        return {_import_name(line): line.strip() for line in text.splitlines() if line.strip()}

    required = names(cfg["options"]["install_requires"])
    extras: dict[str, str] = {}
    for text in cfg["options.extras_require"].values():
        extras |= names(text)
    return required, extras


def third_party_imports() -> list[Import]:
    local = {"segkit", "__future__"}
    return [
        imp
        for m in MODULES
        for imp in imports_of(m)
        if imp.target.split(".")[0] not in local | set(sys.stdlib_module_names)
    ]


def core_modules() -> set[str]:
    """The modules that :data:`ENTRY_POINTS` import unconditionally, and their packages."""
    seen: set[str] = set()
    todo = list(ENTRY_POINTS)
    while todo:
        module = todo.pop()
        if module in seen or module not in MODULES:
            continue
        seen.add(module)
        parts = module.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        todo += [i.target for i in imports_of(module) if i.unconditional]
    return seen


def test_every_import_is_a_declared_dependency():
    required, extras = declared()
    undeclared = [
        f"{i.target.split('.')[0]} ({i.where()})"
        for i in third_party_imports()
        if i.target.split(".")[0] not in required | extras
    ]
    assert not undeclared, (
        "imported but not declared in setup.cfg (install_requires or an extra): "
        + ", ".join(undeclared)
    )


def test_what_segkit_and_its_cli_import_needs_no_extra():
    required, _ = declared()
    core = core_modules()
    needs_extra = [
        f"{i.target.split('.')[0]} ({i.where()})"
        for i in third_party_imports()
        if i.source in core and i.unconditional and i.target.split(".")[0] not in required
    ]
    assert not needs_extra, (
        "`import segkit` or the `segkit` command imports these unconditionally, so they belong "
        "in install_requires (or import them inside the function that needs them): "
        + ", ".join(needs_extra)
    )


def test_every_required_dependency_is_imported():
    required, _ = declared()
    used = {i.target.split(".")[0] for i in third_party_imports()}
    unused = [requirement for name, requirement in required.items() if name not in used]
    assert not unused, (
        "install_requires lists distributions that segkit/ never imports (drop them, or move "
        "them to the extra that needs them): " + ", ".join(unused)
    )


def test_no_test_file_skips_silently():
    offenders = [
        f"{p.relative_to(REPO_ROOT)}:{n}"
        for p in sorted((REPO_ROOT / "tests").rglob("*.py"))
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if "pytest.importorskip" + "(" in line
    ]
    assert not offenders, (
        "pytest.importorskip skips in CI too; use support.require_module(name, reason): "
        + ", ".join(offenders)
    )


def test_test_file_names_are_unique() -> None:
    """pytest imports test files by base name (tests/ has no packages): two of one name clash."""
    names: dict[str, list[str]] = {}
    for path in (REPO_ROOT / "tests").rglob("test_*.py"):
        names.setdefault(path.name, []).append(str(path.relative_to(REPO_ROOT)))
    clashes = {name: paths for name, paths in names.items() if len(paths) > 1}
    assert not clashes, f"test files sharing a name: {clashes}"
