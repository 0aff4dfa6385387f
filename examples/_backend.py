"""Where the examples send their requests: DashScope itself, or the embedded emulator.

With ``DASHSCOPE_API_KEY`` set, examples talk to the real service (``DASHSCOPE_BASE_URL`` or
the default region). Without it they start ``dashscope_core.emulator`` on a free loopback port
in this process and talk to that, so every example runs offline.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Backend:
    """The endpoint an example uses and the key it sends."""

    base_url: str | None
    api_key: str
    emulated: bool

    def describe(self) -> str:
        """One line saying which endpoint is in use (never the key)."""
        where = self.base_url or "https://dashscope.aliyuncs.com/api/v1"
        kind = "embedded emulator" if self.emulated else "DashScope"
        return f"endpoint: {where} ({kind})"


@contextmanager
def backend() -> Iterator[Backend]:
    """Yield the real service when DASHSCOPE_API_KEY is set, else a running emulator."""
    key = os.environ.get("DASHSCOPE_API_KEY")
    if key:
        yield Backend(os.environ.get("DASHSCOPE_BASE_URL"), key, emulated=False)
        return
    from dashscope_core.emulator import serve

    with serve() as server:
        yield Backend(server.base_url, "sk-emulator-demo", emulated=True)
