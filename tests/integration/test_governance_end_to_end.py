"""Governance end to end: the pipeline, the operator CLI, the UI's records and the audit log.

The pipeline runs once for the module (`trained`: version 1 is challenger) and a validator's
approval once on a copy of it (`approved`). Tests that change anything (refused approvals,
reproduction, an edited plan, a tampered log) work on a copy of their own, so no test depends
on another's order. A last scenario trains a model that is unfair by construction and checks
the fairness gate blocks it.
"""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest
import yaml

from modelops.cli import main
from modelops.definitions import build_definitions
from modelops.defs.inventory_asset import INVENTORY_KEY
from modelops.instance import local_instance
from modelops.resources.audit_sqlite import SqliteAuditLog
from modelops.resources.storage import LocalArtifactStore
from modelops.settings import Settings
from support import GERMAN_DATA, PROJECT, copy_german_spec, make_settings
from support.identities import login_env

UC = "german_credit"
VALIDATOR = "val.idator@bank.example"


@dataclass(frozen=True)
class Approved:
    settings: Settings
    exit_code: int
    printed: str
    before: datetime
    """Just before the approval."""


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A platform after `modelops run`: version 1 waits for approval."""
    root = tmp_path_factory.mktemp("governance")
    copy_german_spec(root / "specs")
    settings = make_settings(root, root / "specs")
    assert _cli(settings, "run")[0] == 0
    return settings


@pytest.fixture(scope="module")
def approved(trained: Settings, tmp_path_factory: pytest.TempPathFactory) -> Approved:
    """A copy of `trained` where an independent validator approved version 1."""
    settings = _copy(trained, tmp_path_factory.mktemp("approved"))
    before = datetime.now(UTC)
    code, out = _cli(
        settings, "approve", "-u", UC, "--by", VALIDATOR, "--role", "model_validator",
        "--reason", "Validation report VR-2026-114",
    )  # fmt: skip
    return Approved(settings, code, out, before)


def _copy(settings: Settings, root: Path) -> Settings:
    """The platform home and specs copied under `root`: what a test does there is its own."""
    shutil.copytree(settings.specs_dir, root / "specs")
    shutil.copytree(settings.home_dir, root / "home")
    return make_settings(root, root / "specs")


def _env(settings: Settings) -> dict[str, str]:
    return {
        "MODELOPS_PROJECT_DIR": str(settings.project_dir),
        "MODELOPS_SPECS_DIR": str(settings.specs_dir),
        "MODELOPS_HOME": str(settings.home_dir),
    }


def _cli(settings: Settings, *args: str) -> tuple[int, str]:
    """`modelops ARGS` against `settings`' platform; exit code and what it printed."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**_env(settings), **login_env(settings, args)}.items():
            patch.setenv(name, value)
        patch.delenv("DAGSTER_HOME", raising=False)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    return code, out.getvalue() + err.getvalue()


@pytest.fixture
def own_trained(trained: Settings, tmp_path: Path) -> Settings:
    return _copy(trained, tmp_path)


@pytest.fixture
def own_approved(approved: Approved, tmp_path: Path) -> Settings:
    return _copy(approved.settings, tmp_path)


def test_the_pipeline_leaves_a_high_tier_candidate_waiting_for_approval(trained: Settings) -> None:
    code, out = _cli(trained, "status", "-u", UC)
    assert code == 0
    assert "german_credit (high tier): champion none, challenger v1 awaiting 1 approval" in out
    assert "EU AI Act" in out


def test_refused_approvals_say_why_and_change_nothing(own_trained: Settings) -> None:
    platform = own_trained

    def cli(*args: str) -> tuple[int, str]:
        return _cli(platform, *args)

    code, out = cli(
        "approve", "-u", UC, "--by", "anna.berg@bank.example", "--role", "model_validator",
        "--reason", "mine is good",
    )  # fmt: skip
    assert code == 3 and "separation of duties" in out
    code, out = cli(
        "approve", "-u", UC, "--by", VALIDATOR, "--role", "data_scientist", "--reason", "ok"
    )
    assert code == 3 and "role 'data_scientist' may not approve at the high tier" in out
    code, out = cli("promote", "-u", UC, "--version", "1", "--by", "ops@bank.example",
                    "--reason", "go")  # fmt: skip
    assert code == 3 and "needs 1 approval(s) by model_validator" in out
    log = SqliteAuditLog(path=str(platform.audit_log_path))
    assert log.records(use_case=UC, events=["approval", "promotion"]) == []
    # The refused attempts are on the record: who tried what, and why it was refused.
    refusals = log.records(use_case=UC, events=["refusal"])
    assert [r.details["action"] for r in refusals] == ["approve", "approve", "promote"]
    assert refusals[0].actor == "anna.berg@bank.example"
    assert "separation of duties" in refusals[0].reason


