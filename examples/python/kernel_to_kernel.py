#!/usr/bin/python3
"""Kernel-to-kernel messaging: a three-stage pipeline whose stages talk over the K2K broker.

parse -> square -> total, each an `async def` loop. `parse` splits a line of numbers and sends each one to `square` with ctx.send_to_kernel, which returns a delivery
receipt; `square` forwards to `total`; `total` answers the host once it has seen `count`
numbers. A route makes the name "sink" lead to `total`. A message to a kernel nobody launched
comes back as a NoRoute receipt, not an exception.

Run from a build tree:  PYTHONPATH=build/python /usr/bin/python3 examples/python/kernel_to_kernel.py
"""
import struct

import ringkernel as rk


async def parse(ctx):
    while not ctx.should_terminate:
        line = await ctx.receive(timeout=0.1)
        if line is None:
            continue
        numbers = [int(x) for x in line.split()]
        await ctx.send_to_kernel("sink", struct.pack("<q", -len(numbers)))  # how many to expect
        for n in numbers:
            receipt = await ctx.send_to_kernel("square", struct.pack("<q", n))
            assert receipt.is_success(), receipt.status
        miss = await ctx.send_to_kernel("nobody", b"?")
        await ctx.send(f"parsed {len(numbers)}; to 'nobody': {miss.status.name}".encode())


async def square(ctx):
    while not ctx.should_terminate:
        m = await ctx.receive(timeout=0.1)
        if m is not None:
            (n,) = struct.unpack("<q", m)
            await ctx.send_to_kernel("total", struct.pack("<q", n * n))


async def total(ctx):
    expected, seen, acc, sources = None, 0, 0, set()
    while not ctx.should_terminate:
        m = await ctx.receive(timeout=0.1)
        if m is None:
            continue
        (v,) = struct.unpack("<q", m)
        sources.add(ctx.last_source_kernel)
        if v < 0:
            expected = -v
        else:
            seen, acc = seen + 1, acc + v
        if expected is not None and seen == expected:
            await ctx.send(f"sum of squares {acc} from {sorted(sources)}".encode())
            expected, seen, acc, sources = None, 0, 0, set()


def main() -> None:
    with rk.RingKernel.create_sync(backend="cpu", k2k_config=rk.K2KConfig(enable_tracing=True)) as runtime:
        t = runtime.launch_sync("total", total)
        runtime.launch_sync("square", square)
        p = runtime.launch_sync("parse", parse)
        broker = runtime.k2k_broker()
        broker.add_route(destination="sink", next_hop="total")
        print(f"registered: {broker.registered_kernels()}, routes: {broker.routes()}")
        assert broker.registered_kernels() == ["total", "square", "parse"]

        p.send_sync(b"1 2 3 4")
        print(p.receive_sync(timeout=5.0).decode())
        result = t.receive_sync(timeout=5.0).decode()
        print(result)
        assert result == "sum of squares 30 from ['parse', 'square']", result

        p.send_sync(b"10 -10")
        assert p.receive_sync(timeout=5.0) == b"parsed 2; to 'nobody': NoRoute"
        result = t.receive_sync(timeout=5.0).decode()
        print(result)
        assert result == "sum of squares 200 from ['parse', 'square']", result

        stats = broker.stats()
        print(f"broker: {stats.messages_delivered} delivered, {stats.delivery_failures} failed")
        # line 1: 1 count + 4 numbers + 4 squares; line 2: 1 + 2 + 2; one NoRoute per line
        assert stats.messages_delivered == 14 and stats.delivery_failures == 2, (stats.messages_delivered, stats.delivery_failures)
    print("kernel_to_kernel: ok")


if __name__ == "__main__":
    main()
