"""Core client: stream a Qwen answer token by token, then let the model call a tool."""

from __future__ import annotations

import json

from _backend import Backend, backend

from dashscope_core import DashScope

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"],
        },
    },
}


def run(target: Backend) -> None:
    """Stream a chat answer, then make one tool-call round trip."""
    with DashScope(api_key=target.api_key, base_url=target.base_url) as client:
        messages = [{"role": "user", "content": "Say hello to dashscope-ext in one sentence."}]
        print("qwen-plus> ", end="", flush=True)
        for chunk in client.generation.stream(model="qwen-plus", messages=messages):
            print(chunk.text, end="", flush=True)
            if chunk.usage and chunk.finish_reason:
                usage = chunk.usage
                print(f"\n  [{usage.input_tokens} in / {usage.output_tokens} out tokens]")

        question = [{"role": "user", "content": "What is the weather in Hangzhou?"}]
        answer = client.generation.call(model="qwen-plus", messages=question, tools=[WEATHER_TOOL])
        for call in answer.tool_calls:
            args = json.loads(call.function.arguments or "{}")
            print(f"tool call: {call.function.name}({args})  id={call.id}")
            result = {"city": args.get("city", "?"), "forecast": "sunny", "celsius": 24}
            follow_up = [
                *question,
                answer.message.model_dump(exclude_none=True) if answer.message else {},
                {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)},
            ]
            final = client.generation.call(
                model="qwen-plus", messages=follow_up, tools=[WEATHER_TOOL]
            )
            print(f"qwen-plus> {final.text}")


if __name__ == "__main__":
    with backend() as target:
        print(target.describe())
        run(target)
