#!/usr/bin/python3
"""Python ring kernels on the CPU backend: host round-trip latency and streaming throughput.

The kernels are written in Python (ringkernel's bindings, python/); the host is this Python
program. Compared against the figures PyDotCompute publishes for its Python ring kernels:
ping-pong p50 21 us and 76 K msgs/s.

Workloads (each message is 8 bytes: a little-endian sequence number, checked on every reply):

  pingpong_native    host request_sync() to a kernel written in C++ (echo): the Python host's
                     share of a round trip, with no Python on the kernel's side (reference)
  pingpong_handler   host request_sync() to a plain callable handler (bytes -> bytes)
  pingpong_loop      host request_sync() to an @ring_kernel `async def` loop (ctx.receive/ctx.send)
  pingpong_asyncio   `await kernel.send()` + `await kernel.receive()` from an asyncio host, to the
                     handler kernel (informational: the awaitable send runs in the default executor)
  stream_oneway      host send_many_sync() batches into a handler that consumes (returns None);
                     msgs/s from the first send until the kernel has processed them all
  stream_replies     the same with a reply per message, received by the host between batches

Usage: PYTHONPATH=build/python /usr/bin/python3 bench/python_bench.py [--quick] [--json FILE]
(`meson test -C build --benchmark python` runs it in full; the 'bench' suite runs --quick.)
Exit status 0 when every message and reply arrived, in order, with the right value; 1 otherwise.
The figures are reported, never gated on (a shared VM's figures move too much).
"""
import argparse
import asyncio
import json
import os
import platform
import struct
import sys
import time

import ringkernel as rk
from ringkernel.benchmark import DetailedStatistics

PYDOTCOMPUTE_P50_US = 21.0
PYDOTCOMPUTE_MSGS_PER_S = 76_000.0

_seq = struct.Struct("<Q")


def echo(b: bytes) -> bytes:
    return b


def consume(b: bytes) -> None:
    return None


@rk.ring_kernel(kernel_id="bench_echo_loop", queue_size=4096)
async def echo_loop(ctx):
    while not ctx.should_terminate:
        m = await ctx.receive(timeout=0.1)
        if m is not None:
            await ctx.send(m)


class Failure(Exception):
    pass


def latency_stats(samples_ns):
    us = [s / 1000.0 for s in samples_ns]
    st = DetailedStatistics.from_values(us)
    return {"samples": st.count, "p50_us": st.median, "p95_us": st.p95, "p99_us": st.p99,
            "mean_us": st.mean, "min_us": st.min, "max_us": st.max}


def pingpong_sync(kernel, n, warmup):
    samples = []
    clock = time.perf_counter_ns
    for i in range(warmup + n):
        msg = _seq.pack(i)
        t0 = clock()
        r = kernel.request_sync(msg, 5.0)
        t1 = clock()
        if r != msg:
            raise Failure(f"{kernel.id}: reply {i} was {r!r}, want {msg!r}")
        if i >= warmup:
            samples.append(t1 - t0)
    return latency_stats(samples)


def pingpong_asyncio(kernel, n, warmup):
    async def run():
        samples = []
        clock = time.perf_counter_ns
        for i in range(warmup + n):
            msg = _seq.pack(i)
            t0 = clock()
            await kernel.send(msg)
            r = await kernel.receive(5.0)
            t1 = clock()
            if r != msg:
                raise Failure(f"asyncio: reply {i} was {r!r}, want {msg!r}")
            if i >= warmup:
                samples.append(t1 - t0)
        return samples
    return latency_stats(asyncio.run(run()))


def stream_oneway(runtime, n, batch):
    k = runtime.launch_sync("bench_sink", consume, rk.LaunchOptions().with_queue_capacity(8192))
    msgs = [_seq.pack(i) for i in range(batch)]
    sent = 0
    t0 = time.perf_counter()
    while sent < n:
        sent += k.send_many_sync(msgs[:min(batch, n - sent)])
    deadline = time.monotonic() + 60
    while k.status().messages_processed < n:
        if time.monotonic() > deadline:
            raise Failure(f"stream_oneway: {k.status().messages_processed} of {n} processed after 60 s")
        time.sleep(0.0002)
    dt = time.perf_counter() - t0
    st = k.status()
    k.terminate_sync()
    if st.messages_processed != n or st.messages_dropped or st.messages_rejected or st.errors:
        raise Failure(f"stream_oneway: processed {st.messages_processed} of {n}, dropped {st.messages_dropped}")
    return {"messages": n, "seconds": dt, "msgs_per_s": n / dt, "batch": batch}


