"""LightGBM and XGBoost as in-process estimators: categories and missing values handled
natively, exact tree reason codes (TreeSHAP: baseline + contributions = the raw margin,
fidelity measured at 1.0/1.0), a skops round trip through the project's trusted types, and
the batch door, the row engine and the pyfunc package agreeing on a LightGBM model."""

from __future__ import annotations

from datetime import UTC, datetime

import mlflow.pyfunc
import numpy as np
import polars as pl
import pytest

from modelops.ml.features import build_features
from modelops.ml.model_integrity import dump_model, load_model
from modelops.ml.packages.onnx_package import OnnxPackage, convert_pipeline
from modelops.ml.packages.pyfunc_package import model_arguments
from modelops.ml.scoring import ReasonCodes
from modelops.ml.scoring.applications import ApplicationScorer
from modelops.ml.scoring.compiled import encode
from modelops.ml.scoring.tree_contributions import raw_margin
from modelops.ml.serving_bundle import ServingBundle
from modelops.ml.training import fit_model, model_input_frame
from modelops.ml.tree_families import model_family
from modelops.resources.native_flavours import FAMILY_TAG
from modelops.spec import ModelSpec

pytest.importorskip("lightgbm")
pytest.importorskip("xgboost")

NOW = datetime(2026, 1, 31, tzinfo=UTC)
TREE_MODELS = {
    "lightgbm": ModelSpec(
        estimator="lightgbm.LGBMClassifier",
        params={
            "n_estimators": 60,
            "num_leaves": 8,
            "learning_rate": 0.1,
            "deterministic": True,
            "num_threads": 1,
            "seed": 7,
            "verbose": -1,
        },
        preprocessing="native",
    ),
    "xgboost": ModelSpec(
        estimator="xgboost.XGBClassifier",
        params={"n_estimators": 60, "max_depth": 3, "n_jobs": 1, "random_state": 7},
        preprocessing="native",
    ),
}
UNSEEN = "time travel"


def _with_gaps(frame: pl.DataFrame, spec) -> pl.DataFrame:
    """Every 7th numeric value and every 11th category missing."""
    every = pl.int_range(pl.len())
    numeric = spec.numeric_features[0]
    categorical = spec.categorical_features[0]
    return frame.with_columns(
        pl.when(every % 7 == 0).then(None).otherwise(pl.col(numeric)).alias(numeric),
        pl.when(every % 11 == 0)
        .then(None)
        .otherwise(pl.col(categorical).cast(pl.String))
        .alias(categorical),
    )


@pytest.fixture(scope="module")
def gappy_split(german_split, german_spec):
    """Training and holdout with missing values; the holdout also has an unseen category."""
    train, holdout = german_split
    purpose = "purpose" if "purpose" in german_spec.categorical_features else None
    holdout = _with_gaps(holdout, german_spec)
    if purpose:
        holdout = holdout.with_columns(
            pl.when(pl.int_range(pl.len()) % 5 == 0)
            .then(pl.lit(UNSEEN))
            .otherwise(pl.col(purpose).cast(pl.String))
            .alias(purpose)
        )
    return _with_gaps(train, german_spec), holdout


@pytest.fixture(scope="module")
def tree_fitted(gappy_split, german_spec):
    train, _ = gappy_split
    return {name: fit_model(train, german_spec, model) for name, model in TREE_MODELS.items()}


@pytest.mark.parametrize("name", list(TREE_MODELS))
def test_categories_are_native_and_gaps_are_scored(name, tree_fitted, gappy_split, german_spec):
    pipeline = tree_fitted[name]
    _, holdout = gappy_split
    model = pipeline[-1]
    assert model_family(pipeline) == name
    n_numeric = len(german_spec.numeric_features)
    n_categorical = len(german_spec.categorical_features)
    if name == "lightgbm":
        infos = model.booster_.dump_model()["feature_infos"]
        kinds = ["values" in info and bool(info["values"]) for info in infos.values()]
        assert kinds == [False] * n_numeric + [True] * n_categorical
    else:
        assert model.get_booster().feature_types == ["q"] * n_numeric + ["c"] * n_categorical
    scores = pipeline.predict_proba(model_input_frame(holdout, german_spec))[:, 1]
    assert np.isfinite(scores).all() and scores.std() > 0


@pytest.mark.parametrize("name", list(TREE_MODELS))
def test_tree_reason_codes_are_exact(name, tree_fitted, gappy_split, german_spec):
    pipeline = tree_fitted[name]
    train, holdout = gappy_split
    codes = ReasonCodes.fit(pipeline, train, german_spec)
    assert codes.method == "tree"
    assert (codes.fidelity.r2, codes.fidelity.spearman) == (1.0, 1.0)
    matrix = encode(pipeline, holdout, german_spec, None)
    contributions = codes.contributions(matrix, pipeline[-1])
    assert contributions.shape == (holdout.height, len(codes.features))
    margin = raw_margin(pipeline[-1], matrix)
    # XGBoost computes in float32: exact to its precision; LightGBM in float64.
    exact_to = 1e-9 if name == "lightgbm" else 1e-5
    np.testing.assert_allclose(
        codes.baseline + contributions.sum(axis=1), margin, rtol=0, atol=exact_to
    )
    # Centred on training, as linear codes are; and they survive their pickle-free bytes.
    train_matrix = encode(pipeline, train, german_spec, None)
    assert np.abs(codes.contributions(train_matrix, pipeline[-1]).mean(axis=0)).max() < exact_to
    again = ReasonCodes.from_bytes(codes.to_bytes())
    assert again.method == "tree"
    np.testing.assert_array_equal(again.contributions(matrix, pipeline[-1]), contributions)
    with pytest.raises(ValueError, match="need the model"):
        codes.contributions(matrix)


