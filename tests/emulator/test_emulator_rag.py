"""The emulator answers RAG prompts from their context (``_rag``): stock templates, verbatim."""

from __future__ import annotations

import pytest

from dashscope_core.emulator._rag import rag_answer

CONTEXT = (
    "file_path: rivers.txt\n\n"
    "The Yellow River is called the cradle of Chinese civilisation.\n\n"
    "The Yangtze is the longest river in Asia. It flows about 6,300 km to the sea."
)
LLAMAINDEX_QA = (
    "Context information is below.\n---------------------\n{context}\n---------------------\n"
    "Given the context information and not prior knowledge, answer the query.\n"
    "Query: {query}\nAnswer: "
)
LANGCHAIN_RLM = (
    "You are an assistant for question-answering tasks. Use the following pieces of retrieved "
    "context to answer the question. If you don't know the answer, just say that you don't know."
    " Use three sentences maximum and keep the answer concise.\n"
    "Question: {query} \nContext: {context} \nAnswer:"
)
REFINE = (
    "The original query is as follows: {query}\nWe have provided an existing answer: Unknown.\n"
    "We have the opportunity to refine the existing answer (only if needed) with some more "
    "context below.\n------------\n{context}\n------------\nGiven the new context, refine the "
    "original answer to better answer the query. If the context isn't useful, return the "
    "original answer.\nRefined Answer: "
)
QUERY = "Which river is the longest in Asia?"
YANGTZE = "The Yangtze is the longest river in Asia."


@pytest.mark.parametrize("template", [LLAMAINDEX_QA, LANGCHAIN_RLM, REFINE])
def test_stock_templates_quote_the_best_sentence(template: str) -> None:
    prompt = template.format(context=CONTEXT, query=QUERY)
    system = ("system", "You are an expert Q&A system. Always answer the query using the context.")
    assert rag_answer([system, ("user", prompt)]) == YANGTZE


def test_context_in_the_system_message() -> None:
    system = "Use the context information below to assist the user.\n-----\n" + CONTEXT + "\n-----"
    messages = [("system", system), ("user", "Who is the cradle of Chinese civilisation?")]
    assert rag_answer(messages) == "The Yellow River is called the cradle of Chinese civilisation."


def test_only_the_last_user_message_counts() -> None:
    old = ("user", LLAMAINDEX_QA.format(context=CONTEXT, query=QUERY))
    assert rag_answer([old, ("assistant", YANGTZE), ("user", "Thanks!")]) is None


def test_no_matching_sentence_says_so() -> None:
    prompt = LLAMAINDEX_QA.format(context=CONTEXT, query="What is the capital of France?")
    assert rag_answer([("user", prompt)]) == "The context does not answer this question."


def test_cjk_context() -> None:
    context = "杭州以西湖和龙井茶闻名。\n长江是亚洲最长的河流。"
    prompt = LLAMAINDEX_QA.format(context=context, query="亚洲最长的河流是哪条？")
    assert rag_answer([("user", prompt)]) == "长江是亚洲最长的河流。"


@pytest.mark.parametrize("text", ["Which river is the longest in Asia?", "Query: x\nAnswer:", ""])
def test_other_prompts_are_not_rag(text: str) -> None:
    assert rag_answer([("user", text)]) is None


CHAT_REFINE = (
    "You are an expert Q&A system that strictly operates in two modes when refining existing "
    "answers:\n1. **Rewrite** an original answer using the new context.\n2. **Repeat** the "
    "original answer if the new context isn't useful.\nNever reference the original answer or "
    "context directly in your answer.\nWhen in doubt, just repeat the original answer.\n"
    "New Context: {context}\nQuery: {query}\nOriginal Answer: {answer}\nNew Answer: "
)


def test_chat_refine_rewrites_or_repeats() -> None:
    better = CHAT_REFINE.format(context=CONTEXT, query=QUERY, answer="Unknown.")
    assert rag_answer([("user", better)]) == YANGTZE
    useless = CHAT_REFINE.format(context="Hangzhou has West Lake.", query=QUERY, answer=YANGTZE)
    assert rag_answer([("user", useless)]) == YANGTZE
    plain_refine = REFINE.format(context="Hangzhou has West Lake.", query=QUERY)
    assert rag_answer([("user", plain_refine)]) == "Unknown."
