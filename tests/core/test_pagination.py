"""paginate(): absolute ``next`` URLs followed as is, sync ``for`` and async ``async for``."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from _prediction_fakes import BASE, DS, ds, prediction

from dashscope_core.errors import APIResponseValidationError

__all__ = ["ds"]

PAGE2 = f"{BASE}/predictions?cursor=cD0yMDIz"
PAGE3 = f"{BASE}/predictions?cursor=cD0yMDIy"


def _page(ids: list[str], next_url: str | None, previous: str | None = None) -> dict[str, Any]:
    return {"previous": previous, "next": next_url, "results": [prediction(i) for i in ids]}


def test_paginate_follows_next_until_none(ds: DS) -> None:
    ds.api.expect("GET", "/predictions", _page(["a", "b"], PAGE2))
    ds.api.expect("GET", PAGE2, _page(["c"], PAGE3, previous=f"{BASE}/predictions"))
    ds.api.expect("GET", PAGE3, _page(["d"], None))
    pages = ds.collect(ds.client.paginate(ds.client.predictions.list))
    assert [[p.id for p in page] for page in pages] == [["a", "b"], ["c"], ["d"]]
    assert [len(page) for page in pages] == [2, 1, 1] and pages[0][1].id == "b"
    assert [str(r.url) for r in ds.api.requests] == [f"{BASE}/predictions", PAGE2, PAGE3]


def test_paginate_with_arguments(ds: DS) -> None:
    version_page = {"previous": None, "next": None, "results": [{"id": "v1"}]}
    ds.api.expect("GET", "/models/acme/hello/versions", version_page)
    ds.api.expect("GET", "/models/acme/hello/versions", version_page)
    listed = functools.partial(ds.client.models.versions.list, "acme", "hello")
    assert [p.results[0].id for p in ds.collect(ds.client.paginate(listed))] == ["v1"]
    assert len(ds.collect(ds.client.paginate(ds.client.models.versions.list, "acme", "hello"))) == 1


def test_paginate_loop_raises(ds: DS) -> None:
    ds.api.expect("GET", "/collections", _page([], PAGE2))
    ds.api.expect("GET", PAGE2, _page([], PAGE2))
    with pytest.raises(APIResponseValidationError, match="loops"):
        ds.collect(ds.client.paginate(ds.client.collections.list))


def test_cursor_must_be_an_absolute_url(ds: DS) -> None:
    with pytest.raises(ValueError, match="cursor"):
        ds.run(ds.client.predictions.list(cursor="page2"))
    assert ds.api.requests == []


def test_each_list_accepts_a_cursor(ds: DS) -> None:
    for path, method in [
        ("/models", ds.client.models.list),
        ("/trainings", ds.client.trainings.list),
        ("/collections", ds.client.collections.list),
    ]:
        ds.api.expect(
            "GET", f"{BASE}{path}?cursor=x", {"previous": None, "next": None, "results": []}
        )
        assert ds.run(method(cursor=f"{BASE}{path}?cursor=x")).results == []
