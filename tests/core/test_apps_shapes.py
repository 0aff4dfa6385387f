"""Real Bailian app response shapes through the pure stream stage and the wire models.

The frames are abridged from published production examples: Model Studio's application API
docs (deep-thinking thoughts streamed as fragments, workflow ``message_format`` /
``message_format_plus`` frames with ``workflow_message`` and no ``text``), a workflow
``full_thoughts`` frame (node states in ``response``, two models in ``usage``), and the
cnblogs/dashscope-sdk recordings ``application-workflow-nosse`` (``"usage":{}``) and
``application-single-generation-text-with-memory-nosse`` (memory thought).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from dashscope_core import accumulate_app
from dashscope_core._protocol.app_stream import AppStreamStage, ThoughtMerger
from dashscope_core._protocol.sse import SSEEvent
from dashscope_core.errors import APIResponseValidationError
from dashscope_core.types.apps import AppChunk, AppResponse, Thought

SID = "ea188f5f795a485f8956e3af0212ba29"


def _frame(output: dict[str, Any], usage: Any = None, finish: str = "null") -> SSEEvent:
    body = {"output": {"session_id": SID, "finish_reason": finish, **output},
            "usage": {} if usage is None else usage, "request_id": "req-1"}  # fmt: skip
    return SSEEvent(event="result", data=json.dumps(body, ensure_ascii=False), status=200)


def _run(frames: list[SSEEvent], *, incremental: bool) -> list[AppChunk]:
    stage = AppStreamStage(incremental=incremental)
    chunks = [c for f in frames for c in stage.feed(f)]
    return chunks + stage.close()


def _reasoning(piece: str) -> dict[str, Any]:
    return {"action": "reasoning", "thought": piece, "action_type": "reasoning",
            "response": piece, "action_name": "思考过程"}  # fmt: skip


def test_incremental_reasoning_fragments_merge_into_one_step() -> None:
    pieces = ["嗯", "，", "用户", "，", "", ""]  # a repeated fragment is text, not a duplicate
    frames = [_frame({"thoughts": [_reasoning(p)], "text": ""}) for p in pieces]
    frames += [_frame({"thoughts": [_reasoning("")], "text": t}) for t in ["问题", "吗"]]
    frames.append(_frame({"thoughts": [_reasoning("")], "text": ""}, finish="stop"))
    chunks = _run(frames, incremental=True)
    whole = accumulate_app(chunks)
    assert whole.text == "问题吗"
    assert [(t.action_type, t.thought, t.response) for t in whole.output.thoughts] == [
        ("reasoning", "嗯，用户，", "嗯，用户，")
    ]
    assert chunks[-1].is_final and chunks[-1].output.thoughts == whole.output.thoughts


def test_rag_then_reasoning_fragments_keep_both_steps() -> None:
    rag = {"action_type": "agentRag", "action_name": "知识检索", "action": "rag",
           "action_input_stream": "{}", "arguments": "{}", "observation": "[]"}  # fmt: skip
    frames = [_frame({"thoughts": [rag], "text": ""}), _frame({"thoughts": [rag], "text": ""})]
    frames += [_frame({"thoughts": [_reasoning(p)], "text": ""}) for p in ["好", "好的"]]
    frames.append(_frame({"text": "答"}, finish="stop"))
    whole = accumulate_app(_run(frames, incremental=True))
    assert [t.action_type for t in whole.output.thoughts] == ["agentRag", "reasoning"]
    assert whole.output.thoughts[0].action_input_stream == "{}"  # repeated step not doubled
    assert whole.output.thoughts[1].thought == "好好的"


def _node(node_id: str, name: str, status: str, result: str = "") -> dict[str, Any]:
    state = {"nodeName": name, "nodeResult": json.dumps({"result": result}), "nodeType": "LLM",
             "nodeStatus": status, "nodeId": node_id}  # fmt: skip
    return {"response": json.dumps(state, ensure_ascii=False)}


def test_workflow_full_thoughts_snapshots_replace_node_states() -> None:
    usage = {
        "models": [
            {"input_tokens": 809, "output_tokens": 49, "model_id": "qwen-max"},
            {"input_tokens": 1464, "output_tokens": 8, "model_id": "deepseek-r1"},
        ]
    }
    start = _node("Start_bYxoRU", "开始", "success")
    frames = [
        _frame({"thoughts": [start]}, usage),
        _frame({"thoughts": [start, _node("LLM_pBed", "code", "executing", "好的")]}, usage),
        _frame({"thoughts": [start, _node("LLM_pBed", "code", "success", "好的，写")]}, usage),
        _frame({"thoughts": [_node("LLM_pBed", "code", "success", "好的，写")]}, usage),
        _frame({"text": "代码"}, usage, finish="stop"),
    ]
    whole = accumulate_app(_run(frames, incremental=True))
    states = [json.loads(t.response or "") for t in whole.output.thoughts]
    assert [(s["nodeId"], s["nodeStatus"]) for s in states] == [
        ("Start_bYxoRU", "success"),
        ("LLM_pBed", "success"),
    ]
    assert whole.usage.input_tokens == 809 + 1464 and whole.usage.output_tokens == 57
    assert whole.text == "代码"


def _workflow_message(seq: int, content: str, done: bool = False) -> dict[str, Any]:
    return {"workflow_message": {"node_status": "success" if done else "executing",
            "node_type": "End", "node_msg_seq_id": seq, "node_name": "结束",
            "message": {"content": content, "role": "assistant"},
            "node_is_completed": done, "node_id": "End_7w1V"}}  # fmt: skip


@pytest.mark.parametrize("incremental", [True, False])
def test_workflow_message_format_frames_stream_node_output(incremental: bool) -> None:
    pieces = ["我是通义千问", "，阿里巴巴集团", "旗下的模型。"]
    frames = [_frame(_workflow_message(i, p)) for i, p in enumerate(pieces, 1)]
    frames.append(_frame(_workflow_message(4, "", done=True)))
    frames.append(_frame({"text": "".join(pieces)}, finish="stop"))
    chunks = _run(frames, incremental=incremental)
    messages = [c.output.workflow_message for c in chunks if c.output.workflow_message]
    assert "".join(m.message.content for m in messages) == "".join(pieces)
    assert messages[-1].node_is_completed is True and messages[0].node_msg_seq_id == 1
    assert accumulate_app(chunks).text == "".join(pieces)  # the final frame's whole text once


def test_incremental_final_frame_repeating_the_whole_text_is_not_doubled() -> None:
    frames = [
        _frame({"text": "ab"}),
        _frame({"text": "cd"}),
        _frame({"text": "abcd"}, finish="stop"),
    ]
    assert accumulate_app(_run(frames, incremental=True)).text == "abcd"


def test_cumulative_thought_snapshots_grow_one_step() -> None:
    steps = [[_reasoning("嗯")], [_reasoning("嗯，用户")], [_reasoning("嗯，用户")]]
    frames = [_frame({"thoughts": t, "text": x}) for t, x in zip(steps, ["", "答"], strict=False)]
    frames.append(_frame({"thoughts": steps[2], "text": "答案"}, finish="stop"))
    chunks = _run(frames, incremental=False)
    assert [c.output.text for c in chunks] == ["", "答", "案"]
    assert [t.thought for t in accumulate_app(chunks).output.thoughts] == ["嗯，用户"]


def test_cumulative_text_that_does_not_extend_is_an_error() -> None:
    with pytest.raises(APIResponseValidationError, match="does not extend"):
        _run([_frame({"text": "abc"}), _frame({"text": "xyz"}, finish="stop")], incremental=False)


def test_merger_appends_distinct_steps_and_skips_finished_repeats() -> None:
    merger = ThoughtMerger(incremental=True)
    memory = Thought(action_type="api", action="memory", observation='["likes noodles"]')
    plugin = Thought(action_type="api", action="plugin", action_name="weather")
    assert merger.feed([memory]) and merger.feed([plugin])
    assert not merger.feed([memory]) and not merger.feed([])
    assert merger.steps == [memory, plugin]


def test_recorded_memory_and_workflow_bodies_parse() -> None:
    memory = AppResponse.model_validate({
        "output": {"thoughts": [{"action_input_stream": '{"memory_id":"ffd8","query":"我爱吃面食"}',
                                 "action_type": "api", "observation": '["用户喜欢吃面食。"]',
                                 "action_name": "长期记忆检索", "action": "memory",
                                 "arguments": '{"memory_id":"ffd8","query":"我爱吃面食"}'}],
                   "finish_reason": "stop", "session_id": "cd39", "text": "面条<ref>[1]</ref>。"},
        "usage": {"models": [{"output_tokens": 43, "model_id": "qwen-plus", "input_tokens": 1201}]},
        "request_id": "8cea"})  # fmt: skip
    assert json.loads(memory.output.thoughts[0].arguments or "")["memory_id"] == "ffd8"
    assert memory.output.doc_references == [] and memory.usage.total_tokens == 1244
    workflow = AppResponse.model_validate_json(
        '{"output":{"finish_reason":"stop","session_id":"5a20","text":"code"},"usage":{},'
        '"request_id":"1099"}'
    )
    assert (
        workflow.text == "code" and workflow.usage.models == [] and workflow.usage.total_tokens == 0
    )


def test_hostile_but_valid_values_parse() -> None:
    thought = {"observation": [{"id": 1}], "action_input": {"q": 1}}
    body = {"output": {"text": None, "thoughts": [thought],
                       "doc_references": [{"index_id": 1, "doc_id": 7, "images": None,
                                           "page_number": [3, 4], "doc_url": "https://x/d.pdf",
                                           "biz_id": "b1", "new_field": "kept"}],
                       "workflow_message": {"message": None}},
            "usage": {"models": [{"model_id": "m", "input_tokens": None,
                                  "output_tokens": 2}]}}  # fmt: skip
    r = AppResponse.model_validate(body)
    ref = r.output.doc_references[0]
    assert (ref.index_id, ref.doc_id, ref.images, ref.page_number) == ("1", "7", [], [3, 4])
    assert ref.doc_url == "https://x/d.pdf" and ref.model_extra == {"new_field": "kept"}
    assert json.loads(r.output.thoughts[0].observation or "") == [{"id": 1}]
    assert r.text == "" and r.usage.total_tokens == 2
    assert r.output.workflow_message is not None and r.output.workflow_message.message.content == ""
    assert AppResponse.model_validate({"output": None, "usage": None}).usage.models == []
