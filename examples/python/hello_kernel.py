#!/usr/bin/python3
"""Hello, ring kernel: launch a kernel written as a plain Python callable, send it messages and
read its replies. The kernel is launched once and lives on its own worker thread; each message
is one call of the handler (bytes in, bytes out).

Run from a build tree:  PYTHONPATH=build/python /usr/bin/python3 examples/python/hello_kernel.py
"""
import ringkernel as rk


def greet(name: bytes) -> bytes:
    return b"Hello, " + name + b"!"


def main() -> None:
    with rk.RingKernel.create_sync(backend="cpu") as runtime:
        kernel = runtime.launch_sync("greeter", greet)
        print(f"launched {kernel.id}: state {kernel.state.name}, active {kernel.is_active()}")
        replies = []
        for name in (b"ring", b"kernel", b"Python"):
            kernel.send_sync(name)
            replies.append(kernel.receive_sync(timeout=5.0))
        for r in replies:
            print(r.decode())
        assert replies == [b"Hello, ring!", b"Hello, kernel!", b"Hello, Python!"], replies
        status = kernel.status()
        print(f"processed {status.messages_processed} messages, avg latency {status.avg_latency_ns / 1000:.1f} us")
        assert status.messages_processed == 3 and status.errors == 0
        kernel.terminate_sync()
        assert kernel.state == rk.KernelState.Terminated
    print("hello_kernel: ok")


if __name__ == "__main__":
    main()
