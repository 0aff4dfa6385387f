"""Request bodies as JSON bytes; a value JSON cannot carry is a typed error naming where it is.

Rules of this module:
- Bodies are compact UTF-8 JSON (``ensure_ascii=False``), encoded once, when the request is
  built: a bad value fails at call time, before any request (streams included). Local files in
  media parts (paths, bytes) wait: they become ``oss://`` URLs before sending (uploads), and the
  body is encoded then.
- Never sent, always refused: NaN and infinities (``allow_nan=False``: they are not JSON),
  strings with lone surrogates (not UTF-8), keys JSON has no form for (tuples, objects), values
  of other types, and structures that contain themselves.
- The error names the path inside the body (``parameters.tools[0].function.parameters...``),
  whose first names are the caller's argument (``tools``, ``messages``, ``input``); it is found
  only after the fast encoder failed, so good bodies pay nothing for it.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["check_json", "encode_json"]

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_KEY_TYPES = (str, int, float, bool, type(None))


def encode_json(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON; ValueError/TypeError naming the path of a bad value."""
    try:
        return _ENCODER.encode(value).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        raise _located(value, exc)[0] from None


def check_json(value: Any, pending: tuple[type, ...] = ()) -> bytes | None:
    """``encode_json(value)``, or None when the first value JSON cannot carry is one of the
    ``pending`` types (local files a resource replaces before sending: encoded then)."""
    try:
        return _ENCODER.encode(value).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        problem, culprit = _located(value, exc)
    if pending and isinstance(culprit, pending):
        return None
    raise problem from None


Where = tuple[Any, ...] | None
"""A value's place in the body as (parent place, key): the path string is built only for the
value that is reported (building every path would cost the square of the nesting depth)."""


def _located(root: Any, cause: Exception) -> tuple[Exception, Any]:
    """The typed error for the first value under ``root`` that JSON cannot carry, and it."""
    on_path: set[int] = set()  # containers between the root and the value being looked at
    stack: list[tuple[Any, Where, bool]] = [(root, None, False)]
    while stack:  # iterative: a body nested too deep for recursion is still named
        value, where, leaving = stack.pop()
        if leaving:
            on_path.discard(id(value))
            continue
        problem = _problem(value, where, on_path)
        if problem is not None:
            return problem, value
        if isinstance(value, (dict, list, tuple)):
            on_path.add(id(value))
            stack.append((value, where, True))
            items = value.items() if isinstance(value, dict) else enumerate(value)
            stack.extend((item, (where, key), False) for key, item in reversed(list(items)))
    if isinstance(cause, RecursionError):
        return ValueError("request body: nested too deeply to encode as JSON"), None
    return ValueError(f"request body: cannot be encoded as JSON ({cause})"), None


def _problem(value: Any, where: Where, on_path: set[int]) -> Exception | None:
    """What is wrong with ``value`` itself (not its items), if anything."""
    if isinstance(value, str):
        if not _is_utf8(value):
            return ValueError(f"{_path(where)}: contains a lone surrogate (not valid UTF-8)")
    elif isinstance(value, float):
        if not math.isfinite(value):
            return ValueError(f"{_path(where)}: {value} is not a JSON number (NaN or infinity)")
    elif isinstance(value, (dict, list, tuple)):
        if id(value) in on_path:
            return ValueError(f"{_path(where)}: contains itself (a recursive structure)")
        for key in value if isinstance(value, dict) else ():
            if not isinstance(key, _KEY_TYPES):
                return TypeError(f"{_path(where)}: key {key!r} is not a string")
            if isinstance(key, str) and not _is_utf8(key):
                return ValueError(f"{_path(where)}: a key contains a lone surrogate")
    elif not isinstance(value, (int, bool, type(None))):
        return TypeError(f"{_path(where)}: {type(value).__name__} is not JSON serializable")
    return None


def _path(where: Where) -> str:
    """``parameters.tools[0].function`` for the place ``where``."""
    keys: list[Any] = []
    while where is not None:
        where, key = where
        keys.append(key)
    text = ""
    for key in reversed(keys):
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else str(key))
    return text or "request body"


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
