"""Bailian application completion: ``client.apps.call/stream/session`` (PROTOCOL.md).

``build_call`` validates every argument and builds ``POST /apps/{app_id}/completion`` (``model``
is sent as ``""``; no ``null`` keys); ``parse_call`` reads the answer. Streams ask for
incremental output unless the caller explicitly passes ``incremental_output=False`` (then the
cumulative frames are turned into deltas by ``AppStreamStage``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from dashscope_core._protocol.app_stream import AppStreamStage
from dashscope_core._protocol.request import RawResponse, RequestSpec, drop_none, response_parser
from dashscope_core.errors import APIResponseValidationError
from dashscope_core.resources._app_session import AppSession, AsyncAppSession
from dashscope_core.resources._base import AsyncNamespace, SyncNamespace
from dashscope_core.resources._generation_checks import merge_system_messages
from dashscope_core.types.apps import AppChunk, AppResponse

if TYPE_CHECKING:
    from dashscope_core._client import AsyncDashScope, DashScope

__all__ = [
    "FLOW_STREAM_MODES",
    "RAG_OPTION_KEYS",
    "Apps",
    "AsyncApps",
    "app_input",
    "build_call",
    "parse_call",
]

RAG_OPTION_KEYS = frozenset(
    {"pipeline_ids", "file_ids", "tags", "metadata_filter", "structured_filter",
     "session_file_ids"}
)  # fmt: skip
"""Keys ``rag_options`` may hold (PROTOCOL.md)."""
_RAG_LISTS = ("pipeline_ids", "file_ids", "tags", "session_file_ids")
_RAG_MAPS = ("metadata_filter", "structured_filter")
FLOW_STREAM_MODES = frozenset(
    {"full_thoughts", "agent_format", "message_format", "message_format_plus"}
)
"""Workflow stream modes (Model Studio "Invoke a workflow application")."""
_ROLES = frozenset({"system", "user", "assistant"})


def _check_str(name: str, value: Any, *, optional: bool = True) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected a string, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{name}: must not be empty")


def _check_bool(name: str, value: Any) -> None:
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"{name}: expected True or False, got {type(value).__name__}")


def _check_str_list(name: str, value: Any) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise TypeError(f"{name}: expected a list of strings, got {type(value).__name__}")
    for item in value:
        if not isinstance(item, str) or not item:
            raise TypeError(f"{name}: expected non-empty strings, got {item!r}")
    return list(value)


def _check_messages(messages: Any) -> list[dict[str, Any]]:
    if isinstance(messages, (str, Mapping)) or not isinstance(messages, Sequence) or not messages:
        raise ValueError("messages: expected a non-empty list of {'role', 'content'} dicts")
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise TypeError(f"messages[{i}]: expected a dict, got {type(message).__name__}")
        if message.get("role") not in _ROLES:
            raise ValueError(f"messages[{i}].role: expected one of {sorted(_ROLES)}")
        if not isinstance(message.get("content"), (str, list)):
            raise TypeError(f"messages[{i}].content: expected a string or a list of parts")
        out.append(dict(message))
    return [dict(m) for m in merge_system_messages(out)]


def app_input(messages: Sequence[Mapping[str, Any]], session_id: str | None) -> dict[str, Any]:
    """``prompt`` or ``messages`` for a chat history (``{"role", "content": str}`` dicts).

    The documented multi-turn flow is ``prompt`` first, then ``session_id``, and the service
    records only prompt turns in a session (messages turns are forgotten). So: with a
    ``session_id``, the last user message is the prompt (the server has the rest); without
    one and with no assistant turn yet, the texts are the prompt (system messages first,
    joined by blank lines); only a history holding assistant turns goes as ``messages``.
    """
    wire = _check_messages(messages)
    users = [m["content"] for m in wire if m["role"] == "user"]
    if not users:
        raise ValueError("messages: a Bailian app needs a user message to answer")
    if session_id:
        return {"prompt": users[-1], "session_id": session_id}
    if any(m["role"] == "assistant" for m in wire):
        return {"messages": wire}
    texts = [m["content"] for m in wire if m["content"]]  # systems first (merged)
    if not all(isinstance(t, str) for t in texts):
        raise TypeError("messages: content must be text to be sent as a prompt")
    return {"prompt": "\n\n".join(texts)}


def _check_rag_options(rag_options: Any) -> dict[str, Any] | None:
    if rag_options is None:
        return None
    if not isinstance(rag_options, Mapping):
        raise TypeError(f"rag_options: expected a dict, got {type(rag_options).__name__}")
    unknown = sorted(set(rag_options) - RAG_OPTION_KEYS)
    if unknown:
        raise ValueError(f"rag_options: unknown keys {unknown}; known: {sorted(RAG_OPTION_KEYS)}")
    out = dict(rag_options)
    for key in _RAG_LISTS:
        if out.get(key) is not None:
            out[key] = _check_str_list(f"rag_options.{key}", out[key])
    for key in _RAG_MAPS:
        if out.get(key) is not None and not isinstance(out[key], Mapping):
            raise TypeError(f"rag_options.{key}: expected a dict, got {type(out[key]).__name__}")
    return out


def _check_biz_params(biz_params: Any) -> dict[str, Any] | None:
    if biz_params is None:
        return None
    if not isinstance(biz_params, Mapping):
        raise TypeError(f"biz_params: expected a dict, got {type(biz_params).__name__}")
    for key in ("user_defined_params", "user_prompt_params"):
        value = biz_params.get(key)
        if value is not None and not isinstance(value, Mapping):
            raise TypeError(f"biz_params.{key}: expected a dict, got {type(value).__name__}")
    return dict(biz_params)


def _check_flags(
    has_thoughts: Any, enable_thinking: Any, flow_stream_mode: Any, parameters: Mapping[str, Any]
) -> None:
    for name, flag in (("has_thoughts", has_thoughts), ("enable_thinking", enable_thinking),
                       ("incremental_output", parameters.get("incremental_output"))):  # fmt: skip
        _check_bool(name, flag)
    if flow_stream_mode is not None and flow_stream_mode not in FLOW_STREAM_MODES:
        raise ValueError(f"flow_stream_mode: expected one of {sorted(FLOW_STREAM_MODES)}")


def _input(
    prompt: str | None,
    session_id: str | None,
    messages: Sequence[Mapping[str, Any]] | None,
    memory_id: str | None,
    image_list: Sequence[str] | None,
    biz_params: Mapping[str, Any] | None,
) -> dict[str, Any]:
    _check_str("prompt", prompt)
    _check_str("session_id", session_id)
    _check_str("memory_id", memory_id)
    if prompt is None and messages is None:
        raise ValueError("prompt: give a prompt or messages")
    return {
        "prompt": prompt,
        "session_id": session_id,
        "messages": None if messages is None else _check_messages(messages),
        "memory_id": memory_id,
        "image_list": None if image_list is None else _check_str_list("image_list", image_list),
        "biz_params": _check_biz_params(biz_params),
    }


def build_call(
    app_id: str,
    prompt: str | None = None,
    *,
    session_id: str | None = None,
    messages: Sequence[Mapping[str, Any]] | None = None,
    memory_id: str | None = None,
    image_list: Sequence[str] | None = None,
    biz_params: Mapping[str, Any] | None = None,
    rag_options: Mapping[str, Any] | None = None,
    has_thoughts: bool | None = None,
    flow_stream_mode: str | None = None,
    enable_thinking: bool | None = None,
    workspace: str | None = None,
    stream: bool = False,
    **parameters: Any,
) -> RequestSpec:
    """Validate the arguments and build the ``POST /apps/{app_id}/completion`` request."""
    _check_str("app_id", app_id, optional=False)
    if "/" in app_id:
        raise ValueError(f"app_id: must not contain '/', got {app_id!r}")
    _check_str("workspace", workspace)
    _check_flags(has_thoughts, enable_thinking, flow_stream_mode, parameters)
    inp = _input(prompt, session_id, messages, memory_id, image_list, biz_params)
    params: dict[str, Any] = {
        **parameters,
        "has_thoughts": has_thoughts,
        "rag_options": _check_rag_options(rag_options),
        "flow_stream_mode": flow_stream_mode,
        "enable_thinking": enable_thinking,
    }
    if stream and params.get("incremental_output") is None:
        params = {"incremental_output": True, **params}
    body = {"model": "", "input": drop_none(inp), "parameters": drop_none(params)}
    headers = {"X-DashScope-WorkSpace": workspace} if workspace else {}
    path = f"/apps/{quote(app_id, safe='')}/completion"
    # a turn that may have reached the app lands in its session: never replayed after that
    return RequestSpec("POST", path, json=body, headers=headers, stream=stream, replay_safe=False)


@response_parser
def parse_call(raw: RawResponse) -> AppResponse:
    """The typed answer of a non-streaming app call."""
    body = raw.json()
    if not isinstance(body, dict):
        raise APIResponseValidationError(
            "expected a JSON object", status_code=raw.status_code, request_id=raw.request_id
        )
    response = AppResponse.model_validate(body)
    if response.request_id is None:
        response.request_id = raw.request_id
    return response


def stream_stage(spec: RequestSpec) -> AppStreamStage:
    """The frame reader for ``spec``: incremental unless the caller asked for cumulative."""
    incremental = spec.json["parameters"].get("incremental_output", False) is True
    return AppStreamStage(incremental=incremental)


class Apps(SyncNamespace):
    """Bailian applications (agents, RAG and workflow apps)."""

    def call(self, app_id: str, prompt: str | None = None, **kwargs: Any) -> AppResponse:
        """Ask the app once; see ``build_call`` for the arguments."""
        return parse_call(self._client._send(build_call(app_id, prompt, **kwargs)))

    def stream(self, app_id: str, prompt: str | None = None, **kwargs: Any) -> Iterator[AppChunk]:
        """Ask the app and yield delta chunks; the final chunk has doc_references and usage."""
        spec = build_call(app_id, prompt, stream=True, **kwargs)
        return _iterate(self._client, spec, stream_stage(spec))

    def session(self, app_id: str, session_id: str | None = None, **defaults: Any) -> AppSession:
        """A conversation that keeps the server-side ``session_id`` across calls."""
        return AppSession(self, app_id, session_id, defaults)


class AsyncApps(AsyncNamespace):
    """Bailian applications (agents, RAG and workflow apps), async."""

    async def call(self, app_id: str, prompt: str | None = None, **kwargs: Any) -> AppResponse:
        """Ask the app once; see ``build_call`` for the arguments."""
        return parse_call(await self._client._send(build_call(app_id, prompt, **kwargs)))

    def stream(
        self, app_id: str, prompt: str | None = None, **kwargs: Any
    ) -> AsyncIterator[AppChunk]:
        """Ask the app and yield delta chunks; the final chunk has doc_references and usage."""
        spec = build_call(app_id, prompt, stream=True, **kwargs)
        return _aiterate(self._client, spec, stream_stage(spec))

    def session(
        self, app_id: str, session_id: str | None = None, **defaults: Any
    ) -> AsyncAppSession:
        """A conversation that keeps the server-side ``session_id`` across calls."""
        return AsyncAppSession(self, app_id, session_id, defaults)


def _iterate(client: DashScope, spec: RequestSpec, stage: AppStreamStage) -> Iterator[AppChunk]:
    for event in client._stream(spec):
        yield from stage.feed(event)
    yield from stage.close()


async def _aiterate(
    client: AsyncDashScope, spec: RequestSpec, stage: AppStreamStage
) -> AsyncIterator[AppChunk]:
    async for event in client._stream(spec):
        for chunk in stage.feed(event):
            yield chunk
    for chunk in stage.close():
        yield chunk
