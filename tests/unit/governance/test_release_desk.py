"""Champion / challenger under the risk policy, against a real MLflow store and audit log.

Each test gets its own registered model (same fitted pipeline, registered again), its own
SQLite audit log and artifact store, and writes what the pipeline would: the training record
(with the model's and the serving bundle's digests), the bundle's files, the gate result.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from modelops.governance.audit_records import AuditEvent
from modelops.governance.release_desk import ReleaseDesk, ReleaseRefused
from modelops.ml.model_integrity import files_digest
from modelops.ml.serving_bundle import FILES, MANIFEST
from modelops.ml.training import fit_model, model_input_frame
from modelops.names import MODEL, SERVING_BUNDLE_PREFIX
from modelops.resources.audit_sqlite import SqliteAuditLog
from modelops.resources.storage import LocalArtifactStore
from modelops.resources.tracking import DIGEST_TAG, DatasetRef, ModelTracking
from modelops.spec import UseCaseSpec
from modelops.spec.risk import RiskQuestionnaire, load_risk_policy

OWNER = "anna.berg@bank.example"
VALIDATOR = "val.idator@bank.example"
_names = itertools.count(1)


@pytest.fixture(scope="module")
def logged(tracking: ModelTracking, german_spec: UseCaseSpec, german_split) -> Any:
    """One real training run; its model is registered again under each test's name."""
    train, _ = german_split
    return tracking.record_training(
        use_case="german_credit",
        registered_name="seed_model",
        model=fit_model(train, german_spec),
        input_example=model_input_frame(train.head(5), german_spec),
        params={"estimator": german_spec.model.estimator},
        metrics={},
        tags={"modelops.use_case": "german_credit"},
        datasets=[(DatasetRef("t", "file:///t", "d", "training"), train.head(10))],
        run_name="seed",
    )


class Bench:
    """A registered model, an audit log and a desk over them, plus the pipeline's records."""

    def __init__(self, spec: UseCaseSpec, tracking: ModelTracking, logged: Any, home: Path) -> None:
        self.name = f"release_{next(_names)}"
        self.spec = spec.model_copy(
            update={"model": spec.model.model_copy(update={"registered_name": self.name})}
        )
        self.tracking = tracking
        self.logged = logged
        self.home = home
        self.log = SqliteAuditLog(path=str(home / "audit.db"))
        self.store = LocalArtifactStore(root=str(home / "data"))
        self.desk = ReleaseDesk(self.spec, load_risk_policy(), tracking, self.log, self.store)

    def train(
        self, *, passed: bool = True, trainer: str = "dagster:run/abc", own_files: bool = False
    ) -> str:
        """Register a version (its files in a folder of its own if `own_files`, so a test can
        change them), store a serving bundle, and record its training and gate result as the
        pipeline does."""
        client = self.tracking._client()
        if not client.search_registered_models(f"name='{self.name}'"):
            client.create_registered_model(self.name)
        source = client.get_model_version_download_uri("seed_model", self.logged.version)
        if own_files:
            folder = self.home / f"model_{next(_names)}"
            shutil.copytree(self.tracking._download(source, str(self.home / "download")), folder)
            source = folder.as_uri()
        version = client.create_model_version(
            self.name,
            source,
            run_id=self.logged.run_id,
            tags={DIGEST_TAG: self.logged.artifact_sha256},
        ).version
        bundle = {name: f"{name} of version {version}".encode() for name in FILES[1:]}
        bundle[MANIFEST] = json.dumps(
            {"files": {n: hashlib.sha256(c).hexdigest() for n, c in bundle.items()}}
        ).encode()
        for name, content in bundle.items():
            self.store.write_bytes(
                self.spec.id, MODEL, str(version), f"{SERVING_BUNDLE_PREFIX}{name}", content
            )
        self.record(
            version,
            "training",
            trainer,
            {
                "owner": OWNER,
                "artifact_sha256": self.logged.artifact_sha256,
                "serving_bundle_sha256": files_digest(bundle),
            },
        )
        results = [
            {"name": "minimum_performance", "passed": True, "blocking": False},
            {"name": "fairness", "passed": passed, "blocking": not passed},
        ]
        self.record(version, "gate_result", trainer, {"passed": passed, "results": results})
        return str(version)

    def record(self, version: str, event: str, actor: str, details: dict[str, Any]) -> None:
        self.log.append(
            AuditEvent(
                event=event,
                actor=actor,
                use_case=self.spec.id,
                reason=event,
                model_version=str(version),
                data_versions={"training_set": "abc"},
                code_version="c1",
                details=details,
            )
        )

    def registry_champion(self) -> str | None:
        return self.tracking.version_for_alias(self.name, "champion")


