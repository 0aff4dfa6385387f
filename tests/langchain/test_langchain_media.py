"""LangChain video and audio blocks (v1 standard blocks, OpenAI-style blocks, native parts) on the
wire, and a base64 block above DashScope's 10 MB inline limit sent as an upload."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from langchain_core.messages import HumanMessage

from dashscope_core.emulator import Emulator, ServerHandle, serve
from langchain_dashscope_ext import ChatDashScope

KEY = "sk-test-langchain"
FRAMES = [f"https://example.com/f{i}.jpg" for i in range(4)]


def test_video_and_audio_blocks_reach_the_multimodal_endpoint(
    server: ServerHandle, emu: Emulator
) -> None:
    wav = base64.b64encode(b"RIFF....WAVE").decode()
    message = HumanMessage(content=[
        {"type": "video", "url": "https://example.com/v.mp4", "extras": {"fps": 2}},
        {"type": "audio", "base64": wav, "mime_type": "audio/wav"},
        {"type": "video_url", "video_url": {"url": "https://example.com/w.mp4"}},
        {"type": "input_audio", "input_audio": {"data": wav, "format": "mp3"}},
        {"video": FRAMES},
        {"type": "text", "text": "Describe them."},
    ])  # fmt: skip
    chat = ChatDashScope(model="qwen3-omni-flash", api_key=KEY, base_url=server.base_url)
    answer = chat.invoke([message])  # an omni model streams only: streamed and accumulated
    assert "Received 2 audio clips, 1 text part, 3 videos." in answer.text
    [sent] = emu.received("multimodal")
    parts = sent.json["input"]["messages"][0]["content"]
    assert parts == [
        {"video": "https://example.com/v.mp4", "fps": 2},
        {"audio": f"data:audio/wav;base64,{wav}"},
        {"video": "https://example.com/w.mp4"},
        {"audio": f"data:audio/mp3;base64,{wav}"},
        {"video": FRAMES},
        {"text": "Describe them."},
    ]


@pytest.fixture(scope="module")
def roomy() -> Iterator[ServerHandle]:
    """An emulator taking bodies of 32 MB (the shared one stops at 1 MB)."""
    with serve(Emulator(), max_body_size=32 * 1024 * 1024) as handle:
        yield handle


def test_a_big_base64_block_is_uploaded(roomy: ServerHandle) -> None:
    server, emu = roomy, roomy.emulator
    video = b"\x00\x00\x00\x18ftypmp42" + bytes(8 * 1024 * 1024)  # > 10 MB once base64-encoded
    block = {"type": "video", "base64": base64.b64encode(video).decode(), "mime_type": "video/mp4"}
    chat = ChatDashScope(model="qwen-vl-max", api_key=KEY, base_url=server.base_url)
    chat.invoke([HumanMessage(content=[block, {"type": "text", "text": "?"}])])
    [stored] = emu.received("storage")
    assert len(stored.body) > len(video)  # the raw bytes in a form, not base64
    [sent] = emu.received("multimodal")
    assert sent.json["input"]["messages"][0]["content"][0]["video"].startswith("oss://")
    assert sent.headers["x-dashscope-ossresourceresolve"] == "enable"
