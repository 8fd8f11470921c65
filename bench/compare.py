"""Runs tasknet and the Python systems it replaces on the same work, alternately, and writes
BENCHMARKS.md. Started by `bench/compare`, which prepares the venv and the release binary.

Every side is a separate process printing one JSON object: `tasknet-compare` for tasknet,
bench/py/*.py for Python. Each probe runs its sides one after the other (tasknet first), and
the whole list of probes is repeated `--rounds` times, so that drift of a noisy machine hits
both sides alike. The page reports, per measure, the median, min and max over the rounds and
the ratio of the medians.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


# ---- running the sides ----------------------------------------------------------------------

def run_json(cmd, timeout=1800):
    """Runs a side; its last stdout line is its JSON result."""
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if out.returncode != 0:
        sys.exit(f"bench/compare: `{' '.join(cmd)}` failed ({out.returncode}):\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


class Server:
    """A server process printing `listening HOST:PORT`; killed on exit."""

    last_pid = None

    def __init__(self, cmd):
        self.cmd = cmd

    def __enter__(self):
        self.process = subprocess.Popen(
            self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
            start_new_session=True,
        )
        Server.last_pid = self.process.pid
        line = self.process.stdout.readline()
        match = re.match(r"listening (\S+)", line)
        if not match:
            self.__exit__()
            sys.exit(f"bench/compare: `{' '.join(self.cmd)}` did not start: {line}{self.process.stderr.read()}")
        return f"ws://{match.group(1)}/"

    def __exit__(self, *_):
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


class Sides:
    def __init__(self, args, scratch):
        self.bin = args.bin
        self.python = args.python
        self.scratch = scratch

    def tasknet(self, *args):
        return run_json([self.bin, *map(str, args)])

    def py(self, script, *args):
        return run_json([self.python, os.path.join(HERE, "py", script), *map(str, args)])

    def ws(self, server_cmd, pin=None, **load):
        # `pin`: server and client on that one CPU (`taskset -c`), where a round trip needs no
        # wake-up of another CPU.
        on_cpu = ["taskset", "-c", pin] if pin else []
        with Server(on_cpu + server_cmd) as url:
            args = on_cpu + [self.bin, "ws-load", "--url", url]
            for key, value in load.items():
                args += [f"--{key.replace('_', '-')}", str(value)]
            return run_json(args, timeout=600)


# ---- profiles of the missed targets -------------------------------------------------------

def profile_durable(sides):
    """Where a durable commit's time goes: wall time per system call (strace -c -w)."""
    if not shutil.which("strace"):
        return "strace not found (Debian package strace): no profile."
    out = os.path.join(sides.scratch, "strace.txt")
    subprocess.run(["strace", "-f", "-c", "-w", "-o", out, sides.bin, "log-write", "--rows", "1000",
                    "--mode", "durable", "--dir", sides.scratch], capture_output=True, check=True, cwd=ROOT)
    lines = open(out).read().splitlines()
    # The header and the ten costliest calls.
    return "\n".join(lines[:12])


def profile_round_trip(sides, server_cmd, label):
    """The server's CPU time and context switches over 5,000 sequential round trips."""
    if not shutil.which("perf"):
        return f"{label}: perf not found (Debian package linux-perf): no profile."
    with Server(server_cmd) as url:
        server = Server.last_pid
        out = os.path.join(sides.scratch, "perf.txt")
        perf = subprocess.Popen(["perf", "stat", "-e", "task-clock,context-switches,cpu-migrations",
                                 "-o", out, "-p", str(server)], cwd=ROOT)
        time.sleep(0.3)
        run_json([sides.bin, "ws-load", "--url", url, "--seq", "5000"], timeout=600)
        perf.send_signal(signal.SIGINT)
        perf.wait()
    text = open(out).read()
    counters = {}
    for name in ("task-clock", "context-switches", "cpu-migrations"):
        match = re.search(r"([\d.,]+)\s+(?:msec\s+)?" + name, text)
        if match:
            counters[name] = float(match.group(1).replace(",", ""))
    if "task-clock" not in counters:
        return f"{label}: perf gave no counters:\n{text.strip()}"
    runs = 5000 + 500  # ws-load warms up with 500 round trips first
    return (f"{label}: {counters['task-clock'] * 1000 / runs:.1f} µs of server CPU and "
            f"{counters.get('context-switches', 0) / runs:.1f} context switches per round trip "
            f"(perf stat -p SERVER over {runs:,} sequential round trips)")


