"""A LangChain chain — prompt | ChatDashScope | StrOutputParser — streaming to the terminal.

    python examples/langchain_chat.py "Why is the sky blue?"

Without DASHSCOPE_API_KEY it runs against the embedded emulator (printed endpoint).
"""

from __future__ import annotations

import sys

from _backend import Backend, backend
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from langchain_dashscope_ext import ChatDashScope


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


if __name__ == "__main__":
    with backend() as target:
        print(target.describe())
        run(target, " ".join(sys.argv[1:]) or "Why is the sky blue?")
