"""The code location as Dagster loads it: keys, policies applied to every asset, load cost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from modelops.definitions import build_definitions
from support import PROJECT, TESTS, copy_german_spec, make_settings

SNAPSHOT = TESTS / "snapshots" / "asset_keys.txt"


@pytest.fixture(scope="module")
def defs(tmp_path_factory: pytest.TempPathFactory) -> dg.Definitions:
    root = tmp_path_factory.mktemp("defs")
    copy_german_spec(root / "specs")
    return build_definitions(make_settings(root, root / "specs"))


def _graph_listing(defs: dg.Definitions) -> str:
    graph = defs.resolve_asset_graph()
    assets = sorted(k.to_user_string() for k in graph.get_all_asset_keys())
    checks = sorted(f"{k.asset_key.to_user_string()}:{k.name}" for k in graph.asset_check_keys)
    return "\n".join([*assets, *checks]) + "\n"


def test_asset_and_check_keys_match_the_snapshot(defs: dg.Definitions) -> None:
    """A renamed or removed asset breaks lineage and history: it must be a deliberate change.

    Regenerate with `UPDATE_SNAPSHOTS=1 uv run pytest tests/test_definitions.py`.
    """
    listing = _graph_listing(defs)
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(listing)
    assert listing == SNAPSHOT.read_text()


def test_every_asset_has_owners_kinds_group_and_code_version(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        name = key.to_user_string()
        assert node.owners, name
        assert node.kinds, name
        assert node.group_name == key.path[0], name
        assert node.code_version and len(node.code_version) == 12, name


def test_sla_freshness_policies_come_from_the_spec(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    raw = graph.get(dg.AssetKey(["german_credit", "raw_dataset"]))
    model = graph.get(dg.AssetKey(["german_credit", "trained_model"]))
    assert raw.freshness_policy is not None and model.freshness_policy is not None
    assert raw.freshness_policy.fail_window.to_timedelta().days == 31
    assert model.freshness_policy.fail_window.to_timedelta().days == 90


def test_spec_change_changes_only_the_affected_code_versions(tmp_path: Path) -> None:
    """Editing model params marks the model (and only model-side assets) as changed."""
    import yaml

    def versions(specs: Path) -> dict[str, str]:
        graph = build_definitions(make_settings(tmp_path, specs)).resolve_asset_graph()
        return {k.path[-1]: graph.get(k).code_version for k in graph.get_all_asset_keys()}

    before = versions(copy_german_spec(tmp_path / "a").parent)
    spec = yaml.safe_load((tmp_path / "a" / "german_credit.yaml").read_text())
    spec["model"]["params"]["C"] = 1.0
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "german_credit.yaml").write_text(yaml.safe_dump(spec))
    after = versions(tmp_path / "b")
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"trained_model"}


def test_loading_the_code_location_imports_no_ml_library() -> None:
    """Evidently, MLflow and scikit-learn cost 13, 4 and 6 s to import: not at load time."""
    code = (
        "import sys, json\n"
        "from modelops.definitions import defs\n"
        "d = defs()\n"
        "heavy = [m for m in ('sklearn', 'mlflow', 'evidently', 'pandera', 'matplotlib')"
        " if m in sys.modules]\n"
        "print(json.dumps({'heavy': heavy, 'assets': len(d.resolve_all_asset_keys())}))\n"
    )
    env = {**os.environ, "MODELOPS_PROJECT_DIR": str(PROJECT)}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=PROJECT,
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["heavy"] == []
    assert report["assets"] >= 10


def test_a_misconfigured_environment_stops_the_code_location_load() -> None:
    """What a data scientist sees from `dagster definitions validate` with half the settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODELOPS_", "DAGSTER_HOME"))}
    env.update(
        {
            "MODELOPS_ENV": "gcp",
            "MODELOPS_GCP_PROJECT": "bank-ml",
            "MODELOPS_GCS_BUCKET": "Not_A_Bucket",
        }
    )
    out = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT,
        timeout=120,
    )
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "MODELOPS_GCS_BUCKET: 'Not_A_Bucket' is not a valid GCS bucket name" in text
    assert "MODELOPS_MLFLOW_TRACKING_URI: is required with MODELOPS_ENV=gcp" in text


def test_the_platform_switches_library_telemetry_off() -> None:
    """MLflow and Evidently call home unless told not to; nothing may leave the machine."""
    code = (
        "import os\n"
        "import modelops.definitions\n"
        "from mlflow.telemetry.utils import is_telemetry_disabled\n"
        "print(is_telemetry_disabled(), os.environ['DO_NOT_TRACK'])\n"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK", "CI")
    }
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=PROJECT,
    )
    assert out.stdout.split() == ["True", "1"]
