"""Kernels written in Python: seed 000's ring kernel concepts (loop, lifecycle, two-phase launch,
backpressure, stream / service / pipeline patterns) and plain-callable message handlers."""
import asyncio
import threading
import time

import pytest

import ringkernel as rk
from ringkernel import BackpressureStrategy, KernelState, LaunchOptions, ring_kernel



@pytest.fixture
def runtime():
    rt = rk.RingKernel.create_sync(backend="cpu")
    yield rt
    rt.shutdown_sync()


def wait_for(pred, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.002)
    return pred()


def test_plain_callable_handler(runtime):
    k = runtime.launch_sync("doubler", lambda b: bytes(2 * x for x in b))
    k.send_sync(b"\x01\x02\x03")
    assert k.receive_sync(2.0) == b"\x02\x04\x06"


def test_handler_returning_none_emits_nothing_and_state_persists(runtime):
    seen = []

    def sink(b):
        seen.append(b)
        return None if len(seen) < 3 else b"%d" % len(seen)

    k = runtime.launch_sync("sink", sink)
    for m in (b"a", b"b", b"c"):
        k.send_sync(m)
    assert k.receive_sync(2.0) == b"3"
    assert seen == [b"a", b"b", b"c"]
    assert k.receive_sync(0.05) is None


def test_stream_processor_decorator(runtime):
    @ring_kernel(kernel_id="stream_processor")
    async def stream_processor(ctx):
        while not ctx.should_terminate:
            data_point = await ctx.receive(timeout=0.05)
            if data_point is None:
                continue
            await ctx.send(data_point[::-1])

    assert "stream_processor" in rk.registered_ring_kernels()
    k = runtime.launch_sync("stream_processor")
    for i in range(100):
        k.send_sync(b"%03d" % i)
    assert [k.receive_sync(2.0) for _ in range(100)] == [(b"%03d" % i)[::-1] for i in range(100)]
    assert k.status().messages_processed == 100


def test_service_pattern_one_time_init_and_state(runtime):
    loads = []

    @ring_kernel(kernel_id="inference_service")
    async def inference_service(ctx):
        model = {"bias": 10}  # one-time initialization
        loads.append(1)
        count = 0
        while not ctx.should_terminate:
            request = await ctx.receive(timeout=0.05)
            if request is None:
                continue
            count += 1
            await ctx.send(bytes([request[0] + model["bias"], count]))

    k = runtime.launch_sync("inference_service")
    for x in (1, 2, 3):
        k.send_sync(bytes([x]))
    assert [k.receive_sync(2.0) for _ in range(3)] == [bytes([11, 1]), bytes([12, 2]), bytes([13, 3])]
    assert loads == [1]


def test_pipeline_stages_over_k2k(runtime):
    @ring_kernel(kernel_id="stage_1")
    async def stage_1(ctx):
        while not ctx.should_terminate:
            raw = await ctx.receive(timeout=0.05)
            if raw is not None:
                r = await ctx.send_to_kernel("stage_2", raw.strip())
                assert r.is_success(), r

    @ring_kernel(kernel_id="stage_2")
    async def stage_2(ctx):
        while not ctx.should_terminate:
            pre = await ctx.receive(timeout=0.05)
            if pre is not None:
                assert ctx.last_source_kernel == "stage_1"
                await ctx.send(pre.upper())

    runtime.launch_sync("stage_2")
    s1 = runtime.launch_sync("stage_1")
    s2 = runtime.kernel("stage_2")
    s1.send_sync(b"  hello  ")
    assert s2.receive_sync(2.0) == b"HELLO"
    assert s1.status().state == KernelState.Active


def test_two_phase_launch_and_wait_active(runtime):
    started = threading.Event()

    @ring_kernel(kernel_id="two_phase", auto_activate=False)
    async def two_phase(ctx):
        started.set()
        assert await ctx.wait_active() is True
        assert ctx.is_active
        while not ctx.should_terminate:
            m = await ctx.receive(timeout=0.05)
            if m is not None:
                await ctx.send(b"ok:" + m)

    names = ["two_phase_a", "two_phase_b", "two_phase_c"]
    ks = [runtime.launch_sync(n, two_phase) for n in names]
    assert all(k.state == KernelState.Launched for k in ks)
    ks[0].send_sync(b"early")
    assert ks[0].receive_sync(0.05) is None  # not handed out before activation
    assert ks[0].receive_sync(0.0) is None
    for k in ks:
        k.activate_sync()
    assert ks[0].receive_sync(2.0) == b"ok:early"
    for k in ks:
        k.send_sync(b"go")
        assert k.receive_sync(2.0) == b"ok:go"


def test_deactivate_pauses_loop_kernel(runtime):
    @ring_kernel(kernel_id="pausable")
    async def pausable(ctx):
        while not ctx.should_terminate:
            if not ctx.is_active:
                await ctx.wait_active(timeout=0.05)
                continue
            m = await ctx.receive(timeout=0.05)
            if m is not None:
                await ctx.send(m)

    k = runtime.launch_sync("pausable")
    k.deactivate_sync()
    k.send_sync(b"held")
    assert k.receive_sync(0.1) is None
    k.activate_sync()
    assert k.receive_sync(2.0) == b"held"


def test_drop_oldest_decorator_rounds_queue_size(runtime):
    @ring_kernel(kernel_id="high_volume", queue_size=10000, backpressure=BackpressureStrategy.DROP_OLDEST,
                 auto_activate=False)
    async def high_volume(ctx):
        while not ctx.should_terminate:
            await ctx.receive(timeout=0.05)

    assert high_volume.options.queue_capacity == 16384
    assert high_volume.options.backpressure == BackpressureStrategy.DropOldest
    k = runtime.launch_sync("high_volume")
    k.send_many_sync([b"m"] * 16384 + [b"extra"] * 10)
    assert k.status().messages_dropped == 10
    with pytest.raises(ValueError):
        ring_kernel(kernel_id="bad", queue_size=0)(lambda ctx: None)


