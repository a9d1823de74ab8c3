"""Source roots: a path is readable only if it resolves (symlinks and `..` followed) inside
a declared folder, or on GCP inside a declared bucket."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelops.spec.source_roots import SourcePathError, SourceRoots


@pytest.fixture
def roots(tmp_path) -> SourceRoots:
    (tmp_path / "project" / "data").mkdir(parents=True)
    (tmp_path / "landing").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.csv").write_text("a\n1\n")
    (tmp_path / "project" / "data" / "out.csv").symlink_to(tmp_path / "elsewhere" / "x.csv")
    (tmp_path / "project" / "data" / "in.csv").write_text("a\n1\n")
    return SourceRoots.of(tmp_path / "project", ("data", str(tmp_path / "landing")))


@pytest.mark.parametrize(
    "path", ["data/in.csv", "data/new/later.csv", "data/../data/in.csv", "{tmp}/landing/m.csv"]
)
def test_a_path_inside_a_root_is_allowed(roots, tmp_path, path) -> None:
    path = path.format(tmp=tmp_path)
    assert roots.refusal(path) is None
    assert roots.checked(path).is_relative_to(tmp_path)


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/etc/passwd", "'/etc/passwd' is outside"),
        ("data/../../elsewhere/x.csv", "(it resolves to {tmp}/elsewhere/x.csv)"),
        ("data/out.csv", "(it resolves to {tmp}/elsewhere/x.csv)"),
        ("/proc/self/environ", "'/proc/self/environ' (it resolves to /proc/"),
        ("{tmp}/landing-other/x.csv", "is outside"),
        ("data/in.csv\0.txt", "contains a NUL character"),
        ("gs://bucket/x.csv", "is a GCS object"),
    ],
)
def test_a_path_outside_the_roots_is_refused_saying_where_it_leads(
    roots, tmp_path, path, shown
) -> None:
    path = path.format(tmp=tmp_path)
    refusal = roots.refusal(path)
    assert refusal is not None and shown.format(tmp=tmp_path) in refusal
    with pytest.raises(SourcePathError):
        roots.checked(path)


def test_the_refusal_names_the_roots_and_the_setting_that_extends_them(roots, tmp_path) -> None:
    refusal = roots.refusal("/etc/passwd") or ""
    assert str(tmp_path / "project" / "data") in refusal
    assert "MODELOPS_SOURCE_ROOTS" in refusal


def test_a_monthly_template_is_shown_as_written(roots) -> None:
    refusal = roots.refusal("/etc/2000-01.csv", written="/etc/{month}.csv") or ""
    assert refusal.startswith("'/etc/{month}.csv'")


def test_buckets_are_roots_on_gcp_and_dotdot_cannot_leave_them() -> None:
    remote = SourceRoots.of(Path("/p"), ("gs://bank-data/models",), remote=True)
    assert remote.refusal("gs://bank-data/models/uc/x.parquet") is None
    assert remote.refusal("landing/x.parquet") is None  # the environment's own bucket
    assert "outside the buckets" in (remote.refusal("gs://bank-data/hr/x.parquet") or "")
    assert "outside the buckets" in (remote.refusal("gs://bank-data/models-x/a") or "")
    assert "'..' segment" in (remote.refusal("gs://bank-data/models/../hr/x") or "")


def test_absence_names_a_missing_local_file_only(roots, tmp_path) -> None:
    assert roots.absence("data/in.csv") is None
    assert "does not exist" in (roots.absence("data/nope.csv") or "")
    assert "is not a file" in (roots.absence("data") or "")
    assert SourceRoots.of(tmp_path, (), remote=True).absence("nope.csv") is None
