"""Recorders for the secrets test: logs, LangChain callbacks, LlamaIndex events and spans, and
a second loopback HTTP server (file downloads, webhook targets) that records request headers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from _loopback import QuietHandler, api_url, serve
from langchain_core.callbacks import BaseCallbackHandler as LCHandler
from llama_index.core.callbacks.base_handler import BaseCallbackHandler as LIHandler
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.span.simple import SimpleSpan
from llama_index.core.instrumentation.span_handlers import BaseSpanHandler
from pydantic import Field

__all__ = ["LCRecorder", "LIEvents", "LIRecorder", "LISpans", "LogRecorder", "other_server"]

LOGGERS = ("", "httpx", "httpcore", "dashscope_core", "aiohttp", "langchain", "llama_index")
LC_EVENTS = (
    "on_llm_start", "on_chat_model_start", "on_llm_new_token", "on_llm_end", "on_llm_error",
    "on_chain_start", "on_chain_end", "on_chain_error", "on_tool_start", "on_tool_end",
    "on_tool_error", "on_retriever_start", "on_retriever_end", "on_retriever_error",
    "on_text", "on_custom_event", "on_retry", "on_agent_action", "on_agent_finish",
)  # fmt: skip


class LogRecorder(logging.Handler):
    """Every record at DEBUG and above, formatted with its arguments."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(
            f"{record.name} {record.getMessage()} {record.args!r} {record.__dict__!r}"
        )

    @contextmanager
    def installed(self) -> Iterator[LogRecorder]:
        """Attach to the root and chatty loggers at DEBUG for the block."""
        saved = [(logging.getLogger(n), logging.getLogger(n).level) for n in LOGGERS]
        for logger, _ in saved:
            logger.setLevel(logging.DEBUG)
        logging.getLogger().addHandler(self)
        try:
            yield self
        finally:
            logging.getLogger().removeHandler(self)
            for logger, level in saved:
                logger.setLevel(level)


def _lc_record(name: str) -> Any:
    def record(self: LCRecorder, *args: Any, **kwargs: Any) -> None:
        self.texts.append(f"{name} {args!r} {kwargs!r}")

    return record


class LCRecorder(LCHandler):
    """A LangChain callback handler recording every callback's arguments."""

    def __init__(self) -> None:
        self.texts: list[str] = []


for _name in LC_EVENTS:
    setattr(LCRecorder, _name, _lc_record(_name))


class LIRecorder(LIHandler):
    """A LlamaIndex (legacy) callback handler recording every payload."""

    def __init__(self) -> None:
        super().__init__([], [])
        self.texts: list[str] = []

    def on_event_start(self, event_type: Any, payload: Any = None, event_id: str = "",
                       parent_id: str = "", **kwargs: Any) -> str:  # fmt: skip
        self.texts.append(f"start {event_type} {payload!r} {kwargs!r}")
        return event_id

    def on_event_end(self, event_type: Any, payload: Any = None, event_id: str = "",
                     **kwargs: Any) -> None:  # fmt: skip
        self.texts.append(f"end {event_type} {payload!r} {kwargs!r}")

    def start_trace(self, trace_id: str | None = None) -> None:
        """Unused."""

    def end_trace(self, trace_id: str | None = None, trace_map: Any = None) -> None:
        """Unused."""


class LIEvents(BaseEventHandler):
    """Every instrumentation event, dumped."""

    texts: list[str] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        """Handler name."""
        return "LeakEvents"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        """Record the event's repr and its JSON dump."""
        self.texts.append(f"{event!r} {event.model_dump_json()} {kwargs!r}")


class LISpans(BaseSpanHandler[SimpleSpan]):
    """Every span's bound arguments, instance and result."""

    texts: list[str] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        """Handler name."""
        return "LeakSpans"

    def new_span(self, id_: str, bound_args: Any, instance: Any = None,
                 parent_span_id: str | None = None, tags: Any = None,
                 **kwargs: Any) -> SimpleSpan:  # fmt: skip
        self.texts.append(f"{id_} {bound_args!r} {instance!r} {tags!r}")
        return SimpleSpan(id_=id_, parent_id=parent_span_id)

    def prepare_to_exit_span(self, id_: str, bound_args: Any, instance: Any = None,
                             result: Any = None, **kwargs: Any) -> None:  # fmt: skip
        self.texts.append(f"exit {id_} {result!r}")

    def prepare_to_drop_span(self, id_: str, bound_args: Any, instance: Any = None,
                             err: BaseException | None = None, **kwargs: Any) -> None:  # fmt: skip
        self.texts.append(f"drop {id_} {err!r}")


@contextmanager
def other_server() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A loopback server on another port: answers a tiny PNG (``*.png``) or JSON body and
    records each request's headers. Yields ``(origin, recorded headers)``."""
    seen: list[dict[str, str]] = []

    class Handler(QuietHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            self.rfile.read(length)
            seen.append({k.lower(): v for k, v in self.headers.items()})
            png = self.path.endswith(".png")
            body = b"\x89PNG\r\n\x1a\nfake" if png else b'{"ok": true}'
            self.send_response(200)
            self.send_header("content-type", "image/png" if png else "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer  # http.server's method naming

    with serve(Handler) as server:
        yield api_url(server, ""), seen
