"""For every asset in the UI, three files to read: the spec section, the wiring, the logic.

docs/architecture.md promises a newcomer that table; these tests keep it true as assets are
added or files move, and check that the UI links each asset to the wiring file it names.
"""

from __future__ import annotations

import re

import dagster as dg
import pytest
import yaml

from modelops.definitions import build_definitions
from support import GERMAN_SPEC, PROJECT, copy_german_spec, make_settings

DOC = PROJECT / "docs" / "architecture.md"
SRC = PROJECT / "src" / "modelops"
ROW = re.compile(r"^\| (`[^|]+`)(?: \([^|]*\))? \| ([^|]+) \| `([^`|]+)` \| `([^`|]+)` \|$")


def _walkthrough() -> dict[str, tuple[str, str, str]]:
    """asset name -> (spec section, wiring file, logic file), from the doc's tables."""
    rows: dict[str, tuple[str, str, str]] = {}
    for line in DOC.read_text().splitlines():
        match = ROW.match(line)
        if not match:
            continue
        assets, section, wiring, logic = match.groups()
        for name in re.findall(r"`([^`]+)`", assets):
            rows[name] = (section.strip(), wiring, logic)
    return rows


@pytest.fixture(scope="module")
def defs(tmp_path_factory: pytest.TempPathFactory) -> dg.Definitions:
    root = tmp_path_factory.mktemp("walkthrough")
    copy_german_spec(root / "specs")
    return build_definitions(make_settings(root, root / "specs"))


def test_every_asset_has_its_three_files_in_the_architecture_doc(defs: dg.Definitions) -> None:
    rows = _walkthrough()
    spec = yaml.safe_load(GERMAN_SPEC.read_text())
    missing, wrong = [], []
    for key in defs.resolve_all_asset_keys():
        name = key.path[-1] if key.path[0] != "governance" else key.to_user_string()
        if name not in rows:
            missing.append(name)
            continue
        section, wiring, logic = rows[name]
        top = re.findall(r"`([a-z_]+)", section)[0]
        if top not in spec:
            wrong.append(f"{name}: no spec section {top!r}")
        for path in (wiring, logic):
            if not (SRC / path).is_file():
                wrong.append(f"{name}: {path} does not exist")
    assert missing == [] and wrong == []


def test_the_ui_links_each_asset_to_the_wiring_file_the_doc_names(defs: dg.Definitions) -> None:
    rows = _walkthrough()
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        name = key.path[-1] if key.path[0] != "governance" else key.to_user_string()
        references = graph.get(key).metadata["dagster/code_references"].code_references
        files = {ref.file_path for ref in references}
        assert any(f.endswith(f"src/modelops/{rows[name][1]}") for f in files), (name, files)
