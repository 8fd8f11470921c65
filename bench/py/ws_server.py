"""The Python side of pair 4: a WebSocket task server speaking the seed's protocol.

    python ws_server.py --mode noop|subprocess

`noop`: the `websockets` library's asyncio server answering `execute_task` with
`task_started` then `task_completed` (the state with the no-op task's output merged), as
tasknet's server does. `subprocess`: the seed's way, each task written to a temporary script
and run in a Python subprocess. Prints `listening HOST:PORT`, then serves until killed; the
same Rust client (`tasknet-compare ws-load`) measures every server.
"""

import argparse
import asyncio
import json
import os
import sys
import tempfile

from websockets.asyncio.server import serve

TASK_SCRIPT = """import json, sys
state = json.loads(sys.stdin.read())
state["n"] = 1
print(json.dumps(state))
"""


async def run_noop(input_data):
    return {**input_data, "n": 1}


async def run_in_subprocess(input_data):
    # The seed wrote the task's code to a temporary file and ran it with the interpreter.
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
        script.write(TASK_SCRIPT)
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, script.name,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await process.communicate(json.dumps(input_data).encode())
        return json.loads(out)
    finally:
        os.unlink(script.name)


def handler_for(run_task):
    async def handler(ws):
        async for message in ws:
            try:
                request = json.loads(message)
            except ValueError as e:
                await ws.send(json.dumps({"type": "error", "data": {"message": str(e)}}))
                continue
            if request.get("type") != "execute_task":
                await ws.send(json.dumps({"type": "error", "data": {"message": "unknown type"}}))
                continue
            data = request.get("data", {})
            name, rid = data.get("task_name"), request.get("id")
            await ws.send(json.dumps({"type": "task_started", "id": rid, "data": {"task_name": name}}))
            result = await run_task(data.get("input_data", {}))
            await ws.send(json.dumps({
                "type": "task_completed", "id": rid,
                "data": {"task_name": name, "result": result},
            }))
    return handler


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["noop", "subprocess"], required=True)
    args = parser.parse_args()
    run_task = run_noop if args.mode == "noop" else run_in_subprocess
    async with serve(handler_for(run_task), "127.0.0.1", 0) as server:
        host, port = server.sockets[0].getsockname()[:2]
        print(f"listening {host}:{port}", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
