"""A spec cannot run code or read files outside the platform's roots (issue 10, items 1 and 6).

The probe's spec (`model.estimator: subprocess.Popen`, `params: {args: [touch, pwned]}`) is
refused by `modelops validate` and `modelops run` and runs nothing; a name outside the
estimator policy is never imported, at load or at training; source and monthly paths outside
the declared roots (absolute, `..`, /proc, a symlink) are refused at load and again when the
file source reads; an expression that would read a file is refused before polars plans it,
and no file's content reaches a message.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from modelops.cli import main
from modelops.ml.training import EstimatorError, resolve_estimator
from modelops.resources.environment import resources_for
from modelops.spec import EstimatorSpec, Source, SpecError, load_spec
from modelops.spec.source_roots import SourcePathError
from support import PROJECT, make_settings, write_spec

SECRET = "s3cr3t-marker-7f1d"
"""Written into files a spec must not read: it must never show in a message."""


@pytest.fixture
def cli_env(tmp_path, monkeypatch) -> Path:
    """`modelops` run from an empty working folder on a platform home of its own; returns
    the specs folder."""
    specs = tmp_path / "specs"
    specs.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("MODELOPS_PROJECT_DIR", str(PROJECT))
    monkeypatch.setenv("MODELOPS_SPECS_DIR", str(specs))
    monkeypatch.setenv("MODELOPS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MODELOPS_SOURCE_ROOTS", str(tmp_path))
    return specs


@pytest.mark.parametrize("section", ["model", "baseline"])
def test_the_probes_popen_spec_is_refused_by_validate_and_run_and_runs_nothing(
    cli_env, german_spec_dict, capsys, section
) -> None:
    popen = {"estimator": "subprocess.Popen", "params": {"args": ["touch", "pwned"]}}
    if section == "model":
        german_spec_dict["model"] = popen
    else:
        german_spec_dict["evaluation"]["baseline"] = popen
    path = write_spec(cli_env, german_spec_dict)
    field = "model.estimator" if section == "model" else "evaluation.baseline.estimator"

    for command in ("validate", "run"):
        assert main([command]) == 2
        err = capsys.readouterr().err
        assert str(path) in err
        assert f"{field}: 'subprocess.Popen' is not an allowed estimator" in err
        assert "Traceback" not in err
    assert not (Path.cwd() / "pwned").exists()


@pytest.fixture
def trap_module(tmp_path, monkeypatch) -> Path:
    """An importable module that leaves a file behind when it is imported; returns that
    file."""
    marker = tmp_path / "imported"
    (tmp_path / "trap_estimators.py").write_text(
        f"open({str(marker)!r}, 'w').close()\n"
        "class TrapClassifier:\n"
        "    _estimator_type = 'classifier'\n"
        "    def predict_proba(self, x): ...\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "trap_estimators", raising=False)
    return marker


def test_a_name_outside_the_policy_is_never_imported(
    tmp_path, trap_module, german_spec_dict
) -> None:
    german_spec_dict["model"] = {"estimator": "trap_estimators.TrapClassifier"}
    with pytest.raises(SpecError, match="is not an allowed estimator"):
        load_spec(write_spec(tmp_path / "specs", german_spec_dict))
    # A spec object that bypassed the loader is checked again before anything is imported.
    bypassed = EstimatorSpec.model_construct(estimator="trap_estimators.TrapClassifier")
    with pytest.raises(EstimatorError, match="is not an allowed estimator"):
        resolve_estimator(bypassed)
    assert "trap_estimators" not in sys.modules
    assert not trap_module.exists()


@pytest.fixture
def outside(tmp_path) -> Path:
    """A folder outside the platform's roots, holding a file with a secret in it."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secrets.csv").write_text(f"a,b\n{SECRET},1\n")
    return folder


def _roots_platform(tmp_path: Path):
    """Settings whose extra source root is `tmp_path/roots` (the folder `outside` is not
    under it)."""
    (tmp_path / "roots").mkdir(exist_ok=True)
    (tmp_path / "specs").mkdir(exist_ok=True)
    return make_settings(tmp_path / "roots", tmp_path / "specs")