@pytest.fixture
def bench(german_spec, tracking, logged, tmp_path) -> Bench:
    return Bench(german_spec, tracking, logged, tmp_path)


def test_german_credit_is_high_tier_and_says_why(bench: Bench) -> None:
    assert bench.desk.tier == "high"
    assert any("EU AI Act" in line for line in bench.desk.assessment.rationale)
    assert bench.desk.tier_policy.approval.required


def test_high_tier_candidate_waits_as_challenger_until_an_independent_validator_approves(
    bench: Bench,
) -> None:
    v1 = bench.train()
    status = bench.desk.release_candidate(v1, "dagster:run/abc")
    assert status.challenger == v1 and status.champion is None
    assert status.awaiting_approval and status.approvals_needed == 1
    assert bench.registry_champion() is None

    with pytest.raises(ReleaseRefused, match="approval"):
        bench.desk.promote(v1, "ops@bank.example", "go live")

    status = bench.desk.approve(v1, VALIDATOR, "model_validator", "VR-1 reviewed")
    assert status.champion == v1 and bench.registry_champion() == v1
    assert bench.tracking.version_for_alias(bench.name, "challenger") is None
    (promotion,) = bench.log.records(use_case=bench.spec.id, events=["promotion"])
    assert promotion.actor == VALIDATOR
    assert promotion.details["approvals"][0]["role"] == "model_validator"


@pytest.mark.parametrize(
    ("approver", "role", "refusal"),
    [
        (OWNER, "model_validator", "separation of duties"),
        ("Anna.Berg@bank.example", "model_validator", "separation of duties"),
        ("dev@bank.example", "model_validator", "separation of duties"),  # trained it
        (VALIDATOR, "data_scientist", "role 'data_scientist' may not approve"),
        ("validator", "model_validator", "named by email"),
    ],
)
def test_each_refused_approval_leaves_no_champion(
    bench: Bench, approver: str, role: str, refusal: str
) -> None:
    v1 = bench.train(trainer="dev@bank.example")
    bench.desk.release_candidate(v1, "dev@bank.example")
    with pytest.raises(ReleaseRefused, match=refusal):
        bench.desk.approve(v1, approver, role, "looks fine")
    assert bench.desk.champion() is None and bench.registry_champion() is None
    assert bench.log.records(use_case=bench.spec.id, events=["approval"]) == []


def test_a_version_that_failed_a_gate_cannot_be_challenger_approved_or_promoted(
    bench: Bench,
) -> None:
    blocked = bench.train(passed=False)
    with pytest.raises(ReleaseRefused, match="failed gate"):
        bench.desk.release_candidate(blocked, "dagster:run/abc")
    with pytest.raises(ReleaseRefused, match="has not passed its release gates"):
        bench.desk.approve(blocked, VALIDATOR, "model_validator", "override")
    with pytest.raises(ReleaseRefused, match="failed the release gate"):
        bench.desk.promote(blocked, "ops@bank.example", "override")
    assert bench.tracking.version_for_alias(bench.name, "challenger") is None
    assert bench.registry_champion() is None


def test_a_rejection_is_recorded_and_final(bench: Bench) -> None:
    v1 = bench.train()
    bench.desk.release_candidate(v1, "dagster:run/abc")
    status = bench.desk.reject(v1, VALIDATOR, "model_validator", "proxy discrimination suspected")
    assert status.challenger is None
    with pytest.raises(ReleaseRefused, match="was rejected"):
        bench.desk.approve(v1, "second@bank.example", "model_validator", "disagree")
    (rejection,) = bench.log.records(use_case=bench.spec.id, events=["rejection"])
    assert rejection.reason == "proxy discrimination suspected"
    assert rejection.details["role"] == "model_validator"


