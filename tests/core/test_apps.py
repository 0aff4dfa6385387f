"""client.apps against the emulator over loopback: one body for DashScope and AsyncDashScope."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from _gen_client import GenClient

from dashscope_core import accumulate_app
from dashscope_core.emulator import Emulator, ServerHandle
from dashscope_core.errors import (
    AuthenticationError,
    BadRequestError,
    IncompleteStreamError,
    RateLimitError,
)

APP = "demo-rag-app"
KEY = "sk-apps-tests"


@pytest.fixture(params=["sync", "async"])
def ds(request: pytest.FixtureRequest, server: ServerHandle, emu: Emulator) -> Iterator[GenClient]:
    both = GenClient(request.param, server.base_url, KEY, max_retries=0)
    yield both
    both.close()


def _cited(text: str) -> list[str]:
    return re.findall(r"<ref>\[(\d+)\]</ref>", text)


def test_rag_answer_cites_its_documents(ds: GenClient, emu: Emulator) -> None:
    r = ds.run(ds.client.apps.call(APP, "How long is the warranty of the lamp?"))
    refs = r.output.doc_references
    assert refs and refs[0].doc_id == "doc_aurora_warranty"
    assert "2-year" in r.text
    assert sorted(_cited(r.text)) == sorted(ref.index_id for ref in refs)
    assert all(ref.doc_name and ref.title and ref.text and ref.images == [] for ref in refs)
    assert r.output.finish_reason == "stop" and re.fullmatch(r"[0-9a-f]{32}", r.session_id or "")
    assert r.usage.models[0].model_id == "qwen-plus" and r.usage.output_tokens > 0
    sent = emu.received("apps")[0]
    assert sent.path == f"/apps/{APP}/completion"
    assert sent.json == {"model": "", "input": {"prompt": "How long is the warranty of the lamp?"},
                         "parameters": {}}  # fmt: skip
    assert r.request_id == sent.request_id


def test_three_turns_by_session(ds: GenClient) -> None:
    session = ds.client.apps.session(APP)
    first = ds.run(session.call("How do I pair the lamp?"))
    ds.run(session.call("How long does the battery last?"))
    third = ds.run(session.call("What did I ask first?"))
    assert session.session_id == first.session_id == third.session_id
    assert "How do I pair the lamp?" in third.text


def test_three_turns_by_messages(ds: GenClient, emu: Emulator) -> None:
    history = [{"role": "system", "content": "You are the Aurora support assistant."}]
    for prompt in ["My name is Alice.", "How do I reset the lamp?", "What is my name?"]:
        history.append({"role": "user", "content": prompt})
        r = ds.run(ds.client.apps.call(APP, messages=history))
        history.append({"role": "assistant", "content": r.text})
    assert "Alice" in history[-1]["content"]
    assert "prompt" not in emu.received("apps")[-1].json["input"]


def test_resume_a_saved_session_and_reset(ds: GenClient) -> None:
    saved = ds.run(ds.client.apps.session(APP).call("What is the return policy?")).session_id
    resumed = ds.client.apps.session(APP, session_id=saved)
    answer = ds.run(resumed.call("What did I ask first?"))
    assert "What is the return policy?" in answer.text and resumed.session_id == saved
    resumed.reset()
    assert resumed.session_id is None
    fresh = ds.run(resumed.call("What did I ask first?"))
    assert fresh.session_id != saved and "first question in this conversation" in fresh.text


@pytest.mark.parametrize(
    ("rag_options", "allowed"),
    [
        ({"pipeline_ids": ["aurora-policies"]}, {"doc_aurora_warranty", "doc_aurora_returns"}),
        ({"tags": ["specs"]}, {"doc_aurora_specs"}),
        ({"file_ids": ["file_aurora_trouble_002"]}, {"doc_aurora_troubleshooting"}),
        ({"metadata_filter": {"category": "manual"}}, {"doc_aurora_manual"}),
    ],
)
def test_rag_options_narrow_the_documents(
    ds: GenClient, rag_options: dict[str, Any], allowed: set[str]
) -> None:
    question = "lamp battery warranty reset pair return"
    wide = ds.run(ds.client.apps.call(APP, question))
    narrow = ds.run(ds.client.apps.call(APP, question, rag_options=rag_options))
    assert narrow.output.doc_references
    assert {d.doc_id for d in narrow.output.doc_references} <= allowed
    assert {d.doc_id for d in wide.output.doc_references} - allowed


def test_thoughts_only_when_asked(ds: GenClient) -> None:
    plain = ds.run(ds.client.apps.call(APP, "How do I pair the lamp?"))
    assert plain.output.thoughts == []
    biz = {"user_defined_params": {"weather_plugin": {"city": "Hangzhou"}}}
    r = ds.run(ds.client.apps.call(APP, "How do I pair the lamp?", has_thoughts=True,
                                   biz_params=biz, memory_id="mem-42"))  # fmt: skip
    kinds = [(t.action_type, t.action) for t in r.output.thoughts]
    assert kinds[0] == ("agentRag", "rag") and ("api", "memory") in kinds
    plugin = next(t for t in r.output.thoughts if t.action == "plugin")
    assert plugin.action_name == "weather_plugin" and "Hangzhou" in (plugin.observation or "")
    memory = next(t for t in r.output.thoughts if t.action == "memory")
    assert "mem-42" in (memory.arguments or "")


@pytest.mark.parametrize("incremental", [None, False])
def test_stream_deltas_join_to_the_whole_answer(
    ds: GenClient, emu: Emulator, incremental: bool | None
) -> None:
    question = "How do I reset the lamp to factory settings?"
    whole = ds.run(ds.client.apps.call(APP, question, has_thoughts=True))
    extra = {} if incremental is None else {"incremental_output": incremental}
    chunks = ds.collect(ds.client.apps.stream(APP, question, has_thoughts=True, **extra))
    assert emu.received("apps")[-1].json["parameters"]["incremental_output"] is (
        incremental is None
    )
    assert len(chunks) > 2 and "".join(c.output.text for c in chunks) == whole.text
    assert [c.is_final for c in chunks] == [False] * (len(chunks) - 1) + [True]
    assert all(not c.output.doc_references for c in chunks[:-1])
    streamed = accumulate_app(chunks)
    assert streamed.output.doc_references == whole.output.doc_references
    assert len(streamed.output.thoughts) == len(whole.output.thoughts)
    assert streamed.output.finish_reason == "stop" and streamed.usage == whole.usage


def test_session_stream_updates_the_session_id(ds: GenClient) -> None:
    session = ds.client.apps.session(APP)
    chunks = ds.collect(session.stream("What does the warranty cover?"))
    assert session.session_id == chunks[-1].output.session_id is not None
    again = ds.run(session.call("What did I ask first?"))
    assert "What does the warranty cover?" in again.text


def test_unknown_app_is_a_typed_error(ds: GenClient) -> None:
    with pytest.raises(BadRequestError) as info:
        ds.run(ds.client.apps.call("no-such-app", "hi"))
    assert info.value.code == "InvalidParameter" and "App not found" in info.value.message
    assert info.value.request_id


def test_bad_key_is_a_typed_error(ds: GenClient) -> None:
    bad = ds.derive("sk-invalid-key", max_retries=0)
    try:
        with pytest.raises(AuthenticationError) as info:
            bad.run(bad.client.apps.call(APP, "hi"))
        assert info.value.status_code == 401 and "sk-invalid-key" not in str(info.value)
    finally:
        bad.close()


def test_cut_stream_raises_incomplete(ds: GenClient, emu: Emulator) -> None:
    emu.faults.queue("missing_final", route="apps")
    with pytest.raises(IncompleteStreamError):
        ds.collect(ds.client.apps.stream(APP, "How do I pair the lamp?"))


def test_error_event_mid_stream_is_typed(ds: GenClient, emu: Emulator) -> None:
    emu.faults.queue("error_event", after=2, route="apps")
    with pytest.raises(RateLimitError):
        ds.collect(ds.client.apps.stream(APP, "How do I pair the lamp?"))


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "name"),
    [
        (("",), {"prompt": "hi"}, ValueError, "app_id"),
        ((APP,), {}, ValueError, "prompt"),
        ((APP, "hi"), {"rag_options": {"pipeline": ["x"]}}, ValueError, "rag_options"),
        ((APP, "hi"), {"rag_options": {"tags": "x"}}, TypeError, "rag_options.tags"),
        ((APP, "hi"), {"biz_params": ["x"]}, TypeError, "biz_params"),
        ((APP, "hi"), {"has_thoughts": "yes"}, TypeError, "has_thoughts"),
        ((APP,), {"messages": [{"role": "robot", "content": "x"}]}, ValueError, "messages[0]"),
        ((APP, "hi"), {"flow_stream_mode": "fast"}, ValueError, "flow_stream_mode"),
    ],
)
def test_bad_arguments_fail_before_any_request(
    ds: GenClient,
    emu: Emulator,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    error: type,
    name: str,
) -> None:
    with pytest.raises(error, match=re.escape(name)):
        ds.run(ds.client.apps.call(*args, **kwargs))
    with pytest.raises(error, match=re.escape(name)):
        ds.client.apps.stream(*args, **kwargs)
    assert emu.received("apps") == []


def test_workspace_and_passthrough_parameters_reach_the_wire(ds: GenClient, emu: Emulator) -> None:
    ds.run(ds.client.apps.call(APP, "hi", workspace="ws-1", temperature=0.5, image_list=["u"]))
    sent = emu.received("apps")[0]
    assert sent.headers["x-dashscope-workspace"] == "ws-1"
    assert sent.json["parameters"] == {"temperature": 0.5}
    assert sent.json["input"]["image_list"] == ["u"]