def _set(spec: dict, field: str, value: str) -> None:
    section, key = {
        "source.path": ("source", "path"),
        "monitoring.batches.path": ("batches", "path"),
        "monitoring.labels.path": ("labels", "path"),
    }[field]
    target = spec["source"] if section == "source" else spec["monitoring"][section]
    target[key] = value


@pytest.mark.parametrize(
    ("field", "path"),
    [
        ("source.path", "{outside}/secrets.csv"),
        ("source.path", "../../../../../../../../etc/passwd"),
        ("source.path", "data/../../../../../../../../etc/passwd"),
        ("source.path", "/proc/self/environ"),
        ("source.path", "{roots}/link.csv"),
        ("monitoring.batches.path", "{outside}/{{month}}.csv"),
        ("monitoring.batches.path", "data/../../../../../../../etc/{{month}}"),
        ("monitoring.labels.path", "{roots}/{{month}}/../../outside/secrets.csv"),
    ],
)
def test_a_path_outside_the_roots_is_refused_when_the_spec_loads(
    tmp_path, outside, german_spec_dict, field, path
) -> None:
    settings = _roots_platform(tmp_path)
    roots = tmp_path / "roots"
    (roots / "link.csv").unlink(missing_ok=True)
    (roots / "link.csv").symlink_to(outside / "secrets.csv")  # inside a root, pointing out
    _set(german_spec_dict, field, path.format(outside=outside, roots=roots))
    spec_file = write_spec(settings.specs_dir, german_spec_dict)

    with pytest.raises(SpecError) as refused:
        load_spec(spec_file, settings.spec_allowances)

    assert [f for f, _ in refused.value.problems] == [field]
    assert "is outside the folders sources are read from" in str(refused.value)
    assert str(spec_file) in str(refused.value)
    assert SECRET not in str(refused.value)


def test_a_folder_the_settings_declare_is_a_root(tmp_path, outside, german_spec_dict) -> None:
    german_spec_dict["source"]["path"] = str(outside / "secrets.csv")
    spec_file = write_spec(tmp_path / "specs", german_spec_dict)
    with pytest.raises(SpecError, match="outside the folders"):
        load_spec(spec_file, _roots_platform(tmp_path).spec_allowances)

    declared = make_settings(outside, spec_file.parent)  # MODELOPS_SOURCE_ROOTS=outside
    assert load_spec(spec_file, declared.spec_allowances).source.path.endswith("secrets.csv")


@pytest.mark.parametrize("path", ["{outside}/secrets.csv", "/proc/self/environ", "../x.csv"])
def test_the_file_source_refuses_a_path_outside_the_roots_when_it_reads(
    tmp_path, outside, path
) -> None:
    # A Source built without the loader (as a monthly file's is) carries no check of its own.
    source = Source(path=path.format(outside=outside))
    reader = resources_for(_roots_platform(tmp_path)).source
    with pytest.raises(SourcePathError, match="outside the folders") as refused:
        reader.read_bytes(source)
    assert SECRET not in str(refused.value)


@pytest.mark.parametrize(
    "expression",
    [
        "read_csv('{file}')",
        "(SELECT * FROM read_csv('{file}'))",
        "(SELECT a FROM read_parquet('{file}'))",
        "(select max(a) from read_json('{file}'))",
        "read_ndjson('{file}')",
        "scan_csv('{file}')",
        "credit_amount + (SELECT COUNT(*) FROM read_csv('{file}'))",
        "credit_amount IN (SELECT a FROM read_csv('{file}'))",
        "(SELECT a FROM '{file}')",
    ],
)
def test_an_expression_that_reads_a_file_is_refused_at_load_and_shows_nothing_of_it(
    tmp_path, outside, german_spec_dict, expression
) -> None:
    german_spec_dict["features"]["engineered"][0]["expression"] = expression.format(
        file=outside / "secrets.csv"
    )
    with pytest.raises(SpecError) as refused:
        load_spec(write_spec(tmp_path / "specs", german_spec_dict))
    assert [f for f, _ in refused.value.problems] == ["features.engineered[0].expression"]
    assert SECRET not in str(refused.value)
