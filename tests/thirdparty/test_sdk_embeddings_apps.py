"""The official SDK's embeddings and Bailian application calls against the emulator
(1.x ``TextEmbedding`` / ``Application``, 2.x ``Client.embeddings`` / ``Client.apps``)."""

from __future__ import annotations

import math
from http import HTTPStatus

import pytest

from dashscope_core.emulator import Emulator
from dashscope_core.emulator.apps import DEMO_APP_ID

dashscope = pytest.importorskip("dashscope")

QUESTION = "How do I pair the lamp?"


def test_text_embedding(sdk: str, emu: Emulator) -> None:
    r = dashscope.TextEmbedding.call(
        model="text-embedding-v4", input=["the lamp", "the phone"], dimension=256
    )
    assert r.status_code == HTTPStatus.OK and r.usage["total_tokens"] > 0
    first, second = r.output["embeddings"]
    assert (first["text_index"], second["text_index"]) == (0, 1)
    assert len(first["embedding"]) == 256
    assert math.isclose(math.fsum(x * x for x in first["embedding"]), 1.0, rel_tol=1e-3)
    assert emu.received("embeddings")[-1].json["parameters"]["dimension"] == 256


def test_client_embeddings(sdk: str) -> None:
    client = dashscope.Client(base_url=sdk)
    r = client.embeddings.create(model="text-embedding-v4", input=["a lamp", "a phone"])
    assert [e.index for e in r.embeddings] == [0, 1] and len(r.embeddings[0].embedding) == 1024
    assert r.usage.total_tokens > 0
    client.close()


def test_application_call_session_and_stream(sdk: str) -> None:
    r = dashscope.Application.call(app_id=DEMO_APP_ID, prompt=QUESTION)
    assert r.status_code == HTTPStatus.OK and "pair" in r.output.text
    assert r.output.finish_reason == "stop" and len(r.output.session_id) == 32
    assert r.usage.models[0].model_id and r.usage.models[0].output_tokens > 0
    follow = dashscope.Application.call(
        app_id=DEMO_APP_ID, prompt="And to reset it?", session_id=r.output.session_id
    )
    assert follow.output.session_id == r.output.session_id
    chunks = list(
        dashscope.Application.call(
            app_id=DEMO_APP_ID, prompt=QUESTION, stream=True, incremental_output=True
        )
    )
    assert "".join(c.output.text or "" for c in chunks) == r.output.text
    assert chunks[-1].output.finish_reason == "stop"


def test_application_unknown_app(sdk: str) -> None:
    r = dashscope.Application.call(app_id="no-such-app", prompt="hi")
    assert r.status_code == 400 and r.code and r.request_id


def test_client_apps(sdk: str) -> None:
    client = dashscope.Client(base_url=sdk)
    answer = client.apps.completions.create(app_id=DEMO_APP_ID, prompt=QUESTION)
    assert "pair" in answer.text and answer.session_id
    stream = client.apps.completions.create(app_id=DEMO_APP_ID, prompt=QUESTION, stream=True)
    assert list(stream)[-1].text == answer.text  # cumulative: the server default
    client.close()