def test_an_independent_approval_promotes_and_every_view_shows_it(approved: Approved) -> None:
    platform, code, out, before = (
        approved.settings,
        approved.exit_code,
        approved.printed,
        approved.before,
    )

    def cli(*args: str) -> tuple[int, str]:
        return _cli(platform, *args)

    assert code == 0, out
    assert "champion v1" in out

    # The model card of version 1 was re-rendered with the approval, in the store and MLflow.
    store = LocalArtifactStore(root=str(platform.data_dir))
    card = store.read_bytes(
        UC, "model_card", store.require_current(UC, "model_card"), "model_card.md"
    ).decode()
    assert "Risk tier: **high**" in card
    assert f"'{VALIDATOR}' (model_validator)" in card and "Release status: champion" in card
    assert "| fairness | yes | pass |" in card
    from mlflow import MlflowClient

    client = MlflowClient(platform.mlflow_tracking_uri, platform.mlflow_tracking_uri)
    version = client.get_model_version(UC, "1")
    assert str(client.get_model_version_by_alias(UC, "champion").version) == "1"
    assert version.tags["modelops.release_status"] == "champion"
    assert "status: champion" in version.description

    # The Dagster UI: the release asset, the card and the inventory got new materializations.
    instance = local_instance(platform.dagster_home)
    release = instance.get_latest_materialization_event(dg.AssetKey([UC, "model_release"]))
    metadata = release.asset_materialization.metadata  # type: ignore[union-attr]
    assert metadata["champion"].value == "1" and metadata["actor"].value == VALIDATOR
    assert release.timestamp >= before.timestamp()
    inventory = instance.get_latest_materialization_event(INVENTORY_KEY)
    table = inventory.asset_materialization.metadata["inventory"].value  # type: ignore[union-attr]
    assert "| german_credit | anna.berg@bank.example | high | in production | v1 |" in table

    code, out = cli("inventory")
    assert code == 0 and "in production" in out

    code, out = cli("status", "-u", UC, "--at", before.isoformat())
    assert "none (before the first promotion)" in out
    code, out = cli("status", "-u", UC, "--at", datetime.now(UTC).isoformat())
    assert out.rstrip().endswith(": v1")


def test_reproducing_the_champion_gives_the_same_metrics(own_approved: Settings) -> None:
    platform = own_approved
    code, out = _cli(platform, "reproduce", "-u", UC)
    assert code == 0, out
    assert "version 1: REPRODUCED within tolerance 1e-06" in out
    assert "auc" in out and "DIFFERS" not in out
    assert re.search(r"\[2/2  \d+:\d\d\] version 1: retraining from the record: done in", out)
    log = SqliteAuditLog(path=str(platform.audit_log_path))
    (record,) = log.records(use_case=UC, events=["reproduction"])
    assert record.details["matches"] is True and record.model_version == "1"


