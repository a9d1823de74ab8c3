"""The data assets one at a time, with `dg.materialize` on in-memory resources: what each
stores, what it shows in the UI, and the blocking batch-quality check."""

from __future__ import annotations

import dagster as dg
import polars as pl
import pytest

from modelops.defs.data_assets import BATCH_QUALITY, data_assets
from modelops.names import FEATURES, HOLDOUT, QUARANTINE, RAW, TRAINING, VALIDATED
from modelops.spec import UseCaseSpec
from modelops.spec.columns import LABEL
from support import GERMAN_DATA
from support.fakes import MemoryArtifactStore, MemorySource

UC = "german_credit"


@pytest.fixture
def store() -> MemoryArtifactStore:
    return MemoryArtifactStore()


def source_with(content: bytes, spec: UseCaseSpec) -> MemorySource:
    source = MemorySource()
    source.put(str(spec.source.path), content)
    return source


def materialize(
    spec: UseCaseSpec, store: MemoryArtifactStore, source: MemorySource, *names: str
) -> dg.ExecuteInProcessResult:
    """Materialize the data assets that produce `names` (every one when none is named)."""
    assets = data_assets(spec)
    wanted = {dg.AssetKey([UC, n]) for n in names}
    chosen = [a for a in assets if not wanted or wanted & set(a.keys)]
    return dg.materialize(
        chosen,
        resources={"store": store, "source": source},
        selection=list(wanted) or None,
        raise_on_error=False,
    )


def metadata(result: dg.ExecuteInProcessResult, name: str) -> dict[str, object]:
    (event,) = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey([UC, name])
    ]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_the_raw_batch_is_stored_byte_for_byte(german_spec, store):
    content = GERMAN_DATA.read_bytes()
    result = materialize(german_spec, store, source_with(content, german_spec), RAW)

    assert result.success
    version = store.current_version(UC, RAW)
    assert store.read_bytes(UC, RAW, version, "batch.csv") == content
    shown = metadata(result, RAW)
    assert shown["dagster/row_count"] == 1000
    assert shown["bytes"] == len(content)


def test_the_pipeline_to_the_split_publishes_every_dataset(german_spec, store):
    result = materialize(german_spec, store, source_with(GERMAN_DATA.read_bytes(), german_spec))

    assert result.success
    for name in (RAW, VALIDATED, QUARANTINE, FEATURES, TRAINING, HOLDOUT):
        assert store.current_version(UC, name) is not None, name
    train, holdout = store.read_table(UC, TRAINING), store.read_table(UC, HOLDOUT)
    assert train.height + holdout.height == 1000
    assert metadata(result, TRAINING)["positive_rate"] == round(train[LABEL].mean(), 6)
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == BATCH_QUALITY and check.passed


def test_a_broken_batch_fails_the_blocking_check_and_stops_the_features(german_spec, store):
    frame = pl.read_csv(GERMAN_DATA, infer_schema=False)
    broken = frame.with_columns(pl.lit("abc").alias(frame.columns[1]))  # every row unparseable
    source = source_with(broken.write_csv().encode(), german_spec)

    result = materialize(german_spec, store, source)

    (check,) = result.get_asset_check_evaluations()
    assert not check.passed
    assert "of rows quarantined" in (check.description or "")
    assert store.current_version(UC, VALIDATED) is not None  # kept, for the record
    assert store.current_version(UC, FEATURES) is None  # never built from a broken batch
    assert store.read_table(UC, QUARANTINE).height == 1000


def test_features_alone_read_the_published_validated_table(german_spec, store):
    materialize(german_spec, store, source_with(GERMAN_DATA.read_bytes(), german_spec))
    first = store.current_version(UC, FEATURES)

    again = materialize(german_spec, store, MemorySource(), FEATURES)

    assert again.success
    assert store.current_version(UC, FEATURES) == first  # same content, same version
    assert metadata(again, FEATURES)["model_inputs"] == len(german_spec.model_inputs)
