"""A Bailian RAG app: a question with citations, then a follow-up in the same session.

Offline (DASHSCOPE_API_KEY unset) it asks the embedded emulator's demo app, a small knowledge
base about the fictional Aurora lamp. Against DashScope it needs your app: DASHSCOPE_APP_ID
(and optionally APP_QUESTION / APP_FOLLOW_UP to ask about your own documents).
"""

from __future__ import annotations

import os
import sys

from _backend import Backend, backend

from dashscope_core import DashScope
from dashscope_core.types.apps import AppResponse

DEMO_APP_ID = "demo-rag-app"


def _print_answer(answer: AppResponse) -> None:
    print(f"  {answer.text}")
    for ref in answer.output.doc_references:
        print(f"    [{ref.index_id}] {ref.title} ({ref.doc_name}, doc_id={ref.doc_id})")


def with_core(target: Backend, app_id: str, question: str, follow_up: str) -> None:
    """The core client: ``apps.session`` keeps the server-side session id."""
    with DashScope(api_key=target.api_key, base_url=target.base_url) as client:
        session = client.apps.session(app_id)
        print(f"core> {question}")
        _print_answer(session.call(question))
        print(f"core> {follow_up}   (session {session.session_id})")
        for chunk in session.stream(follow_up):
            print(chunk.output.text, end="", flush=True)
        print()


def with_langchain(target: Backend, app_id: str, question: str, follow_up: str) -> None:
    """LangChain ``ChatDashScopeApp``: the session id comes back in ``response_metadata``."""
    from langchain_dashscope_ext import ChatDashScopeApp

    chat = ChatDashScopeApp(app_id=app_id, api_key=target.api_key, base_url=target.base_url)
    print(f"langchain> {question}")
    first = chat.invoke(question)
    print(f"  {first.content}")
    for ref in first.response_metadata["doc_references"]:
        print(f"    [{ref['index_id']}] {ref['title']} ({ref['doc_name']})")
    session_id = first.response_metadata["session_id"]
    print(f"langchain> {follow_up}   (session {session_id})")
    print(f"  {chat.invoke(follow_up, session_id=session_id).content}")


def run(target: Backend) -> None:
    """Run both walkthroughs against the emulator or DashScope."""
    app_id = DEMO_APP_ID if target.emulated else os.environ.get("DASHSCOPE_APP_ID")
    if not app_id:
        print("skipped: set DASHSCOPE_APP_ID to the id of your Bailian app", file=sys.stderr)
        return
    question = os.environ.get("APP_QUESTION", "How long is the warranty of the Aurora lamp?")
    follow_up = os.environ.get("APP_FOLLOW_UP", "What did I ask first?")
    with_core(target, app_id, question, follow_up)
    with_langchain(target, app_id, "How do I pair the lamp?", follow_up)


if __name__ == "__main__":
    with backend() as target:
        print(target.describe())
        run(target)
