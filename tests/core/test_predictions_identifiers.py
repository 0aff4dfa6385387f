"""Model identifiers ``owner/name`` and ``owner/name:version``."""

from __future__ import annotations

import pytest

from dashscope_core._protocol.identifiers import ModelRef, parse_identifier


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("acme/hello", ModelRef("acme", "hello")),
        ("acme/hello:5c7d5dc6", ModelRef("acme", "hello", "5c7d5dc6")),
        ("user.name/model_a-b:ABCdef0", ModelRef("user.name", "model_a-b", "ABCdef0")),
    ],
)
def test_valid(text: str, ref: ModelRef) -> None:
    assert parse_identifier(text) == ref
    assert str(ref) == text


@pytest.mark.parametrize(
    "text", ["owner:abc", "/model:abc", ":abc", "", "owner/", "/name", "a/b/c", "a/b:", "a/b:c:d"]
)
def test_invalid(text: str) -> None:
    with pytest.raises(ValueError, match=r"identifier.*owner/name"):
        parse_identifier(text)


def test_not_a_string() -> None:
    with pytest.raises(TypeError, match="identifier"):
        parse_identifier(42)  # type: ignore[arg-type]
