"""What one online decision costs: the scoring core against the pipeline's own `predict_proba`,
MLflow pyfunc and ONNX Runtime, in this process; then the service over HTTP under wrk.

    uv run python benchmarks/serving_latency.py [--calls 3000] [--http-seconds 5]

A platform of its own is trained under a temporary home (`modelops run` + one approval, as a
newcomer does), so the champion, its serving bundle and its portable packages are the real
ones. Then, one application per call, cycling through 1,000 German credit applications:

- core: `ApplicationScorer.answer` — validation against the spec, engineered features, score,
  decision, reason codes with contributions, outlier score: what every door runs;
- sklearn: the fitted pipeline's `predict_proba` on a one-row pandas DataFrame of the model
  inputs (the frame built beforehand: the model call alone, nothing else);
- pyfunc: the version's MLflow pyfunc package (`mlflow.pyfunc.load_model(...).predict`) on a
  one-row DataFrame of the raw application (it runs the core inside);
- onnx: ONNX Runtime's `run` on one row of the version's ONNX graph (the probability only);
- decision log: one `DecisionLog.append` of one decision, with and without fsync.

All alternate in one process, after a warm-up. Over HTTP: `modelops serve` with one worker on
loopback, and wrk (Debian's package) posting one application per request at 1, 2, 4, 8 and 16
connections: p50/p99 and requests/s per level, and the highest throughput whose p99 stays
within 5 ms. Results go to benchmarks/output/serving_latency.json and docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from modelops.progress import Progress

PROJECT = Path(__file__).resolve().parents[1]
UC = "german_credit"
OUTPUT = PROJECT / "benchmarks" / "output" / "serving_latency.json"
P99_GOAL_MS = 5.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000, help="calls per in-process variant")
    parser.add_argument("--http-seconds", type=int, default=5, help="wrk duration per level")
    parser.add_argument("--levels", default="1,2,4,8,16", help="wrk connection counts")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="modelops-serving-bench-"))
    env = {
        **os.environ,
        "MODELOPS_PROJECT_DIR": str(PROJECT),
        "MODELOPS_HOME": str(home),
        "MODELOPS_ACTOR": "bench@bank.example",
        "DAGSTER_HOME": str(home / "dagster"),
    }
    try:
        _train(env)
        os.environ.update(env)
        results = {"in_process": _in_process(args.calls, home)}
        results["http"] = _http(env, [int(c) for c in args.levels.split(",")], args.http_seconds)
        _report(results)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _modelops(env: dict[str, str], *args: str) -> None:
    command = [str(Path(sys.executable).with_name("modelops")), *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"modelops {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


def _train(env: dict[str, str]) -> None:
    print("training a platform of its own (modelops run + approve) ...", flush=True)
    _modelops(env, "init")
    _modelops(env, "run", "-u", UC)
    _modelops(
        env, "approve", "-u", UC, "--by", "val@bank.example", "--role", "model_validator",
        "--reason", "benchmark",
    )  # fmt: skip


# In process ----------------------------------------------------------------------------------


def _applications(spec, count: int) -> list[dict]:
    import polars as pl

    from modelops.ml.validation import validate_batch
    from modelops.spec.columns import ROW_ID

    raw = pl.read_csv(PROJECT / "data" / "german_credit.csv")
    valid = validate_batch(raw, spec).valid.drop(ROW_ID, spec.target.column).head(count)
    return valid.with_columns(pl.col(pl.Enum).cast(pl.String)).to_dicts()


def _in_process(calls: int, home: Path) -> dict[str, dict[str, float]]:
    import mlflow
    import pandas as pd
    import polars as pl

    from modelops.governance.champion import champion_bundle
    from modelops.ml.features import build_features
    from modelops.ml.packages.onnx_package import onnx_inputs
    from modelops.ml.scoring.applications import ApplicationScorer
    from modelops.ml.training import model_input_frame
    from modelops.ml.validation import validate_batch
    from modelops.monitoring.decision_log import DecisionLog, DecisionRecord
    from modelops.operator import Platform
    from modelops.settings import Settings

    platform_ = Platform(Settings.from_env())
    spec = platform_.spec(UC)
    resources = platform_.resources
    bundle = champion_bundle(resources.store, resources.audit_log, spec)
    scorer = ApplicationScorer(bundle, spec)
    apps = _applications(spec, 1000)
    raw = pl.DataFrame(apps)
    features = build_features(
        validate_batch(
            raw.rename(
                {c.name: c.header for c in spec.data_schema.columns if c.name in raw.columns}
            ),
            spec,
            labelled=False,
        ).valid,
        spec,
        with_label=False,
    )
    model_rows = [model_input_frame(features.slice(i, 1), spec) for i in range(features.height)]
    raw_rows = [pd.DataFrame([a]) for a in apps]
    onnx_rows = [onnx_inputs(features.slice(i, 1), spec) for i in range(features.height)]

    mlflow.set_tracking_uri(platform_.settings.mlflow_tracking_uri)
    mlflow.set_registry_uri(platform_.settings.mlflow_tracking_uri)
    client = mlflow.MlflowClient()
    tags = client.get_model_version(spec.registered_model_name, bundle.model_version).tags
    pyfunc = mlflow.pyfunc.load_model(tags["modelops.package.pyfunc"])
    import onnxruntime as ort

    onnx_path = mlflow.artifacts.download_artifacts(
        tags["modelops.onnx.artifact"], dst_path=str(home / "onnx")
    )
    session = ort.InferenceSession(Path(onnx_path).read_bytes(), providers=["CPUExecutionProvider"])
    numeric = [i for i in session.get_inputs() if i.name in set(spec.numeric_features)]
    if numeric and numeric[0].type == "tensor(float)":
        onnx_rows = [
            {k: (v.astype(np.float32) if v.dtype == np.float64 else v) for k, v in row.items()}
            for row in onnx_rows
        ]
    answer = scorer.answer(apps[:1])[0]
    record = DecisionRecord(
        request_id="r", decision_id="r-0", decided_at=datetime.now(UTC), use_case=UC,
        model_version=answer.model_version, application_id=None, inputs=apps[0],
        probability=answer.probability, decision=answer.decision,
        reasons=tuple((r.feature, r.contribution) for r in answer.reasons),
        outlier_score=answer.outlier_score, outlier_flag=answer.outlier_flag,
    )  # fmt: skip
    plain_log = DecisionLog(home / "bench-decisions", UC)
    synced_log = DecisionLog(home / "bench-decisions-fsync", UC, fsync=True)

    n = len(apps)
    variants = {
        "core (validation+features+score+reasons+outliers)": lambda i: scorer.answer([apps[i % n]]),
        "sklearn predict_proba (model call only)": lambda i: bundle.pipeline.predict_proba(
            model_rows[i % n]
        ),
        "mlflow pyfunc predict (platform package)": lambda i: pyfunc.predict(raw_rows[i % n]),
        "onnx runtime run (probability only)": lambda i: session.run(None, onnx_rows[i % n]),
        "decision log append": lambda i: plain_log.append([record]),
        "decision log append + fsync": lambda i: synced_log.append([record]),
    }
    timings: dict[str, list[float]] = {name: [] for name in variants}
    for call in variants.values():  # warm-up
        for i in range(50):
            call(i)
    rounds = 10
    per_round = max(1, calls // rounds)
    for r in range(rounds):  # interleaved: the machine's state is shared fairly
        for name, call in variants.items():
            count = per_round if "fsync" not in name else max(1, per_round // 10)
            for i in range(count):
                start = time.perf_counter()
                call(r * per_round + i)
                timings[name].append((time.perf_counter() - start) * 1000)
    return {
        name: {
            "p50_ms": float(np.percentile(t, 50)),
            "p99_ms": float(np.percentile(t, 99)),
            "calls": len(t),
        }
        for name, t in timings.items()
    }


# Over HTTP -----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _http(env: dict[str, str], levels: list[int], seconds: int) -> dict[str, object]:
    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk not found (apt-get install wrk): HTTP figures skipped", flush=True)
        return {"skipped": "wrk not installed"}
    from modelops.operator import Platform
    from modelops.serving.request_model import example_application
    from modelops.settings import Settings

    spec = Platform(Settings.from_env()).spec(UC)
    port = _free_port()
    command = [str(Path(sys.executable).with_name("modelops")), "serve", "-u", UC,
               "--port", str(port), "--workers", "1"]  # fmt: skip
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/readyz", timeout=1) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline or server.poll() is not None:
                raise SystemExit("the service did not become ready")
            time.sleep(0.2)
        body = json.dumps(example_application(spec))
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(
                'wrk.method = "POST"\n'
                'wrk.headers["Content-Type"] = "application/json"\n'
                f"wrk.body = {json.dumps(body)}\n"
            )
        print(f"wrk against {url}/v1/{UC}/score ...", flush=True)
        rows = []
        progress = Progress(len(levels))
        for connections in levels:
            with progress.step(f"wrk, {connections} connection(s) for {seconds} s"):
                done = subprocess.run(
                    [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
                     "-s", script.name, f"{url}/v1/{UC}/score"],
                    capture_output=True, text=True, check=True,
                )  # fmt: skip
            rows.append({"connections": connections, **_parse_wrk(done.stdout)})
        os.unlink(script.name)
    finally:
        server.terminate()
        server.wait(timeout=10)
    within = [r for r in rows if r["p99_ms"] <= P99_GOAL_MS and r["errors"] == 0]
    return {
        "levels": rows,
        "p99_ms_at_1_connection": rows[0]["p99_ms"],
        "max_rps_with_p99_within_5ms": max((r["rps"] for r in within), default=0.0),
    }


def _parse_wrk(text: str) -> dict[str, float]:
    def latency(percent: str) -> float:
        match = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        if match is None:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    errors = int(non2xx.group(1)) if non2xx else 0
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    return {
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "rps": float(rps.group(1)) if rps else 0.0,
        "errors": errors,
    }


# Report --------------------------------------------------------------------------------------


def _report(results: dict[str, object]) -> None:
    inproc = results["in_process"]
    core = next(v for k, v in inproc.items() if k.startswith("core"))
    print(f"\none application, in process ({platform.python_version()}, {platform.machine()}):")
    print(f"  {'variant':<52} {'p50 ms':>8} {'p99 ms':>8} {'core vs it (p50)':>17}")
    for name, figures in inproc.items():
        ratio = figures["p50_ms"] / core["p50_ms"]
        print(f"  {name:<52} {figures['p50_ms']:8.3f} {figures['p99_ms']:8.3f} {ratio:16.1f}x")
    http = results["http"]
    if "levels" in http:
        print("\nover HTTP on loopback, 1 worker (wrk, one application per request):")
        print(f"  {'connections':>11} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>9} {'errors':>7}")
        for row in http["levels"]:
            print(
                f"  {row['connections']:>11} {row['p50_ms']:8.2f} {row['p99_ms']:8.2f} "
                f"{row['rps']:9.0f} {row['errors']:>7}"
            )
        print(
            f"  p99 at 1 connection: {http['p99_ms_at_1_connection']:.2f} ms (goal <= 5); "
            f"highest req/s with p99 <= 5 ms: {http['max_rps_with_p99_within_5ms']:.0f}"
        )
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(
        json.dumps({"measured_at": datetime.now(UTC).isoformat(), **results}, indent=2)
    )
    print(f"\nwritten to {OUTPUT.relative_to(PROJECT)}")


if __name__ == "__main__":
    main()