@pytest.mark.parametrize("name", list(TREE_MODELS))
def test_skops_round_trip_through_trusted_types(name, tree_fitted, gappy_split, german_spec):
    pipeline = tree_fitted[name]
    _, holdout = gappy_split
    loaded = load_model(dump_model(pipeline))
    inputs = model_input_frame(holdout, german_spec)
    np.testing.assert_array_equal(loaded.predict_proba(inputs), pipeline.predict_proba(inputs))


def test_lightgbm_doors_agree(tree_fitted, gappy_split, german_valid, german_spec, tmp_path):
    """The row engine (online), the batch door and the pyfunc package give the same scores,
    decisions and reasons for the 1,000 German credit applications."""
    train, holdout = gappy_split
    bundle = ServingBundle.build(
        german_spec,
        model_version="1",
        pipeline=tree_fitted["lightgbm"],
        training=train,
        holdout=holdout,
        model_sha256="ab" * 32,
    )
    scorer = ApplicationScorer(bundle, german_spec)
    assert scorer.row_engine_verified  # the online door scores row by row, not through batch
    fields = [
        c.name for c in german_spec.data_schema.columns if c.name != german_spec.target.column
    ]
    applications = german_valid.select(fields).with_columns(
        pl.col(pl.Enum, pl.Categorical).cast(pl.String)
    )
    online = scorer.answer(applications.to_dicts())
    batch = scorer.score_table(
        build_features(german_valid, german_spec, with_label=False), scored_at=NOW
    )
    files = bundle.to_files()
    path = tmp_path / "package"
    arguments = model_arguments(german_spec, files, ServingBundle.digest_of(files), tmp_path / "a")
    mlflow.pyfunc.save_model(str(path), **arguments)
    packaged = mlflow.pyfunc.load_model(str(path)).predict(applications.to_pandas())

    online_p = np.array([a.probability for a in online], dtype=np.float64)
    assert all(a.fallback_reason is None for a in online)
    np.testing.assert_allclose(batch["score"].to_numpy(), online_p, rtol=0, atol=1e-9)
    np.testing.assert_allclose(packaged["probability"].to_numpy(float), online_p, atol=1e-9)
    assert [a.decision for a in online] == batch["decision"].to_list()
    online_reasons = [[r.feature for r in a.reasons] for a in online]
    batch_reasons = [
        [r for r in row if r is not None]
        for row in batch.select("reason_1", "reason_2", "reason_3").iter_rows()
    ]
    assert online_reasons == batch_reasons
    assert packaged["reason_1"].tolist() == batch["reason_1"].to_list()


@pytest.mark.parametrize("name", list(TREE_MODELS))
def test_onnx_package_reproduces_the_model_with_gaps(name, tree_fitted, gappy_split, german_spec):
    """onnxmltools' converters, registered with skl2onnx: parity measured on rows with missing
    values and an unseen category."""
    pytest.importorskip("onnxmltools")
    _, holdout = gappy_split
    package = convert_pipeline(tree_fitted[name], german_spec, holdout)
    assert isinstance(package, OnnxPackage), package
    assert package.parity_passed and package.rows_compared == holdout.height


def test_an_xgboost_version_registers_with_the_xgboost_flavour(
    tree_fitted, gappy_split, german_spec, tracking
):
    """The sklearn pipeline is what the platform loads; the native flavour sits beside it."""
    import xgboost

    train, holdout = gappy_split
    pipeline = tree_fitted["xgboost"]
    registered = tracking.record_training(
        use_case="xgb_case",
        registered_name="xgb_case",
        model=pipeline,
        input_example=model_input_frame(train.head(5), german_spec).astype(
            {c: object for c in german_spec.categorical_features}
        ),
        params={"estimator": "xgboost.XGBClassifier"},
        metrics={"train_auc": 0.8},
        tags={"modelops.use_case": "xgb_case"},
        datasets=[],
        run_name="xgb",
    )
    with tracking.active() as mlflow:
        import mlflow.xgboost
        from mlflow.models import get_model_info

        info = get_model_info(registered.model_uri)
        assert {"xgboost", "sklearn", "python_function"} <= set(info.flavors)
        native = mlflow.xgboost.load_model(registered.model_uri)
        run = mlflow.MlflowClient().get_run(registered.run_id)
    assert run.data.tags[FAMILY_TAG] == "xgboost"
    assert isinstance(native, xgboost.XGBClassifier)
    matrix = encode(pipeline, holdout, german_spec, None)
    np.testing.assert_array_equal(native.predict_proba(matrix), pipeline[-1].predict_proba(matrix))
    loaded = tracking.load_model(registered.model_uri, from_store=True)
    assert tracking.stored_digest("xgb_case", registered.version) == registered.artifact_sha256
    inputs = model_input_frame(holdout, german_spec)
    np.testing.assert_array_equal(loaded.predict_proba(inputs), pipeline.predict_proba(inputs))