def stream_replies(runtime, n, batch):
    k = runtime.launch_sync("bench_stream_echo", echo, rk.LaunchOptions().with_queue_capacity(8192))
    sent = got = 0
    t0 = time.perf_counter()
    while got < n:
        b = min(batch, n - sent)
        if b:
            sent += k.send_many_sync([_seq.pack(sent + j) for j in range(b)])
        while got < sent:
            r = k.receive_sync(5.0)
            if r is None or _seq.unpack(r)[0] != got:
                raise Failure(f"stream_replies: reply {got} was {r!r}")
            got += 1
    dt = time.perf_counter() - t0
    k.terminate_sync()
    return {"messages": n, "seconds": dt, "msgs_per_s": n / dt, "batch": batch}


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": cpu, "cpus": os.cpu_count(), "python": platform.python_version(),
            "ringkernel": rk.__version__, "loadavg": os.getloadavg()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small counts: checks it runs, figures are rough")
    ap.add_argument("--json", metavar="FILE", help="write the results as JSON")
    ap.add_argument("--repeat", type=int, default=None, help="runs of each workload (best run is reported)")
    a = ap.parse_args(argv)
    n_ping, warm, n_stream, repeat = (2000, 200, 20_000, 1) if a.quick else (20_000, 2000, 200_000, 3)
    if a.repeat:
        repeat = a.repeat
    results = {"machine": machine(), "quick": a.quick, "repeat": repeat,
               "pydotcompute": {"p50_us": PYDOTCOMPUTE_P50_US, "msgs_per_s": PYDOTCOMPUTE_MSGS_PER_S},
               "workloads": {}}
    w = results["workloads"]

    def best_latency(name, fn):
        runs = [fn() for _ in range(repeat)]
        w[name] = min(runs, key=lambda r: r["p50_us"])
        w[name]["runs_p50_us"] = [r["p50_us"] for r in runs]

    def best_rate(name, fn):
        runs = [fn() for _ in range(repeat)]
        w[name] = max(runs, key=lambda r: r["msgs_per_s"])
        w[name]["runs_msgs_per_s"] = [r["msgs_per_s"] for r in runs]

    try:
        with rk.RingKernel.create_sync(backend="cpu") as runtime:
            native = runtime._rt.launch_native_echo("bench_native_echo")
            handler = runtime.launch_sync("bench_echo", echo)
            loop = runtime.launch_sync("bench_echo_loop")
            best_latency("pingpong_native", lambda: pingpong_sync(native, n_ping, warm))
            best_latency("pingpong_handler", lambda: pingpong_sync(handler, n_ping, warm))
            best_latency("pingpong_loop", lambda: pingpong_sync(loop, n_ping, warm))
            best_latency("pingpong_asyncio", lambda: pingpong_asyncio(handler, n_ping // 4, warm // 4))
            for k in (native, handler, loop):
                k.terminate_sync()
            best_rate("stream_oneway", lambda: stream_oneway(runtime, n_stream, 256))
            best_rate("stream_replies", lambda: stream_replies(runtime, n_stream, 256))
    except Failure as e:
        print(f"python_bench: FAILED: {e}", file=sys.stderr)
        return 1

    print(f"python_bench on {results['machine']['cpu']} ({results['machine']['cpus']} CPUs), "
          f"Python {results['machine']['python']}, ringkernel {rk.__version__}"
          f"{' (quick: rough figures)' if a.quick else ''}; best of {repeat}")
    print(f"{'workload':<18} {'p50 us':>8} {'p99 us':>8} {'mean us':>8}  vs PyDotCompute p50 21 us")
    for name in ("pingpong_native", "pingpong_handler", "pingpong_loop", "pingpong_asyncio"):
        r = w[name]
        r["vs_pydotcompute_p50"] = PYDOTCOMPUTE_P50_US / r["p50_us"]
        print(f"{name:<18} {r['p50_us']:8.2f} {r['p99_us']:8.2f} {r['mean_us']:8.2f}  "
              f"{r['vs_pydotcompute_p50']:.2f}x {'(faster)' if r['p50_us'] < PYDOTCOMPUTE_P50_US else '(slower)'}")
    print(f"{'workload':<18} {'msgs/s':>10}  vs PyDotCompute 76 K msgs/s")
    for name in ("stream_oneway", "stream_replies"):
        r = w[name]
        r["vs_pydotcompute_msgs_per_s"] = r["msgs_per_s"] / PYDOTCOMPUTE_MSGS_PER_S
        print(f"{name:<18} {r['msgs_per_s']:10.0f}  {r['vs_pydotcompute_msgs_per_s']:.2f}x")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=2)
        print(f"wrote {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
