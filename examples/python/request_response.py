#!/usr/bin/python3
"""Request/response with a callable handler that keeps state between messages.

The handler is a callable object: its attributes are the kernel's state (a running total).
Requests are numpy arrays (sent without a copy through the buffer protocol); the reply is the
sum of the request and the running total, as two float64 values. `request_sync` is the host
round trip: send, then wait for the reply, with the GIL released once. A handler that raises
faults only its own kernel.

Run from a build tree:  PYTHONPATH=build/python /usr/bin/python3 examples/python/request_response.py
"""
import asyncio
import time

import numpy as np

import ringkernel as rk


class Accumulator:
    """Message handler: float64 array in, [sum(request), running total] out."""

    def __init__(self) -> None:
        self.total = 0.0

    def __call__(self, payload: bytes) -> bytes:
        values = np.frombuffer(payload, dtype=np.float64)  # a view, no copy
        if values.size == 0:
            raise ValueError("empty request")
        s = float(values.sum())
        self.total += s
        return np.array([s, self.total], dtype=np.float64).tobytes()


def reply_of(raw: bytes):
    s, total = np.frombuffer(raw, dtype=np.float64)
    return float(s), float(total)


async def async_client(kernel: rk.KernelHandle) -> list:
    out = []
    for n in (10, 100):
        await kernel.send(np.arange(n, dtype=np.float64))
        out.append(reply_of(await kernel.receive(timeout=5.0)))
    return out


def main() -> None:
    with rk.RingKernel.create_sync(backend="cpu") as runtime:
        acc = runtime.launch_sync("accumulator", Accumulator())
        other = runtime.launch_sync("echo", lambda b: b)

        got = [reply_of(acc.request_sync(np.full(4, x, dtype=np.float64), timeout=5.0)) for x in (1.0, 2.5)]
        for s, total in got:
            print(f"sum {s:g}, running total {total:g}")
        assert got == [(4.0, 4.0), (10.0, 14.0)], got

        got = asyncio.run(async_client(acc))  # the same kernel from asyncio
        for s, total in got:
            print(f"sum {s:g}, running total {total:g}")
        assert got == [(45.0, 59.0), (4950.0, 5009.0)], got

        # A bad request faults only this kernel; the other one keeps answering.
        acc.send_sync(b"")
        deadline = time.monotonic() + 5.0
        while acc.state != rk.KernelState.Faulted and time.monotonic() < deadline:
            time.sleep(0.001)
        assert acc.state == rk.KernelState.Faulted, acc.state
        fault = acc.status().fault
        print(f"accumulator faulted: {fault.splitlines()[0]}")
        assert "empty request" in fault
        try:
            acc.send_sync(np.ones(1))
            raise AssertionError("a faulted kernel accepted a message")
        except rk.KernelError as e:
            assert e.code == rk.ErrorCode.KernelFault, e.code
        assert other.request_sync(b"still here", timeout=5.0) == b"still here"
        print(f"echo still answers; runtime faults: {runtime.metrics().faults}")
        assert runtime.metrics().faults == 1
    print("request_response: ok")


if __name__ == "__main__":
    main()
