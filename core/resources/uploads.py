"""Temporary uploads of local files: ``client.uploads.upload(model=..., file=...)`` → ``oss://``.

The flow (PROTOCOL.md "media"; recordings ``get-upload-policy-nosse``,
``upload-temporary-file-nosse``; the official SDK's ``OssUtils.upload``): ``GET
/uploads?action=getPolicy&model=<model>`` gives a signed policy; the file is POSTed as a
multipart form (``OSSAccessKeyId``, ``policy``, ``Signature``, ``key``, ``x-oss-object-acl``,
``x-oss-forbid-overwrite``, ``success_action_status``, then ``file``) to ``upload_host``,
through the client like any request (another host: none of our headers, no API key; never
replayed once sent); the result is ``oss://<key>``, readable by that model's
calls that send ``X-DashScope-OssResourceResolve: enable`` for 48 hours.

Generation calls upload local media parts (a ``pathlib.Path``, ``bytes``, a ``file://`` URI) the
same way before the request (``upload_parts``), one policy per call.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import unquote, urlsplit

from dashscope_core._protocol.request import RawResponse, RequestSpec, response_parser
from dashscope_core.errors import APIStatusError, error_from_response
from dashscope_core.resources._base import AsyncNamespace, SyncNamespace
from dashscope_core.resources._generation_checks import check_model
from dashscope_core.resources._parts import MEDIA_KEYS, is_local
from dashscope_core.types.uploads import UploadPolicy

__all__ = [
    "AsyncUploads",
    "Uploads",
    "build_policy",
    "build_upload",
    "form_fields",
    "local_values",
    "parse_policy",
    "plan_uploads",
    "read_local",
    "storage_error",
    "with_urls",
]

_DEFAULT_SUFFIX = {"image": ".png", "video": ".mp4", "audio": ".wav"}
Location = tuple[int, int, str, int | None]
"""(message index, part index, media key, frame index or None)."""


def build_policy(model: str) -> RequestSpec:
    """The upload-policy request for ``model`` (files are readable by that model only)."""
    check_model(model)
    return RequestSpec("GET", "/uploads", params={"action": "getPolicy", "model": model})


@response_parser
def parse_policy(raw: RawResponse) -> UploadPolicy:
    """The ``data`` of a policy answer."""
    policy = UploadPolicy.model_validate(raw.json()["data"])
    if not policy.upload_host or not policy.upload_dir:
        raise ValueError("the upload policy has no upload_host / upload_dir")
    return policy


def read_local(value: Any, key: str = "file") -> tuple[str, bytes]:
    """``(file name, content)`` of a local value (``Path``, ``file://`` URI or bytes)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        suffix = _DEFAULT_SUFFIX.get(key, ".bin")
        return f"{hashlib.sha256(data).hexdigest()[:16]}{suffix}", data
    if isinstance(value, str):  # file:// URI
        parts = urlsplit(value)
        value = Path(unquote(parts.netloc + parts.path)).expanduser()
    path = Path(value)
    return path.name, path.read_bytes()


def form_fields(policy: UploadPolicy, name: str) -> tuple[str, dict[str, str]]:
    """The object key and the form fields (before ``file``) that upload ``name``."""
    key = f"{policy.upload_dir}/{name}"
    return key, {
        "OSSAccessKeyId": policy.oss_access_key_id,
        "policy": policy.policy,
        "Signature": policy.signature,
        "key": key,
        "x-oss-object-acl": policy.x_oss_object_acl,
        "x-oss-forbid-overwrite": policy.x_oss_forbid_overwrite,
        "success_action_status": "200",
    }


def _check_size(policy: UploadPolicy, name: str, data: bytes) -> None:
    limit = policy.max_file_size_mb
    if limit is not None and len(data) > limit * 1024 * 1024:
        raise ValueError(f"file: {name} is {len(data):,} bytes; the upload limit is {limit} MB")


def storage_error(exc: APIStatusError) -> APIStatusError:
    """The typed error of a refused upload: OSS answers in XML (``<Code>``, ``<Message>``,
    ``<RequestId>``), not DashScope's JSON."""
    text = exc.body if isinstance(exc.body, str) else ""

    def tag(name: str) -> str | None:
        found = re.search(rf"<{name}>(.*?)</{name}>", text, re.S)
        return found.group(1) if found else None

    body = {"code": tag("Code") or "UploadFailed",
            "message": tag("Message") or f"the upload failed: {text[:200]}",
            "request_id": tag("RequestId")}  # fmt: skip
    return error_from_response(exc.status_code, None, body)


def build_upload(url: str, fields: dict[str, str], name: str, data: bytes) -> RequestSpec:
    """The form POST of one file to the storage host ``url``: sent with none of our headers
    (another host), never replayed once sent (the policy forbids overwriting the object)."""
    # httpx writes data fields before files: OSS needs ``file`` last
    mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return RequestSpec("POST", url, data=fields, files={"file": (name, data, mime)},
                       replay_safe=False)  # fmt: skip


def local_values(body: Mapping[str, Any]) -> Iterator[tuple[Location, Any]]:
    """The local media values in a generation body, with where they are."""
    for i, message in enumerate(body.get("input", {}).get("messages") or ()):
        content = message.get("content")
        for j, part in enumerate(content if isinstance(content, list) else ()):
            for key in MEDIA_KEYS:
                value = part.get(key)
                if isinstance(value, (list, tuple)):
                    for n, frame in enumerate(value):
                        if is_local(frame):
                            yield (i, j, key, n), frame
                elif is_local(value):
                    yield (i, j, key, None), value


def with_urls(spec: RequestSpec, urls: Mapping[Location, str]) -> RequestSpec:
    """``spec`` with the local values at ``urls``' locations replaced by their ``oss://`` URLs."""
    messages = [dict(m) for m in spec.json["input"]["messages"]]
    for (i, j, key, n), url in urls.items():
        parts = messages[i]["content"] = [dict(p) for p in messages[i]["content"]]
        if n is None:
            parts[j][key] = url
        else:
            parts[j][key] = [url if k == n else f for k, f in enumerate(parts[j][key])]
    body = {**spec.json, "input": {**spec.json["input"], "messages": messages}}
    return RequestSpec(spec.method, spec.path, json=body, params=spec.params,
                       headers=spec.headers, stream=spec.stream, replay_safe=spec.replay_safe,
                       timeout=spec.timeout)  # fmt: skip


def plan_uploads(spec: RequestSpec) -> tuple[list[tuple[str, bytes]], dict[Location, int]]:
    """The files a generation request must upload first, each content once, and which file
    every local value becomes; a name used again for other content gets a content prefix (OSS
    refuses overwrites within one policy's directory)."""
    files: list[tuple[str, bytes]] = []
    by_name: dict[str, int] = {}
    where_to: dict[Location, int] = {}
    for where, value in local_values(spec.json):
        name, data = read_local(value, where[2])
        known = by_name.get(name)
        if known is not None and files[known][1] != data:
            name = f"{hashlib.sha256(data).hexdigest()[:8]}-{name}"
            known = by_name.get(name)
        if known is None:
            known = by_name[name] = len(files)
            files.append((name, data))
        where_to[where] = known
    return files, where_to


def _form(
    policy: UploadPolicy, file: str | PurePath | bytes, filename: str | None
) -> tuple[str, RequestSpec]:
    """The ``oss://`` URL of an upload and its form POST."""
    name, data = read_local(Path(file) if isinstance(file, str) and "://" not in file else file)
    name = filename or name
    _check_size(policy, name, data)
    key, fields = form_fields(policy, name)
    return f"oss://{key}", build_upload(policy.upload_host, fields, name, data)


class Uploads(SyncNamespace):
    """Temporary uploads for model inputs (``oss://`` URLs)."""

    def policy(self, *, model: str) -> UploadPolicy:
        """A signed upload policy for ``model``."""
        return parse_policy(self._client._send(build_policy(model)))

    def upload(
        self,
        *,
        model: str,
        file: str | PurePath | bytes,
        filename: str | None = None,
        policy: UploadPolicy | None = None,
    ) -> str:
        """Upload a local file (path, ``file://`` URI or bytes); its ``oss://`` URL."""
        url, form = _form(policy or self.policy(model=model), file, filename)
        try:
            self._client._send(form)
        except APIStatusError as exc:
            raise storage_error(exc) from exc
        return url

    def upload_parts(self, spec: RequestSpec) -> RequestSpec:
        """``spec`` with its local media parts uploaded (unchanged when there are none)."""
        files, where_to = plan_uploads(spec)
        if not files:
            return spec
        model = spec.json["model"]
        policy = self.policy(model=model)
        urls = [self.upload(model=model, file=d, filename=n, policy=policy) for n, d in files]
        return with_urls(spec, {where: urls[i] for where, i in where_to.items()})


class AsyncUploads(AsyncNamespace):
    """Temporary uploads for model inputs (``oss://`` URLs), async."""

    async def policy(self, *, model: str) -> UploadPolicy:
        """A signed upload policy for ``model``."""
        return parse_policy(await self._client._send(build_policy(model)))

    async def upload(
        self,
        *,
        model: str,
        file: str | PurePath | bytes,
        filename: str | None = None,
        policy: UploadPolicy | None = None,
    ) -> str:
        """Upload a local file (path, ``file://`` URI or bytes); its ``oss://`` URL."""
        url, form = _form(policy or await self.policy(model=model), file, filename)
        try:
            await self._client._send(form)
        except APIStatusError as exc:
            raise storage_error(exc) from exc
        return url

    async def upload_parts(self, spec: RequestSpec) -> RequestSpec:
        """``spec`` with its local media parts uploaded (unchanged when there are none)."""
        files, where_to = plan_uploads(spec)
        if not files:
            return spec
        model = spec.json["model"]
        policy = await self.policy(model=model)
        urls = [await self.upload(model=model, file=d, filename=n, policy=policy)
                for n, d in files]  # fmt: skip
        return with_urls(spec, {where: urls[i] for where, i in where_to.items()})
