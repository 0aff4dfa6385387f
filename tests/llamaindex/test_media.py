"""LlamaIndex ``VideoBlock`` (with ``fps``) and ``AudioBlock`` on the wire; files above the
10 MB inline limit go through the temporary upload."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from llama_index.core.base.llms.types import AudioBlock, TextBlock, VideoBlock
from llama_index.core.llms import ChatMessage

from dashscope_core.emulator import Emulator, ServerHandle, serve
from llamaindex_dashscope_ext import DashScopeLLM

from .conftest import FAKE_KEY


@pytest.fixture(scope="module")
def roomy() -> Iterator[ServerHandle]:
    """An emulator taking bodies of 32 MB (the shared one stops at 1 MB)."""
    with serve(Emulator(), max_body_size=32 * 1024 * 1024) as handle:
        yield handle


def test_video_and_audio_blocks(roomy: ServerHandle, tmp_path: Path) -> None:
    li_server, emu = roomy, roomy.emulator
    small = tmp_path / "note.wav"
    small.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(32))
    big = tmp_path / "talk.mp4"
    big.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(11 * 1024 * 1024))
    message = ChatMessage(role="user", blocks=[
        VideoBlock(url="https://example.com/v.mp4", fps=2),
        AudioBlock(path=small, format="wav"),
        VideoBlock(path=big),
        TextBlock(text="What is said?"),
    ])  # fmt: skip
    llm = DashScopeLLM(model="qwen3-omni-flash", api_key=FAKE_KEY, base_url=li_server.base_url)
    answer = llm.chat([message])
    assert "Received 1 audio clip, 1 text part, 2 videos." in (answer.message.content or "")
    [sent] = emu.received("multimodal")
    parts = sent.json["input"]["messages"][0]["content"]
    assert parts[0] == {"video": "https://example.com/v.mp4", "fps": 2}
    assert parts[1]["audio"].startswith("data:audio/")
    assert parts[2]["video"].startswith("oss://") and parts[2]["video"].endswith(".mp4")
    assert len(emu.received("storage")) == 1
