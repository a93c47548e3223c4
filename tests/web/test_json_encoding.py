"""json_response's default encoder: exactly json.dumps, its output and its errors."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from heron import web

DOCUMENTS: list[Any] = [
    {"message": "Hello, World!", "id": 1, "tags": ["a", "b"]},
    {"nested": {"deep": [1, 2.5, None, True, False]}, "ü": 'é€😀\n"\\'},
    "just a string",
    12,
    -0.0,
    1e300,
    math.inf,
    math.nan,
    None,
    [],
    {},
    {3: "int key", 2.5: "float key", True: "bool key", None: "none key"},
    ("a", "tuple"),
]


@pytest.mark.parametrize("data", DOCUMENTS, ids=range(len(DOCUMENTS)))
def test_body_is_what_json_dumps_gives(data: Any) -> None:
    response = web.json_response(data)
    assert response.text == json.dumps(data)
    assert response.content_type == "application/json"


def test_circular_reference_is_the_stdlib_value_error() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference detected"):
        web.json_response(loop)


def test_unserialisable_value_is_the_stdlib_type_error() -> None:
    with pytest.raises(TypeError, match="is not JSON serializable"):
        web.json_response({"when": object()})


def test_an_error_leaves_the_encoder_usable() -> None:
    with pytest.raises(TypeError):
        web.json_response([1, {"x": object()}])
    assert web.json_response({"a": [1]}).text == '{"a": [1]}'


def test_custom_dumps_is_used() -> None:
    response = web.json_response({"b": 1, "a": 2}, dumps=lambda d: json.dumps(d, sort_keys=True))
    assert response.text == '{"a": 2, "b": 1}'
