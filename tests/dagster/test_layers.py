"""The architecture's import rules, checked on the source (docs/architecture.md).

Layers, lowest first; each may import only the ones below it:

    spec, names, formatting, settings, provenance   (leaves: imports nothing above)
    ml                  plain Python on DataFrames
    resources           per-environment I/O (may import `governance.audit_records`,
                        `audit_chain`, `signatures`, `audit_anchors`: the format the audit
                        log stores and checks)
    governance          release rules;  monitoring: histories read from the store
    defs                Dagster wiring
    definitions, cli, operator, demo, run_summary, instance, release_metadata   (application)

`simulation` (demo traffic and synthetic data) sits beside the application: nothing in the
platform's own layers imports it.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "modelops"

APPLICATION = (
    "modelops.definitions",
    "modelops.cli",
    "modelops.operator",
    "modelops.operator_switch",
    "modelops.demo",
    "modelops.run_summary",
    "modelops.instance",
)
ABOVE_ML = ("dagster", "modelops.resources", "modelops.governance", "modelops.monitoring")
WIRING = ("modelops.defs", "modelops.release_metadata", "modelops.simulation", *APPLICATION)
FORBIDDEN = {
    "spec": ("modelops.ml", *ABOVE_ML, *WIRING, "sklearn", "mlflow", "evidently"),
    "ml": (*ABOVE_ML, *WIRING),
    "resources": ("modelops.governance", "modelops.monitoring", *WIRING),
    "governance": ("dagster", "modelops.monitoring", *WIRING),
    "monitoring": ("dagster", *WIRING),
    "defs": ("modelops.simulation", *APPLICATION),
    # The online service is an entry point like `cli`: everything below it, never the wiring.
    "serving": ("modelops.defs", "modelops.definitions", "modelops.simulation", "modelops.demo"),
}
ALLOWED = {
    "resources": (
        "modelops.governance.audit_records",
        "modelops.governance.audit_chain",
        "modelops.governance.signatures",
        "modelops.governance.audit_anchors",
        "modelops.monitoring.decision_log",
    )
}
"""What `resources` uses of a higher layer: the record formats the audit log and the decision
log store and check (its signatures and anchors included)."""
LEAVES = ("names", "formatting", "settings", "provenance", "pod_security")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path, *, top_level_only: bool = False) -> set[str]:
    """Absolute module names imported by a file (`from a import b` counts as `a` and `a.b`,
    so importing a submodule through its package is seen)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else ast.walk(tree)
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _function_level_imports(path: Path) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom) and inner.module:
                    yield inner.lineno, inner.module
                elif isinstance(inner, ast.Import):
                    yield from ((inner.lineno, alias.name) for alias in inner.names)


def _banned(name: str, banned: tuple[str, ...]) -> bool:
    return any(name == b or name.startswith(f"{b}.") for b in banned)


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_does_not_import_what_sits_above_it(layer: str) -> None:
    modules = sorted((PACKAGE / layer).rglob("*.py"))
    assert modules, f"no modules found under {layer}/"
    offences = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in modules
        for name in _imports(path)
        if _banned(name, FORBIDDEN[layer]) and not _banned(name, ALLOWED.get(layer, ()))
    ]
    assert offences == []


def test_leaves_import_nothing_of_the_platform_above_spec() -> None:
    offences = [
        f"{leaf}.py imports {name}"
        for leaf in LEAVES
        for name in _imports(PACKAGE / f"{leaf}.py")
        if name.startswith("modelops.") and not name.startswith("modelops.spec")
    ]
    assert offences == []


def test_nothing_in_the_platform_imports_the_simulation() -> None:
    sources = _sources()
    offences = [
        f"{module} imports {name}"
        for module, path in sources.items()
        if not module.startswith(("modelops.simulation", "modelops.demo"))
        for name in _imports(path)
        if _banned(name, ("modelops.simulation",))
    ]
    assert offences == []


def test_no_import_cycle_among_modelops_modules() -> None:
    """Any import, at module level or inside a function: a cycle hidden in a function is still
    a cycle a reader has to untangle."""
    sources = _sources()
    graph = {
        module: {name for name in _imports(path) if name in sources and name != module}
        for module, path in sources.items()
    }
    # A package's __init__ that re-exports its modules is part of the package, not a cycle.
    for module in graph:
        graph[module] -= {m for m in graph[module] if module.startswith(f"{m}.")}
    cycle = _find_cycle(graph)
    assert cycle is None, " -> ".join(cycle or [])


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_defs_never_imports_defs_inside_a_function() -> None:
    offences = [
        f"{path.relative_to(PACKAGE)}:{line} imports {name}"
        for path in sorted((PACKAGE / "defs").rglob("*.py"))
        for line, name in _function_level_imports(path)
        if _banned(name, ("modelops.defs",))
    ]
    assert offences == []


@pytest.mark.parametrize("module", ["cli", "operator"])
def test_the_command_line_imports_only_the_definitions_entry_point(module: str) -> None:
    offences = [
        name for name in _imports(PACKAGE / f"{module}.py") if _banned(name, ("modelops.defs",))
    ]
    assert offences == []


def test_the_plain_layers_load_without_dagster() -> None:
    """spec, ml, governance and monitoring take resources as arguments (typed only when type
    checking), so importing them pulls in no Dagster: they run and are tested as plain Python."""
    plain = sorted(
        module
        for module in _sources()
        if module.startswith(
            ("modelops.spec", "modelops.ml", "modelops.governance", "modelops.monitoring")
        )
    )
    code = (
        "import importlib, json, sys\n"
        f"for name in {plain!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'dagster')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_the_rule_checker_sees_imports() -> None:
    """Guard against a checker that silently finds nothing."""
    assert "dagster" in _imports(PACKAGE / "defs" / "use_case.py")
    assert "modelops.spec" in _imports(PACKAGE / "ml" / "features.py")
    assert "modelops.definitions" in _imports(PACKAGE / "cli.py")
    assert any(
        name.startswith("modelops.ml")
        for _, name in _function_level_imports(PACKAGE / "defs" / "data_assets.py")
    )
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None
