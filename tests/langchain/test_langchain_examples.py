"""The examples/ scripts of the demo, run in-process on the emulator: langchain_chat.py,
langgraph_agent.py, batch_job.py, and ray_embed_corpus.py (it starts a local Ray cluster:
marked slow, skipped without ``ray``)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from dashscope_core.emulator import Emulator, ServerHandle
from dashscope_core.emulator.embeddings import embed

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(autouse=True)
def _forget_example_modules() -> Iterator[None]:
    """The examples' top-level names (``_backend``, ...) must not outlive these tests."""
    yield
    for path in EXAMPLES.glob("*.py"):
        sys.modules.pop(path.stem, None)


def _example(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    return importlib.import_module(name)


def _where(example: ModuleType, server: ServerHandle) -> object:
    return example.Backend(server.base_url, "sk-example", emulated=True)


def test_langchain_chat_example_streams_all_three_classes(
    server: ServerHandle, emu: Emulator, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    example = _example("langchain_chat", monkeypatch)
    where = _where(example, server)
    example.run(where, "Why is the sky blue?")
    example.run_text_model(where)
    example.run_embeddings(where)
    out = capsys.readouterr().out
    assert "answer> " in out and '"Why is the sky blue"' in out
    assert "(usage: {'input_tokens'" in out and "best> West Lake is in Hangzhou." in out
    generations = emu.received("generation")
    assert generations[0].headers["x-dashscope-sse"] == "enable"  # the chain streamed
    assert generations[0].json["input"]["messages"][0] == {
        "role": "system", "content": "You are a concise assistant.",
    }  # fmt: skip
    assert generations[1].json["input"]["prompt"] == "Write one line about Hangzhou."


def test_langgraph_agent_example_runs_the_tool_loop_streaming(
    server: ServerHandle, emu: Emulator, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    example = _example("langgraph_agent", monkeypatch)
    example.run(_where(example, server))
    out = capsys.readouterr().out
    for line in (
        "[tool call] get_weather",
        "[tool call] add",
        "[tool result] get_weather: Hangzhou: sunny, 21 C",
        "[tool result] add: 5",
    ):
        assert line in out  # fmt: skip
    assert out.rstrip().endswith("Hangzhou: sunny, 21 C; 5.")
    sent = emu.received("generation")
    assert len(sent) == 2 and all(r.headers["x-dashscope-sse"] == "enable" for r in sent)


def test_batch_job_example_labels_every_review_with_a_bar(
    server: ServerHandle, emu: Emulator, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    example = _example("batch_job", monkeypatch)
    example.run(_where(example, server))
    out = capsys.readouterr().out
    assert out.count(" -> ") == len(example.REVIEWS) and "error" not in out
    assert (
        "in_progress" in out and f"{len(example.REVIEWS)}/{len(example.REVIEWS)} completed" in out
    )
    assert emu.received("generation") == [] and emu.received("batches")


def test_batch_job_example_skips_the_real_service_unless_asked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DASHSCOPE_BATCH_DEMO", raising=False)
    example = _example("batch_job", monkeypatch)
    example.run(example.Backend(None, "sk-real-key", emulated=False))
    assert capsys.readouterr().out.startswith("skipped")


@pytest.mark.slow
def test_ray_example_embeds_the_corpus_in_workers(
    server: ServerHandle, emu: Emulator, monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    if "slow" not in (request.config.getoption("-m") or ""):
        pytest.skip("starts a Ray cluster: run with -m slow")
    pytest.importorskip("ray.data")
    example = _example("ray_embed_corpus", monkeypatch)
    rows = example.embed_corpus(_where(example, server), example.CORPUS[:40], dimension=64)
    assert sorted(str(r["text"]) for r in rows) == sorted(example.CORPUS[:40])
    for row in rows:
        assert list(row["embedding"]) == pytest.approx(embed(str(row["text"]), 64), abs=1e-6)
    assert len(emu.received("embeddings")) == 4  # 40 texts, 10 per request
