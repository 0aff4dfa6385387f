"""A LlamaIndex query engine over a few documents: DashScopeEmbedding + DashScopeLLM, streaming.

    python examples/llamaindex_rag.py "Which river is the longest in Asia?"

Without DASHSCOPE_API_KEY it runs against the embedded emulator (printed endpoint).
"""

from __future__ import annotations

import sys

from _backend import Backend, backend
from llama_index.core import Document, VectorStoreIndex

from llamaindex_dashscope_ext import DashScopeEmbedding, DashScopeLLM

DOCUMENTS = [
    "The Yangtze is the longest river in Asia; it flows about 6,300 km into the East China Sea.",
    "Hangzhou, the capital of Zhejiang, is famous for West Lake and Longjing green tea.",
    "Qwen is a family of large language models served by Alibaba Cloud's DashScope.",
    "The Yellow River is called the cradle of Chinese civilisation.",
]


QUESTION = "Which river is the longest in Asia?"


def run(where: Backend, question: str = QUESTION) -> None:
    """Index the documents, retrieve for ``question`` and stream the answer."""
    print(f"question> {question}\nanswer> ", end="")
    embed_model = DashScopeEmbedding(api_key=where.api_key, base_url=where.base_url)
    llm = DashScopeLLM(model="qwen-plus", api_key=where.api_key, base_url=where.base_url)
    index = VectorStoreIndex.from_documents(
        [Document(text=t) for t in DOCUMENTS], embed_model=embed_model
    )
    engine = index.as_query_engine(llm=llm, streaming=True, similarity_top_k=2)
    response = engine.query(question)
    for token in response.response_gen:  # type: ignore[union-attr]
        print(token, end="", flush=True)
    print()
    for node in response.source_nodes:
        print(f"  source ({node.score:.2f}): {node.node.get_content()[:70]}")


if __name__ == "__main__":
    with backend() as target:
        print(target.describe())
        run(target, " ".join(sys.argv[1:]) or QUESTION)
