"""Runtime and kernel handles: seed 003's async and sync Quick Start as tests."""
import asyncio
import time

import pytest

import ringkernel as rk
from ringkernel import ErrorCode, KernelError, KernelState, LaunchOptions, RingKernelError


@rk.ring_kernel(kernel_id="processor")
async def processor(ctx):
    while not ctx.should_terminate:
        msg = await ctx.receive(timeout=0.05)
        if msg is not None:
            await ctx.send(msg)


def test_async_quick_start():
    async def main():
        runtime = await rk.RingKernel.create(backend="cpu")
        options = LaunchOptions().with_queue_capacity(2048).with_block_size(256).with_k2k(True)
        assert options.queue_capacity == 2048 and options.block_size == 256 and options.k2k
        kernel = await runtime.launch("processor", None, options)
        assert kernel.id == "processor"
        assert kernel.state == KernelState.Active
        assert kernel.is_active()
        await kernel.send(b"ping")
        assert await kernel.receive(2.0) == b"ping"
        status = kernel.status()
        assert status.messages_processed == 1
        assert status.queue_capacity == 2048
        await kernel.terminate()
        assert kernel.state == KernelState.Terminated
        await runtime.shutdown()

    asyncio.run(main())


def test_sync_quick_start():
    runtime = rk.RingKernel.create_sync(backend="cpu")
    kernel = runtime.launch_sync("processor")
    assert kernel.is_active()
    assert runtime.list_kernels() == ["processor"]
    metrics = runtime.metrics()
    assert metrics.total_launched == 1 and metrics.active_kernels == 1
    runtime.shutdown_sync()
    assert kernel.state == KernelState.Terminated
    with pytest.raises(RingKernelError) as e:
        runtime.launch_sync("processor")
    assert e.value.code == ErrorCode.Closed


def test_backend_selection():
    with rk.RingKernel.create_sync(backend="cpu") as rt:
        assert rt.backend == rk.Backend.Cpu
    with rk.RingKernel.create_sync(backend="auto") as rt:
        assert rt.backend == rk.Backend.Cpu  # Python kernels run on CPU threads, with or without a GPU
    with pytest.raises(RingKernelError) as e:
        rk.RingKernel.create_sync(backend="vulkan")
    assert e.value.code == ErrorCode.BackendUnavailable
    with pytest.raises(ValueError):
        rk.RingKernel.create_sync(backend="metal")


@pytest.mark.skipif(hasattr(rk._core, "cuda"), reason="built with CUDA: test_cuda.py covers backend='cuda'")
def test_built_without_cuda():
    # No CUDA backend compiled in: backend="cuda" is BackendUnavailable, is_cuda_available() is
    # False, and ringkernel.cuda does not exist (ImportError saying why).
    with pytest.raises(RingKernelError) as e:
        rk.RingKernel.create_sync(backend="cuda")
    assert e.value.code == ErrorCode.BackendUnavailable and "not compiled into this program" in str(e.value)
    assert rk.is_cuda_available() is False
    with pytest.raises(ImportError) as ie:
        import ringkernel.cuda  # noqa: F401
    assert "built without CUDA" in str(ie.value)


def test_launch_options_validate():
    with pytest.raises(RingKernelError) as e:
        LaunchOptions().with_queue_capacity(1000)
    assert e.value.code == ErrorCode.InvalidArgument and "1000" in str(e.value)
    o = LaunchOptions()
    assert o.with_queue_capacity(64) is o  # builder returns the same object
    with pytest.raises(ValueError):
        o.with_send_timeout(-1)


def test_unknown_kernel_and_duplicate_id():
    with rk.RingKernel.create_sync(backend="cpu") as rt:
        with pytest.raises(KernelError) as e:
            rt.launch_sync("no_such_kernel_anywhere")
        assert e.value.code == ErrorCode.KernelNotFound
        rt.launch_sync("dup", lambda b: b)
        with pytest.raises(RingKernelError) as e:
            rt.launch_sync("dup", lambda b: b)
        assert e.value.code == ErrorCode.InvalidArgument
        with pytest.raises(KernelError):
            rt.kernel("nope")
        with pytest.raises(TypeError):
            rt.launch_sync("bad", 42)


def test_lifecycle_sync_and_errors():
    with rk.RingKernel.create_sync(backend="cpu") as rt:
        k = rt.launch_sync("echo", lambda b: b, LaunchOptions().without_auto_activate())
        assert k.state == KernelState.Launched
        k.send_sync(b"queued while launched")  # accepted, waits in the inbox
        assert k.receive_sync(0.05) is None
        k.activate_sync()
        assert k.receive_sync(2.0) == b"queued while launched"
        k.deactivate_sync()
        assert k.state == KernelState.Deactivated
        k.send_sync(b"paused")
        assert k.receive_sync(0.05) is None
        with pytest.raises(KernelError) as e:
            k.deactivate_sync()
        assert e.value.code == ErrorCode.InvalidState
        k.activate_sync()
        assert k.receive_sync(2.0) == b"paused"
        k.terminate_sync()
        k.terminate_sync()  # idempotent
        with pytest.raises(KernelError) as e:
            k.send_sync(b"late")
        assert e.value.code == ErrorCode.NotActive
        assert k.try_send(b"late") == rk.SendStatus.NotActive


