"""The PostgreSQL pair: tasknet's log and work queue beside DBOS Transact, on one throwaway
PostgreSQL cluster (durable defaults: fsync and synchronous_commit on), alternately, round after
round. Writes BENCHMARKS-postgres.md. Started by `bench/compare --postgres`.

Workloads: dispatch latency with an idle worker; no-op throughput with 1, 2 and 4 workers; the
time from a worker's death to its task running elsewhere; the per-task cost of the log in one
process, PostgreSQL against SQLite. DBOS: steps in a workflow, one-step workflows through a
queue (16 at once per worker), enqueue-to-result latency.
"""

import argparse
import datetime
import glob
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run_json(cmd, timeout=1800):
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if out.returncode != 0:
        sys.exit(f"bench/pg_pair: `{' '.join(cmd)}` failed ({out.returncode}):\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


class Cluster:
    """initdb into a temporary directory, a server on a free loopback port; as root, run as
    Debian's postgres user (PostgreSQL refuses root)."""

    def __init__(self):
        initdb = shutil.which("initdb") or (sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [None])[-1]
        if not initdb:
            sys.exit("bench/pg_pair: PostgreSQL is not installed (Debian: postgresql)")
        self.bin = os.path.dirname(os.path.realpath(initdb))
        self.dir = tempfile.mkdtemp(prefix="tasknet-bench-pg-")
        self.user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.user:
            shutil.chown(self.dir, "postgres")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.run("initdb", "--auth=trust", "--username=postgres", "--encoding=UTF8", "-D", f"{self.dir}/data")
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c shared_preload_libraries=pg_stat_statements -c max_connections=200"
        self.run("pg_ctl", "-w", "-o", options, "-l", f"{self.dir}/server.log", "-D", f"{self.dir}/data", "start")
        self.version = self.sql("postgres", "show server_version")
        for db in ("tasknet", "dbos"):
            self.sql("postgres", f"CREATE DATABASE {db}")
        self.sql("tasknet", "CREATE EXTENSION pg_stat_statements")

    def run(self, program, *args):
        out = subprocess.run(self.user + [f"{self.bin}/{program}", *args], capture_output=True, text=True, cwd=self.dir)
        if out.returncode != 0:
            sys.exit(f"bench/pg_pair: {program} failed: {out.stderr}")
        return out.stdout.strip()

    def sql(self, db, query):
        return self.run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", db, "-Atc", query)

    def url(self, db, scheme="postgres"):
        return f"{scheme}://postgres@127.0.0.1:{self.port}/{db}"

    def stop(self):
        subprocess.run(self.user + [f"{self.bin}/pg_ctl", "-m", "immediate", "-D", f"{self.dir}/data", "stop"], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def spread(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--python", required=True)
    parser.add_argument("--bin", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS-postgres.md"))
    args = parser.parse_args()
    cluster = Cluster()
    try:
        results = measure(cluster, args)
        profile = cluster.sql(
            "tasknet",
            "SELECT calls, round(mean_exec_time::numeric, 3), round(total_exec_time::numeric, 1), "
            "regexp_replace(left(query, 90), '\\s+', ' ', 'g') FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'tasknet') "
            "ORDER BY total_exec_time DESC LIMIT 8",
        )
        write_page(args, cluster, results, profile)
    finally:
        cluster.stop()


def measure(cluster, args):
    tn = lambda *a: run_json([args.bin, "pg-queue", "--url", cluster.url("tasknet"), *a])
    dbos = lambda *a: run_json([args.python, os.path.join(HERE, "py", "dbos_queue.py"), "--url", cluster.url("dbos", "postgresql"), *a])
    r = {k: [] for k in ["pg_task", "sqlite_task", "dbos_step", "dispatch_p50", "dispatch_p99", "submit_p50",
                         "dbos_latency_p50", "tp1", "tp2", "tp4", "dbos_queue", "failover", "failover_after_lease"]}
    for round_ in range(args.rounds):
        print(f"bench/pg_pair: round {round_ + 1} of {args.rounds}", file=sys.stderr)
        per = tn("--workload", "per-task", "--runs", "100")
        r["pg_task"].append(per["postgres_us_per_task"])
        r["sqlite_task"].append(per["sqlite_us_per_task"])
        r["dbos_step"].append(dbos("--workload", "steps")["us_per_step"])
        d = tn("--workload", "dispatch", "--samples", "100")
        r["dispatch_p50"].append(d["after_commit_us"]["p50"])
        r["dispatch_p99"].append(d["after_commit_us"]["p99"])
        r["submit_p50"].append(d["from_submit_us"]["p50"])
        r["dbos_latency_p50"].append(dbos("--workload", "latency", "--n", "10")["p50_ms"] * 1000)
        for w in (1, 2, 4):
            r[f"tp{w}"].append(tn("--workload", "throughput", "--workers", str(w), "--tasks", "2000")["tasks_per_s"])
        r["dbos_queue"].append(dbos("--workload", "queue", "--n", "500")["per_s"])
        f = tn("--workload", "failover", "--samples", "2")
        r["failover"].append(f["death_to_restart_ms"]["p50"])
        r["failover_after_lease"].append(f["lease_end_to_restart_ms"]["max"])
    return {k: spread(v) for k, v in r.items()}


def write_page(args, cluster, r, profile):
    dbos_version = subprocess.run([args.python, "-c", "import importlib.metadata as m; print(m.version('dbos'))"],
                                  capture_output=True, text=True).stdout.strip()
    f = lambda x, d=1: f"{x:,.{d}f}"
    row = lambda name, s, unit, d=1: f"| {name} | {f(s['median'], d)} {unit} | {f(s['min'], d)} | {f(s['max'], d)} |"
    met = lambda ok: "**met**" if ok else "**missed**"
    lines = [
        "# tasknet on PostgreSQL, beside DBOS Transact",
        "",
        f"Written by `bench/compare --postgres` on {datetime.date.today()}: {args.rounds} rounds, each side "
        f"alternately; median, min and max over the rounds. PostgreSQL {cluster.version} on this machine "
        f"({os.cpu_count()} cores, {platform.machine()}), a throwaway cluster with durable defaults "
        f"(fsync, synchronous_commit on); tasknet's workers in one process, each with its own "
        f"connections; DBOS Transact {dbos_version} (PyPI `dbos`, its documented defaults).",
        "",
        "## tasknet",
        "",
        "| measure | median | min | max |",
        "|---|---|---|---|",
        row("dispatch latency p50 (submit committed -> task code starts, idle worker)", r["dispatch_p50"], "µs", 0),
        row("dispatch latency p99", r["dispatch_p99"], "µs", 0),
        row("submit called -> task code starts, p50", r["submit_p50"], "µs", 0),
        row("no-op tasks/s, 1 worker (16 at once)", r["tp1"], "/s", 0),
        row("no-op tasks/s, 2 workers", r["tp2"], "/s", 0),
        row("no-op tasks/s, 4 workers", r["tp4"], "/s", 0),
        row("worker death -> its task running elsewhere (1 s lease)", r["failover"], "ms", 0),
        row("lease end -> task running elsewhere (worst sample)", r["failover_after_lease"], "ms", 0),
        row("per task in one process, PostgreSQL log", r["pg_task"], "µs", 0),
        row("per task in one process, SQLite log (durable)", r["sqlite_task"], "µs", 0),
        "",
        "## Side by side",
        "",
        "| workload | tasknet | DBOS | ratio |",
        "|---|---|---|---|",
        f"| a durable step (a task in a run / a step in a workflow) | {f(r['pg_task']['median'], 0)} µs | {f(r['dbos_step']['median'], 0)} µs | {r['dbos_step']['median'] / r['pg_task']['median']:.1f}x |",
        f"| ready -> running (tasknet: submit called -> task starts; DBOS: enqueue -> result) | {f(r['submit_p50']['median'] / 1000, 2)} ms | {f(r['dbos_latency_p50']['median'] / 1000, 0)} ms | {r['dbos_latency_p50']['median'] / r['submit_p50']['median']:.0f}x |",
        f"| queued one-task runs/s, one worker process | {f(r['tp1']['median'], 0)} | {f(r['dbos_queue']['median'], 0)} | {r['tp1']['median'] / r['dbos_queue']['median']:.1f}x |",
        "",
        "## Targets (issue 19)",
        "",
        f"- dispatch p50 at most 2 ms: {f(r['dispatch_p50']['median'] / 1000, 2)} ms, {met(r['dispatch_p50']['median'] <= 2000)}",
        f"- at least 2,000 no-op tasks/s with 4 workers: {f(r['tp4']['median'], 0)}/s, {met(r['tp4']['median'] >= 2000)}",
        f"- failover within 2 s of the lease running out: worst {f(r['failover_after_lease']['max'] / 1000, 2)} s, {met(r['failover_after_lease']['max'] <= 2000)}",
        "",
        "## Where the database's time goes (pg_stat_statements, tasknet's database, every workload)",
        "",
        "| calls | mean ms | total ms | statement |",
        "|---|---|---|---|",
    ]
    for line in profile.splitlines():
        calls, mean, total, query = line.split("|", 3)
        lines.append(f"| {calls} | {mean} | {total} | `{query.replace('|', '/')}` |")
    lines += [
        "",
        "Notes: a no-op task costs a claim (one `UPDATE ... FOR UPDATE SKIP LOCKED` returning the",
        "batch), a read of its run (one read-only transaction), and a completion (one transaction",
        "of four to six statements and a commit that waits for the WAL flush); throughput is bound",
        "by those commits on this disk. The failover figure includes the heir's idle poll (1 s):",
        "a lease's end is found by polling, not notified.",
    ]
    with open(args.out, "w") as out:
        out.write("\n".join(lines) + "\n")
    print(f"bench/pg_pair: wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
