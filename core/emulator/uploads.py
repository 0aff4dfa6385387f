"""Temporary uploads: ``GET /uploads?action=getPolicy&model=...`` and the storage host's form
POST (recordings ``get-upload-policy-nosse``, ``upload-temporary-file-nosse``).

Behaviour:

- The policy answers ``{"data": {policy, signature, upload_dir, upload_host, oss_access_key_id,
  x_oss_object_acl, x_oss_forbid_overwrite, expire_in_seconds: 300, max_file_size_mb: 1024,
  capacity_limit_mb}, "request_id"}``; ``policy`` is base64 JSON (expiration and conditions),
  ``signature`` its base64 HMAC-SHA1, as OSS post policies are. An unknown model answers 404.
- The storage host is this server under another host name (``localhost`` ⇄ ``127.0.0.1``, path
  ``/oss``), so a client that keeps our headers for the API host sends it none of them. It
  checks the form like OSS: the fields of the policy, a valid signature within its expiry, the
  ``key`` under ``upload_dir``, no overwrite, the size limit; and it refuses, with 400, a request
  carrying ``Authorization`` or any ``X-DashScope-*`` header (a client leaking them).
  Success: 200 (clients ask for it with ``success_action_status=200``). Objects live 48 hours.
- ``oss://<key>`` media in generation calls resolve only with ``X-DashScope-OssResourceResolve:
  enable`` and only to a stored, unexpired object (``resolve_oss``); else 400 InvalidParameter.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from xml.sax.saxutils import escape

from dashscope_core.emulator.routing import (
    ApiError,
    JSONResponse,
    Request,
    Response,
    Route,
    StreamResponse,
)
from dashscope_core.emulator.state import Emulator
from dashscope_core.profiles import get_profile

__all__ = ["MAX_FILE_MB", "OSS_PREFIX", "ROUTES", "resolve_oss"]

OSS_PREFIX = "/oss"
MAX_FILE_MB = 1024
POLICY_SECONDS = 300
OBJECT_SECONDS = 48 * 3600
_ACCESS_KEY = "emulator-access-key"
_FIELDS = ("OSSAccessKeyId", "policy", "Signature", "key", "x-oss-object-acl",
           "x-oss-forbid-overwrite")  # fmt: skip


def _secret(emulator: Emulator) -> bytes:
    return f"dashscope-emulator-oss:{emulator.seed}".encode()


def _sign(emulator: Emulator, policy: str) -> str:
    digest = hmac.new(_secret(emulator), policy.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _storage_host(request: Request) -> str:
    host = request.headers.get("host", "127.0.0.1")
    name, _, port = host.rpartition(":")
    other = "127.0.0.1" if name == "localhost" else "localhost"
    origin = f"http://{other}:{port}" if port.isdigit() else f"http://{other}"
    return f"{origin}{OSS_PREFIX}/"


async def get_policy(request: Request, emulator: Emulator) -> Response:
    """``GET /uploads?action=getPolicy&model=...``."""
    if request.query.get("action") != "getPolicy":
        raise ApiError(400, "InvalidParameter", "action must be getPolicy.")
    model = request.query.get("model", "")
    if not get_profile(model).known:
        raise ApiError(404, "Model.NotExist", "Model not exist.")
    now = emulator.clock()
    owner = hashlib.md5(request.api_key.encode()).hexdigest()
    day = time.strftime("%Y-%m-%d", time.localtime(now))
    upload_dir = f"dashscope-instant/{owner}/{day}/{request.request_id}"
    expiry = now + POLICY_SECONDS
    document = {
        "expiration": expiry,
        "conditions": [
            ["content-length-range", 0, MAX_FILE_MB * 1024 * 1024],
            ["starts-with", "$key", upload_dir],
            {"bucket": "dashscope-file-mgr"},
            {"x-oss-object-acl": "private"},
            {"x-oss-forbid-overwrite": "true"},
            {"model": model},
        ],
    }
    policy = base64.b64encode(json.dumps(document).encode()).decode()  # fmt: skip
    data = {"policy": policy, "signature": _sign(emulator, policy), "upload_dir": upload_dir,
            "upload_host": _storage_host(request), "expire_in_seconds": POLICY_SECONDS,
            "max_file_size_mb": MAX_FILE_MB, "capacity_limit_mb": 999999999,
            "oss_access_key_id": _ACCESS_KEY, "x_oss_object_acl": "private",
            "x_oss_forbid_overwrite": "true"}  # fmt: skip
    return JSONResponse({"data": data, "request_id": request.request_id})


def _oss_error(status: int, code: str, message: str, request_id: str) -> StreamResponse:
    """An OSS error document (XML, as the storage service answers)."""
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
        f"<Message>{escape(message)}</Message><RequestId>{request_id}</RequestId></Error>"
    )
    return StreamResponse([body.encode()], status, media_type="application/xml")


def _form(request: Request) -> tuple[dict[str, str], bytes | None]:
    try:
        parts = request.form()
    except ApiError:  # not a form: every field is missing (answered below, as OSS does)
        return {}, None
    fields: dict[str, str] = {}
    file: bytes | None = None
    for part in parts:
        if part.name == "file":
            file = part.data
        elif part.name:
            fields[part.name] = part.data.decode()
    return fields, file


def _check_upload(request: Request, emulator: Emulator) -> tuple[str, bytes, dict[str, str]]:
    leaked = [h for h in request.headers if h == "authorization" or h.startswith("x-dashscope")]
    if leaked:
        raise ApiError(400, "InvalidArgument", f"Unexpected headers sent to storage: {leaked}.")
    fields, file = _form(request)
    missing = [f for f in _FIELDS if f not in fields]
    if file is None or missing:
        raise ApiError(400, "InvalidArgument", f"Missing form fields: {missing or ['file']}.")
    if fields["Signature"] != _sign(emulator, fields["policy"]):
        raise ApiError(403, "SignatureDoesNotMatch", "The request signature does not match.")
    document = json.loads(base64.b64decode(fields["policy"]))
    if document["expiration"] < emulator.clock():
        raise ApiError(403, "AccessDenied", "Invalid according to Policy: Policy expired.")
    prefix = next(c[2] for c in document["conditions"] if isinstance(c, list) and c[0] ==
                  "starts-with")  # fmt: skip
    if not fields["key"].startswith(prefix + "/"):
        raise ApiError(403, "AccessDenied", "Invalid according to Policy: key.")
    if len(file) > MAX_FILE_MB * 1024 * 1024:
        raise ApiError(400, "EntityTooLarge", "Your proposed upload exceeds the maximum size.")
    return fields["key"], file, fields


async def storage_upload(request: Request, emulator: Emulator) -> Response:
    """The storage host's form POST (OSS PostObject)."""
    try:
        key, file, _ = _check_upload(request, emulator)
    except ApiError as exc:
        return _oss_error(exc.status, exc.code, exc.message, request.request_id)
    objects = emulator.namespace("oss")
    if key in objects and objects[key][1] > emulator.clock():
        return _oss_error(409, "FileAlreadyExists", "The object you specified already exists.",
                          request.request_id)  # fmt: skip
    objects[key] = (file, emulator.clock() + OBJECT_SECONDS)
    return JSONResponse({})  # 200, as asked by success_action_status=200


def resolve_oss(url: str, request: Request, emulator: Emulator) -> bytes:
    """The stored object an ``oss://`` media URL names; 400 like the service otherwise."""
    if request.headers.get("x-dashscope-ossresourceresolve", "").lower() != "enable":
        raise ApiError(400, "InvalidParameter", "The oss:// URL needs the header "
                       "X-DashScope-OssResourceResolve: enable.")  # fmt: skip
    stored = emulator.namespace("oss").get(url.removeprefix("oss://"))
    if stored is None or stored[1] <= emulator.clock():
        raise ApiError(400, "InvalidParameter", f"The file {url} does not exist or has expired.")
    data: bytes = stored[0]
    return data


ROUTES = [
    Route("GET", "/uploads", get_policy, kind="uploads"),
    Route("POST", "/", storage_upload, kind="storage", auth=False, prefix=OSS_PREFIX),
]
