"""``signed``: store a method's signature once instead of on every call (framework helper)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["signed"]

_F = TypeVar("_F", bound=Callable[..., Any])


def signed(method: _F) -> _F:
    """Store ``inspect.signature(method)`` as its ``__signature__``.

    Both frameworks inspect our methods on every call: LlamaIndex's span wrapper binds the
    arguments with ``inspect.signature`` (about 15 µs), and LangChain checks whether
    ``_generate`` / ``_agenerate`` take a ``run_manager``. A stored ``__signature__`` is
    returned as is. In LlamaIndex apply it above the callback decorator, so the stored
    signature is the one inspect computes for what the class holds.
    """
    method.__signature__ = inspect.signature(method)  # type: ignore[attr-defined]
    return method
