"""``signed``: store a method's signature once instead of on every call."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["signed"]

_F = TypeVar("_F", bound=Callable[..., Any])


def signed(method: _F) -> _F:
    """Store ``inspect.signature(method)`` as its ``__signature__``.

    LlamaIndex's span wrapper (``Dispatcher.span``) binds every call's arguments with
    ``inspect.signature(method)``, about 15 µs a call; a stored ``__signature__`` is returned
    as is. Apply it above the callback decorator: the signature is the one inspect computes.
    """
    method.__signature__ = inspect.signature(method)  # type: ignore[attr-defined]
    return method