def per_commit(strace_summary, commits):
    """`6.1 fcntl, 4.3 pwrite64, 1.0 fsync per commit` from strace's summary table."""
    counts = []
    for line in strace_summary.splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[0][0].isdigit():
            calls, name = int(fields[3]), fields[-1]
            if calls >= commits / 2:
                counts.append(f"{calls / commits:.1f} {name}")
    return (", ".join(counts) + " per commit") if counts else "no summary"


def profiles(sides):
    return {
        "durable": profile_durable(sides),
        "round_trip": [
            profile_round_trip(sides, [sides.bin, "ws-serve"], "tasknet"),
            profile_round_trip(sides, [sides.python, os.path.join(HERE, "py", "ws_server.py"), "--mode", "noop"],
                               "websockets"),
        ],
    }


# ---- what is measured ----------------------------------------------------------------------

def probes(sides, quick):
    """(probe name, {side: thunk}) in the order they run each round."""
    lengths = [10, 100] if quick else [10, 100, 1000]
    rows = [1000, 10_000] if quick else [1000, 100_000]
    scratch = sides.scratch
    out = []
    for n in lengths:
        out.append((f"chain/{n}", {
            "tasknet": lambda n=n: sides.tasknet("chain", "--tasks", n),
            "langgraph": lambda n=n: sides.py("chain.py", "--system", "langgraph", "--tasks", n),
        }))
    for n in lengths:
        out.append((f"wide/{n}", {
            "tasknet": lambda n=n: sides.tasknet("chain", "--tasks", n, "--wide"),
            "langgraph": lambda n=n: sides.py("chain.py", "--system", "langgraph", "--tasks", n, "--wide"),
            "seed": lambda n=n: sides.py("chain.py", "--system", "seed", "--tasks", n, "--wide"),
        }))
    out.append(("disk-floor", {"machine": lambda: sides.tasknet("disk-floor", "--dir", scratch)}))
    out.append((f"log/durable/{rows[0]}", {
        "tasknet": lambda: sides.tasknet("log-write", "--rows", rows[0], "--mode", "durable", "--dir", scratch),
        "crewai": lambda: sides.py("log.py", "--mode", "add", "--rows", rows[0], "--dir", scratch),
    }))
    for r in rows:
        out.append((f"log/batched/{r}", {
            "tasknet": lambda r=r: sides.tasknet("log-write", "--rows", r, "--mode", "batched", "--dir", scratch),
            # CrewAI has no batched write: `add` per task is how its crews log.
            "crewai": lambda r=r: sides.py("log.py", "--mode", "add", "--rows", r, "--dir", scratch),
        }))
    for r in rows:
        out.append((f"log/load/{r}", {
            "tasknet": lambda r=r: sides.tasknet("log-load", "--rows", r, "--dir", scratch),
            "crewai": lambda r=r: sides.py("log.py", "--mode", "load", "--rows", r, "--dir", scratch),
        }))
    load = dict(seq=2000 if quick else 5000, conns=16, per_conn=1000 if quick else 2000,
                fresh=100 if quick else 300)
    out.append(("ws", {
        "tasknet": lambda: sides.ws([sides.bin, "ws-serve"], **load),
        "websockets": lambda: sides.ws([sides.python, os.path.join(HERE, "py", "ws_server.py"), "--mode", "noop"], **load),
        "seed": lambda: sides.ws([sides.python, os.path.join(HERE, "py", "ws_server.py"), "--mode", "subprocess"],
                                 fresh=20 if quick else 50),
    }))
    out.append(("tcp-floor", {"machine": lambda: sides.tasknet("tcp-floor")}))
    pinned = dict(pin="0", seq=2000 if quick else 5000)
    out.append(("ws-one-cpu", {
        "tasknet": lambda: sides.ws([sides.bin, "ws-serve"], **pinned),
        "websockets": lambda: sides.ws([sides.python, os.path.join(HERE, "py", "ws_server.py"), "--mode", "noop"],
                                       **pinned),
    }))
    out.append(("tcp-floor-one-cpu", {"machine": lambda: run_json(["taskset", "-c", "0", sides.bin, "tcp-floor"])}))
    for n in ([100, 2000] if quick else [100, 2000, 10_000]):
        out.append((f"codegen/{n}", {"tasknet": lambda n=n: sides.tasknet("codegen", "--tasks", n)}))
    return out


