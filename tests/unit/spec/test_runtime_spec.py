"""`model.runtime`: where a model trains, and which scripts a spec may name."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelops.spec import SpecError, load_spec
from modelops.spec.allowances import Allowances
from support import write_spec

PROJECT = Path(__file__).resolve().parents[3]


def _load(tmp_path: Path, spec: dict, runtime: dict, project: Path = PROJECT):
    spec["model"] = {"runtime": runtime}
    return load_spec(write_spec(tmp_path, spec), Allowances(project_dir=project))


def test_the_bundled_r_and_environment_examples_load(tmp_path, german_spec_dict) -> None:
    r = _load(
        tmp_path, german_spec_dict, {"kind": "r", "script": "model_code/german_credit_glm/model.R"}
    )
    assert r.model.runtime.outside and r.model.runtime.language == "R"
    env = _load(
        tmp_path,
        german_spec_dict,
        {
            "kind": "python-env",
            "script": "model_code/german_credit_sklearn/model.py",
            "environment": "model_code/german_credit_sklearn",
        },
    )
    assert env.model.runtime.language == "Python"


@pytest.mark.parametrize(
    ("runtime", "field", "reason"),
    [
        ({"kind": "r"}, "model.runtime.script", "needs the script it runs"),
        ({"kind": "r", "script": "/etc/profile.R"}, "model.runtime.script", "relative path"),
        ({"kind": "r", "script": "model_code/../x.R"}, "model.runtime.script", "without '..'"),
        ({"kind": "r", "script": "data/model.R"}, "model.runtime.script", "not inside model_code/"),
        (
            {"kind": "r", "script": "model_code/german_credit_glm/model.py"},
            "model.runtime.script",
            "ends in '.R'",
        ),
        (
            {"kind": "r", "script": "model_code/nowhere/model.R"},
            "model.runtime.script",
            "does not exist",
        ),
        (
            {"kind": "python-env", "script": "model_code/german_credit_sklearn/model.py"},
            "model.runtime.environment",
            "pyproject.toml and uv.lock",
        ),
        (
            {
                "kind": "python-env",
                "script": "model_code/german_credit_sklearn/model.py",
                "environment": "model_code/german_credit_glm",
            },
            "model.runtime.environment",
            "has no pyproject.toml",
        ),
        (
            {"kind": "python", "script": "model_code/german_credit_glm/model.R"},
            "model.runtime.script",
            "in-process",
        ),
        ({"kind": "julia"}, "model.runtime.kind", "python"),
    ],
)
def test_a_runtime_that_cannot_run_is_refused_naming_file_and_field(
    tmp_path, german_spec_dict, runtime, field, reason
) -> None:
    with pytest.raises(SpecError) as refused:
        _load(tmp_path, german_spec_dict, runtime)
    assert refused.value.path.name == "german_credit.yaml"
    assert any(f == field and reason in r for f, r in refused.value.problems), (
        refused.value.problems
    )


def test_a_symbolic_link_out_of_model_code_is_refused(tmp_path, german_spec_dict) -> None:
    project = tmp_path / "project"
    (project / "model_code" / "m").mkdir(parents=True)
    outside = tmp_path / "evil.R"
    outside.write_text("system('id')\n")
    (project / "model_code" / "m" / "model.R").symlink_to(outside)
    with pytest.raises(SpecError) as refused:
        _load(
            tmp_path / "specs",
            german_spec_dict,
            {"kind": "r", "script": "model_code/m/model.R"},
            project,
        )
    assert any("resolves outside model_code/" in r for _, r in refused.value.problems)
