"""The package's layers, checked from the code: imports point down, faces sit on top, no cycles.

Read from the source with :mod:`ast` (nothing is imported), counting every import: at
module level, inside functions, and under ``TYPE_CHECKING``. The layers, lowest first,
are listed in :data:`LAYERS`; ``docs/architecture.md`` draws the same picture. A module
may import its own layer and the layers below it, never one above; the faces (magics,
CLI, widgets, the Jupyter server extension) may import anything below the root and each
other, and nothing below them may import a face, not even through ``importlib`` with a
string. No two files may import each other, directly or round a loop.
"""

from __future__ import annotations

import ast
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "jupyter_mldeploy"

#: (layer name, module prefixes), lowest first. A module belongs to the layer of its
#: longest matching prefix.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("errors", "_version", "_config", "_names", "_net", "_sqlite", "display", "source_copy")),
    ("runtime", ("scoring",)),
    ("runtime wheel", ("_runtime",)),
    ("registry", ("registry",)),
    ("images", ("images",)),
    ("environment", ("environment", "inference_config")),
    ("client", ("client",)),
    ("deploy", ("deploy",)),
    ("api", ("api", "azureml", "doctor")),
    ("faces", ("magics", "cli", "widgets", "labapi")),
    ("root", ("__init__", "__main__")),
)
FACES = "faces"


@dataclass(frozen=True)
class Import:
    """One import found in a file: who imports what, where."""

    source: str  # importing module, dotted below the package ("deploy.service")
    target: str  # imported module, dotted below the package ("" is the package itself)
    path: Path
    line: int

    def where(self, root: Path) -> str:
        return f"{self.path.relative_to(root.parent)}:{self.line}"


def module_name(path: Path, root: Path) -> str:
    """``deploy/service.py`` -> ``deploy.service``; ``deploy/__init__.py`` -> ``deploy``; the root -> ``__init__``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def layer_of(module: str) -> int:
    """The index in :data:`LAYERS` of ``module`` (a dotted name below the package)."""
    best, best_len = None, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    if best is None:
        raise AssertionError(f"module {module!r} is in no layer: add it to LAYERS in {__file__}")
    return best


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The dotted target (below the package) of a relative import in ``module``."""
    base = [] if module == "__init__" else module.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def _modules(root: Path) -> set[str]:
    return {module_name(p, root) for p in root.rglob("*.py")}


