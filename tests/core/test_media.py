"""Video and audio inputs: limits checked before any request (errors name the part), local files
uploaded through the temporary-upload flow (policy → form POST to the storage host with none of
our headers → ``oss://`` + ``X-DashScope-OssResourceResolve``), and the four recordings of this
flow replayed with their requests reproduced."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from _gen_client import GenClient
from _loopback import QuietHandler, api_url, serve
from _recorded import recording_bytes

from dashscope_core import AsyncDashScope, DashScope, UploadPolicy, accumulate
from dashscope_core.emulator import Emulator
from dashscope_core.errors import NotFoundError, PermissionDeniedError
from dashscope_core.resources.generation import build_call, build_stream
from dashscope_core.resources.uploads import form_fields

BASE = "https://dashscope.aliyuncs.com/api/v1"
FRAMES = [f"https://example.com/frame{i}.jpg" for i in range(4)]


def load(name: str) -> bytes:
    return recording_bytes(name)


def _user(*parts: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"role": "system", "content": "Be brief."}, {"role": "user", "content": list(parts)}]


# --- limits, before any request -------------------------------------------------------------


@pytest.mark.parametrize(
    ("part", "error", "where"),
    [
        ({"video": FRAMES[:3]}, ValueError, r"messages\[1\]\.content\[0\]\.video: .*at least 4"),
        ({"video": [*FRAMES[:3], 7]}, TypeError, r"messages\[1\]\.content\[0\]\.video\[3\]"),
        ({"video": FRAMES, "fps": 30}, ValueError, r"messages\[1\]\.content\[0\]\.fps"),
        ({"audio": None}, TypeError, r"messages\[1\]\.content\[0\]\.audio"),
        ({"audio": "data:audio/wav;base64," + "A" * (10 * 1024 * 1024)}, ValueError,
         r"messages\[1\]\.content\[0\]\.audio: a data: URI is at most 10 MB"),
    ],
)  # fmt: skip
def test_limits_name_the_part(
    gen_ds: GenClient, gen_emu: Emulator, part: dict[str, Any], error: type, where: str
) -> None:
    with pytest.raises(error, match=where):
        gen_ds.run(gen_ds.client.generation.call(model="qwen-vl-max", messages=_user(part)))
    assert gen_emu.received() == []


# --- local files through the upload flow, against the emulator ------------------------------


def test_local_video_and_audio_are_uploaded(
    gen_ds: GenClient, gen_emu: Emulator, tmp_path: Path
) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(4096))
    voice = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(64)
    messages = _user({"video": clip, "fps": 2}, {"audio": voice}, {"video": clip.as_uri()},
                     {"text": "What happens?"})  # fmt: skip
    answer = gen_ds.run(gen_ds.client.generation.call(model="qwen3-omni-flash", messages=messages))
    assert "Received 1 audio clip, 1 text part, 2 videos." in answer.text
    assert answer.usage.model_extra["video_tokens"] == 2 * 4 * 360  # type: ignore[index]
    policy, stored, generation = (gen_emu.received(k) for k in ("uploads", "storage",
                                                                  "multimodal"))  # fmt: skip
    assert len(policy) == 1 and policy[0].path == "/uploads"
    assert len(stored) == 2  # the same file twice is uploaded once
    for upload in stored:
        assert "authorization" not in upload.headers
        assert not any(h.startswith("x-dashscope") for h in upload.headers)
        assert b"DashScope" not in upload.headers.get("user-agent", "").encode()
    [call] = generation
    assert call.headers["x-dashscope-ossresourceresolve"] == "enable"
    parts = call.json["input"]["messages"][1]["content"]
    assert parts[0]["video"].startswith("oss://dashscope-instant/") and parts[0]["fps"] == 2
    assert parts[0]["video"] == parts[2]["video"] and parts[0]["video"].endswith("/clip.mp4")
    assert parts[1]["audio"].startswith("oss://") and parts[1]["audio"].endswith(".wav")


def test_streams_upload_when_iteration_starts(
    gen_ds: GenClient, gen_emu: Emulator, tmp_path: Path
) -> None:
    clip = tmp_path / "a.mp4"
    clip.write_bytes(b"video")
    chunks = gen_ds.client.generation.stream(model="qwen-vl-max", messages=_user({"video": clip}))
    assert gen_emu.received() == []
    answer = accumulate(gen_ds.collect(chunks))
    assert "1 video" in answer.text
    assert [r.kind for r in gen_emu.received()] == ["uploads", "storage", "multimodal"]


def test_oss_urls_need_the_header_and_a_stored_object(gen_emu: Emulator, server: Any) -> None:
    body = {"model": "qwen-vl-max", "input": {"messages": [{"role": "user", "content": [
        {"video": "oss://dashscope-instant/x/y/z.mp4"}, {"text": "?"}]}]}}  # fmt: skip
    url = server.base_url + "/services/aigc/multimodal-generation/generation"
    auth = {"Authorization": "Bearer sk-test"}
    plain = httpx.post(url, json=body, headers=auth)
    assert plain.status_code == 400 and "X-DashScope-OssResourceResolve" in plain.json()["message"]
    missing = httpx.post(url, json=body, headers={**auth, "X-DashScope-OssResourceResolve":
                                                  "enable"})  # fmt: skip
    assert missing.status_code == 400 and "does not exist" in missing.json()["message"]


def test_storage_errors_are_typed(gen_ds: GenClient, gen_emu: Emulator) -> None:
    policy = gen_ds.run(gen_ds.client.uploads.policy(model="qwen-vl-max"))
    forged = policy.model_copy(update={"signature": "forged"})
    with pytest.raises(PermissionDeniedError) as info:
        gen_ds.run(gen_ds.client.uploads.upload(model="qwen-vl-max", file=b"x", policy=forged))
    assert info.value.code == "SignatureDoesNotMatch"
    url = gen_ds.run(gen_ds.client.uploads.upload(model="qwen-vl-max", file=b"abc",
                                                  filename="a.txt", policy=policy))  # fmt: skip
    assert url == f"oss://{policy.upload_dir}/a.txt"
    with pytest.raises(Exception, match="FileAlreadyExists"):
        gen_ds.run(gen_ds.client.uploads.upload(model="qwen-vl-max", file=b"abc",
                                                filename="a.txt", policy=policy))  # fmt: skip
    with pytest.raises(NotFoundError):
        gen_ds.run(gen_ds.client.uploads.upload(model="no-such-model", file=b"x"))


# --- the recordings -------------------------------------------------------------------------


def _replay(mode: str, handler: Any) -> Any:
    transport = httpx.MockTransport(handler)
    if mode == "sync":
        return DashScope(api_key="sk-recorded", base_url=BASE, max_retries=0,
                         http_client=httpx.Client(transport=transport))  # fmt: skip
    return AsyncDashScope(api_key="sk-recorded", base_url=BASE, max_retries=0,
                          http_client=httpx.AsyncClient(transport=transport))  # fmt: skip


def _run(mode: str, value: Any) -> Any:
    return value if mode == "sync" else asyncio.run(value)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_recorded_video_stream(mode: str) -> None:
    name = "multimodal-generation-vl-video-sse"
    body = json.loads(load(f"{name}.request.body.json"))
    kwargs = {"model": body["model"], **body["input"], **body["parameters"]}
    spec = build_stream(**kwargs)
    assert spec.json == body and spec.path == "/services/aigc/multimodal-generation/generation"
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, headers={"content-type": "text/event-stream"},
                              content=load(f"{name}.response.body.txt"))  # fmt: skip

    client = _replay(mode, answer)
    stream = client.generation.stream(**kwargs)
    chunks = list(stream) if mode == "sync" else asyncio.run(_collect(stream))
    assert json.loads(sent[0].content) == body
    whole = accumulate(chunks)
    frames = [json.loads(line[5:]) for line in load(f"{name}.response.body.txt").decode()
              .splitlines() if line.startswith("data:")]  # fmt: skip
    assert whole.text == "".join(f["output"]["choices"][0]["message"]["content"][0]["text"]
                                 for f in frames)  # fmt: skip
    assert whole.request_id == "851745a1-22ba-90e2-ace2-c04e7445ec6f"
    assert whole.usage.model_extra["video_tokens"] == 1440  # type: ignore[index]
    assert whole.usage.input_tokens == 1466 and whole.finish_reason == "stop"


async def _collect(stream: Any) -> list[Any]:
    return [chunk async for chunk in stream]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_recorded_audio_call(mode: str) -> None:
    name = "multimodal-generation-audio-nosse"
    body = json.loads(load(f"{name}.request.body.json"))
    kwargs = {"model": body["model"], **body["input"], **body["parameters"]}
    assert build_call(**kwargs).json == body
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, content=load(f"{name}.response.body.txt"))

    result = _run(mode, _replay(mode, answer).generation.call(**kwargs))
    assert json.loads(sent[0].content) == body
    assert result.text.startswith("这段音频在说中文")
    assert result.usage.model_extra["audio_tokens"] == 752  # type: ignore[index]
    assert (result.usage.input_tokens, result.usage.output_tokens) == (786, 38)
    assert result.request_id == "6b6738bd-dd9d-9e78-958b-02574acbda44"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_recorded_upload_policy(mode: str) -> None:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, content=load("get-upload-policy-nosse.response.body.txt"))

    policy = _run(mode, _replay(mode, answer).uploads.policy(model="qwen-vl-plus"))
    line = load("get-upload-policy-nosse.header.txt").split(b"\r\n")[0].split(b"\n")[0]
    method, target = line.split()[:2]
    assert (sent[0].method, sent[0].url.raw_path.decode()) == (method.decode(), target.decode())
    assert sent[0].headers["authorization"] == "Bearer sk-recorded"
    assert policy.upload_host == "https://dashscope-file-mgr.oss-cn-beijing.aliyuncs.com"
    assert policy.expire_in_seconds == 300 and policy.max_file_size_mb == 1024
    assert policy.upload_dir.startswith("dashscope-instant/52afe077")


class _Storage(QuietHandler):
    """A loopback storage host that records the form POST it gets."""

    seen: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        _Storage.seen.append(({k.lower(): v for k, v in self.headers.items()},
                              self.rfile.read(length)))  # fmt: skip
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def _fields(body: bytes, boundary: bytes) -> list[tuple[str, bytes]]:
    out = []
    for chunk in body.split(b"--" + boundary)[1:-1]:
        head, _, value = chunk.strip(b"\r\n").partition(b"\r\n\r\n")
        if not value:  # the recording has no blank line between headers and value
            head, _, value = chunk.strip(b"\r\n").rpartition(b"\n")
        name = head.split(b"name=")[1].split(b";")[0].split(b"\r")[0].split(b"\n")[0]
        out.append((name.strip(b'"').decode(), value.strip(b"\r\n")))
    return out


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_recorded_temporary_upload_form(mode: str) -> None:
    recorded = load("upload-temporary-file-nosse.request.body.txt").replace(b"\r\n", b"\n")
    boundary = recorded.split(b"\n", 1)[0][2:]
    expected = [(n, v) for n, v in _fields(recorded.replace(b"\n", b"\r\n"), boundary)
                if n != "file"]  # fmt: skip
    data = json.loads(load("get-upload-policy-nosse.response.body.txt"))["data"]
    _Storage.seen = []
    with serve(_Storage) as server:
        policy = UploadPolicy.model_validate({**data, "upload_host": api_url(server, "/")})
        # the client's own pools: the form goes to the storage host like any request
        client = (DashScope if mode == "sync" else AsyncDashScope)(
            api_key="sk-recorded", base_url=BASE, max_retries=0
        )
        url = _run(
            mode,
            client.uploads.upload(
                model="qwen-vl-plus", file=b"jpeg bytes", filename="Lenna.jpg", policy=policy
            ),
        )
    [(headers, body)] = _Storage.seen
    got = _fields(body, headers["content-type"].split("boundary=")[1].encode())
    names = [n for n, _ in got]
    assert [(n, v) for n, v in got if n not in ("file", "success_action_status")] == [
        (n, v) for n, v in expected]  # fmt: skip
    assert names[-1] == "file" and dict(got)["file"] == b"jpeg bytes"
    assert "authorization" not in headers and not any(h.startswith("x-dashscope") for h in headers)
    assert url == "oss://" + form_fields(policy, "Lenna.jpg")[0]
    assert url.endswith("/b744f4f8-1a9c-9c6b-950d-0d327e331f2f/Lenna.jpg")