def test_thresholds_changed_after_training_are_refused(own_trained: Settings) -> None:
    """Loosening a trained model's gate plan on disk does not loosen its gates."""
    import json

    platform = own_trained
    plan_file = platform.data_dir / UC / "trained_model" / "1" / "gate_plan.json"
    original = plan_file.read_bytes()
    plan = json.loads(original)
    plan["max_demographic_parity_difference"] = 1.0
    plan_file.write_text(json.dumps(plan))

    defs = build_definitions(platform)
    gates = defs.get_assets_def(dg.AssetKey([UC, "release_gates"]))
    result = dg.materialize(
        [gates],
        resources=defs.resources,
        instance=local_instance(platform.dagster_home),
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.error.to_string()  # type: ignore[union-attr]
    assert "differs from the one recorded at training" in message
    assert original != plan_file.read_bytes()


def test_audit_verify_passes_then_names_the_edited_record(own_approved: Settings) -> None:
    platform = own_approved

    def cli(*args: str) -> tuple[int, str]:
        return _cli(platform, *args)

    code, out = cli("audit", "verify")
    assert code == 0 and "chain intact" in out
    code, out = cli("audit", "show", "-u", UC, "--event", "approval")
    assert VALIDATOR in out

    # An attacker with write access to the file (the append-only triggers dropped) edits the
    # approval's reason.
    connection = sqlite3.connect(platform.audit_log_path)
    connection.execute("DROP TRIGGER IF EXISTS audit_records_no_update")
    seq = connection.execute("SELECT seq FROM audit_records WHERE event = 'approval'").fetchone()[0]
    connection.execute("UPDATE audit_records SET reason = 'rubber stamp' WHERE seq = ?", (seq,))
    connection.commit()
    connection.close()

    code, out = cli("audit", "verify")
    assert code == 1
    assert "TAMPERED" in out and f"record {seq}" in out


# -- a model that is less fair than its tier allows ------------------------------------------


def _unfair_book(path: Path) -> None:
    """German credit with the label rewritten so that a model input (duration) stands in for
    sex/marital status: one group gets long loans that go bad, the others do not."""
    rng = np.random.default_rng(5)
    frame = pl.read_csv(GERMAN_DATA, infer_schema=False)
    women = frame["personal_status_and_sex"] == "female : divorced/separated/married"
    months = np.where(women, rng.integers(36, 61, frame.height), rng.integers(6, 24, frame.height))
    bad = np.where(women, rng.random(frame.height) < 0.7, rng.random(frame.height) < 0.15)
    frame.with_columns(
        pl.Series("duration_in_month", months.astype(str)),
        pl.Series("creditability", np.where(bad, "bad", "good")),
    ).write_csv(path)


def test_a_model_less_fair_than_its_tier_allows_is_blocked(tmp_path: Path) -> None:
    data = tmp_path / "unfair.csv"
    _unfair_book(data)
    spec = yaml.safe_load((PROJECT / "assets" / f"{UC}.yaml").read_text())
    spec["source"]["path"] = str(data)
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / f"{UC}.yaml").write_text(yaml.safe_dump(spec))
    settings = make_settings(tmp_path, specs)
    defs = build_definitions(settings)
    result = defs.resolve_job_def(f"{UC}_pipeline").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )
    assert not result.success

    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    fairness = checks["gate_fairness"]
    assert not fairness.passed
    assert "personal_status_and_sex DPD" in (fairness.description or "")
    details = fairness.metadata["details"].value
    # The per-group figures are on the gate itself.
    assert "female : divorced/separated/married" in details and "Selection rate" in details
    assert fairness.metadata["personal_status_and_sex.demographic_parity_difference"].value > 0.2

    materialized = {
        e.asset_key.path[-1]: e.materialization  # type: ignore[union-attr]
        for e in result.get_asset_materialization_events()
    }
    assert "release_gates" in materialized and "model_release" not in materialized
    # The blocked version still has its model card, saying why it was blocked.
    card = materialized["model_card"].metadata["card"].value
    assert "Release status: blocked by gate(s) " in card and "fairness" in card
    assert "| fairness | yes | **FAIL** |" in card
    # ... and what can be done: retrain, or a recorded exception where the tier allows one.
    assert "## Blocked release gates and exceptions" in card
    blocked = card[card.index("## Blocked release gates") :]
    assert "- fairness: personal_status_and_sex DPD" in blocked
    assert "modelops exception grant -u german_credit --version 1 --gate" in blocked
    tracking = defs.resources["tracking"]
    assert tracking.version_for_alias(UC, "challenger") is None
    assert tracking.version_for_alias(UC, "champion") is None
    log = defs.resources["audit_log"]
    (gates,) = log.records(use_case=UC, events=["gate_result"])
    assert gates.details["passed"] is False
    assert "fairness" in gates.reason
