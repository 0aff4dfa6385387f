"""Structured output: native JSON schema, forced tool call, streaming, as_structured_llm."""

from __future__ import annotations

import pytest
from llama_index.core.llms import ChatMessage
from llama_index.core.prompts import PromptTemplate
from llama_index.core.types import PydanticProgramMode
from pydantic import BaseModel

from dashscope_core.emulator import Emulator, ServerHandle
from llamaindex_dashscope_ext import DashScopeLLM

from ._calls import Calls
from .conftest import FAKE_KEY

PROMPT = PromptTemplate("Extract the city and country from: {text}")
CITY = '{"city": "Paris", "country": "France", "population_millions": 2.1}'


class City(BaseModel):
    """A city."""

    city: str
    country: str
    population_millions: float


def _function_llm(server: ServerHandle, **kwargs: object) -> DashScopeLLM:
    return DashScopeLLM(api_key=FAKE_KEY, base_url=server.base_url, **kwargs)  # type: ignore[arg-type]


async def test_native_json_schema(calls: Calls, emu: Emulator) -> None:
    emu.script.generation(CITY)
    city = await calls.structured_predict(City, PROMPT, text="Paris is in France")
    assert city == City(city="Paris", country="France", population_millions=2.1)
    params = emu.received("generation")[-1].json["parameters"]
    assert params["response_format"]["type"] == "json_schema"
    assert params["response_format"]["json_schema"]["name"] == "City"
    assert params["response_format"]["json_schema"]["schema"]["required"] == [
        "city",
        "country",
        "population_millions",
    ]
    assert "tools" not in params


async def test_native_schema_without_script(calls: Calls, emu: Emulator) -> None:
    city = await calls.structured_predict(City, PROMPT, text="Paris is in France")
    assert isinstance(city, City)  # the emulator answers an instance of the schema


@pytest.mark.parametrize("how", ["program_mode", "unknown_model"])
async def test_forced_tool_call(
    li_server: ServerHandle, emu: Emulator, mode: str, how: str
) -> None:
    if how == "program_mode":
        llm = _function_llm(li_server, pydantic_program_mode=PydanticProgramMode.FUNCTION)
    else:
        llm = _function_llm(li_server, model="qwen-custom-ft", is_function_calling_model=True)
    emu.script.generation(tool_calls=[{"name": "City", "arguments": CITY}])
    city = await Calls(llm, mode).structured_predict(City, PROMPT, text="Paris is in France")
    assert city.city == "Paris"
    params = emu.received("generation")[-1].json["parameters"]
    assert params["tool_choice"] == {"type": "function", "function": {"name": "City"}}
    assert "response_format" not in params


async def test_stream_structured_predict_native(calls: Calls, emu: Emulator) -> None:
    emu.script.generation(CITY)
    objects = await calls.stream_structured_predict(City, PROMPT, text="Paris is in France")
    assert len(objects) > 1
    assert objects[-1].model_dump() == City.model_validate_json(CITY).model_dump()


async def test_stream_structured_predict_tool(
    li_server: ServerHandle, emu: Emulator, mode: str
) -> None:
    llm = _function_llm(li_server, pydantic_program_mode=PydanticProgramMode.FUNCTION)
    emu.script.generation(tool_calls=[{"name": "City", "arguments": CITY}])
    objects = await Calls(llm, mode).stream_structured_predict(City, PROMPT, text="Paris")
    assert len(objects) > 1
    assert objects[-1].model_dump() == City.model_validate_json(CITY).model_dump()


async def test_as_structured_llm(llm: DashScopeLLM, emu: Emulator) -> None:
    sllm = llm.as_structured_llm(City)
    emu.script.generation(CITY)
    response = sllm.chat([ChatMessage(role="user", content="Paris is in France")])
    assert isinstance(response.raw, City)
    assert response.raw.country == "France"
    emu.script.generation(CITY)
    aresponse = await sllm.achat([ChatMessage(role="user", content="Paris is in France")])
    assert isinstance(aresponse.raw, City)


async def test_invalid_json_is_an_error(calls: Calls, emu: Emulator) -> None:
    emu.script.generation("not json at all")
    with pytest.raises(ValueError):
        await calls.structured_predict(City, PROMPT, text="Paris")
