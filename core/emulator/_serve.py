"""Run the emulator on a loopback port: ``serve()`` (background thread) and ``aserve()``."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from dashscope_core.emulator._server import DEFAULT_MAX_BODY_SIZE, Server
from dashscope_core.emulator.app import API_PREFIX, create_app
from dashscope_core.emulator.state import Emulator

__all__ = ["ServerHandle", "aserve", "serve"]


@dataclass(frozen=True)
class ServerHandle:
    """A running emulator: where it listens and its state."""

    emulator: Emulator
    host: str
    port: int
    server: Server | None = field(default=None, compare=False, repr=False)
    """The running server (``open_connections`` for leak checks)."""

    @property
    def origin(self) -> str:
        """``http://host:port``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The DashScope base URL, e.g. ``http://127.0.0.1:54321/api/v1``."""
        return self.origin + API_PREFIX


class _ThreadRunner:
    """Owns an event loop in a daemon thread that runs one ``Server``."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="dashscope-emulator", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        await self.server.start()
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await self.server.close()


def _server(
    emulator: Emulator, host: str, port: int, max_body_size: int, options: dict[str, Any]
) -> Server:
    app = create_app(emulator)
    return Server(app, host=host, port=port, max_body_size=max_body_size, **options)


@contextlib.contextmanager
def serve(
    emulator: Emulator | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    **options: Any,
) -> Iterator[ServerHandle]:
    """Serve the emulator from a background thread; yields a handle with ``.base_url``."""
    emu = emulator if emulator is not None else Emulator()
    runner = _ThreadRunner(_server(emu, host, port, max_body_size, options))
    runner.start()
    try:
        yield ServerHandle(emu, host, runner.server.port, runner.server)
    finally:
        runner.stop()


@contextlib.asynccontextmanager
async def aserve(
    emulator: Emulator | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    **options: Any,
) -> AsyncIterator[ServerHandle]:
    """Serve the emulator on the running event loop; yields a handle with ``.base_url``."""
    emu = emulator if emulator is not None else Emulator()
    server = _server(emu, host, port, max_body_size, options)
    await server.start()
    try:
        yield ServerHandle(emu, host, server.port, server)
    finally:
        await server.close()