def test_handler_exception_faults_only_its_kernel(runtime):
    def fragile(b):
        if b == b"boom":
            raise ValueError("bad input: boom")
        return b

    bad = runtime.launch_sync("fragile", fragile)
    good = runtime.launch_sync("good", lambda b: b)
    bad.send_sync(b"fine")
    assert bad.receive_sync(2.0) == b"fine"
    bad.send_sync(b"boom")
    assert wait_for(lambda: bad.state == KernelState.Faulted)
    st = bad.status()
    assert "ValueError" in st.fault and "bad input: boom" in st.fault
    assert st.errors == 1
    with pytest.raises(rk.KernelError) as e:
        bad.send_sync(b"more")
    assert e.value.code == rk.ErrorCode.KernelFault
    good.send_sync(b"still here")
    assert good.receive_sync(2.0) == b"still here"
    assert runtime.metrics().faults == 1
    bad.terminate_sync()
    assert bad.state == KernelState.Terminated


def test_loop_kernel_exception_faults_it(runtime):
    @ring_kernel(kernel_id="crashy")
    async def crashy(ctx):
        await ctx.receive()
        raise RuntimeError("loop crashed")

    k = runtime.launch_sync("crashy")
    k.send_sync(b"x")
    assert wait_for(lambda: k.state == KernelState.Faulted)
    assert "RuntimeError: loop crashed" in k.status().fault


def test_handler_returning_non_bytes_faults(runtime):
    k = runtime.launch_sync("wrong", lambda b: "a str")
    k.send_sync(b"x")
    assert wait_for(lambda: k.state == KernelState.Faulted)
    assert "bytes-like" in k.status().fault


def test_sync_def_loop_kernel(runtime):
    @ring_kernel(kernel_id="sync_loop")
    def sync_loop(ctx):
        while not ctx.should_terminate:
            m = ctx.receive_sync(0.05)
            if m is not None:
                ctx.send_sync(m + b"!")

    k = runtime.launch_sync("sync_loop")
    k.send_sync(b"hi")
    assert k.receive_sync(2.0) == b"hi!"


def test_context_refuses_use_after_loop(runtime):
    kept = []
    done = threading.Event()

    async def short(ctx):
        kept.append(ctx)
        done.set()

    k = runtime.launch_sync("short", short)
    assert done.wait(2.0)
    assert wait_for(lambda: k.state != KernelState.Active or True)
    time.sleep(0.05)
    with pytest.raises(rk.KernelError):
        kept[0].receive_sync(0.0)


def test_receive_none_timeout_unblocks_on_terminate(runtime):
    @ring_kernel(kernel_id="blocked")
    async def blocked(ctx):
        while not ctx.should_terminate:
            await ctx.receive()  # no timeout

    k = runtime.launch_sync("blocked")
    t = time.monotonic()
    k.terminate_sync()
    assert time.monotonic() - t < 2.0
    assert k.state == KernelState.Terminated


def test_gil_released_while_waiting(runtime):
    k = runtime.launch_sync("idle", lambda b: b)
    counter = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            counter[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    time.sleep(0.01)
    before = counter[0]
    assert k.receive_sync(0.3) is None  # waits in C++ without the GIL
    progressed = counter[0] - before
    stop.set()
    t.join()
    assert progressed > 1000


def test_asyncio_receive_does_not_block_event_loop(runtime):
    k = runtime.launch_sync("late", lambda b: b)

    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.005)

        task = asyncio.create_task(ticker())
        got = await k.receive(0.3)
        task.cancel()
        return got, ticks

    got, ticks = asyncio.run(main())
    assert got is None and ticks >= 10


def test_numpy_arrays_are_messages(runtime):
    np = pytest.importorskip("numpy")

    def scale(b):
        a = np.frombuffer(b, dtype=np.float64)  # a view, no copy
        return a * 2.0  # a numpy array is returned through the buffer protocol

    k = runtime.launch_sync("scale", scale)
    x = np.arange(1000, dtype=np.float64)
    k.send_sync(x)
    y = np.frombuffer(k.receive_sync(2.0), dtype=np.float64)
    assert np.array_equal(y, x * 2.0)
    with pytest.raises(TypeError):
        k.send_sync(x[::2])  # not contiguous: refused, not silently copied wrong


def test_many_kernels_concurrently(runtime):
    ks = [runtime.launch_sync("w%d" % i, (lambda i: lambda b: b + bytes([i]))(i)) for i in range(8)]
    for rep in range(50):
        for k in ks:
            k.send_sync(b"%d" % rep)
    for i, k in enumerate(ks):
        assert [k.receive_sync(2.0) for _ in range(50)] == [b"%d" % r + bytes([i]) for r in range(50)]


def test_asyncio_send_to_full_block_inbox_does_not_block_event_loop(runtime):
    import time
    opts = LaunchOptions().with_queue_capacity(4).with_send_timeout(5.0)
    k = runtime.launch_sync("slow_sink", lambda b: time.sleep(0.05), opts)

    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.005)

        task = asyncio.create_task(ticker())
        t0 = time.monotonic()
        for _ in range(16):  # far more than the inbox holds: later sends wait for room
            await k.send(b"x")
        waited = time.monotonic() - t0
        task.cancel()
        return waited, ticks

    waited, ticks = asyncio.run(main())
    assert waited > 0.2  # the sends did wait for the slow handler...
    assert ticks >= waited / 0.005 / 4  # ...without holding the event loop
    assert k.status().messages_rejected == 0  # and waiting under Block is not a rejection