def test_runtime_by_id_forms():
    async def main():
        async with await rk.RingKernel.create(backend="cpu") as rt:
            await rt.launch("a", lambda b: b + b"a", LaunchOptions().without_auto_activate())
            await rt.activate("a")
            await rt.send("a", b"x")
            assert await rt.kernel("a").receive(2.0) == b"xa"
            await rt.deactivate("a")
            assert rt.kernel("a").state == KernelState.Deactivated
            await rt.terminate("a")
            assert rt.kernel("a").state == KernelState.Terminated

    asyncio.run(main())


def test_terminate_keeps_unprocessed_messages():
    with rk.RingKernel.create_sync(backend="cpu") as rt:
        k = rt.launch_sync("slow", lambda b: b, LaunchOptions().without_auto_activate())
        for i in range(5):
            k.send_sync(bytes([i]))
        k.terminate_sync()
        left = k.drain_unprocessed()
        assert [e.payload for e in left] == [bytes([i]) for i in range(5)]
        st = k.status()
        assert st.messages_received == 5 and st.messages_processed == 0


def test_reject_backpressure_raises_queue_full():
    with rk.RingKernel.create_sync(backend="cpu") as rt:
        opts = (LaunchOptions().with_queue_capacity(4).with_backpressure(rk.BackpressureStrategy.Reject)
                .without_auto_activate())
        k = rt.launch_sync("full", lambda b: None, opts)
        for _ in range(4):
            k.send_sync(b"x")
        with pytest.raises(RingKernelError) as e:
            k.send_sync(b"x")
        assert e.value.code == ErrorCode.QueueFull
        assert k.try_send(b"x") == rk.SendStatus.QueueFull
        assert k.status().messages_rejected == 2


def test_try_send_timeout_bounds_the_wait_under_block():
    with rk.RingKernel.create_sync(backend="cpu") as rt:
        opts = (LaunchOptions().with_queue_capacity(2).with_backpressure(rk.BackpressureStrategy.Block)
                .with_send_timeout(30.0).without_auto_activate())
        k = rt.launch_sync("block_try", lambda b: None, opts)
        assert k.try_send(b"a") == rk.SendStatus.Ok
        assert k.try_send(b"b") == rk.SendStatus.Ok
        t0 = time.monotonic()
        assert k.try_send(b"c", timeout=0) == rk.SendStatus.QueueFull  # never waits for the 30 s
        assert time.monotonic() - t0 < 5
        t0 = time.monotonic()
        assert k.try_send(b"d", timeout=0.05) == rk.SendStatus.QueueFull
        assert 0.04 <= time.monotonic() - t0 < 5
        assert k.status().messages_rejected == 2
        with pytest.raises(ValueError):
            k.try_send(b"e", timeout=-1)


def test_drop_oldest_counts_drops():
    with rk.RingKernel.create_sync(backend="cpu") as rt:
        opts = (LaunchOptions().with_queue_capacity(4).with_backpressure(rk.BackpressureStrategy.DropOldest)
                .without_auto_activate())
        k = rt.launch_sync("drop", lambda b: b, opts)
        for i in range(10):
            k.send_sync(bytes([i]))
        assert k.status().messages_dropped == 6
        k.activate_sync()
        got = [k.receive_sync(2.0) for _ in range(4)]
        assert got == [bytes([i]) for i in range(6, 10)]


def test_oversized_message_refused():
    with rk.RingKernel.create_sync(backend="cpu") as rt:
        k = rt.launch_sync("small", lambda b: b, LaunchOptions().with_max_message_size(16))
        with pytest.raises(RingKernelError) as e:
            k.send_sync(b"x" * 17)
        assert e.value.code == ErrorCode.InvalidArgument
        k.send_sync(b"x" * 16)
        assert k.receive_sync(2.0) == b"x" * 16


def test_priority_order():
    with rk.RingKernel.create_sync(backend="cpu") as rt:
        k = rt.launch_sync("prio", lambda b: b, LaunchOptions().without_auto_activate())
        k.send_sync(b"low", priority=rk.Priority.Low)
        k.send_sync(b"normal", priority=128)
        k.send_sync(b"urgent", priority=255)
        k.activate_sync()
        assert [k.receive_sync(2.0) for _ in range(3)] == [b"urgent", b"normal", b"low"]
        with pytest.raises(ValueError):
            k.send_sync(b"x", priority=300)


def test_bad_timeout_and_message_types():
    with rk.RingKernel.create_sync(backend="cpu") as rt:
        k = rt.launch_sync("e", lambda b: b)
        with pytest.raises(ValueError):
            k.receive_sync(-1)
        with pytest.raises(TypeError):
            k.send_sync("text is not bytes")
        with pytest.raises(TypeError):
            k.send_sync(12)
