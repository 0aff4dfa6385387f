"""OpenAPI ``Input`` → pydantic models and tool summaries (pure; the emulator's real schemas)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from dashscope_core._protocol.files import MAX_INLINE_BYTES
from dashscope_core._protocol.openapi import (
    describe_output,
    input_model,
    ordered_inputs,
    strip_extensions,
    tool_name,
    tool_spec,
    wire_input,
)
from dashscope_core._protocol.tool_output import describe_failure, progress_event, summarize
from dashscope_core.emulator.prediction_builtins import SCHEDULERS
from dashscope_core.emulator.prediction_models import Registry
from dashscope_core.errors import NotFoundError, PredictionFailedError, error_from_response
from dashscope_core.types.predictions import Prediction

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


@pytest.fixture(scope="module")
def schemas() -> dict[str, dict[str, Any]]:
    registry = Registry()
    return {ref: m.latest.openapi_schema for ref, m in registry.models.items() if m.latest}


def _props(model: Any) -> dict[str, Any]:
    return dict(model.model_json_schema()["properties"])


def test_image_maker_schema(schemas: dict[str, dict[str, Any]]) -> None:
    model = input_model(schemas["emulator/image-maker"])
    props = _props(model)
    assert list(props) == ["prompt", "negative_prompt", "image", "width", "height",
                           "scheduler", "num_outputs", "num_inference_steps", "seed"]  # fmt: skip
    assert model.model_json_schema()["required"] == ["prompt"]
    assert props["scheduler"]["enum"] == list(SCHEDULERS)
    assert props["scheduler"]["default"] == "K_EULER"
    assert (props["width"]["minimum"], props["width"]["maximum"]) == (64, 1024)
    assert props["num_outputs"] == {**props["num_outputs"], "minimum": 1, "maximum": 4}
    assert "local file path" in props["image"]["description"]
    assert props["prompt"]["description"] == "Input prompt"
    assert props["seed"]["default"] is None


def test_every_emulator_model_builds_without_extension_keys(
    schemas: dict[str, dict[str, Any]],
) -> None:
    for ref, openapi in schemas.items():
        text = json.dumps(input_model(openapi, ref).model_json_schema())
        assert '"x-' not in text, ref
        assert ordered_inputs(openapi), ref


def test_x_order_wins_over_declaration_order() -> None:
    openapi = _doc({"b": {"type": "string", "x-order": 1}, "a": {"type": "string", "x-order": 0},
                    "c": {"type": "string"}})  # fmt: skip
    assert list(_props(input_model(openapi))) == ["a", "b", "c"]


def _doc(props: dict[str, Any], required: list[str] | None = None, **components: Any) -> Any:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    return {"components": {"schemas": {"Input": schema, **components}}}


def test_validation_names_each_bad_input(schemas: dict[str, dict[str, Any]]) -> None:
    model = input_model(schemas["emulator/image-maker"])
    with pytest.raises(ValidationError) as info:
        wire_input(model, {"width": 5, "scheduler": "FAST", "colour": "red"})
    where = {err["loc"][0] for err in info.value.errors()}
    assert where == {"prompt", "width", "scheduler", "colour"}
    assert isinstance(info.value, ValueError)


def test_wire_input_fills_defaults_and_drops_none(schemas: dict[str, dict[str, Any]]) -> None:
    model = input_model(schemas["emulator/slow-counter"])
    assert wire_input(model, {"steps": 3}) == {"steps": 3, "seconds": 0.5}
    image = input_model(schemas["emulator/image-maker"])
    assert "seed" not in wire_input(image, {"prompt": "cat", "seed": None})


def test_uri_inputs_accept_urls_data_uris_and_local_files(
    schemas: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    model = input_model(schemas["emulator/image-maker"])
    for url in ("https://example.com/cat.png", "data:image/png;base64,AAAA"):
        assert wire_input(model, {"prompt": "p", "image": url})["image"] == url
    path = tmp_path / "cat.png"
    path.write_bytes(PNG)
    sent = wire_input(model, {"prompt": "p", "image": str(path)})["image"]
    assert sent == "data:image/png;base64," + base64.b64encode(PNG).decode()
    with pytest.raises(ValidationError, match="neither a URL nor an existing file"):
        wire_input(model, {"prompt": "p", "image": str(tmp_path / "missing.png")})


def test_uri_input_above_the_inline_limit_is_refused(
    schemas: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    big = tmp_path / "big.bin"
    with big.open("wb") as f:
        f.truncate(MAX_INLINE_BYTES + 1)
    model = input_model(schemas["emulator/image-maker"])
    with pytest.raises(ValidationError, match="10 MB limit"):
        wire_input(model, {"prompt": "p", "image": str(big)})


def test_refs_bounds_arrays_and_awkward_names(tmp_path: Path) -> None:
    openapi = _doc(
        {"model": {"allOf": [{"$ref": "#/components/schemas/model"}], "x-order": 0},
         "top-k": {"type": "integer", "exclusiveMinimum": 0, "x-order": 1},
         "images": {"type": "array", "items": {"type": "string", "format": "uri"}, "x-order": 2},
         "class": {"type": "number", "default": 1.5, "x-order": 3},
         "model_config": {"type": "boolean", "x-order": 4}},
        required=["model"],
        model={"type": "integer", "enum": [1, 2], "title": "model"},
    )  # fmt: skip
    model = input_model(openapi)
    props = _props(model)
    assert list(props) == ["model", "top-k", "images", "class", "model_config"]
    assert props["model"]["enum"] == [1, 2]
    assert props["top-k"]["anyOf"][0] == {"type": "integer", "exclusiveMinimum": 0}
    path = tmp_path / "a.png"
    path.write_bytes(PNG)
    values = {"model": 2, "top-k": 3, "images": ["https://x/y.png", str(path)], "class": 2.0}
    wire = wire_input(model, {**values, "model_config": True})
    assert wire["images"][1].startswith("data:image/png;base64,")
    assert wire["top-k"] == 3 and wire["class"] == 2.0 and wire["model_config"] is True
    with pytest.raises(ValidationError):
        wire_input(model, {"model": 3})
    with pytest.raises(ValidationError):
        wire_input(model, {"model": 1, "top-k": 0})


def test_tool_spec_name_description_and_pinned_version(
    schemas: dict[str, dict[str, Any]],
) -> None:
    spec = tool_spec("emulator", "streaming-lm", "abc123", schemas["emulator/streaming-lm"],
                     model_description="Streams tokens.")  # fmt: skip
    assert spec.identifier == "emulator/streaming-lm:abc123" and spec.iterator
    assert spec.name == "emulator_streaming-lm"
    assert spec.description.startswith("Streams tokens. Runs emulator/streaming-lm")
    assert "joined" in spec.description
    assert describe_output(schemas["emulator/image-maker"]) == "a list of file URLs"
    assert tool_name("a.b/c d:v1") == "a_b_c_d"
    with pytest.raises(ValueError, match="name:"):
        tool_spec("o", "n", "v", schemas["emulator/hello-world"], tool_name_="bad name!")
    with pytest.raises(ValueError, match="no openapi_schema"):
        tool_spec("o", "n", "v", None)


def test_strip_extensions_at_any_depth() -> None:
    doc = {"x-a": 1, "p": {"x-order": 0, "type": "string"}, "l": [{"x-b": 2, "k": 1}]}
    assert strip_extensions(doc) == {"p": {"type": "string"}, "l": [{"k": 1}]}


def test_summaries() -> None:
    assert summarize(["Hel", "lo", " there"], iterator=True) == "Hello there"
    assert summarize(["https://a/1.png", "https://a/2.png"]) == "https://a/1.png\nhttps://a/2.png"
    assert summarize(3) == "3" and summarize({"a": "é"}) == '{"a": "é"}'
    assert summarize(None) == "(no output)"
    assert "image/png" in summarize("data:image/png;base64,AAAA")
    cut = summarize("x" * 50, max_chars=20)
    assert cut == "x" * 20 + "\n[truncated 30 chars]"


def test_progress_events_and_failure_messages() -> None:
    running = Prediction(id="p1", status="processing", logs=" 40%|████      | 2/5")
    assert progress_event(running) == {"kind": "prediction", "id": "p1", "status": "processing",
                                       "percentage": 0.4, "current": 2, "total": 5}  # fmt: skip
    failed = Prediction(id="p2", status="failed", error="CUDA out of memory")
    exc = PredictionFailedError("failed", prediction=failed)
    assert "CUDA out of memory" in describe_failure(exc, "o/n")
    problem = error_from_response(422, {}, {"status": 422, "detail": "Invalid input",
        "invalid_fields": [{"field": "input.width", "description": "must be >= 64"}]})  # fmt: skip
    message = describe_failure(problem, "o/n")
    assert "input.width: must be >= 64" in message and "fix the arguments" in message
    gone = describe_failure(NotFoundError("no such model", status_code=404), "o/n")
    assert "do not retry" in gone
