"""The request model documents each field as the spec declares it, and the example it
carries (and `modelops serve` prints) is an application the reader accepts."""

from __future__ import annotations

import pytest

from modelops.ml.scoring.application_fields import ApplicationReader
from modelops.serving.request_model import (
    MAX_APPLICATIONS,
    application_model,
    example_application,
    request_schema,
)


def test_each_field_has_its_type_allowed_values_and_range(german_spec) -> None:
    schema = application_model(german_spec).model_json_schema()
    properties = schema["properties"]
    target = german_spec.target.column
    fields = [c for c in german_spec.data_schema.columns if c.name != target]
    assert set(properties) >= {c.name for c in fields} and target not in properties
    for column in fields:
        prop = properties[column.name]
        if column.allowed:
            assert prop["enum"] == column.allowed
        if column.type in ("int", "float") and not column.allowed:
            assert prop["type"] == ("integer" if column.type == "int" else "number")
            assert prop.get("minimum") == column.min and prop.get("maximum") == column.max
        if column.description:
            assert prop["description"] == column.description
    assert set(schema["required"]) == {c.name for c in fields if not c.nullable}
    assert schema["additionalProperties"] is False


def test_the_body_is_one_application_or_a_bounded_list(german_spec) -> None:
    body, components = request_schema(german_spec)
    assert len(body["oneOf"]) == 2
    listed = components["GermanCreditApplicationList"]["properties"]["applications"]
    assert (listed["minItems"], listed["maxItems"]) == (1, MAX_APPLICATIONS)
    assert "$defs" not in str(components)


def test_the_example_is_a_valid_application(german_spec) -> None:
    example = example_application(german_spec)
    assert ApplicationReader(german_spec).read(example).problems == ()
    application_model(german_spec).model_validate(example)


def test_the_model_refuses_what_the_reader_refuses(german_spec) -> None:
    from pydantic import ValidationError

    model = application_model(german_spec)
    with pytest.raises(ValidationError):
        model.model_validate({**example_application(german_spec), "shoe_size": 44})
