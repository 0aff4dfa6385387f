"""examples/batch_job.py (the demo's batch part) and examples/ray_embed_corpus.py, on the
emulator. The Ray one starts a local Ray cluster: marked slow, skipped without ``ray``."""

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
    yield
    for path in EXAMPLES.glob("*.py"):
        sys.modules.pop(path.stem, None)


def _example(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    return importlib.import_module(name)


def test_batch_job_example_labels_every_review_with_a_bar(
    server: ServerHandle, emu: Emulator, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    example = _example("batch_job", monkeypatch)
    example.run(example.Backend(server.base_url, "sk-example", emulated=True))
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
    where = example.Backend(server.base_url, "sk-example", emulated=True)
    rows = example.embed_corpus(where, example.CORPUS[:40], dimension=64)
    assert sorted(str(r["text"]) for r in rows) == sorted(example.CORPUS[:40])
    for row in rows:
        assert list(row["embedding"]) == pytest.approx(embed(str(row["text"]), 64), abs=1e-6)
    assert len(emu.received("embeddings")) == 4  # 40 texts, 10 per request
