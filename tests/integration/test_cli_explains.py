"""The CLI explains itself (issue 14, item 6), and the registry summarises a version (item 3),
on the real platform: `modelops status` names the versions the release gates blocked, with
the gate and by how much; `modelops quarantine` prints the rows the data contract rejected
with their reasons; the registered version's description is a summary linking the full card.

One platform is trained and approved for the module (tests/support/monthly_platform.py) and
its first month scored; a test that changes the spec works on a copy.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from modelops.resources.tracking import DESCRIPTION_LIMIT, EXPERIMENT_KIND_TAG, TRAINING_KIND
from modelops.settings import Settings
from support.monthly_platform import INVALID, MONTH, UC, score_month, trained_platform
from support.platform_cli import cli, copy_platform

TOO_MANY_DECIMALS = re.compile(r"\d\.\d{5,}")


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = trained_platform(tmp_path_factory.mktemp("explains"))
    assert score_month(settings).success
    return settings


def test_quarantine_prints_a_months_rejected_rows_with_their_reasons(platform: Settings):
    shown = cli(platform, "quarantine", "-u", UC, "--month", MONTH)

    assert shown.code == 0, shown.printed
    assert f"{UC}, production month {MONTH}: {INVALID} row(s) quarantined" in shown.out
    assert "duration_months: 'NaN' is not a valid int" in shown.out  # column and value
    rows = [line for line in shown.out.splitlines() if line.strip().startswith("row ")]
    assert len(rows) == INVALID
    assert not TOO_MANY_DECIMALS.search(shown.out)

    limited = cli(platform, "quarantine", "-u", UC, "--month", MONTH, "--limit", "1")
    assert limited.code == 0
    assert "1 more (--limit N shows more)" in limited.out


def test_quarantine_of_the_training_data_and_of_a_month_never_run(platform: Settings):
    training = cli(platform, "quarantine", "-u", UC)
    assert training.code == 0, training.printed
    assert f"{UC}, the training data:" in training.out

    missing = cli(platform, "quarantine", "-u", UC, "--month", "2031-12")
    assert missing.code == 3
    assert "nothing stored" in missing.err and "2031-12" in missing.err
    unknown = cli(platform, "quarantine", "-u", "no_such_use_case")
    assert unknown.code == 3 and "refused" in unknown.err


def test_the_registry_shows_runs_and_a_summary_linking_the_card(platform: Settings):
    from mlflow import MlflowClient

    client = MlflowClient(platform.mlflow_tracking_uri, registry_uri=platform.mlflow_tracking_uri)
    experiment = client.get_experiment_by_name(f"modelops/{UC}")
    assert experiment.tags[EXPERIMENT_KIND_TAG] == TRAINING_KIND

    version = client.get_model_version(UC, "1")
    description = version.description
    assert len(description) < DESCRIPTION_LIMIT // 5  # a summary, not the card cut short
    auc = re.search(r"holdout AUC (0\.\d{3}) \[(0\.\d{3}), (0\.\d{3})\]", description)
    assert auc is not None, description
    low, point, high = float(auc[2]), float(auc[1]), float(auc[3])
    assert low <= point <= high
    assert "release gates passed" in description and "status: champion" in description
    assert "risk tier high" in description
    card = (
        f"/#/experiments/{experiment.experiment_id}/runs/{version.run_id}"
        "/artifactPath/model_card/model_card.html"
    )
    assert card in description
    assert "model_card/model_card.html" in {
        a.path for a in client.list_artifacts(version.run_id, "model_card")
    }


def test_status_names_the_blocked_versions_their_gates_and_by_how_much(
    platform: Settings, tmp_path: Path
):
    strict = copy_platform(platform, tmp_path)
    spec_file = strict.specs_dir / f"{UC}.yaml"
    spec = yaml.safe_load(spec_file.read_text())
    spec["evaluation"]["min_auc"] = 0.99
    spec_file.write_text(yaml.safe_dump(spec))

    for _ in range(2):
        cli(strict, "run", "-u", UC, env={"MODELOPS_ACTOR": "trainer@bank.example"})
    status = cli(strict, "status", "-u", UC)

    assert status.code == 0, status.printed
    newest = re.search(r"v(\d+) is BLOCKED by the release gate\(s\):", status.out)
    assert newest is not None, status.out
    assert "minimum_performance:" in status.out
    assert re.search(r"auc below 0\.99 by 0\.\d{3}", status.out), status.out
    earlier = re.search(
        r"v(\d+) was blocked by the release gate\(s\): minimum_performance "
        r"\(auc below 0\.99 by 0\.\d{3}",
        status.out,
    )
    assert earlier is not None, status.out
    assert int(earlier[1]) < int(newest[1])


def test_backfill_scores_the_months_with_progress_and_skips_months_without_a_file(
    platform: Settings, tmp_path: Path
):
    copied = copy_platform(platform, tmp_path)

    shown = cli(copied, "backfill", "-u", UC, "--from", MONTH, "--to", "2025-02", "--labels")

    assert shown.code == 0, shown.printed
    lines = shown.out.splitlines()
    assert re.match(r"\[0/2  \d+:\d\d\] no batch file for 2025-02: skipped", lines[0]), lines
    assert re.match(rf"\[1/2  \d+:\d\d\] {MONTH}: scoring \.\.\.", lines[1]), lines
    assert re.search(rf"{MONTH}: scoring: done in \d+\.\d s", shown.out)
    assert re.search(r"\[2/2  \d+:\d\d\] monitoring history: done in", shown.out)
    assert f"{UC}: 1 of 2 month(s) scored" in shown.out and "1 without a file" in shown.out
    stored = cli(copied, "quarantine", "-u", UC, "--month", MONTH)
    assert f"{INVALID} row(s) quarantined" in stored.out


def test_backfill_names_a_failing_month_and_refuses_bad_ranges(platform: Settings, tmp_path: Path):
    copied = copy_platform(platform, tmp_path)
    batch = Path(
        yaml.safe_load((copied.specs_dir / f"{UC}.yaml").read_text())["monitoring"]["batches"][
            "path"
        ].format(month="2025-03")
    )
    batch.write_text("application_id,unexpected\nA1,1\n")
    try:
        failed = cli(copied, "backfill", "-u", UC, "--from", "2025-03")
    finally:
        batch.unlink()
    assert failed.code == 1, failed.printed
    assert "FAILED 2025-03 (run " in failed.out
    assert "2025-03: scoring: done in" in failed.out  # the step ran; its run failed

    for args, reason in (
        (("--from", "2025-3"), "months are written YYYY-MM"),
        (("--from", "2025-03", "--to", "2025-01"), "is before --from"),
        (("--from", "2019-01"), "monitoring.start_month"),
    ):
        refused = cli(copied, "backfill", "-u", UC, *args)
        assert refused.code == 3 and reason in refused.err, refused.printed
