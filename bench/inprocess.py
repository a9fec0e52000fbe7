"""The executor's CPU per request in one process, without HTTP: repeatable on a loaded machine, for A/B of a change.

``python -m bench.inprocess [--shape merge-100 ...] [--requests N] [--concurrency C]`` starts the bench's subgraphs,
answers each shape's query once through Loom's executor and its HTTP/1.1 client (the answer is checked against the
bench's expected JSON) while recording every upstream answer, stops the subgraphs, then runs the same query
against a transport that replays the recorded answers (one ``asyncio.sleep(0)`` each, so concurrent requests
interleave as they do in the gateway). It reports the process CPU time per request (``time.process_time``), the
minimum of 5 rounds, with the gateway's GC settings (frozen start-up objects, young threshold as in
``stitcher.cli``). It measures the executor (plan lookup, building upstream requests, decoding, merging, shaping,
serializing the response), not ASGI, the HTTP client or the event loop: ``make bench-profile`` measures those.

For an A/B against a commit: ``git archive REF stitcher bench | tar -x -C /tmp/base``, link ``bench/node_modules``
into it and run this from ``/tmp/base`` (``python -m`` puts the current directory first, so ``PYTHONPATH`` would not
win over the worktree), alternating the two a few times: the minimum of a round moves by ±5% with the machine's load.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import subprocess
import sys
import time
from collections.abc import Mapping

import orjson

from bench import run as bench
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


def _measure(executor: Executor, shape: bench.Shape, requests: int, concurrency: int) -> list[float]:
    variables = {"first": shape.first_max}

    async def one() -> None:
        (await executor.execute(shape.query, variables)).to_json()

    async def many(count: int) -> None:
        slots = asyncio.Semaphore(concurrency)

        async def limited() -> None:
            async with slots:
                await one()

        await asyncio.gather(*(limited() for _ in range(count)))

    async def rounds() -> list[float]:
        await many(max(5, requests // 5))  # warm: plans compiled, shapes generated
        gc.collect()
        gc.freeze()
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        taken = []
        for _ in range(5):
            started = time.process_time()
            await many(requests)
            taken.append((time.process_time() - started) / requests * 1e6)
        return taken

    return asyncio.run(rounds())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--shape", action="append", help="shapes (top, merge-10, merge-100, merge-500); all if none")
    parser.add_argument("--requests", type=int, default=0, help="per round (default: about 0.1 s of work)")
    parser.add_argument("--concurrency", type=int, default=1, help="requests in flight (the bench uses 32)")
    parser.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    shapes = [s for s in bench.SHAPES if not args.shape or s.name in args.shape]
    if not shapes:
        parser.error(f"no such shape: choose from {', '.join(s.name for s in bench.SHAPES)}")
    if not args.quiet:
        print(f"concurrency {args.concurrency}; CPU µs per request, min of 5 rounds (all 5 in brackets)", flush=True)
    if len(shapes) > 1:  # one process per shape: an earlier shape's heap moved a later one's figure by up to 20%
        for shape in shapes:
            again = [sys.executable, "-m", "bench.inprocess", "--shape", shape.name, "--quiet"]
            again += ["--requests", str(args.requests), "--concurrency", str(args.concurrency)]
            subprocess.run(again, check=True, cwd=bench.ROOT)
        return 0
    (shape,) = shapes
    base = 4301
    while any(not bench._port_free(base + i) for i in range(len(bench.SUBGRAPHS))):
        base += 10
    sdl, answers = _record(shapes, base)
    requests = args.requests or max(20, int(100_000 / (100 + 9 * shape.first_max)))
    executor = Executor(load_supergraph(sdl), _Answers(None, answers), _options())
    taken = _measure(executor, shape, requests, args.concurrency)
    rounds = ", ".join(f"{t:.0f}" for t in sorted(taken))
    print(f"{shape.name:10} {min(taken):8.0f} µs  ({requests} requests a round: {rounds})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
