"""Embed a corpus with Ray Data's ``map_batches`` and ``DashScopeEmbeddings``.

    pip install "ray[data]"
    python examples/ray_embed_corpus.py

Each Ray worker builds one ``DashScopeEmbeddings`` (in the callable class's ``__init__``, so its
connections belong to that worker) and embeds the batches Ray hands it; core splits each batch
into requests of 10 texts and retries throttled ones. For a corpus that can wait, pass
``use_batch_api=True``: each Ray batch then becomes one DashScope batch job at half the price.
Without DASHSCOPE_API_KEY it runs against the embedded emulator.
"""

from __future__ import annotations

import sys
from typing import Any

from _backend import Backend, backend

from langchain_dashscope_ext import DashScopeEmbeddings

CORPUS = [f"Passage {i}: rivers carry water from the mountains to the sea." for i in range(200)]


class Embedder:
    """A Ray Data callable class: one embedding model per worker, reused for every batch."""

    def __init__(self, api_key: str, base_url: str | None, **options: Any) -> None:
        self.model = DashScopeEmbeddings(api_key=api_key, base_url=base_url, **options)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        batch["embedding"] = self.model.embed_documents([str(t) for t in batch["text"]])
        return batch


def embed_corpus(target: Backend, texts: list[str], **options: Any) -> list[dict[str, Any]]:
    """``texts`` with their vectors, embedded by two Ray workers."""
    import ray
    from ray import cloudpickle

    # the workers get Embedder by value: they need not import this script
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True,
             log_to_driver=False)  # fmt: skip
    try:
        dataset = ray.data.from_items([{"text": text} for text in texts])
        embedded = dataset.map_batches(
            Embedder, batch_size=50, concurrency=2,
            fn_constructor_kwargs={"api_key": target.api_key, "base_url": target.base_url,
                                   **options},
        )  # fmt: skip
        return embedded.take_all()
    finally:
        ray.shutdown()


def run(target: Backend) -> None:
    """Embed the corpus and print what came back."""
    rows = embed_corpus(target, CORPUS, dimension=64)
    print(f"{len(rows)} passages embedded, {len(rows[0]['embedding'])} dimensions each")


if __name__ == "__main__":
    with backend() as where:
        print(where.describe())
        run(where)