def test_a_second_approval_by_the_same_person_is_refused(bench: Bench) -> None:
    v1 = bench.train()
    bench.desk.release_candidate(v1, "dagster:run/abc")
    bench.desk.approve(v1, VALIDATOR, "model_validator", "ok", promote=False)
    with pytest.raises(ReleaseRefused, match="already approved"):
        bench.desk.approve(v1, VALIDATOR, "model_validator", "ok again")
    # Approved but not promoted yet: an explicit promotion is now allowed.
    assert bench.desk.promote(v1, "ops@bank.example", "release window").champion == v1


def test_low_tier_promotes_automatically_after_the_gates(bench: Bench) -> None:
    low = RiskQuestionnaire(
        business_impact="low",
        decision_role="advisory",
        natural_persons=False,
        use_category="internal_operations",
    )
    spec = bench.spec.model_copy(
        update={
            "risk": low,
            "data_schema": bench.spec.data_schema.model_copy(
                update={
                    "columns": [
                        c.model_copy(update={"protected": False})
                        for c in bench.spec.data_schema.columns
                    ]
                }
            ),
        }
    )
    desk = ReleaseDesk(spec, load_risk_policy(), bench.tracking, bench.log)
    assert desk.tier == "low"
    v1 = bench.train()
    assert desk.release_candidate(v1, "dagster:run/abc").champion == v1
    assert bench.registry_champion() == v1


def test_champion_history_answers_which_version_was_champion_at_any_time(
    bench: Bench,
) -> None:
    before = datetime.now(UTC)
    versions = []
    moments = []
    for _ in range(3):
        version = bench.train()
        bench.desk.release_candidate(version, "dagster:run/abc")
        bench.desk.approve(version, VALIDATOR, "model_validator", f"release {version}")
        versions.append(version)
        moments.append(datetime.now(UTC))
    v1, v2, v3 = versions
    assert bench.desk.champion_at(before - timedelta(seconds=1)) is None
    assert [bench.desk.champion_at(m) for m in moments] == [v1, v2, v3]

    status = bench.desk.rollback("ops@bank.example", "v3 misbehaves in production")
    assert status.champion == v2 and bench.registry_champion() == v2
    after_rollback = datetime.now(UTC)
    status = bench.desk.rollback("ops@bank.example", "v2 too")
    assert status.champion == v1 and bench.registry_champion() == v1
    with pytest.raises(ReleaseRefused, match="no previous champion"):
        bench.desk.rollback("ops@bank.example", "again")

    # History is answered from the log, so earlier moments keep their answers.
    assert [bench.desk.champion_at(m) for m in moments] == [v1, v2, v3]
    assert bench.desk.champion_at(after_rollback) == v2
    assert bench.desk.champion_at(datetime.now(UTC)) == v1
    events = [c.event for c in bench.desk.champion_history()]
    assert events == ["promotion", "promotion", "promotion", "rollback", "rollback"]
    assert bench.log.verify().ok


def test_a_tampered_artifact_digest_blocks_promotion(bench: Bench) -> None:
    v1 = bench.train()
    bench.desk.release_candidate(v1, "dagster:run/abc")
    bench.tracking.set_version_tag(bench.name, v1, DIGEST_TAG, "0" * 64)
    with pytest.raises(ReleaseRefused, match=r"digest tag .* the registry was edited"):
        bench.desk.approve(v1, VALIDATOR, "model_validator", "ok")
    assert bench.registry_champion() is None
    assert bench.log.records(use_case=bench.spec.id, events=["approval"]) == []


def test_a_changed_model_file_blocks_every_release_action(bench: Bench) -> None:
    v1, v2 = bench.train(), bench.train(own_files=True)
    bench.desk.release_candidate(v1, "dagster:run/abc")
    bench.desk.approve(v1, VALIDATOR, "model_validator", "v1 ok")
    bench.desk.release_candidate(v2, "dagster:run/abc")
    bench.desk.approve(v2, VALIDATOR, "model_validator", "v2 ok")
    assert bench.registry_champion() == v2
    source = bench.tracking._client().get_model_version(bench.name, v2).source
    with Path(source.removeprefix("file://"), "model.skops").open("ab") as model:
        model.write(b"appended")
    changed = (
        f"german_credit version {v2} cannot be released: its registered model files "
        r"\(sha256 \w{12}\) differ from the digest recorded at training \(\w{12}\): a file "
        "of the model was changed after training; restore the artifacts from a backup or "
        "retrain"
    )
    bench.desk.rollback("ops@bank.example", "v2 misbehaves")  # v1 is intact
    with pytest.raises(ReleaseRefused, match=changed):
        bench.desk.promote(v2, "ops@bank.example", "back to v2")
    with pytest.raises(ReleaseRefused, match=changed):
        bench.desk.release_candidate(v2, "dagster:run/abc")
    assert bench.registry_champion() == v1 == bench.desk.champion()


