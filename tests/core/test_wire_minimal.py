"""Every wire model parses a minimal body: ``{}``, and ``null`` wherever a field may appear.

DESIGN: wire models "accept minimal bodies". A field sent as ``null`` reads as an absent one
(its default), so code reading ``response.output.text`` or ``prediction.urls.get`` never meets
a ``None`` where the model promises an object. Generation models sit on the per-frame path and
carry no null validators: their bodies go through ``parse_generation``, which does the same.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil

import pytest

import dashscope_core.types as wire_types
from dashscope_core._protocol.generation_stream import parse_generation
from dashscope_core.types import generation
from dashscope_core.types.common import WireModel


def _wire_models() -> list[type[WireModel]]:
    found: list[type[WireModel]] = []
    for info in pkgutil.iter_modules(wire_types.__path__):
        module = importlib.import_module(f"{wire_types.__name__}.{info.name}")
        for value in vars(module).values():
            if (inspect.isclass(value) and issubclass(value, WireModel)
                    and value.__module__ == module.__name__):  # fmt: skip
                found.append(value)
    return found


IDENTIFYING = {"id", "custom_id"}
"""The only fields a minimal body may have to carry (STYLE.md: every other field is optional).
A prediction's ``id`` is optional too: the seed client's own tests answer a create without it."""
OWN_STATE = {"BatchJob"}
"""Models of our own state (``BatchJob.to_json``), not bodies a server sends."""
MODELS = [cls for cls in _wire_models() if cls.__name__ not in OWN_STATE]
NULL_CHECKED = [cls for cls in MODELS if cls.__module__ != generation.__name__]


def _minimal(cls: type[WireModel]) -> dict[str, str]:
    return {name: "x" for name, field in cls.model_fields.items() if field.is_required()}


def test_the_sweep_sees_every_family() -> None:
    names = {cls.__name__ for cls in MODELS}
    assert {"Prediction", "Version", "Model", "GenerationResponse", "AppResponse",
            "EmbeddingResponse", "Task"} <= names  # fmt: skip


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_minimal_body_parses(cls: type[WireModel]) -> None:
    minimal = _minimal(cls)
    assert set(minimal) <= IDENTIFYING
    assert cls.model_validate(minimal) == cls.model_validate_json(json.dumps(minimal))


def test_a_prediction_and_a_version_need_not_carry_their_id() -> None:
    from dashscope_core.types.predictions import Prediction, Version

    assert _minimal(Prediction) == {} and _minimal(Version) == {}


@pytest.mark.parametrize("cls", NULL_CHECKED, ids=lambda c: c.__name__)
def test_null_fields_read_as_absent(cls: type[WireModel]) -> None:
    minimal = _minimal(cls)
    nulls = {name: None for name in cls.model_fields if name not in minimal}
    parsed = cls.model_validate({**nulls, **minimal})
    absent = cls.model_validate(minimal)
    for name, field in cls.model_fields.items():
        value = getattr(parsed, name)
        assert value is None or value == getattr(absent, name), name
        if value is None:  # None only where None is the field's own default
            assert not field.is_required() and field.get_default(call_default_factory=True) is None


def test_generation_bodies_with_nulls_parse_as_without() -> None:
    with_nulls = (b'{"output": {"choices": [{"message": {"content": "hi", "tool_calls": [{"index":'
                  b' 0, "id": "c", "function": null}, {"function": {"name": "f", "arguments":'
                  b' null}}]}, "finish_reason": null, "logprobs": null}, {"message": null}],'
                  b' "text": null}, "usage": null, "request_id": null}')  # fmt: skip
    parsed = parse_generation(with_nulls)
    assert parsed.text == "hi" and parsed.usage.total_tokens is None
    assert [c.function.arguments for c in parsed.tool_calls] == ["", ""]
    assert parsed.output.choices is not None and parsed.output.choices[1].message.content is None
    assert parse_generation(b'{"output": null}').output.choices is None
    assert parse_generation(b"{}") == parse_generation(b'{"output": {}, "usage": {}}')
