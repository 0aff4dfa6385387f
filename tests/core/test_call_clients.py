"""Per-call client options (``pop_client_options``, ``CallClients``): what the framework
classes use so that ``invoke(..., timeout=5)`` picks a client and never reaches the wire."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from dashscope_core import CLIENT_OPTIONS, AsyncDashScope, CallClients, DashScope
from dashscope_core import pop_client_options as pop

BASE = {"api_key": "sk-base", "base_url": "http://127.0.0.1:9/api/v1", "max_retries": 2}


def test_pops_options_and_aliases_and_leaves_the_rest() -> None:
    kwargs = {"temperature": 0.5, "request_timeout": 3, "dashscope_api_key": SecretStr("sk-c"),
              "workspace": None, "default_headers": {"X-Trace": "1"}, "stop": ["\n"]}  # fmt: skip
    assert pop(kwargs) == {"timeout": 3, "api_key": "sk-c", "default_headers": {"X-Trace": "1"}}
    assert kwargs == {"temperature": 0.5, "stop": ["\n"]}  # None options are popped too
    assert pop({}) == {} and set(CLIENT_OPTIONS) >= {"timeout", "api_key", "base_url"}


def test_one_pair_per_distinct_set_of_options() -> None:
    clients = CallClients()
    first = clients.get(BASE, {"timeout": 5.0, "default_headers": {"X-A": "1"}})
    again = clients.get(BASE, {"default_headers": {"X-A": "1"}, "timeout": 5.0})
    other = clients.get(BASE, {"timeout": 6.0, "default_headers": {"X-A": "1"}})
    assert first is again and other[0] is not first[0]
    sync, async_ = first
    assert isinstance(sync, DashScope) and isinstance(async_, AsyncDashScope)
    assert sync._timeout.read == 5.0 and async_._timeout.read == 5.0
    assert sync.max_retries == 2 and sync.base_url == BASE["base_url"]  # the rest from base


def test_a_bad_option_names_itself_and_is_not_kept() -> None:
    clients = CallClients()
    with pytest.raises(ValueError, match="timeout"):
        clients.get(BASE, {"timeout": -1})
    with pytest.raises(ValueError, match="timeout"):  # not cached as a broken pair
        clients.get(BASE, {"timeout": -1})
