"""DBOS Transact's side of the PostgreSQL pair (bench/pg_pair.py): the same no-op workloads as
tasknet's `pg-queue`, written as DBOS's documentation shows them: steps in a workflow, and
workflows through a queue (16 at once per worker, the queue's default polling). Prints one JSON
object.

    python dbos_queue.py --url URL --workload steps|queue|latency [--n N]
"""

import argparse
import json
import logging
import time

from dbos import DBOS, DBOSConfig

parser = argparse.ArgumentParser()
parser.add_argument("--url", required=True)
parser.add_argument("--workload", required=True, choices=["steps", "queue", "latency"])
parser.add_argument("--n", type=int, default=200)
args = parser.parse_args()

config: DBOSConfig = {
    "name": "tasknet-bench",
    "system_database_url": args.url,
    "log_level": "WARNING",
}
DBOS(config=config)


@DBOS.step()
def noop_step():
    return 1


@DBOS.workflow()
def steps(n):
    for _ in range(n):
        noop_step()


@DBOS.workflow()
def one_step():
    return noop_step()


DBOS.launch()
# DBOS 3.4: queues are declared through DBOS once it is running.
queue = DBOS.register_queue("bench", worker_concurrency=16)
logging.getLogger("dbos").setLevel(logging.WARNING)

if args.workload == "steps":
    steps(10)  # warm up
    times = []
    for _ in range(20):
        started = time.perf_counter()
        steps(10)
        times.append((time.perf_counter() - started) * 1e6 / 10)
    times.sort()
    result = {"us_per_step": times[len(times) // 2], "steps_per_workflow": 10}
elif args.workload == "queue":
    started = time.perf_counter()
    handles = [queue.enqueue(one_step) for _ in range(args.n)]
    for handle in handles:
        handle.get_result()
    elapsed = time.perf_counter() - started
    result = {"workflows": args.n, "seconds": elapsed, "per_s": args.n / elapsed}
else:
    times = []
    for _ in range(args.n):
        started = time.perf_counter()
        queue.enqueue(one_step).get_result()
        times.append((time.perf_counter() - started) * 1e3)
    times.sort()
    result = {"samples": args.n, "p50_ms": times[len(times) // 2], "p99_ms": times[int((len(times) - 1) * 0.99)]}

DBOS.destroy()
print(json.dumps(result))