def test_a_changed_serving_bundle_file_blocks_approval_and_is_named(bench: Bench) -> None:
    v1 = bench.train()
    bench.desk.release_candidate(v1, "dagster:run/abc")
    stored = bench.home / "data" / bench.spec.id / MODEL / v1
    with (stored / "serving_bundle.outliers.npz").open("ab") as bundle_file:
        bundle_file.write(b"appended")
    with pytest.raises(
        ReleaseRefused,
        match=f"version {v1} cannot be released: serving bundle file\\(s\\) "
        r"serving_bundle.outliers.npz changed after training",
    ):
        bench.desk.approve(v1, VALIDATOR, "model_validator", "ok")
    (stored / "serving_bundle.outliers.npz").unlink()
    with pytest.raises(ReleaseRefused, match=r"outliers\.npz missing from the artifact store"):
        bench.desk.approve(v1, VALIDATOR, "model_validator", "ok")
    assert bench.registry_champion() is None
    assert bench.log.records(use_case=bench.spec.id, events=["approval", "promotion"]) == []


def test_an_alias_moved_outside_the_platform_is_reported(bench: Bench) -> None:
    v1 = bench.train()
    v2 = bench.train()
    bench.desk.release_candidate(v1, "dagster:run/abc")
    bench.desk.approve(v1, VALIDATOR, "model_validator", "ok")
    bench.tracking.set_alias(bench.name, "champion", v2)  # someone used the MLflow UI
    status = bench.desk.status()
    assert status.champion == v1
    assert any("moved outside the platform" in note for note in status.notes)
    # Production keeps scoring with the champion the log records.
    from modelops.governance.champion import serving_champion

    assert serving_champion(bench.log, bench.spec) == v1


def test_concurrent_promotions_are_serialised(bench: Bench) -> None:
    versions = [bench.train() for _ in range(4)]
    for version in versions:
        bench.desk.approve(version, VALIDATOR, "model_validator", "ok", promote=False)
    errors: list[BaseException] = []

    def promote(version: str) -> None:
        try:
            ReleaseDesk(bench.spec, load_risk_policy(), bench.tracking, bench.log).promote(
                version, "ops@bank.example", "parallel"
            )
        except BaseException as exc:  # collected and checked below
            errors.append(exc)

    threads = [threading.Thread(target=promote, args=(v,)) for v in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    promotions = bench.log.records(use_case=bench.spec.id, events=["promotion"])
    # Each promotion saw the one before it: the chain of 'previous' is unbroken.
    previous = [p.details["previous"] for p in promotions]
    assert previous == [None, *[p.model_version for p in promotions[:-1]]]
    assert bench.registry_champion() == promotions[-1].model_version == bench.desk.champion()
    assert bench.log.verify().ok


def test_rollback_never_restores_a_rejected_version(bench: Bench) -> None:
    v1, v2 = bench.train(), bench.train()
    for version in (v1, v2):
        bench.desk.release_candidate(version, "dagster:run/abc")
        bench.desk.approve(version, VALIDATOR, "model_validator", f"release {version}")
    # v1 served before; a later review finds it must never serve again.
    bench.desk.reject(v1, VALIDATOR, "model_validator", "data leakage found in review")
    with pytest.raises(ReleaseRefused, match="was rejected"):
        bench.desk.rollback("ops@bank.example", "v2 misbehaves")
    assert bench.desk.champion() == v2 == bench.registry_champion()


def test_who_may_reject(bench: Bench) -> None:
    v1 = bench.train(trainer="dev@bank.example")
    bench.desk.release_candidate(v1, "dev@bank.example")
    with pytest.raises(ReleaseRefused, match="role 'intern' may not reject"):
        bench.desk.reject(v1, "someone@bank.example", "intern", "no")
    with pytest.raises(ReleaseRefused, match="named by email"):
        bench.desk.reject(v1, "someone", "model_validator", "no")
    # The developer may withdraw their own candidate, whatever their role.
    status = bench.desk.reject(v1, "dev@bank.example", "data_scientist", "withdrawn: bug found")
    assert status.challenger is None
