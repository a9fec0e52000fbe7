"""The executor's CPU per request in one process, without HTTP: repeatable on a loaded machine, for A/B of a change.

``python -m bench.inprocess [--shape merge-100 ...] [--requests N] [--concurrency C] [--app] [--instructions]``
starts the bench's subgraphs,
answers each shape's query once through Loom's executor and its HTTP/1.1 client (the answer is checked against the
bench's expected JSON) while recording every upstream answer, stops the subgraphs, then runs the same query
against a transport that replays the recorded answers (one ``asyncio.sleep(0)`` each, so concurrent requests
interleave as they do in the gateway). It reports the process CPU time per request (``time.process_time``), the
minimum of 5 rounds, with the gateway's GC settings (frozen start-up objects, young threshold as in
``stitcher.cli``). It measures the executor (plan lookup, building upstream requests, decoding, merging, shaping,
serializing the response), not ASGI, the HTTP client or the event loop: ``make bench-profile`` measures those.

``--app`` sends each request through the gateway's ASGI app instead (``create_gateway_app`` on the replaying
transport, driven by ASGI messages: the request context, credentials and limits, the request's parameters and the
response), all but uvicorn, sockets and the HTTP client. ``--instructions`` counts instead of timing: the recorded
answers go to a file and a second process replays them under valgrind's callgrind, instrumented only around the
measured requests (``callgrind_control -i on|off``), with ``PYTHONHASHSEED=0``; it reports instructions per request,
which hold within ~1% between runs on a machine busy with anything else (times move by 10% there).

For an A/B against a commit: ``git archive REF stitcher bench | tar -x -C /tmp/base``, link ``bench/node_modules``
into it and run this from ``/tmp/base`` (``python -m`` puts the current directory first, so ``PYTHONPATH`` would not
win over the worktree), alternating the two a few times: the minimum of a round moves by ±5% with the machine's load.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import os
import pickle
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import orjson
from starlette.applications import Starlette
from starlette.types import Message, Scope

from bench import run as bench
from stitcher.app import create_gateway_app
from stitcher.cli import GC_YOUNG_THRESHOLD
from stitcher.execution import Executor
from stitcher.options import GatewayOptions
from stitcher.supergraph import load_supergraph
from stitcher.transport import Http11Transport, Transport, UpstreamResponse

_Key = tuple[str, bytes | None]


class _Answers:
    """A transport over recorded answers: with ``inner`` (Loom's HTTP/1.1 client), it asks and keeps every answer by
    (URL, body); without, it replays them, one event-loop turn each."""

    def __init__(self, inner: Transport | None, answers: dict[_Key, UpstreamResponse] | None = None) -> None:
        self.inner = inner
        self.answers: dict[_Key, UpstreamResponse] = answers or {}

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: float,  # noqa: ASYNC109 - the contract's
        max_bytes: int | None = None,
        tls_server_name: str | None = None,
    ) -> UpstreamResponse:
        if self.inner is None:
            await asyncio.sleep(0)
            return self.answers[(url, body)]
        response = await self.inner.request(method, url, headers=headers, body=body, timeout=timeout)
        self.answers[(url, body)] = response
        return response

    async def aclose(self) -> None:
        if self.inner is not None:
            await self.inner.aclose()


def _options() -> GatewayOptions:
    options = GatewayOptions()  # the bench raises the cost limit the same way (LOOM_GATEWAY_MAX_COST)
    return dataclasses.replace(options, limits=dataclasses.replace(options.limits, max_cost=100_000))


def _record(shapes: list[bench.Shape], base: int) -> tuple[str, dict[_Key, UpstreamResponse]]:
    work = bench.BENCH / "results"
    work.mkdir(exist_ok=True)
    supergraph = work / f"supergraph-{base}.graphql"
    subprocess.run(["node", str(bench.BENCH / "compose.mjs"), str(base), str(supergraph)], check=True)
    sdl = supergraph.read_text()
    cmd = ["node", str(bench.BENCH / "subgraphs.mjs"), str(base)]

    async def answer_each() -> dict[_Key, UpstreamResponse]:
        recording = _Answers(await Http11Transport.create())
        executor = Executor(load_supergraph(sdl), recording, _options())
        try:
            for shape in shapes:
                got = orjson.loads((await executor.execute(shape.query, {"first": shape.first_max})).to_json())
                if got != shape.expected(shape.first_max):
                    raise SystemExit(f"inprocess: {shape.name}: the answer differs from the expected JSON")
        finally:
            await recording.aclose()
        return recording.answers

    with bench.process(cmd, log=work / "subgraphs.log") as proc:
        bench.wait_subgraphs(base, proc)
        return sdl, asyncio.run(answer_each())


_Request = Callable[[], Awaitable[None]]


def _executor_request(executor: Executor, shape: bench.Shape) -> _Request:
    variables = {"first": shape.first_max}

    async def one() -> None:
        (await executor.execute(shape.query, variables)).to_json()

    return one


def _app_request(app: Starlette, shape: bench.Shape) -> _Request:
    """One POST to ``/graphql`` as uvicorn hands it to the app: the scope, one body message, the answer checked."""
    body = orjson.dumps({"query": shape.query, "variables": {"first": shape.first_max}})
    headers = [
        (b"host", b"127.0.0.1"),
        (b"content-type", b"application/json"),
        (b"accept", b"application/graphql-response+json"),
        (b"content-length", str(len(body)).encode()),
    ]
    message = {"type": "http.request", "body": body, "more_body": False}

    async def receive() -> Message:
        return message

    async def one() -> None:
        scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/graphql",
            "raw_path": b"/graphql",
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "server": ("127.0.0.1", 4000),
            "client": ("127.0.0.1", 50000),
            "state": {},
        }
        status = 0

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(scope, receive, send)
        if status != 200:
            raise SystemExit(f"inprocess: the app answered {status}")

    return one


async def _rounds(one: _Request, requests: int, concurrency: int, instructions: bool) -> list[float]:
    """CPU µs per request of 5 rounds; with ``instructions`` (under callgrind), one round, instrumented alone."""

    async def many(count: int) -> None:
        slots = asyncio.Semaphore(concurrency)

        async def limited() -> None:
            async with slots:
                await one()

        await asyncio.gather(*(limited() for _ in range(count)))

    await many(max(5, requests // 5))  # warm: plans compiled, shapes generated
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    if instructions:
        _callgrind("on")
        await many(requests)
        _callgrind("off")
        return []
    taken = []
    for _ in range(5):
        started = time.process_time()
        await many(requests)
        taken.append((time.process_time() - started) / requests * 1e6)
    return taken


def _callgrind(state: str) -> None:
    subprocess.run(["callgrind_control", "-i", state, str(os.getpid())], check=True, capture_output=True)


def _replay(
    sdl: str, answers: dict[_Key, UpstreamResponse], shape: bench.Shape, args: argparse.Namespace
) -> list[float]:
    supergraph = load_supergraph(sdl)
    transport = _Answers(None, answers)
    if not args.app:
        executor = Executor(supergraph, transport, _options())
        return asyncio.run(
            _rounds(_executor_request(executor, shape), args.requests, args.concurrency, args.instructions)
        )

    async def factory() -> Transport:
        return transport

    app = create_gateway_app(supergraph=supergraph, transport_factory=factory, options=_options())

    async def through_app() -> list[float]:
        async with app.router.lifespan_context(app):
            return await _rounds(_app_request(app, shape), args.requests, args.concurrency, args.instructions)

    return asyncio.run(through_app())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--shape", action="append", help="shapes (top, merge-10, merge-100, merge-500); all if none")
    parser.add_argument("--requests", type=int, default=0, help="per round (default: about 0.1 s of work)")
    parser.add_argument("--concurrency", type=int, default=1, help="requests in flight (the bench uses 32)")
    parser.add_argument("--app", action="store_true", help="through the gateway's ASGI app, not the executor alone")
    parser.add_argument("--instructions", action="store_true", help="count instructions under callgrind, not time")
    parser.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--replay", help=argparse.SUPPRESS)  # the recorded answers: the process under callgrind
    args = parser.parse_args()
    shapes = [s for s in bench.SHAPES if not args.shape or s.name in args.shape]
    if not shapes:
        parser.error(f"no such shape: choose from {', '.join(s.name for s in bench.SHAPES)}")
    if not args.quiet:
        what = "instructions per request (callgrind)" if args.instructions else "CPU µs per request, min of 5 rounds"
        print(f"{'app' if args.app else 'executor'}, concurrency {args.concurrency}; {what}", flush=True)
    if len(shapes) > 1:  # one process per shape: an earlier shape's heap moved a later one's figure by up to 20%
        for shape in shapes:
            again = [sys.executable, "-m", "bench.inprocess", "--shape", shape.name, "--quiet"]
            again += ["--requests", str(args.requests), "--concurrency", str(args.concurrency)]
            again += ["--app"] * args.app + ["--instructions"] * args.instructions
            subprocess.run(again, check=True, cwd=bench.ROOT)
        return 0
    (shape,) = shapes
    if args.requests <= 0:
        args.requests = max(20, int(100_000 / (100 + 9 * shape.first_max)))
        if args.instructions:
            args.requests = max(5, args.requests // 10)  # callgrind runs ~50x slower; counts hold from a few
    if args.replay:  # under callgrind: the answers recorded by the parent
        sdl, raw = pickle.loads(Path(args.replay).read_bytes())  # written by the parent process
        _replay(sdl, {key: UpstreamResponse(*answer) for key, answer in raw.items()}, shape, args)
        return 0
    base = 4301
    while any(not bench._port_free(base + i) for i in range(len(bench.SUBGRAPHS))):
        base += 10
    sdl, answers = _record(shapes, base)
    if args.instructions:
        count = _count(sdl, answers, shape, args)
        print(f"{shape.name:10} {count:12,} instructions per request ({args.requests} requests)")
        return 0
    taken = _replay(sdl, answers, shape, args)
    rounds = ", ".join(f"{t:.0f}" for t in sorted(taken))
    print(f"{shape.name:10} {min(taken):8.0f} µs  ({args.requests} requests a round: {rounds})")
    return 0


def _count(sdl: str, answers: dict[_Key, UpstreamResponse], shape: bench.Shape, args: argparse.Namespace) -> int:
    """Replay under callgrind in a second process (instrumented around the measured requests only)."""
    recorded = {key: (a.status, dict(a.headers), a.body) for key, a in answers.items()}
    with tempfile.TemporaryDirectory() as work:
        replay = Path(work) / "answers.pickle"
        replay.write_bytes(pickle.dumps((sdl, recorded)))  # our own file, read back by our own child
        out = Path(work) / "callgrind.out"
        argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
        argv += [sys.executable, "-m", "bench.inprocess", "--shape", shape.name, "--quiet", "--instructions"]
        argv += ["--replay", str(replay)]
        argv += ["--requests", str(args.requests), "--concurrency", str(args.concurrency)] + ["--app"] * args.app
        done = subprocess.run(argv, cwd=bench.ROOT, env={**os.environ, "PYTHONHASHSEED": "0"}, capture_output=True,
                              text=True, check=True)  # fmt: skip
    collected = re.search(r"Collected : (\d+)", done.stderr)
    if collected is None:
        raise SystemExit(f"inprocess: callgrind reported no count:\n{done.stderr[-2000:]}")
    total = int(collected.group(1))
    if not total:
        raise SystemExit(f"inprocess: callgrind counted nothing (was callgrind_control found?):\n{done.stderr[-2000:]}")
    requests: int = args.requests
    return total // requests


if __name__ == "__main__":
    sys.exit(main())