def imports_of(path: Path, root: Path, known: set[str]) -> Iterator[Import]:
    """Every import of a jupyter_mldeploy module in ``path`` (relative or absolute, anywhere in the file)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    source = module_name(path, root)
    package = root.name
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = _resolve(source, _is_package(path), node.level, node.module)
            elif node.module and (node.module == package or node.module.startswith(package + ".")):
                base = node.module[len(package) + 1 :]
            else:
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}" if base else alias.name
                targets.append(sub if sub in known else base)  # "from . import records" imports a module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == package or alias.name.startswith(package + "."):
                    targets.append(alias.name[len(package) + 1 :])
        elif isinstance(node, ast.Call):
            # importlib.import_module("jupyter_mldeploy.widgets...") or __import__(...) with a string
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__") and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    text = first.value
                    if text.startswith("."):
                        level = len(text) - len(text.lstrip("."))
                        targets.append(_resolve(source, _is_package(path), level, text.lstrip(".") or None))
                    elif text == package or text.startswith(package + "."):
                        targets.append(text[len(package) + 1 :])
        for target in targets:
            yield Import(source, target or "__init__", path, node.lineno)


def check_layers(root: Path = PACKAGE) -> list[str]:
    """Every layering problem under ``root``, one line each naming the file and line."""
    known = _modules(root)
    problems: list[str] = []
    graph: dict[str, set[str]] = {m: set() for m in known}
    first_seen: dict[tuple[str, str], Import] = {}
    for path in sorted(root.rglob("*.py")):
        for imp in imports_of(path, root, known):
            if imp.target not in known:
                continue
            if imp.target != imp.source:
                graph[imp.source].add(imp.target)
                first_seen.setdefault((imp.source, imp.target), imp)
            mine, theirs = layer_of(imp.source), layer_of(imp.target)
            if mine < layer_of("magics") and LAYERS[theirs][0] == FACES:
                problem = f"{imp.where(root)}: core module {imp.source} imports the face {imp.target}"
            elif theirs > mine:
                problem = (
                    f"{imp.where(root)}: {imp.source} (layer {LAYERS[mine][0]}) imports {imp.target} "
                    f"(layer {LAYERS[theirs][0]}), which is above it"
                )
            else:
                continue
            if problem not in problems:
                problems.append(problem)
    for cycle in _cycles(graph):
        steps = [first_seen[(a, b)] for a, b in zip(cycle, cycle[1:] + cycle[:1])]
        problems.append("import cycle: " + " -> ".join(f"{s.source} ({s.where(root)})" for s in steps))
    return problems


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected group of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                group.append(item)
                if item == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_one_cycle(graph, set(group)) for group in groups]


def _one_cycle(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A shortest loop from the group's first module back to itself, inside the group."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt_frontier = []
        for node in frontier:
            for nxt in sorted(graph[node] & group):
                if nxt == start:
                    return paths[node]
                if nxt not in paths:
                    paths[nxt] = paths[node] + [nxt]
                    nxt_frontier.append(nxt)
        frontier = nxt_frontier
    return sorted(group)


def runtime_problems(root: Path = PACKAGE) -> list[str]:
    """Imports from the runtime that goes into images (``_runtime.RUNTIME_FILES``) to a module it lacks.

    The root package is checked at module level only: its lazy names and its Jupyter hooks
    load other modules when asked, never in a deployment.
    """
    from jupyter_mldeploy._runtime import RUNTIME_FILES

    def in_runtime(module: str) -> bool:
        for entry in RUNTIME_FILES:
            name = entry.removesuffix(".py")
            if module == name or module.startswith(name + "."):
                return True
        return False

    known = _modules(root)
    problems = []
    for path in sorted(root.rglob("*.py")):
        source = module_name(path, root)
        if not in_runtime(source):
            continue
        top_level = None
        if source == "__init__":
            tree = ast.parse(path.read_text(encoding="utf-8"))
            top_level = {n.lineno for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))}
        for imp in imports_of(path, root, known):
            if imp.target in known and not in_runtime(imp.target) and (top_level is None or imp.line in top_level):
                problems.append(f"{imp.where(root)}: the runtime module {source} imports {imp.target}, "
                                "which deployments do not get (add it to RUNTIME_FILES or drop the import)")
    return problems


def test_the_runtime_in_images_imports_only_itself() -> None:
    problems = runtime_problems()
    assert not problems, "\n".join(problems)


def test_every_module_has_a_layer() -> None:
    for module in sorted(_modules(PACKAGE)):
        layer_of(module)


def test_imports_point_down_and_never_reach_a_face() -> None:
    problems = check_layers()
    assert not problems, "layering problems:\n" + "\n".join(problems)


def _copy_package(tmp_path: Path) -> Path:
    copy = tmp_path / "jupyter_mldeploy"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "labextension"))
    return copy


def _plant(copy: Path, relative: str, code: str) -> int:
    """Append ``code`` inside a new function at the end of ``relative``; return its line."""
    path = copy / relative
    text = path.read_text(encoding="utf-8")
    line = text.count("\n") + 4  # two blank lines, then the def, then the planted line
    path.write_text(text + f"\n\ndef _planted() -> None:\n    {code}\n", encoding="utf-8")
    return line


@pytest.mark.parametrize(
    ("relative", "code", "expected"),
    [
        ("registry/model.py", "from ..widgets.registry_browser import RegistryBrowser",
         "core module registry.model imports the face widgets.registry_browser"),
        ("deploy/service.py", "import importlib; importlib.import_module('jupyter_mldeploy.magics')",
         "core module deploy.service imports the face magics"),
        ("scoring/app.py", "from ..deploy import records", "scoring.app (layer runtime) imports deploy.records"),
        ("environment/environment.py", "from ..deploy.package import ModelPackage",
         "environment.environment (layer environment) imports deploy.package"),
    ],
)
def test_a_planted_violation_is_named_with_its_file_and_line(
    tmp_path: Path, relative: str, code: str, expected: str
) -> None:
    copy = _copy_package(tmp_path)
    line = _plant(copy, relative, code)
    problems = check_layers(copy)
    assert any(p.startswith(f"jupyter_mldeploy/{relative}:{line}: ") and expected in p for p in problems), problems


def test_a_planted_cycle_is_named(tmp_path: Path) -> None:
    copy = _copy_package(tmp_path)
    _plant(copy, "scoring/contract.py", "from .app import create_app")
    problems = check_layers(copy)
    cycles = [p for p in problems if p.startswith("import cycle:")]
    assert len(cycles) == 1, problems
    assert "scoring.app (jupyter_mldeploy/scoring/app.py:" in cycles[0]
    assert "scoring.contract (jupyter_mldeploy/scoring/contract.py:" in cycles[0]


def test_a_planted_runtime_import_is_named(tmp_path: Path) -> None:
    copy = _copy_package(tmp_path)
    line = _plant(copy, "scoring/app.py", "from .._config import mldeploy_home")
    problems = runtime_problems(copy)
    assert any(p.startswith(f"jupyter_mldeploy/scoring/app.py:{line}: the runtime module scoring.app imports _config")
               for p in problems), problems


def test_only_the_cluster_module_imports_the_kubernetes_client() -> None:
    """The client takes seconds to import: one module holds it, importing it on first use only."""
    importers = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            if any(n == "kubernetes" or n.startswith("kubernetes.") for n in names):
                top = node in tree.body
                importers.append((str(path.relative_to(PACKAGE)), top))
    assert {p for p, _ in importers} == {"deploy/k8s/cluster.py"}
    assert not any(top for _, top in importers), "import kubernetes inside functions (it is slow to import)"
