"""Bailian application completion: ``POST /apps/{app_id}/completion`` (PROTOCOL.md).

Rules of this module:
- Apps live in a registry per emulator (``registry(emu)``, also ``emu.apps``): register from
  Python (``emu.apps.register(app_id, name=..., pipelines={pipeline_id: [documents]})``) or from
  a JSON file (``dashscope-emulator --apps apps.json``, ``load_apps_file(emu, path)``). Every
  emulator starts with the demo app ``demo-rag-app``; ``emu.reset()`` brings back exactly that.
- An unknown app id answers 400 ``InvalidParameter`` "App not found" (the status the official
  SDK surfaces for a wrong app id; PROTOCOL.md lists no app-specific code).
- Sessions are kept server-side: the first call creates a 32-hex ``session_id``; a call with an
  unknown id starts a fresh history under that id. Only ``prompt`` turns are recorded, as the
  service does: a ``messages`` call (client-kept history) answers from its messages and leaves
  the session as it was, so a conversation must start with ``prompt`` to be continued by id.
- Streams: incremental when ``incremental_output`` is true, cumulative otherwise (the server
  default). ``doc_references`` appear once their marker has been streamed and every later frame
  carries the list so far (recorded ``application-single-generation-text-sse``); the last frame
  has ``finish_reason: "stop"`` and an empty text delta. ``usage`` is in every frame.
- ``emu.script.reply("apps", text=..., doc_references=..., thoughts=...)`` replaces the answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dashscope_core.emulator._apps_answer import Answer, compose, doc_references
from dashscope_core.emulator._apps_demo import DEMO_APP, DEMO_APP_ID
from dashscope_core.emulator._apps_registry import AppRegistry, EmulatedApp
from dashscope_core.emulator._text import count_tokens, fragments, stable_hash
from dashscope_core.emulator.routing import (
    ApiError,
    JSONResponse,
    Request,
    Response,
    Route,
    SSEEvent,
    StreamResponse,
)
from dashscope_core.emulator.state import Emulator

__all__ = [
    "DEMO_APP",
    "DEMO_APP_ID",
    "ROUTES",
    "AppRegistry",
    "EmulatedApp",
    "load_apps_file",
    "registry",
]

_RAG_KEYS = frozenset({"pipeline_ids", "file_ids", "tags", "metadata_filter",
                       "structured_filter", "session_file_ids"})  # fmt: skip


def registry(emulator: Emulator) -> AppRegistry:
    """The app registry of ``emulator`` (created with the demo app on first use)."""

    def make() -> AppRegistry:
        made = AppRegistry()
        made.load(DEMO_APP)
        return made

    return emulator.get_or_create("apps.registry", make)


def _sessions(emulator: Emulator) -> dict[str, list[dict[str, str]]]:
    sessions: dict[str, list[dict[str, str]]] = emulator.namespace("apps").setdefault(
        "sessions", {}
    )
    return sessions


def _bad(message: str) -> ApiError:
    return ApiError(400, "InvalidParameter", message)


def _parse(body: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    if not isinstance(body, dict):
        raise ApiError(
            400, "BadRequest.EmptyInput", "Required input parameter missing from request."
        )
    inp, params = body.get("input"), body.get("parameters") or {}
    if not isinstance(inp, dict) or not (inp.get("prompt") or inp.get("messages")):
        raise ApiError(
            400, "BadRequest.EmptyInput", "Required input parameter missing from request."
        )
    if not isinstance(params, dict):
        raise _bad("parameters must be an object")
    rag = params.get("rag_options") or {}
    if not isinstance(rag, dict) or set(rag) - _RAG_KEYS:
        raise _bad(f"rag_options is invalid: unknown keys {sorted(set(rag) - _RAG_KEYS)}")
    if inp.get("messages") is not None and not isinstance(inp["messages"], list):
        raise _bad("input.messages must be a list")
    biz = inp.get("biz_params") or {}
    if not isinstance(biz, dict):
        raise _bad("input.biz_params must be an object")
    return inp, params


def _history(inp: dict[str, Any], turns: list[dict[str, str]]) -> tuple[str, list[Any]]:
    messages = inp.get("messages")
    if messages:
        history = [m for m in messages if isinstance(m, dict)]
        prompt = inp.get("prompt")
        if prompt is None and history and history[-1].get("role") == "user":
            prompt = history.pop().get("content")
        return str(prompt or ""), history
    history = []
    for turn in turns:
        history += [{"role": "user", "content": turn["user"]},
                    {"role": "assistant", "content": turn["assistant"]}]  # fmt: skip
    return str(inp["prompt"]), history


def _answer(app: EmulatedApp, inp: dict[str, Any], params: dict[str, Any], history: Any) -> Answer:
    prompt, past = history
    return compose(
        prompt=prompt,
        history=past,
        pipelines=app.pipelines,
        app_name=app.name,
        options=params.get("rag_options") or {},
        top_k=app.top_k,
        memory_id=inp.get("memory_id"),
        biz_params=inp.get("biz_params") or {},
        thinking=params.get("enable_thinking") is True,
    )


def _scripted(request: Request, answer: Answer) -> tuple[str, list[Any], list[Any]]:
    refs: list[Any] = doc_references(answer.hits)
    thoughts: list[Any] = answer.thoughts
    text = answer.text
    if request.script is not None:
        data = request.script.data
        text = data.get("text", text)
        refs = data.get("doc_references", refs)
        thoughts = data.get("thoughts", thoughts)
    return text, refs, thoughts


async def complete(request: Request, emulator: Emulator) -> Response:
    """Answer one app call (JSON or stream)."""
    app = registry(emulator).get(request.params["app_id"])
    if app is None:
        raise _bad(f"App not found: {request.params['app_id']!r}; check the app id and that the "
                   "app is published.")  # fmt: skip
    inp, params = _parse(request.json)
    sessions = _sessions(emulator)
    session_id = inp.get("session_id") or _new_session_id(emulator)
    turns = sessions.setdefault(str(session_id), [])
    prompt_history = _history(inp, turns)
    answer = _answer(app, inp, params, prompt_history)
    text, refs, thoughts = _scripted(request, answer)
    if not inp.get("messages"):
        turns.append({"user": prompt_history[0], "assistant": text})
    usage = {"model_id": app.model_id,
             "input_tokens": count_tokens(prompt_history[0]) + sum(
                 count_tokens(h.passage.text) for h in answer.hits),
             "output_tokens": count_tokens(text)}  # fmt: skip
    if not params.get("has_thoughts"):
        thoughts = []
    render = _Render(str(session_id), text, refs, thoughts, usage, request.request_id)
    if request.sse:
        incremental = params.get("incremental_output") is True
        return StreamResponse(render.frames(incremental, stable_hash(text, session_id)))
    return JSONResponse(render.whole())


def _new_session_id(emulator: Emulator) -> str:
    return f"{emulator.rng.getrandbits(128):032x}"


class _Render:
    """Builds the JSON body or the stream frames of one answer."""

    def __init__(self, session_id: str, text: str, refs: list[Any], thoughts: list[Any],
                 usage: dict[str, Any], request_id: str) -> None:  # fmt: skip
        self.session_id, self.text, self.refs = session_id, text, refs
        self.thoughts, self.usage, self.request_id = thoughts, usage, request_id

    def _body(self, output: dict[str, Any], output_tokens: int) -> dict[str, Any]:
        usage = {**self.usage, "output_tokens": output_tokens}
        return {"output": output, "usage": {"models": [usage]}, "request_id": self.request_id}

    def whole(self) -> dict[str, Any]:
        """The non-streaming body."""
        output: dict[str, Any] = {"text": self.text, "finish_reason": "stop",
                                  "session_id": self.session_id}  # fmt: skip
        if self.thoughts:
            output["thoughts"] = self.thoughts
        if self.refs:
            output["doc_references"] = self.refs
        return self._body(output, self.usage["output_tokens"])

    def _cited(self, so_far: str) -> list[Any]:
        return [r for r in self.refs if f"[{r.get('index_id')}]" in so_far]

    def frames(self, incremental: bool, key: int) -> Iterator[SSEEvent]:
        """The stream frames, incremental or cumulative."""
        so_far = ""
        for i, piece in enumerate(fragments(self.text, key) or [""]):
            so_far += piece
            output: dict[str, Any] = {"session_id": self.session_id, "finish_reason": "null",
                                      "text": piece if incremental else so_far}  # fmt: skip
            if self.thoughts and (i == 0 or not incremental):
                output["thoughts"] = self.thoughts
            cited = self._cited(so_far)
            if cited:
                output["doc_references"] = cited
            yield SSEEvent(self._body(output, count_tokens(so_far)))
        final: dict[str, Any] = {"session_id": self.session_id, "finish_reason": "stop",
                                 "text": "" if incremental else self.text}  # fmt: skip
        if self.thoughts and not incremental:
            final["thoughts"] = self.thoughts
        if self.refs:
            final["doc_references"] = self.refs
        yield SSEEvent(self._body(final, self.usage["output_tokens"]))


def load_apps_file(emulator: Emulator, path: str | Path) -> list[str]:
    """Register the apps of a JSON file (``{"apps": [...]}`` or a list); returns their ids."""
    data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    return registry(emulator).load(data)


ROUTES = [Route("POST", "/apps/{app_id}/completion", complete, kind="apps")]
