"""CrewAI's side of the LLM pair: bench/crew's three-task crew (two tasks from the email side
by side, the reply with both as context; `extract` with `output_pydantic=Order`) as CrewAI's own
documentation writes one, run once per email against an OpenAI-compatible server.

    python crew_llm.py --url URL --emails FILE [--max-tokens N]

Prints one JSON object: per run, its wall time, whether it completed and whether the typed
output parsed. Calls and tokens are counted by the harness's proxy.
"""

import argparse
import json
import os
import time

# Offline: no telemetry, no tracing prompts.
os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("CREWAI_DISABLE_TRACKING", "true")
os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")
os.environ.setdefault("OTEL_SDK_DISABLED", "true")

from crewai import LLM, Agent, Crew, Process, Task  # noqa: E402
from pydantic import BaseModel  # noqa: E402


class Order(BaseModel):
    product: str
    kg: int


def make_crew(llm):
    analyst = Agent(role="Sales Analyst", goal="Understand what each customer wants",
                    backstory="You read customer emails all day.", llm=llm, verbose=False,
                    allow_delegation=False)
    clerk = Agent(role="Order Clerk", goal="Record each order exactly",
                  backstory="You turn emails into order lines.", llm=llm, verbose=False,
                  allow_delegation=False)
    writer = Agent(role="Customer Writer", goal="Answer customers kindly and briefly",
                   backstory="You write the sales team's replies.", llm=llm, verbose=False,
                   allow_delegation=False)
    summarize = Task(description="Summarise this customer email in one sentence: {email}",
                     expected_output="One sentence.", agent=analyst)
    extract = Task(description="Extract the product and the kilograms this customer email orders: {email}",
                   expected_output="The product and the kilograms.", agent=clerk,
                   output_pydantic=Order)
    reply = Task(description="Write a short reply to the customer, given the summary and the order.",
                 expected_output="A reply of two or three sentences.", agent=writer,
                 context=[summarize, extract])
    crew = Crew(agents=[analyst, clerk, writer], tasks=[summarize, extract, reply],
                process=Process.sequential, verbose=False)
    return crew, extract


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--emails", required=True)
    parser.add_argument("--max-tokens", type=int, default=96)
    args = parser.parse_args()
    emails = json.load(open(args.emails))
    llm = LLM(model="openai/smollm2", base_url=args.url, api_key="not-needed", temperature=0,
              seed=7, max_tokens=args.max_tokens, timeout=300)
    runs = []
    for email in emails:
        crew, extract = make_crew(llm)
        started = time.perf_counter()
        try:
            crew.kickoff(inputs={"email": email})
            completed, error = True, None
        except Exception as e:  # the run failed: counted, not fatal
            completed, error = False, f"{type(e).__name__}: {e}"[:300]
        wall_ms = (time.perf_counter() - started) * 1000
        output = extract.output
        parsed = completed and output is not None and isinstance(output.pydantic, Order)
        run = {"wall_ms": wall_ms, "completed": completed, "parsed": parsed}
        if error:
            run["error"] = error
        runs.append(run)
    print(json.dumps({"runs": runs}))


if __name__ == "__main__":
    main()
