#!/usr/bin/python3
"""A kernel written as an `async def` loop with @ring_kernel, driven from asyncio.

The loop keeps its state in local variables (a word count), replies with ctx.send, leaves when
ctx.should_terminate, and waits while deactivated. It is launched in two phases
(auto_activate=False: launch, then activate), paused and resumed, then terminated; messages
sent while it is paused wait in its inbox.

Run from a build tree:  PYTHONPATH=build/python /usr/bin/python3 examples/python/async_loop.py
"""
import asyncio

import ringkernel as rk
from ringkernel import KernelState, ring_kernel


@ring_kernel(kernel_id="word_counter", queue_size=256, auto_activate=False)
async def word_counter(ctx):
    counts = {}
    while not ctx.should_terminate:
        if not ctx.is_active:
            await ctx.wait_active(timeout=0.1)
            continue
        msg = await ctx.receive(timeout=0.1)  # a timeout keeps shutdown responsive
        if msg is None:
            continue
        for word in msg.decode().split():
            counts[word] = counts.get(word, 0) + 1
        top = max(sorted(counts), key=counts.get)
        await ctx.send(f"{top}={counts[top]} ({len(counts)} distinct)".encode())


async def main() -> None:
    async with await rk.RingKernel.create(backend="cpu") as runtime:
        kernel = await runtime.launch("word_counter")
        print(f"phase 1: {kernel.id} {kernel.state.name}, inbox {kernel.status().queue_capacity}")
        assert kernel.state == KernelState.Launched and kernel.status().queue_capacity == 256
        await kernel.send(b"ring kernel ring")
        assert await kernel.receive(timeout=0.05) is None  # nothing is handed out before activation

        await kernel.activate()
        print(f"phase 2: {kernel.state.name}")
        replies = [await kernel.receive(timeout=5.0)]
        await kernel.send(b"kernel kernel actor")
        replies.append(await kernel.receive(timeout=5.0))

        await kernel.deactivate()
        await kernel.send(b"ring ring ring")  # waits while paused
        assert await kernel.receive(timeout=0.05) is None
        print(f"paused: {kernel.state.name}, {kernel.status().queue_depth} message waiting")
        await kernel.activate()
        replies.append(await kernel.receive(timeout=5.0))

        for r in replies:
            print(r.decode())
        assert replies == [b"ring=2 (2 distinct)", b"kernel=3 (3 distinct)", b"ring=5 (3 distinct)"], replies
        await kernel.terminate()
        print(f"terminated: {kernel.state.name}, processed {kernel.status().messages_processed}")
        assert kernel.state == KernelState.Terminated and kernel.status().messages_processed == 3
    print("async_loop: ok")


if __name__ == "__main__":
    asyncio.run(main())
