"""The layering of DESIGN.md, read from the source with `ast`: every import, anywhere.

Layers, lowest first; a module may import its own layer or a lower one, never a higher one,
and no chain of imports comes back to where it started. Imports inside functions and under
`TYPE_CHECKING` count the same as any other.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers" / "healthwatch" / "healthwatch"
FUNCTIONS = ROOT / "functions"

LAYERS: dict[str, int] = {
    "models": 1,
    "errors": 1,
    "durations": 1,
    "urls": 1,
    "codec": 1,
    "records": 1,
    "config": 2,
    "conditions": 2,
    "secrets": 2,
    "probes": 3,
    "storage": 3,
    "notify": 3,
    "alerting": 4,
    "engine": 4,
    "views": 5,
    "runtime": 6,
    "cli": 7,
    "__main__": 7,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text(), str(p)) for p in PACKAGE.rglob("*.py")}


def imports(tree: ast.Module, name: str, is_package: bool) -> Iterator[tuple[str, int]]:
    """(module imported, line) for every import statement in the tree, at any depth."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield target, node.lineno
            for alias in node.names:  # `from healthwatch import alerting` imports a module
                yield f"{target}.{alias.name}", node.lineno


def layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "healthwatch" or len(parts) < 2:
        return None
    return LAYERS.get(parts[1])


def graph() -> dict[str, dict[str, int]]:
    """module -> {package module it imports: line}; names that are not modules are dropped."""
    trees = modules()
    packages = {module_name(p) for p in PACKAGE.rglob("__init__.py")}
    out: dict[str, dict[str, int]] = {}
    for name, tree in trees.items():
        edges: dict[str, int] = {}
        for target, line in imports(tree, name, name in packages):
            if target in trees and target != name:
                edges.setdefault(target, line)
        out[name] = edges
    return out


def test_every_module_of_the_package_has_a_layer():
    unplaced = [m for m in modules() if m != "healthwatch" and layer(m) is None]
    assert unplaced == []


def upward(edges: dict[str, dict[str, int]]) -> list[str]:
    wrong = []
    for name, targets in edges.items():
        own = layer(name)
        for target, line in targets.items():
            theirs = layer(target)
            if own is not None and theirs is not None and theirs > own:
                wrong.append(f"{name}:{line} imports {target} (layer {own} -> {theirs})")
    return wrong


def cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    seen: dict[str, int] = {}  # 1: on the current path, 2: done
    found: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        seen[node] = 1
        for nxt in edges.get(node, {}):
            if seen.get(nxt) == 1:
                found.append(path[path.index(nxt) :] + [nxt])
            elif nxt not in seen:
                visit(nxt, [*path, nxt])
        seen[node] = 2

    for start in sorted(edges):
        if start not in seen:
            visit(start, [start])
    return found


def test_no_module_imports_a_higher_layer():
    assert upward(graph()) == []


def test_no_import_cycle():
    assert cycles(graph()) == []


def test_only_the_entry_points_import_the_cli():
    importers = [
        f"{name} imports {target}"
        for name, targets in graph().items()
        for target in targets
        if (target == "healthwatch.cli" or target.startswith("healthwatch.cli."))
        and not name.startswith("healthwatch.cli")
        and name != "healthwatch.__main__"
    ]
    assert importers == []


def _builds_a_client(tree: ast.Module) -> Iterator[int]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            if any(a.name in ("boto3", "boto3.session") for a in node.names):
                yield node.lineno
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module in ("boto3", "boto3.session")
            or (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("client", "resource", "Session")
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in ("boto3", "session", "boto_session")
            )
        ):
            yield node.lineno


def test_boto3_clients_are_built_only_in_runtime():
    outside = [
        f"{name}:{line}"
        for name, tree in modules().items()
        if not name.startswith("healthwatch.runtime")
        for line in _builds_a_client(tree)
    ]
    assert outside == []


@pytest.mark.parametrize("handler", sorted(FUNCTIONS.glob("*/app.py")), ids=lambda p: p.parent.name)
def test_a_handler_is_a_thin_front_to_the_runtime(handler: Path):
    text = handler.read_text()
    assert len(text.splitlines()) <= 30
    package_imports = {
        target
        for target, _ in imports(ast.parse(text), "app", False)
        if target.startswith("healthwatch")
    }
    assert package_imports and all(
        t == "healthwatch.runtime" or t.startswith("healthwatch.runtime.") for t in package_imports
    ), package_imports
    assert not list(_builds_a_client(ast.parse(text)))


def test_the_checks_find_what_they_look_for():
    """An import hidden in a function is read, an upward one named, a circle found."""
    planted = ast.parse("def f():\n    from healthwatch.cli import main\n")
    assert ("healthwatch.cli", 2) in set(imports(planted, "healthwatch.models", False))
    edges = {
        "healthwatch.models": {"healthwatch.cli": 2},
        "healthwatch.engine.a": {"healthwatch.engine.b": 1},
        "healthwatch.engine.b": {"healthwatch.engine.a": 1},
    }
    assert upward(edges) == ["healthwatch.models:2 imports healthwatch.cli (layer 1 -> 7)"]
    assert ["healthwatch.engine.a", "healthwatch.engine.b", "healthwatch.engine.a"] in cycles(edges)
