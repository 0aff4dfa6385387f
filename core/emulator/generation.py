"""Text generation: ``POST /services/aigc/text-generation/generation``.

Behaviour (PROTOCOL.md, recorded ``single-generation-*`` fixtures):

- Validation like the real service (``_genparams``): missing model → 400 ``InvalidParameter``;
  a name that does not look like a text model (qwen*, qwq*, llama*, deepseek*, glm*, ...) → 404
  ``Model.NotExist`` (PROTOCOL.md's table); missing input → 400 ``BadRequest.EmptyInput``;
  empty ``messages`` → the recorded ``parameter-error`` reply; bad role, ``max_tokens`` < 1,
  ``temperature`` outside [0, 2), ``top_p`` outside (0, 1], ``n`` outside [1, 4] → 400.
  Combinations the real service rejects (``_genrules``, sources cited there): thinking mode
  (``enable_thinking`` or a thinking-only model: qwq-*, qvq-*, *thinking*) with a forced
  ``tool_choice`` or a JSON ``response_format``; ``json_object`` without the word "json" in a
  system/user message; a ``tool`` message not answering an assistant ``tool_calls`` message.
- The answer is deterministic: a short reply quoting the last user message, varied by ``seed``
  (default: the emulator's seed) and the choice index; after ``tool`` messages it uses the
  tool results. ``stop`` cuts before the stop string, ``max_tokens`` truncates
  (``finish_reason: "length"``); tokens are whitespace words and CJK characters.
- ``result_format`` defaults to ``text`` (``message`` when tools or thinking are asked for
  without a format); tool calls are always rendered in the message format.
- Tools: ``auto`` calls the tools whose name/description words appear in the last user message
  (several → parallel calls; one tool and several quoted/capitalised values with
  ``parallel_tool_calls: true`` → one call per value), ``none`` never calls, a named function is
  always called. Auto calls finish with ``tool_calls``; forced calls finish with ``stop`` as in the
  recorded ``single-generation-message-with-tools-nosse``.
- Thinking mode adds ``reasoning_content`` (streamed first) and
  ``usage.output_tokens_details.reasoning_tokens``; ``response_format`` json_object / json_schema
  answer JSON (an instance of the schema); ``logprobs`` adds per-token log probabilities.
- Streams: frames numbered from 1, ``finish_reason`` ``"null"`` until the final frame, usage and
  request_id in every frame; cumulative unless ``incremental_output`` is true.
"""

from __future__ import annotations

from dashscope_core.emulator._genparams import parse_generation
from dashscope_core.emulator._genplan import build_plan, render
from dashscope_core.emulator._genstream import stream_events
from dashscope_core.emulator.routing import JSONResponse, Request, Response, Route, StreamResponse
from dashscope_core.emulator.state import Emulator

__all__ = ["PATH", "ROUTES", "handle"]

PATH = "/services/aigc/text-generation/generation"


async def handle(request: Request, emulator: Emulator) -> Response:
    """Answer a generation call (JSON or SSE)."""
    params = parse_generation(
        request.json, endpoint="text", streaming=request.sse, scripted=request.script is not None
    )
    plan = build_plan(params, request, emulator)
    if request.sse:
        return StreamResponse(stream_events(plan, request.request_id))
    return JSONResponse(render(plan, request.request_id))


ROUTES = [Route("POST", PATH, handle, kind="generation")]
