"""The front's wire format, checked by the official openai SDK: a completion, a forced tool
call and a json_schema reply each parse into the SDK's types. Prints what it got, as JSON.

    python3 sdk_check.py http://127.0.0.1:8090/v1
"""

import json
import sys

from openai import OpenAI
from pydantic import BaseModel


class Order(BaseModel):
    product: str
    kg: int


def main(base_url: str) -> None:
    client = OpenAI(base_url=base_url, api_key="not-needed", max_retries=0, timeout=120)
    common = {"model": "smollm2", "temperature": 0, "seed": 7, "max_tokens": 64}

    completion = client.chat.completions.create(
        messages=[{"role": "user", "content": "Say hello to the sales team."}], **common
    )
    text = completion.choices[0].message.content
    assert text and text.strip(), completion
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0

    tools = [{
        "type": "function",
        "function": {
            "name": "price_of",
            "description": "The price of one kilogram of a product.",
            "parameters": {
                "type": "object",
                "properties": {"product": {"type": "string"}},
                "required": ["product"],
                "additionalProperties": False,
            },
        },
    }]
    called = client.chat.completions.create(
        messages=[{"role": "user", "content": "What does a kilogram of mangoes cost?"}],
        tools=tools,
        tool_choice={"type": "function", "function": {"name": "price_of"}},
        **common,
    )
    choice = called.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "price_of", call
    assert isinstance(json.loads(call.function.arguments)["product"], str)

    parsed = client.chat.completions.parse(
        messages=[{"role": "user", "content": "Please send 20 kg of mangoes."}],
        response_format=Order,
        **common,
    )
    order = parsed.choices[0].message.parsed
    assert isinstance(order, Order), parsed

    print(json.dumps({
        "completion": text,
        "tool_call": json.loads(call.function.arguments),
        "parsed": order.model_dump(),
    }))


if __name__ == "__main__":
    main(sys.argv[1])
