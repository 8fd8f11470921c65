"""The Python side of pairs 1 and 2: a chain of N no-op tasks, each adding one key.

    python chain.py --system langgraph|seed --tasks N [--wide] [--budget-ms MS]

`langgraph`: a StateGraph over a TypedDict state, one node per task returning one new key,
compiled once; `invoke` is timed. `seed`: the seed's output functions in plain Python, each
returning `{**state, key: value}`. `--wide` starts from a state that already holds 1,000 keys
of 1 KB. Prints one JSON object, as `tasknet-compare chain` does.
"""

import argparse
import json
import statistics
import time
from typing import TypedDict

WIDE_FIELDS = 1000


def initial_state(wide):
    state = {"start": 0}
    if wide:
        kb = "x" * 1024
        state.update({f"f{i}": kb for i in range(WIDE_FIELDS)})
    return state


def previous(i):
    return "start" if i == 0 else f"v{i - 1}"


def langgraph_runner(n, wide):
    from langgraph.graph import END, START, StateGraph

    fields = {"start": int}
    if wide:
        fields.update({f"f{i}": str for i in range(WIDE_FIELDS)})
    fields.update({f"v{i}": int for i in range(n)})
    State = TypedDict("State", fields, total=False)

    def node(i):
        source, target = previous(i), f"v{i}"
        return lambda state: {target: state[source] + 1}

    graph = StateGraph(State)
    for i in range(n):
        graph.add_node(f"t{i}", node(i))
    graph.add_edge(START, "t0")
    for i in range(1, n):
        graph.add_edge(f"t{i - 1}", f"t{i}")
    graph.add_edge(f"t{n - 1}", END)
    app = graph.compile()
    # LangGraph stops a run after 25 steps unless told otherwise.
    config = {"recursion_limit": n + 10}

    def run(state):
        out = app.invoke(state, config)
        assert out[f"v{n - 1}"] == n
        return out

    return run


def seed_runner(n, wide):
    # The seed's generated output functions: each returns a new dict with one more key.
    def output_function(i):
        source, target = previous(i), f"v{i}"
        return lambda state: {**state, target: state[source] + 1}

    functions = [output_function(i) for i in range(n)]

    def run(state):
        for f in functions:
            state = f(state)
        assert state[f"v{n - 1}"] == n
        return state

    return run


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--system", choices=["langgraph", "seed"], required=True)
    parser.add_argument("--tasks", type=int, required=True)
    parser.add_argument("--wide", action="store_true")
    parser.add_argument("--budget-ms", type=int, default=1000)
    args = parser.parse_args()
    make = langgraph_runner if args.system == "langgraph" else seed_runner
    run = make(args.tasks, args.wide)
    state = initial_state(args.wide)
    run(dict(state))  # warm-up: imports, caches
    times = []
    started = time.perf_counter()
    while len(times) < 5 or time.perf_counter() - started < args.budget_ms / 1000:
        initial = dict(state)
        t = time.perf_counter()
        run(initial)
        times.append((time.perf_counter() - t) * 1e6)
    median = statistics.median(times)
    print(json.dumps({
        "tasks": args.tasks,
        "wide": args.wide,
        "runs": len(times),
        "median_run_us": median,
        "per_task_us": median / args.tasks,
    }))


if __name__ == "__main__":
    main()
