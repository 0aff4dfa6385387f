"""A LangChain chain — prompt | ChatDashScope | StrOutputParser — streaming to the terminal.

    python examples/langchain_chat.py "Why is the sky blue?"

Then the two other classes: ``DashScopeLLM`` (a prompt-style model, streamed) and
``DashScopeEmbeddings`` (documents vs a query). Without DASHSCOPE_API_KEY it runs against the
embedded emulator (printed endpoint).
"""

from __future__ import annotations

import sys

from _backend import Backend, backend
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from langchain_dashscope_ext import ChatDashScope, DashScopeEmbeddings, DashScopeLLM


def run(where: Backend, question: str = "Why is the sky blue?") -> None:
    """Stream the chain's answer token by token."""
    model = ChatDashScope(model="qwen-plus", api_key=where.api_key, base_url=where.base_url)
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You are a concise assistant."), ("human", "{question}")]
    )
    chain = prompt | model | StrOutputParser()
    print(f"question> {question}\nanswer> ", end="")
    for token in chain.stream({"question": question}):
        print(token, end="", flush=True)
    print()


def run_text_model(where: Backend, prompt: str = "Write one line about Hangzhou.") -> None:
    """Stream a prompt-style model (``DashScopeLLM``), then print its usage."""
    llm = DashScopeLLM(model="qwen-plus", api_key=where.api_key, base_url=where.base_url)
    print(f"prompt> {prompt}\ntext> ", end="")
    for piece in llm.stream(prompt):
        print(piece, end="", flush=True)
    usage = llm.generate([prompt]).generations[0][0].generation_info or {}
    print(f"\n(usage: {usage.get('token_usage')})")


def run_embeddings(where: Backend, query: str = "Which city has West Lake?") -> None:
    """Rank two documents against a query with ``DashScopeEmbeddings``."""
    emb = DashScopeEmbeddings(api_key=where.api_key, base_url=where.base_url, dimension=256)
    docs = ["West Lake is in Hangzhou.", "The Bund is in Shanghai."]
    vectors, q = emb.embed_documents(docs), emb.embed_query(query)
    scores = [sum(a * b for a, b in zip(v, q, strict=True)) for v in vectors]
    best = max(range(len(docs)), key=scores.__getitem__)
    print(f"query> {query}\nbest> {docs[best]} (cosine {scores[best]:.3f})")


if __name__ == "__main__":
    with backend() as target:
        print(target.describe())
        run(target, " ".join(sys.argv[1:]) or "Why is the sky blue?")
        run_text_model(target)
        run_embeddings(target)
