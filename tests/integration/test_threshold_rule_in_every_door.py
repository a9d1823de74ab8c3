"""A threshold declared by a rule is resolved once, on the holdout at training, recorded with
the version, and is the threshold every door decides at."""

from __future__ import annotations

from datetime import UTC, datetime

import yaml

from modelops.governance.champion import load_serving_bundle
from modelops.governance.model_record import read_model_record
from modelops.ml.scoring.applications import ApplicationScorer
from modelops.names import HOLDOUT
from modelops.operator import Platform
from support import GERMAN_SPEC, make_settings, write_spec
from support.platform_cli import cli

UC = "german_credit"


def test_an_approval_rate_rule_sets_the_threshold_every_door_uses(tmp_path) -> None:
    spec = yaml.safe_load(GERMAN_SPEC.read_text())
    spec["evaluation"].pop("operating_threshold")
    spec["evaluation"]["threshold_rule"] = {"approval_rate": 0.7}
    write_spec(tmp_path / "specs", spec)
    settings = make_settings(tmp_path, tmp_path / "specs")
    trained = cli(settings, "run", "-u", UC)
    assert trained.code == 0, trained.printed

    platform = Platform(settings)
    store, audit_log = platform.resources.store, platform.resources.audit_log
    loaded = platform.spec(UC)
    record = read_model_record(store, UC, "1")
    assert record.threshold is not None and record.threshold.rule == "approval_rate 0.7"
    assert abs(record.threshold.approval_rate - 0.7) < 0.01
    assert "approval_rate 0.7" in record.threshold_summary(loaded)

    bundle = load_serving_bundle(store, audit_log, loaded, "1")
    assert bundle.manifest.operating_threshold == record.threshold.threshold
    scorer = ApplicationScorer(bundle, loaded)
    assert scorer.threshold == record.threshold.threshold != 0.5
    holdout = store.read_table(UC, HOLDOUT, record.holdout_set_version)
    answers = scorer.score_table(holdout, scored_at=datetime.now(UTC))
    accepted = (answers["decision"] == "accept").mean()
    assert abs(accepted - record.threshold.approval_rate) < 1e-9
