"""The Python side of pair 3: CrewAI's execution log, `KickoffTaskOutputsSQLiteStorage`.

    python log.py --mode add|load --rows N --dir DIR

`add`: N rows written with `add`, one call per task as CrewAI's crew does (each call opens
the database, commits and closes it). `load`: N rows written beforehand (not timed, straight
into CrewAI's table), then `load()` timed. Prints rows per second as JSON, as
`tasknet-compare log-write` / `log-load` do. The rows carry the same payload as tasknet's.
"""

import argparse
import json
import os
import sqlite3
import statistics
import time
import uuid
from types import SimpleNamespace

from crewai.memory.storage.kickoff_task_outputs_storage import KickoffTaskOutputsSQLiteStorage

INPUTS = {"email": "an order for 20 kg of mangoes", "input_data": {"n": 3}}
OUTPUT = {"category": "order"}


def task(i):
    # `add` reads a Task's id, key and expected_output; building 100,000 pydantic Tasks
    # would only time pydantic, outside the timed part anyway.
    return SimpleNamespace(id=uuid.uuid4(), key=f"task_{i}", expected_output="A short answer.")


def fresh_storage(directory, name):
    path = os.path.join(directory, name)
    for suffix in ("", "-journal", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    return KickoffTaskOutputsSQLiteStorage(db_path=path), path


def add(rows, directory):
    storage, _ = fresh_storage(directory, "crewai_add.db")
    tasks = [task(i) for i in range(rows)]
    started = time.perf_counter()
    for i, t in enumerate(tasks):
        storage.add(t, OUTPUT, i, False, INPUTS)
    elapsed = time.perf_counter() - started
    assert len(storage.load()) == rows
    return {"rows": rows, "mode": "add", "rows_per_s": rows / elapsed}


def load(rows, directory):
    storage, path = fresh_storage(directory, "crewai_load.db")
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO latest_kickoff_task_outputs (task_id, task_key, expected_output, output, task_index, inputs, was_replayed) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (str(t.id), t.key, t.expected_output, json.dumps(OUTPUT), i, json.dumps(INPUTS), False)
                for i, t in ((i, task(i)) for i in range(rows))
            ],
        )
    times = []
    started = time.perf_counter()
    while len(times) < 3 or time.perf_counter() - started < 0.5:
        t = time.perf_counter()
        loaded = storage.load()
        times.append(time.perf_counter() - t)
        assert len(loaded) == rows
    return {"rows": rows, "runs": len(times), "rows_per_s": rows / statistics.median(times)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["add", "load"], required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--dir", required=True)
    args = parser.parse_args()
    result = (add if args.mode == "add" else load)(args.rows, args.dir)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
