"""Errors: the hierarchy, PROTOCOL.md's mapping table, hints, request ids, recorded errors."""

from __future__ import annotations

import pickle

import pytest
from _recorded import recording_bytes, recording_text

from dashscope_core._protocol.request import RawResponse, check_event, check_response
from dashscope_core._protocol.sse import SSEEvent
from dashscope_core.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    DashScopeError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    PredictionFailedError,
    RateLimitError,
    error_from_response,
)


def recorded(name: str) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a recorded response, BOMs stripped."""
    head = recording_text(f"{name}.response.header.txt").splitlines()
    status = int(head[0].split()[1])
    headers = dict(line.split(": ", 1) for line in head[1:] if ": " in line)
    body = recording_bytes(f"{name}.response.body.txt")
    return status, headers, body


def test_hierarchy() -> None:
    for cls in (AuthenticationError, PermissionDeniedError, NotFoundError, BadRequestError,
                RateLimitError, InternalServerError, ConflictError):  # fmt: skip
        assert issubclass(cls, APIStatusError)
    assert issubclass(APITimeoutError, APIConnectionError)
    for cls in (APIStatusError, APIConnectionError, PredictionFailedError):
        assert issubclass(cls, DashScopeError)


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "InvalidParameter", BadRequestError),
        (400, "DataInspectionFailed", BadRequestError),
        (400, "BadRequest.EmptyInput", BadRequestError),
        (400, "UnsupportedOperation", BadRequestError),
        (401, "InvalidApiKey", AuthenticationError),
        (403, "AccessDenied", PermissionDeniedError),
        (403, "AccessDenied.Unpurchased", PermissionDeniedError),
        (404, "Model.NotExist", NotFoundError),
        (429, "Throttling", RateLimitError),
        (429, "Throttling.RateQuota", RateLimitError),
        (429, "Throttling.AllocationQuota", RateLimitError),
        (500, "InternalError", InternalServerError),
        (500, "InternalError.Algo", InternalServerError),
        (503, "ServiceUnavailable", InternalServerError),
        (504, "GatewayTimeout", InternalServerError),
        (400, "Throttling.RateQuota", RateLimitError),
        (409, None, ConflictError),
        (502, None, InternalServerError),
    ],
)
def test_protocol_mapping_table(status: int, code: str | None, cls: type) -> None:
    body = {"code": code, "message": "m", "request_id": "rid-1"} if code else {}
    err = error_from_response(status, {"X-Request-ID": "rid-1"}, body)
    assert type(err) is cls
    assert (err.status_code, err.code, err.request_id) == (status, code, "rid-1")


@pytest.mark.parametrize(
    ("code", "cls"),
    [("InvalidParameter", BadRequestError), ("Throttling", RateLimitError),
     ("InvalidApiKey", AuthenticationError), ("InternalError", InternalServerError)],
)  # fmt: skip
def test_code_in_200_body_is_an_error(code: str, cls: type) -> None:
    raw = RawResponse(200, {}, f'{{"code":"{code}","message":"m","request_id":"r2"}}'.encode())
    with pytest.raises(cls) as info:
        check_response(raw)
    assert (info.value.status_code, info.value.code, info.value.request_id) == (200, code, "r2")


def test_success_bodies_pass_check_response() -> None:
    for body in (b'{"output":{"text":"x"}}', b'{"code":"","output":{}}', b"[]", b"not json"):
        assert check_response(RawResponse(200, {}, body)).content == body


def test_recorded_auth_error() -> None:
    status, headers, body = recorded("auth-error-nosse")
    with pytest.raises(AuthenticationError) as info:
        check_response(RawResponse(status, headers, body))
    err = info.value
    assert (err.status_code, err.code) == (401, "InvalidApiKey")
    assert err.request_id == "a1c0561c-1dfe-98a6-a62f-983577b8bc5e"
    text = str(err)
    assert "Invalid API-key provided." in text
    assert "DASHSCOPE_API_KEY" in text, "says what to do"
    assert "request_id=a1c0561c-1dfe-98a6-a62f-983577b8bc5e" in text


def test_recorded_parameter_error() -> None:
    status, headers, body = recorded("parameter-error-nosse")
    with pytest.raises(BadRequestError) as info:
        check_response(RawResponse(status, headers, body))
    err = info.value
    assert (err.status_code, err.code) == (400, "InvalidParameter")
    assert err.request_id == "a5898c04-d210-901b-965f-e4bd90478805"
    assert "Role must be user or assistant" in str(err)
    assert "parameter" in str(err)


def test_throttled_message_says_what_to_do() -> None:
    err = error_from_response(429, {}, {"code": "Throttling", "message": "slow down"})
    assert "retry later" in str(err) and "max_retries" in str(err)


def test_rfc7807_problem_document() -> None:
    err = error_from_response(None, {}, b'{"status":404,"detail":"Prediction not found"}')
    assert isinstance(err, NotFoundError)
    assert (err.status_code, err.message) == (404, "Prediction not found")


def test_non_json_body_keeps_text() -> None:
    err = error_from_response(502, {"x-request-id": "gw"}, b"<html>Bad Gateway</html>")
    assert isinstance(err, InternalServerError)
    assert "Bad Gateway" in err.message and err.request_id == "gw"


def test_empty_body_still_says_something() -> None:
    err = error_from_response(503, {}, b"")
    assert "503" in str(err)


def test_retry_after_header_parsed() -> None:
    assert error_from_response(429, {"retry-after": "3"}, b"{}").retry_after == 3.0


def test_error_frame_becomes_typed_error_with_frame_status() -> None:
    data = '{"code":"InvalidParameter","message":"bad","request_id":"f1"}'
    with pytest.raises(BadRequestError) as info:
        check_event(SSEEvent(event="error", data=data, status=400))
    assert (info.value.status_code, info.value.request_id) == (400, "f1")
    with pytest.raises(InternalServerError):
        check_event(SSEEvent(event="error", data="{}"))
    with pytest.raises(RateLimitError):
        check_event(SSEEvent(event="result", data="{}", status=429))
    ok = SSEEvent(event="result", data="{}", status=200)
    assert check_event(ok) is ok


def test_errors_have_args_repr_and_pickle() -> None:
    err = error_from_response(401, {}, {"code": "InvalidApiKey", "message": "m", "request_id": "r"})
    assert err.args and err.args[0] == err.message
    assert "AuthenticationError(status_code=401" in repr(err)
    assert pickle.loads(pickle.dumps(APIConnectionError("x", request_sent=False))).args == ("x",)
