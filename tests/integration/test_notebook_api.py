"""The notebook example in docs/notebooks.md runs as written against a trained, approved
platform, and what it prints agrees with the platform's own records."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from support import PROJECT
from support.monthly_platform import UC, trained_platform
from support.platform_cli import platform_env

pytestmark = pytest.mark.integration

EXAMPLE = re.compile(r"```python\n(.*?)```", re.DOTALL)


def test_the_documented_example_runs_as_written(tmp_path):
    settings = trained_platform(tmp_path)
    (code,) = EXAMPLE.findall((PROJECT / "docs" / "notebooks.md").read_text())
    env = {**os.environ, **platform_env(settings)}
    env.pop("DAGSTER_HOME", None)

    ran = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600
    )

    assert ran.returncode == 0, ran.stderr[-3000:]
    out = ran.stdout
    assert UC in out and "champion 1 challenger" in out
    assert re.search(r"holdout AUC 0\.\d+", out)
    assert "fairness attributes ['" in out
    answers = re.findall(r"^│ 1 +┆ (0\.\d+) +┆ (\w+) ", out, re.MULTILINE)
    assert len(answers) == 5, out  # five applications, each answered by version 1
    for probability, decision in answers:  # at the spec's operating threshold (0.5)
        assert decision == ("refer" if float(probability) >= 0.5 else "accept")
