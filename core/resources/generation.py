"""Text and multimodal generation: ``client.generation.call()`` and ``.stream()``.

The pure half (``build_call`` / ``build_stream`` / ``parse_call`` / ``stream_stage``) holds every
decision; ``Generation`` / ``AsyncGeneration`` only send. Argument checks live in
``_generation_checks`` and run before any request. The model's profile (``profiles``) picks the
endpoint and shapes the call: a non-streaming call the model only answers as a stream (thinking
on, QwQ, Omni) is built as a stream, and ``call`` accumulates it into the same response.
``tool_choice="required"`` is the named choice of the only tool when the call does not think;
otherwise it is asked as ``auto`` plus an instruction and the answer is checked
(``_protocol.tool_forcing``): the twins then send at most twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from dashscope_core._protocol.generation_stream import (
    GenerationStream,
    accumulate,
    parse_generation,
)
from dashscope_core._protocol.request import (
    RawResponse,
    RequestSpec,
    drop_none,
    response_parser,
)
from dashscope_core._protocol.tool_forcing import REQUIRED, ToolCallRequired, instruct
from dashscope_core.profiles import ModelProfile, get_profile
from dashscope_core.resources._base import AsyncNamespace, SyncNamespace
from dashscope_core.resources._generation_checks import (
    check_history,
    check_kind,
    check_media,
    check_messages,
    check_model,
    check_parameters,
    check_prompt,
    check_thinking,
    check_tool_choice,
    check_tools,
)
from dashscope_core.types.generation import GenerationResponse

if TYPE_CHECKING:
    from dashscope_core._client import AsyncDashScope, DashScope

__all__ = [
    "MULTIMODAL_PATH",
    "TEXT_PATH",
    "AsyncGeneration",
    "Generation",
    "build_call",
    "build_stream",
    "parse_call",
    "stream_stage",
]

TEXT_PATH = "/services/aigc/text-generation/generation"
MULTIMODAL_PATH = "/services/aigc/multimodal-generation/generation"

ResultFormat = Literal["message", "text"]


def build_call(
    *,
    model: str,
    messages: Sequence[Mapping[str, Any]] | None = None,
    prompt: str | None = None,
    history: Sequence[Mapping[str, Any]] | None = None,
    result_format: ResultFormat | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    tool_choice: str | Mapping[str, Any] | None = None,
    **parameters: Any,
) -> RequestSpec:
    """The request of a non-streaming call (``stream=True`` when the model answers such a call
    only as a stream: ``call`` accumulates it); bad arguments raise here."""
    return _build(model, messages, prompt, history, result_format, tools, tool_choice,
                  parameters, stream=False)[0]  # fmt: skip


def build_stream(
    *,
    model: str,
    messages: Sequence[Mapping[str, Any]] | None = None,
    prompt: str | None = None,
    history: Sequence[Mapping[str, Any]] | None = None,
    result_format: ResultFormat | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    tool_choice: str | Mapping[str, Any] | None = None,
    **parameters: Any,
) -> RequestSpec:
    """The request of a streaming call: SSE, and ``incremental_output: true`` unless overridden."""
    return _build(model, messages, prompt, history, result_format, tools, tool_choice,
                  parameters, stream=True)[0]  # fmt: skip


@response_parser
def parse_call(raw: RawResponse) -> GenerationResponse:
    """Parse a generation answer (one pass over the bytes)."""
    response = parse_generation(raw.content)
    response.status_code = raw.status_code
    return response


def stream_stage(spec: RequestSpec) -> GenerationStream:
    """The frame reader for ``spec``: converts cumulative frames when incremental output is off."""
    incremental = spec.json["parameters"].get("incremental_output") is True
    return GenerationStream(incremental=incremental)


def _build(
    model: str,
    messages: Sequence[Mapping[str, Any]] | None,
    prompt: str | None,
    history: Sequence[Mapping[str, Any]] | None,
    result_format: str | None,
    tools: Sequence[Mapping[str, Any]] | None,
    tool_choice: str | Mapping[str, Any] | None,
    parameters: dict[str, Any],
    *,
    stream: bool,
) -> tuple[RequestSpec, ToolCallRequired | None]:
    """The request, and the check its answer must pass (a required tool call), if any."""
    if stream and parameters.get("incremental_output") is None:
        parameters = {**parameters, "incremental_output": True}
    check_model(model)
    profile = get_profile(model)
    check_kind(profile)
    if (messages is None) == (prompt is None):
        raise ValueError("messages/prompt: pass exactly one of messages= or prompt=")
    wire_messages, parts = check_messages(messages) if messages is not None else ([], None)
    if prompt is not None:
        check_prompt(prompt)
    if history is not None:
        check_history(history, with_prompt=prompt is not None)
    check_media(profile, wire_messages)
    wire_tools = check_tools(tools)
    if result_format is not None and result_format not in ("message", "text"):
        raise ValueError(f"result_format: expected 'message' or 'text', got {result_format!r}")
    params = check_parameters(parameters, streaming=stream)
    params["tools"] = wire_tools
    params["tool_choice"] = check_tool_choice(tool_choice, wire_tools)
    params["result_format"] = result_format
    check = None
    if params["tool_choice"] == REQUIRED:
        wire_messages, check = _require_tool_call(profile, params, wire_messages, prompt)
    thinks = check_thinking(profile, params, streaming=stream)
    if not stream and profile.streams_call(params.get("enable_thinking")):
        stream, params["incremental_output"] = True, True  # accumulated by ``call``
    if profile.endpoint == "multimodal":
        inp: dict[str, Any] = {"messages": _as_parts(wire_messages, prompt, history)}
    else:
        inp = {"messages": wire_messages} if messages is not None else {"prompt": prompt}
        if history is not None:
            inp["history"] = history
        as_message = messages is not None or wire_tools or thinks
        params["result_format"] = result_format or ("message" if as_message else "text")
    body = {"model": model, "input": drop_none(inp), "parameters": drop_none(params)}
    path = MULTIMODAL_PATH if profile.endpoint == "multimodal" else TEXT_PATH
    # oss:// URLs (temporary uploads) are resolved only with this header (PROTOCOL.md "media")
    oss = parts is not None and (parts.oss or parts.local)
    headers = {"X-DashScope-OssResourceResolve": "enable"} if oss else {}
    return RequestSpec("POST", path, json=body, stream=stream, headers=headers), check


def _require_tool_call(
    profile: ModelProfile,
    params: dict[str, Any],
    messages: list[Mapping[str, Any]],
    prompt: str | None,
) -> tuple[list[Mapping[str, Any]], ToolCallRequired | None]:
    """``tool_choice="required"``: the only tool's named choice when the call does not think
    (the server forces it); otherwise ``auto``, the instruction, and the answer check."""
    names = [t["function"]["name"] for t in params["tools"]]
    if len(names) == 1 and not profile.thinks(params.get("enable_thinking")):
        params["tool_choice"] = {"type": "function", "function": {"name": names[0]}}
        return messages, None
    if prompt is not None:
        raise ValueError("tool_choice: 'required' with several tools (or thinking) needs messages=")
    params["tool_choice"] = "auto"
    return instruct(messages, names), ToolCallRequired(names)


def _parts(content: Any) -> Any:
    return [{"text": content}] if isinstance(content, str) else content


def _as_parts(
    messages: list[Mapping[str, Any]],
    prompt: str | None,
    history: Sequence[Mapping[str, Any]] | None,
) -> list[Mapping[str, Any]]:
    """Messages for the multimodal endpoint: every string content becomes ``[{"text": ...}]``."""
    if prompt is not None:
        messages = []
        for turn in history or ():
            messages.append({"role": "user", "content": turn.get("user", "")})
            messages.append({"role": "assistant", "content": turn.get("bot", "")})
        messages.append({"role": "user", "content": prompt})
    return [{**m, "content": _parts(m.get("content"))} for m in messages]


class Generation(SyncNamespace):
    """Qwen text and multimodal generation."""

    def call(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]] | None = None,
        prompt: str | None = None,
        history: Sequence[Mapping[str, Any]] | None = None,
        result_format: ResultFormat | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        **parameters: Any,
    ) -> GenerationResponse:
        """Generate an answer."""
        spec, check = _build(model, messages, prompt, history, result_format, tools,
                             tool_choice, parameters, stream=False)  # fmt: skip
        return _call(self._client, spec, check)

    def stream(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]] | None = None,
        prompt: str | None = None,
        history: Sequence[Mapping[str, Any]] | None = None,
        result_format: ResultFormat | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        **parameters: Any,
    ) -> Iterator[GenerationResponse]:
        """Stream the answer as deltas; the request is sent when iteration starts."""
        spec, check = _build(model, messages, prompt, history, result_format, tools,
                             tool_choice, parameters, stream=True)  # fmt: skip
        return _chunks(self._client, spec, check)


class AsyncGeneration(AsyncNamespace):
    """Qwen text and multimodal generation (async)."""

    async def call(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]] | None = None,
        prompt: str | None = None,
        history: Sequence[Mapping[str, Any]] | None = None,
        result_format: ResultFormat | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        **parameters: Any,
    ) -> GenerationResponse:
        """Generate an answer."""
        spec, check = _build(model, messages, prompt, history, result_format, tools,
                             tool_choice, parameters, stream=False)  # fmt: skip
        return await _acall(self._client, spec, check)

    def stream(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]] | None = None,
        prompt: str | None = None,
        history: Sequence[Mapping[str, Any]] | None = None,
        result_format: ResultFormat | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        **parameters: Any,
    ) -> AsyncIterator[GenerationResponse]:
        """Stream the answer as deltas (``async for``); bad arguments raise at call time."""
        spec, check = _build(model, messages, prompt, history, result_format, tools,
                             tool_choice, parameters, stream=True)  # fmt: skip
        return _achunks(self._client, spec, check)


# The sending loops: one request, or (a required tool call) one more when the check says so.
# A non-streaming call the model answers only as a stream (``spec.stream``) is accumulated.


def _call(
    client: DashScope, spec: RequestSpec, check: ToolCallRequired | None
) -> GenerationResponse:
    if spec.stream:
        return accumulate(_chunks(client, spec, check))
    spec = client.uploads.upload_parts(spec)  # local media
    while True:
        response = parse_call(client._send(spec))
        if check is None or check.accept(response):
            return response


async def _acall(
    client: AsyncDashScope, spec: RequestSpec, check: ToolCallRequired | None
) -> GenerationResponse:
    if spec.stream:
        return accumulate([chunk async for chunk in _achunks(client, spec, check)])
    spec = await client.uploads.upload_parts(spec)  # local media
    while True:
        response = parse_call(await client._send(spec))
        if check is None or check.accept(response):
            return response


def _checked(check: ToolCallRequired | None, chunks: list[GenerationResponse]) -> list[Any]:
    if check is None:
        return chunks
    return [out for chunk in chunks for out in check.feed(chunk)]


def _chunks(
    client: DashScope, spec: RequestSpec, check: ToolCallRequired | None
) -> Iterator[GenerationResponse]:
    spec = client.uploads.upload_parts(spec)  # local media, when iteration starts
    while True:
        stage = stream_stage(spec)
        for event in client._stream(spec):
            yield from _checked(check, stage.feed(event))
        yield from _checked(check, stage.close())
        if check is None or check.close():
            return


async def _achunks(
    client: AsyncDashScope, spec: RequestSpec, check: ToolCallRequired | None
) -> AsyncIterator[GenerationResponse]:
    spec = await client.uploads.upload_parts(spec)  # local media, when iteration starts
    while True:
        stage = stream_stage(spec)
        async for event in client._stream(spec):
            for chunk in _checked(check, stage.feed(event)):
                yield chunk
        for chunk in _checked(check, stage.close()):
            yield chunk
        if check is None or check.close():
            return
