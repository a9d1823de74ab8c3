"""The architecture's import rules, checked on the source (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "modelops"

FORBIDDEN = {
    "ml": ("dagster", "modelops.defs", "modelops.resources", "modelops.definitions"),
    "spec": (
        "dagster",
        "modelops.ml",
        "modelops.defs",
        "modelops.resources",
        "sklearn",
        "mlflow",
        "evidently",
    ),
    "resources": ("modelops.defs", "modelops.definitions", "modelops.governance"),
    # The release rules are plain Python over audit records: the pipeline, the CLI and the
    # demo share them, and they are tested without Dagster.
    "governance": ("dagster", "modelops.defs", "modelops.definitions"),
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_does_not_import_what_sits_above_it(layer: str) -> None:
    modules = sorted((PACKAGE / layer).glob("*.py"))
    assert modules, f"no modules found under {layer}/"
    offences = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in modules
        for name in _imports(path)
        if any(name == banned or name.startswith(f"{banned}.") for banned in FORBIDDEN[layer])
    ]
    assert offences == []


def test_the_rule_checker_sees_imports() -> None:
    """Guard against a checker that silently finds nothing."""
    assert "dagster" in _imports(PACKAGE / "defs" / "use_case.py")
    assert "modelops.spec.model" in _imports(PACKAGE / "ml" / "features.py")
    assert "modelops.spec.columns" in _imports(PACKAGE / "spec" / "model.py")