def stats(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def slope(first, last, n_first, n_last):
    """Marginal cost per task between two chain lengths (a run's fixed cost cancels out)."""
    return (last["median_run_us"] - first["median_run_us"]) / (n_last - n_first)


# ---- the page ------------------------------------------------------------------------------

def fmt(value, unit):
    if unit == "us":
        return f"{value:,.2f} µs" if value < 10 else f"{value:,.0f} µs" if value >= 1000 else f"{value:,.1f} µs"
    if unit == "ms":
        return f"{value:,.1f} ms"
    if unit == "/s":
        return f"{value:,.0f} /s"
    return f"{value:,.2f}"


def cell(s, unit):
    return f"{fmt(s['median'], unit)} ({fmt(s['min'], unit)} – {fmt(s['max'], unit)})"


def versions(python):
    code = ("import importlib.metadata as m, platform; print(platform.python_version(), "
            "*[m.version(p) for p in ('langgraph', 'langchain-core', 'crewai', 'websockets')])")
    py, langgraph, core, crewai, websockets = subprocess.run(
        [python, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    rustc = subprocess.run(["rustc", "-V"], capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                           text=True, cwd=ROOT).stdout.strip()
    return {
        "tasknet": f"{commit}{' (with uncommitted changes)' if dirty else ''}, {rustc}",
        "python": f"CPython {py}",
        "langgraph": f"{langgraph} (langchain-core {core})",
        "crewai": crewai,
        "websockets": websockets,
    }


def machine():
    model = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", open("/proc/meminfo").read()).group(1))
        memory = f", {kb / 2**20:.0f} GiB"
    except (OSError, AttributeError):
        pass
    return f"{os.cpu_count()} cores, {model}{memory}, {platform.system()} {platform.release()}"


def render(results, args, started, finished, profiled):
    r = results
    rounds = args.rounds
    quick = args.quick
    lengths = [10, 100] if quick else [10, 100, 1000]
    rows = [1000, 10_000] if quick else [1000, 100_000]
    lines = []
    add = lines.append
    verdicts = []

    def per_round(probe, side, f):
        return stats([f(x) for x in r[probe][side]])

    def row(measure, ours, theirs, unit, better, target=None, theirs_label=""):
        ratio = (theirs["median"] / ours["median"]) if better == "lower" else (ours["median"] / theirs["median"])
        met = ""
        if target is not None:
            met = "met" if ratio >= target else "**missed**"
            verdicts.append((measure, ratio, target, met))
        target_text = f"≥ {target:g}x" if target is not None else ""
        add(f"| {measure} | {cell(ours, unit)} | {cell(theirs, unit)}{theirs_label} | {ratio:,.1f}x | {target_text} {met} |")
        return ratio

    first, last = lengths[0], lengths[-1]
    add("# Benchmarks: tasknet side by side with the Python systems it replaces")
    add("")
    add(f"Written by `bench/compare` on {finished:%Y-%m-%d} ({started:%H:%M}–{finished:%H:%M} UTC), "
        f"{rounds} rounds; every figure below comes from that run. "
        "Each cell: median over the rounds (min – max). Ratios are of the medians, "
        "always as \"how many times better tasknet is\".")
    if args.render_only:
        add("")
        add(f"The profiles under \"Why the missed targets are missed\" were taken when the page was "
            f"written again from `bench/last-run.json`, on "
            f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC.")
    add("")
    add("The LLM pair (CrewAI and tasknet running one crew against the same local model, on a server "
        "that takes only `json_object` and on one that speaks `json_schema`) has a page of its own, "
        "[BENCHMARKS-llm.md](BENCHMARKS-llm.md), written by `bench/compare --llm`.")
    if quick:
        add("")
        add("**Quick run (`--quick`): smaller sizes and fewer rounds than the targets ask for; "
            "run `bench/compare` without it for the real page.**")
    add("")
    add(f"- Machine: {machine()}")
    for name, version in versions(args.python).items():
        add(f"- {name}: {version}")
    add("")

    # Pairs 1 and 2.
    add("## 1. Chain of no-op tasks (per-task overhead)")
    add("")
    add("LangGraph: a `StateGraph` over a `TypedDict`, each node returning one new key, compiled "
        "once, `invoke` timed. tasknet: the generated registry run by `Runner` with the in-memory "
        "log (each task: input function, the no-op method, output function, a log record). "
        f"Per-task overhead is the marginal cost between the {first}- and {last}-task chains "
        "(a run's fixed cost cancels out); the time of a whole run divided by its tasks is shown too.")
    add("")
    add("| measure | tasknet | LangGraph | tasknet is | target |")
    add("|---|---:|---:|---:|---|")
    small_slope = {}
    for side in ("tasknet", "langgraph"):
        small_slope[side] = stats([
            slope(a, b, first, last)
            for a, b in zip(r[f"chain/{first}"][side], r[f"chain/{last}"][side])
        ])
    row(f"per-task overhead ({first} → {last} tasks)", small_slope["tasknet"], small_slope["langgraph"],
        "us", "lower", 200)
    for n in lengths:
        row(f"run of {n} tasks, per task", per_round(f"chain/{n}", "tasknet", lambda x: x["per_task_us"]),
            per_round(f"chain/{n}", "langgraph", lambda x: x["per_task_us"]), "us", "lower")
    add("")

    add("## 2. The same with a state already holding 1,000 keys of 1 KB")
    add("")
    add("The seed's side is its output functions in plain Python, each returning "
        "`{**state, key: value}` (a copy of the whole state per task), with no executor around them.")
    add("")
    add("| measure | tasknet | other | tasknet is | target |")
    add("|---|---:|---:|---:|---|")
    wide_slope = {}
    for side in ("tasknet", "langgraph", "seed"):
        wide_slope[side] = stats([
            slope(a, b, first, last)
            for a, b in zip(r[f"wide/{first}"][side], r[f"wide/{last}"][side])
        ])
    row(f"per-task overhead ({first} → {last} tasks) vs LangGraph", wide_slope["tasknet"],
        wide_slope["langgraph"], "us", "lower", 200)
    row(f"per-task overhead ({first} → {last} tasks) vs the seed's output functions",
        wide_slope["tasknet"], wide_slope["seed"], "us", "lower")
    for n in lengths:
        row(f"run of {n} tasks, per task, vs LangGraph", per_round(f"wide/{n}", "tasknet", lambda x: x["per_task_us"]),
            per_round(f"wide/{n}", "langgraph", lambda x: x["per_task_us"]), "us", "lower")
    add("")
    growth = wide_slope["tasknet"]["median"] / small_slope["tasknet"]["median"]
    lg_growth = wide_slope["langgraph"]["median"] / small_slope["langgraph"]["median"]
    flat = growth <= 1.5
    verdicts.append(("tasknet's per-task cost flat as the state grows", growth, None,
                     "met" if flat else "**missed**"))
    add(f"Flat as the state grows: tasknet's per-task overhead with the 1 MB state is {growth:.2f}x the "
        f"one with the small state ({fmt(wide_slope['tasknet']['median'], 'us')} vs "
        f"{fmt(small_slope['tasknet']['median'], 'us')}): {'met' if flat else '**missed**'} "
        f"(counted as flat up to 1.5x, the spread of this machine). LangGraph's grows {lg_growth:.1f}x.")
    add("")

    # Pair 3.
    add("## 3. Execution log: writes and loads (SQLite)")
    add("")
    add("CrewAI: `KickoffTaskOutputsSQLiteStorage.add`, one call per task as its crews log (each "
        "call opens the file, commits, closes), and `load()`. tasknet: `SqliteStorage` (WAL, "
        "`synchronous = FULL`), one commit per record (`put_task`) or 1,000 records per transaction "
        "(`put_tasks`), and `tasks(run)`. The same payload per row on both sides.")
    add("")
    add("| measure | tasknet | CrewAI | tasknet is | target |")
    add("|---|---:|---:|---:|---|")
    row(f"durable writes, one commit per record, {rows[0]:,} rows",
        per_round(f"log/durable/{rows[0]}", "tasknet", lambda x: x["rows_per_s"]),
        per_round(f"log/durable/{rows[0]}", "crewai", lambda x: x["rows_per_s"]), "/s", "higher", 10)
    for n in rows:
        row(f"writing {n:,} rows: tasknet batched, CrewAI `add` (it has no batch)",
            per_round(f"log/batched/{n}", "tasknet", lambda x: x["rows_per_s"]),
            per_round(f"log/batched/{n}", "crewai", lambda x: x["rows_per_s"]), "/s", "higher")
    for n in rows:
        row(f"loading {n:,} rows", per_round(f"log/load/{n}", "tasknet", lambda x: x["rows_per_s"]),
            per_round(f"log/load/{n}", "crewai", lambda x: x["rows_per_s"]), "/s", "higher")
    disk = per_round("disk-floor", "machine", lambda x: x["commits_per_s"])
    add("")
    add(f"The disk's floor, measured in the same run: a 4 KiB write and `fdatasync` in a preallocated "
        f"file (what one WAL commit does, without SQLite) runs at {cell(disk, '/s')}.")
    add("")

    # Pair 4.
    ws = r["ws"]
    floor = per_round("tcp-floor", "machine", lambda x: x["p50_us"])
    add("## 4. WebSocket task round trip (loopback)")
    add("")
    add("One Rust client (`tasknet-compare ws-load`, tokio-tungstenite) drives every server with "
        "the seed's protocol: `execute_task` answered by `task_started` and `task_completed`. "
        "Python: the `websockets` asyncio server with a no-op task; the seed's way: a new "
        "connection per task, the task written to a temporary script and run in a Python "
        "subprocess. tasknet: `tasknet::server` with a no-op registry and the in-memory log.")
    add("")
    add("| measure | tasknet | Python | tasknet is | target |")
    add("|---|---:|---:|---:|---|")
    p50_ratio = row("sequential round trip p50, one connection", per_round("ws", "tasknet", lambda x: x["p50_us"]),
                    per_round("ws", "websockets", lambda x: x["p50_us"]), "us", "lower", 3)
    row("sequential round trip p99, one connection", per_round("ws", "tasknet", lambda x: x["p99_us"]),
        per_round("ws", "websockets", lambda x: x["p99_us"]), "us", "lower")
    row("throughput, 16 connections × 8 in flight", per_round("ws", "tasknet", lambda x: x["tasks_per_s"]),
        per_round("ws", "websockets", lambda x: x["tasks_per_s"]), "/s", "higher", 4)
    row("a fresh connection per task", per_round("ws", "tasknet", lambda x: x["fresh_us"]),
        per_round("ws", "websockets", lambda x: x["fresh_us"]), "us", "lower")
    seed_ratio = row("per task: the seed's way (fresh connection + subprocess) vs tasknet's runner page (one connection)",
                     per_round("ws", "tasknet", lambda x: x["p50_us"]),
                     per_round("ws", "seed", lambda x: x["fresh_us"]), "us", "lower", 500)
    row("per task: the seed's way vs tasknet with a fresh connection too",
        per_round("ws", "tasknet", lambda x: x["fresh_us"]),
        per_round("ws", "seed", lambda x: x["fresh_us"]), "us", "lower")
    add("")
    add(f"The machine's floor, measured in the same run: a 100-byte TCP echo round trip on this "
        f"loopback, without WebSocket or any server, has a p50 of {cell(floor, 'us')}.")
    add("")
    if "ws-one-cpu" in r:  # absent from runs before it was added
        floor_one = per_round("tcp-floor-one-cpu", "machine", lambda x: x["p50_us"])
        add("The same round trip with the server and the client on one CPU (both started with "
            "`taskset -c 0`): on this virtual machine, waking a process on the other CPU costs tens "
            "of microseconds each way, so most of the two-CPU figure is the wake-ups.")
        add("")
        add("| measure | tasknet | Python | tasknet is | target |")
        add("|---|---:|---:|---:|---|")
        row("sequential round trip p50, one connection, one CPU",
            per_round("ws-one-cpu", "tasknet", lambda x: x["p50_us"]),
            per_round("ws-one-cpu", "websockets", lambda x: x["p50_us"]), "us", "lower")
        row("sequential round trip p99, one connection, one CPU",
            per_round("ws-one-cpu", "tasknet", lambda x: x["p99_us"]),
            per_round("ws-one-cpu", "websockets", lambda x: x["p99_us"]), "us", "lower")
        add("")
        add(f"The floor on one CPU, measured in the same run: {cell(floor_one, 'us')}.")
        add("")

    # Pair 5.
    add("## 5. Code generation: check + generate")
    add("")
    add("No Python peer checks requires/produces; absolute figures and their growth. `tokens` is "
        "what `task_registry!` does at compile time (parse, check, emit tokens), `pretty` what "
        "the build.rs `Builder` and `tasknet generate` do (the same, printed by prettyplease).")
    add("")
    add("| tasks | check + tokens | per task | check + pretty | per task |")
    add("|---:|---:|---:|---:|---:|")
    for n in ([100, 2000] if quick else [100, 2000, 10_000]):
        tokens = per_round(f"codegen/{n}", "tasknet", lambda x: x["check_tokens_ms"])
        pretty = per_round(f"codegen/{n}", "tasknet", lambda x: x["check_pretty_ms"])
        add(f"| {n:,} | {cell(tokens, 'ms')} | {fmt(tokens['median'] * 1000 / n, 'us')} "
            f"| {cell(pretty, 'ms')} | {fmt(pretty['median'] * 1000 / n, 'us')} |")
    add("")

    # Verdicts and the reasons for misses.
    add("## Targets")
    add("")
    for measure, ratio, target, met in verdicts:
        shown = f"{ratio:,.1f}x" + (f" (target ≥ {target:g}x)" if target else "")
        add(f"- {measure}: {shown}: {met}")
    add("")
    missed = [v for v in verdicts if v[3] != "met"]
    if missed:
        add("### Why the missed targets are missed")
        add("")
        ws_p50 = per_round("ws", "websockets", lambda x: x["p50_us"])["median"]
        seed_fresh = per_round("ws", "seed", lambda x: x["fresh_us"])["median"]
        tn_p50 = per_round("ws", "tasknet", lambda x: x["p50_us"])["median"]
        for measure, ratio, target, met in missed:
            if measure.startswith("sequential round trip p50"):
                add(f"- **Round trip p50**: a round trip cannot be shorter than the loopback's own, "
                    f"{fmt(floor['median'], 'us')} in this run, so against `websockets`' "
                    f"{fmt(ws_p50, 'us')} the best any server could show here is "
                    f"{ws_p50 / floor['median']:.1f}x; tasknet's {fmt(tn_p50, 'us')} is "
                    f"{tn_p50 - floor['median']:.0f} µs over that floor. Profile of the servers "
                    "under the same sequential load: "
                    + "; ".join(profiled["round_trip"])
                    + " (CPU time counts the kernel's work on the server's behalf: reading and "
                    "writing the socket, waking up).")
            elif measure.startswith("per task: the seed's way"):
                add(f"- **The seed's subprocess per task**: {fmt(seed_fresh, 'us')} per task; 500x of "
                    f"that is {fmt(seed_fresh / 500, 'us')}, below this loopback's round trip floor "
                    f"({fmt(floor['median'], 'us')}), so no server reaches 500x here with a network "
                    f"hop per task; tasknet's whole round trip is {fmt(tn_p50, 'us')}.")
            elif measure.startswith("durable writes"):
                crewai = per_round(f"log/durable/{rows[0]}", "crewai", lambda x: x["rows_per_s"])["median"]
                ours = per_round(f"log/durable/{rows[0]}", "tasknet", lambda x: x["rows_per_s"])["median"]
                add(f"- **Durable writes**: 10x CrewAI's {fmt(crewai, '/s')} is {fmt(10 * crewai, '/s')}; "
                    f"this disk allows {fmt(disk['median'], '/s')} commits without any database "
                    f"(best possible ratio here: {disk['median'] / crewai:.1f}x), and tasknet reaches "
                    f"{fmt(ours, '/s')}, {100 * ours / disk['median']:.0f}% of that floor. What a commit "
                    "does, from `strace -f -c -w tasknet-compare log-write --rows 1000 --mode durable` "
                    "(strace adds some 50 µs to every call it traces, so read the counts and the "
                    "fsync's time per call, not the shares): "
                    + per_commit(profiled["durable"], 1000) + ".")
                add("")
                add("  ```text")
                for line in profiled["durable"].splitlines():
                    add(f"  {line}")
                add("  ```")
            else:
                add(f"- **{measure}**: {ratio:,.2f}x; see the figures above.")
        add("")
    add("Run it again: `bench/compare` (README, \"Benchmarks\"). The criterion benches of each crate "
        "(`cargo bench`) measure the same code paths in finer detail.")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", required=True)
    parser.add_argument("--bin", required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"))
    parser.add_argument("--render-only", action="store_true",
                        help="write the page again from bench/last-run.json (profiles are taken anew)")
    args = parser.parse_args()
    if args.quick and "--rounds" not in sys.argv:
        args.rounds = 2
    if args.rounds < 1:
        sys.exit("bench/compare: --rounds must be at least 1")
    started = datetime.datetime.now(datetime.timezone.utc)
    scratch = tempfile.mkdtemp(prefix="tasknet-compare-")
    try:
        sides = Sides(args, scratch)
        plan = probes(sides, args.quick)
        results = {name: {side: [] for side in thunks} for name, thunks in plan}
        if args.render_only:
            last = json.load(open(os.path.join(HERE, "last-run.json")))
            results, args.rounds, args.quick = last["results"], last["rounds"], last["quick"]
            started = datetime.datetime.fromisoformat(last["started"])
        for round_ in range(0 if args.render_only else args.rounds):
            for name, thunks in plan:
                for side, thunk in thunks.items():
                    t = time.monotonic()
                    results[name][side].append(thunk())
                    print(f"round {round_ + 1}/{args.rounds} {name} {side}: {time.monotonic() - t:.1f} s",
                          file=sys.stderr, flush=True)
        finished = datetime.datetime.now(datetime.timezone.utc)
        if args.render_only:
            finished = datetime.datetime.fromisoformat(last["finished"])
        else:
            with open(os.path.join(HERE, "last-run.json"), "w") as f:
                json.dump({"rounds": args.rounds, "quick": args.quick, "started": started.isoformat(),
                           "finished": finished.isoformat(), "results": results}, f, indent=1)
        print("profiles of the missed targets", file=sys.stderr, flush=True)
        try:
            profiled = profiles(sides)
        except (OSError, subprocess.SubprocessError, SystemExit) as e:
            profiled = {"durable": f"profile failed: {e}", "round_trip": [f"profile failed: {e}"]}
        page = render(results, args, started, finished, profiled)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    with open(args.out, "w") as f:
        f.write(page)
    print(f"bench/compare: wrote {os.path.relpath(args.out, ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
