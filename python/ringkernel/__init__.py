"""ringkernel for Python: persistent actors on lock-free rings, backed by the C++ core.

A *ring kernel* is launched once and then loops: it waits for a message, handles it with state
it keeps, and answers. Kernels written in Python run on their own C++ worker thread and take
the GIL only while Python code runs; every call that waits in C++ releases the GIL.

Naming rule: an operation that can wait has an asyncio form under its plain name (``await
kernel.terminate()``) and a blocking form ending in ``_sync`` (``kernel.terminate_sync()``);
operations that never wait (``state``, ``is_active()``, ``status()``, ``metrics()``) have
one form. Messages are bytes-like objects (bytes, bytearray, memoryview, C-contiguous numpy
arrays, read through the buffer protocol without a copy); what a kernel receives and what the
host receives are ``bytes`` (``numpy.frombuffer(b, dtype)`` views them without a copy).

Two kernel styles:

* a plain callable ``handler(payload: bytes) -> bytes-like | None``, called once per message
  (``None``: no reply)::

      kernel = runtime.launch_sync("doubler", lambda b: bytes(2 * x for x in b))

* a loop over a context, usually ``async def`` and registered with :func:`ring_kernel`::

      @ring_kernel(kernel_id="echo", queue_size=1024)
      async def echo(ctx):
          while not ctx.should_terminate:
              msg = await ctx.receive(timeout=0.1)
              if msg is not None:
                  await ctx.send(msg)

An exception raised by a handler faults only its kernel: its state becomes
``KernelState.Faulted`` and ``status().fault`` holds the exception's text; the runtime and
the other kernels keep running.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import inspect
import threading
from typing import Any, Awaitable, Callable, Dict, List, Optional, Union

from . import _core
from ._core import (  # noqa: F401  (re-exported)
    Backend,
    BackpressureStrategy,
    CudaError,
    DeliveryReceipt,
    DeliveryStatus,
    ErrorCode,
    HlcClock,
    HlcTimestamp,
    HybridConfig,
    HybridDispatcher,
    HybridStats,
    K2KBroker,
    K2KConfig,
    K2KStats,
    PubSubBroker,
    PubSubStats,
    KernelError,
    KernelHandle,
    KernelMode,
    KernelState,
    KernelStatus,
    LaunchOptions,
    MemoryEstimate,
    MemoryLimitError,
    MessageEnvelope,
    MessageHeader,
    Priority,
    ProcessingMode,
    QueueHealth,
    QueueMetrics,
    QueueMonitor,
    QueueStats,
    QueueTier,
    Reservation,
    ResourceGuard,
    RingKernelError,
    RuntimeMetrics,
    SendStatus,
    VulkanError,
    estimate_queue_memory,
    is_cuda_available,
    registered_kernel_names,
)
from . import benchmark  # noqa: F401

__version__ = _core.__version__

__all__ = [
    "RingKernel", "KernelHandle", "KernelContext", "LaunchOptions", "KernelState", "KernelMode", "KernelStatus",
    "RuntimeMetrics", "Backend", "BackpressureStrategy", "SendStatus", "Priority", "ErrorCode",
    "HlcClock", "HlcTimestamp", "MessageHeader", "MessageEnvelope",
    "K2KBroker", "K2KConfig", "K2KStats", "DeliveryStatus", "DeliveryReceipt", "PubSubBroker", "PubSubStats",
    "HybridDispatcher", "HybridConfig", "HybridStats", "ProcessingMode",
    "ResourceGuard", "Reservation", "MemoryEstimate", "estimate_queue_memory",
    "QueueMonitor", "QueueTier", "QueueHealth", "QueueStats", "QueueMetrics",
    "RingKernelError", "KernelError", "MemoryLimitError", "CudaError", "VulkanError",
    "ring_kernel", "RingKernelDefinition", "is_cuda_available", "registered_kernel_names", "benchmark",
]

# Every runtime is shut down before the interpreter finalizes, so that no kernel thread ever
# waits for the GIL of a dead interpreter.
atexit.register(_core._shutdown_all)


async def _in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """Runs a blocking call (it releases the GIL) on the default executor."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(fn, *args))


# ---- kernels written in Python -----------------------------------------------------------------

class KernelContext:
    """What a loop kernel receives: its id, its state, and the messaging calls.

    Valid only while the kernel's loop runs, and only on the kernel's own thread (a loop kernel's
    ``async def`` runs on an event loop of that thread). The awaitables complete without
    suspending the event loop's other tasks for longer than the C++ wait they wrap: ``receive``
    waits in C++ with the GIL released.
    """

    __slots__ = ("_c",)

    def __init__(self, c: "_core._LoopContext") -> None:
        self._c = c

    @property
    def kernel_id(self) -> str:
        """The kernel's id."""
        return self._c.kernel_id

    @property
    def should_terminate(self) -> bool:
        """True once terminate() (or runtime shutdown) was requested: leave the loop."""
        return self._c.should_terminate

    @property
    def is_active(self) -> bool:
        """True while the kernel is Active (not Launched or Deactivated)."""
        return self._c.is_active

    @property
    def last_source_kernel(self) -> str:
        """Id of the kernel that sent the last message received (K2K); '' when the host sent it."""
        return self._c.last_source_kernel

    async def receive(self, timeout: Optional[float] = None) -> Optional[bytes]:
        """The next message's payload, or None after ``timeout`` seconds (None: until one arrives
        or the kernel must terminate). Messages are handed out only while the kernel is Active."""
        return self._c.receive(timeout)

    def receive_sync(self, timeout: Optional[float] = None) -> Optional[bytes]:
        """Blocking form of receive() for loop kernels written as plain ``def``."""
        return self._c.receive(timeout)

    async def receive_envelope(self, timeout: Optional[float] = None) -> Optional[MessageEnvelope]:
        """Like receive(), with the header (type, priority, correlation, timestamp)."""
        return self._c.receive_envelope(timeout)

    async def send(self, data: Any, type_id: Optional[int] = None, priority: Any = None) -> None:
        """Emits ``data`` (bytes-like) to the kernel's output queue, correlated with the last message
        received. Waits while the output queue is full (the host is not receiving)."""
        self._c.send(data, type_id, priority)

    def send_sync(self, data: Any, type_id: Optional[int] = None, priority: Any = None) -> None:
        """Blocking form of send()."""
        self._c.send(data, type_id, priority)

    async def send_to_kernel(self, destination: str, data: Any, type_id: int = 0) -> DeliveryReceipt:
        """Sends ``data`` to kernel (or routed name) ``destination`` over K2K; see the receipt."""
        return self._c.send_to_kernel(destination, data, type_id)

    async def publish(self, topic: str, data: Any, type_id: int = 0) -> int:
        """Publishes ``data`` on ``topic`` (a name, not a filter) as this kernel through the
        runtime's pub/sub broker; returns how many kernels got it. A malformed topic raises
        RingKernelError(code=InvalidTopic)."""
        return self._c.publish(topic, data, type_id)

    async def wait_active(self, timeout: Optional[float] = None) -> bool:
        """Waits until the kernel is Active (True), or must terminate / ``timeout`` passed (False)."""
        return self._c.wait_active(timeout)

    def now(self) -> HlcTimestamp:
        """A fresh timestamp from the runtime's clock, after everything received so far."""
        return self._c.now()


class RingKernelDefinition:
    """A loop kernel made by :func:`ring_kernel`: its function and launch options.

    ``RingKernel.launch(kernel_id)`` finds it by id; ``runtime.launch(other_id, definition)``
    launches the same code under another id.
    """

    def __init__(self, fn: Callable[[KernelContext], Any], kernel_id: str, options: LaunchOptions,
                 output_type_id: int = 0) -> None:
        if not callable(fn):
            raise TypeError("ring_kernel decorates a function taking the kernel context")
        self.fn = fn
        self.kernel_id = kernel_id
        self.options = options
        self.output_type_id = output_type_id
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    def _runner(self) -> Callable[["_core._LoopContext"], None]:
        return functools.partial(_run_loop, self.fn)

    def __repr__(self) -> str:
        return f"RingKernelDefinition(kernel_id={self.kernel_id!r}, fn={self.fn!r})"


def _run_loop(fn: Callable[[KernelContext], Any], c: "_core._LoopContext") -> None:
    """Runs a loop kernel on its worker thread: an ``async def`` on an event loop of its own."""
    ctx = KernelContext(c)
    if inspect.iscoroutinefunction(fn):
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(fn(ctx))
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()
    else:
        result = fn(ctx)
        if inspect.isawaitable(result):
            raise TypeError(f"loop kernel {fn!r} returned an awaitable; declare it `async def`")


_registry: Dict[str, RingKernelDefinition] = {}
_registry_lock = threading.Lock()


def _round_up_pow2(n: int) -> int:
    if n <= 0:
        raise ValueError(f"queue_size must be > 0, got {n}")
    p = 1
    while p < n:
        p <<= 1
    return p


def ring_kernel(kernel_id: Optional[str] = None, queue_size: int = 1024,
                backpressure: BackpressureStrategy = BackpressureStrategy.Block,
                priority: Any = Priority.Normal, max_message_size: int = 64 * 1024,
                auto_activate: bool = True, k2k: bool = True,
                output_type_id: int = 0) -> Callable[[Callable[[KernelContext], Any]], RingKernelDefinition]:
    """Declares a loop kernel and registers it under ``kernel_id`` (default: the function's name),
    so ``runtime.launch(kernel_id)`` finds it.

    ``queue_size`` is the least inbox capacity: it is rounded up to a power of two (the rings
    need one), so 10000 gives 16384. ``backpressure``: what a full inbox does (Block waits,
    Reject raises, DropOldest evicts and counts). ``auto_activate=False`` launches it in state
    Launched (two-phase launch: ``activate`` starts it). A later definition with the same id
    replaces the earlier one.
    """
    def decorate(fn: Callable[[KernelContext], Any]) -> RingKernelDefinition:
        kid = kernel_id if kernel_id is not None else fn.__name__
        opts = (LaunchOptions().with_queue_capacity(_round_up_pow2(queue_size)).with_backpressure(backpressure)
                .with_priority(priority).with_max_message_size(max_message_size).with_k2k(k2k))
        if not auto_activate:
            opts.without_auto_activate()
        d = RingKernelDefinition(fn, kid, opts, output_type_id)
        with _registry_lock:
            _registry[kid] = d
        return d
    return decorate


def registered_ring_kernels() -> List[str]:
    """Ids of the kernels declared with :func:`ring_kernel`."""
    with _registry_lock:
        return list(_registry)


# ---- the runtime ----------------------------------------------------------------------------------

Handler = Union[RingKernelDefinition, Callable[..., Any], LaunchOptions, None]


class RingKernel:
    """A runtime: launches and owns kernels. Thread-safe.

    ``await RingKernel.create(backend="cpu")`` or ``RingKernel.create_sync(...)``; ``backend`` is
    "auto", "cpu", "cuda" or "vulkan". Every kernel this package launches (Python handlers and
    loops, C++ kernels registered with RINGKERNEL_KERNEL) runs on CPU worker threads, so "auto"
    is the CPU backend, with or without a GPU. "vulkan" raises RingKernelError(code=
    BackendUnavailable) (not compiled in). "cuda": built without CUDA, RingKernelError(code=
    BackendUnavailable); built with CUDA but no usable device, CudaError (code CudaFailure)
    naming the failed call; with a device it builds a CUDA runtime, on which launching any of
    these kernels raises KernelError(code=BackendUnavailable) (use :mod:`ringkernel.cuda` for
    the device itself). Use it as a context manager (sync or async) to shut it down at the end;
    every runtime is also shut down at interpreter exit.
    """

    def __init__(self, rt: "_core._Runtime") -> None:
        self._rt = rt

    # -- construction
    @classmethod
    def create_sync(cls, backend: Union[str, Backend] = "auto", node_id: int = 0,
                    k2k_config: Optional[K2KConfig] = None, resource_guard: Optional[ResourceGuard] = None,
                    spin_before_park_us: float = 50.0) -> "RingKernel":
        """Builds a runtime. ``node_id`` names its HLC node; ``k2k_config`` sets its broker;
        ``resource_guard`` is what kernel queues are charged against (default: 80% of RAM);
        ``spin_before_park_us``: how long idle workers spin before parking."""
        return cls(_core._Runtime.create(backend, node_id, k2k_config, resource_guard, spin_before_park_us))

    @classmethod
    async def create(cls, backend: Union[str, Backend] = "auto", node_id: int = 0,
                     k2k_config: Optional[K2KConfig] = None, resource_guard: Optional[ResourceGuard] = None,
                     spin_before_park_us: float = 50.0) -> "RingKernel":
        """Awaitable create_sync() (probing GPU backends can take a while: done off the event loop)."""
        return await _in_thread(cls.create_sync, backend, node_id, k2k_config, resource_guard, spin_before_park_us)

    # -- launching
    def launch_sync(self, kernel_id: str, handler: Handler = None,
                    options: Optional[LaunchOptions] = None) -> KernelHandle:
        """Launches kernel ``kernel_id``.

        ``handler`` is a :class:`RingKernelDefinition` (from :func:`ring_kernel`), an ``async def``
        loop over a :class:`KernelContext`, or a plain callable ``bytes -> bytes-like | None``
        (message handler). Without one, the :func:`ring_kernel` registered as ``kernel_id`` is
        launched, or else a kernel registered in C++; KernelError(code=KernelNotFound) if none.
        ``options`` overrides the definition's; it may also come second, in place of the handler
        (``launch_sync("processor", options)``, as in seed 003). RingKernelError(InvalidArgument)
        when the id is in use by a kernel that is not Terminated.
        """
        if isinstance(handler, LaunchOptions):
            if options is not None:
                raise TypeError("launch: LaunchOptions given twice (as the handler and as options)")
            handler, options = None, handler
        if handler is None:
            with _registry_lock:
                handler = _registry.get(kernel_id)
            if handler is None:
                return self._rt.launch_registered(kernel_id, options)
        if isinstance(handler, RingKernelDefinition):
            opts = options if options is not None else handler.options
            return self._rt.launch_loop(kernel_id, handler._runner(), opts, handler.output_type_id)
        if inspect.iscoroutinefunction(handler):
            return self._rt.launch_loop(kernel_id, functools.partial(_run_loop, handler), options, 0)
        if not callable(handler):
            raise TypeError(f"a kernel handler must be callable, got {type(handler).__name__}")
        return self._rt.launch_handler(kernel_id, handler, options, 0)

    async def launch(self, kernel_id: str, handler: Handler = None,
                     options: Optional[LaunchOptions] = None) -> KernelHandle:
        """Awaitable launch_sync()."""
        return self.launch_sync(kernel_id, handler, options)

    # -- lookups
    def kernel(self, kernel_id: str) -> KernelHandle:
        """The handle of kernel ``kernel_id`` (KernelError(KernelNotFound) if unknown)."""
        return self._rt.kernel(kernel_id)

    def list_kernels(self) -> List[str]:
        """Ids of all kernels in launch order (terminated ones included until relaunched)."""
        return self._rt.list_kernels()

    def metrics(self) -> RuntimeMetrics:
        """Runtime-wide counters."""
        return self._rt.metrics()

    @property
    def backend(self) -> Backend:
        """The backend kernels run on."""
        return self._rt.backend

    @property
    def clock(self) -> HlcClock:
        """The runtime's Hybrid Logical Clock."""
        return self._rt.clock

    def k2k_broker(self) -> K2KBroker:
        """The runtime's kernel-to-kernel broker."""
        return self._rt.k2k_broker()

    def pubsub(self) -> PubSubBroker:
        """The runtime's topic pub/sub broker."""
        return self._rt.pubsub()

    # -- by id (the seed's runtime.send / runtime.activate forms)
    def send_sync(self, kernel_id: str, data: Any, priority: Any = None, type_id: int = 0) -> None:
        """Sends ``data`` to kernel ``kernel_id`` (see KernelHandle.send_sync)."""
        self._rt.kernel(kernel_id).send_sync(data, priority, type_id)

    async def send(self, kernel_id: str, data: Any, priority: Any = None, type_id: int = 0) -> None:
        """Awaitable send_sync()."""
        await self._rt.kernel(kernel_id).send(data, priority, type_id)

    def activate_sync(self, kernel_id: str) -> None:
        """Activates kernel ``kernel_id`` (two-phase launch: Launched/Deactivated -> Active)."""
        self._rt.kernel(kernel_id).activate_sync()

    async def activate(self, kernel_id: str) -> None:
        """Activates kernel ``kernel_id`` (two-phase launch)."""
        await self._rt.kernel(kernel_id).activate()

    def deactivate_sync(self, kernel_id: str) -> None:
        """Deactivates kernel ``kernel_id`` (Active -> Deactivated; its messages wait)."""
        self._rt.kernel(kernel_id).deactivate_sync()

    async def deactivate(self, kernel_id: str) -> None:
        """Awaitable deactivate_sync()."""
        await self._rt.kernel(kernel_id).deactivate()

    def terminate_sync(self, kernel_id: str) -> None:
        """Terminates kernel ``kernel_id`` after the message in hand (idempotent)."""
        self._rt.kernel(kernel_id).terminate_sync()

    async def terminate(self, kernel_id: str) -> None:
        """Awaitable terminate_sync()."""
        await self._rt.kernel(kernel_id).terminate()

    # -- shutdown
    def shutdown_sync(self) -> None:
        """Terminates every kernel; later launches raise RingKernelError(Closed). Idempotent."""
        self._rt.shutdown()

    async def shutdown(self) -> None:
        """Awaitable shutdown_sync()."""
        await _in_thread(self._rt.shutdown)

    def __enter__(self) -> "RingKernel":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown_sync()

    async def __aenter__(self) -> "RingKernel":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.shutdown()

    def __repr__(self) -> str:
        return f"RingKernel(backend={self._rt.backend.name}, kernels={self._rt.list_kernels()!r})"


# ---- asyncio forms of KernelHandle ------------------------------------------------------------------

async def _kh_activate(self: KernelHandle) -> None:
    """Launched/Deactivated -> Active; KernelError(InvalidState) otherwise."""
    await _in_thread(self.activate_sync)


async def _kh_deactivate(self: KernelHandle) -> None:
    """Active -> Deactivated (returns once the worker holds no message); messages wait."""
    await _in_thread(self.deactivate_sync)


async def _kh_terminate(self: KernelHandle) -> None:
    """Stops the kernel after the message in hand; queued messages stay for drain_unprocessed()."""
    await _in_thread(self.terminate_sync)


#: How long an awaitable receive waits inline (GIL released, event loop held) for a reply
#: before it hands the wait to the default executor: a kernel's reply usually takes a few
#: microseconds, while a hop through the executor costs about a hundred.
_INLINE_RECEIVE_S = 50e-6


async def _kh_send(self: KernelHandle, data: Any, priority: Any = None, type_id: int = 0) -> None:
    """Sends ``data``. Done on the event loop while the inbox is less than half full (then the
    send cannot wait); otherwise send_sync runs off the event loop, since a full Block-strategy
    inbox makes it wait, and raises what send_sync raises."""
    st = self.status()
    if st.queue_depth < st.queue_capacity // 2 and self.try_send(data, priority, type_id) == SendStatus.Ok:
        return
    await _in_thread(self.send_sync, data, priority, type_id)


def _inline_timeout(timeout: Optional[float]) -> float:
    return _INLINE_RECEIVE_S if timeout is None else min(max(timeout, 0.0), _INLINE_RECEIVE_S)


async def _kh_receive(self: KernelHandle, timeout: Optional[float] = None) -> Optional[bytes]:
    """The next output's payload or None after ``timeout`` seconds. A reply that arrives within
    50 us is returned without leaving the event loop; longer waits run in the default executor."""
    if timeout is not None and (timeout != timeout or timeout < 0):
        raise ValueError("timeout must be None or a number of seconds >= 0")
    got = self.receive_sync(_inline_timeout(timeout))
    if got is not None or (timeout is not None and timeout <= _INLINE_RECEIVE_S):
        return got
    return await _in_thread(self.receive_sync, None if timeout is None else timeout - _INLINE_RECEIVE_S)


async def _kh_receive_envelope(self: KernelHandle, timeout: Optional[float] = None) -> Optional[MessageEnvelope]:
    """Like receive(), with the header."""
    if timeout is not None and (timeout != timeout or timeout < 0):
        raise ValueError("timeout must be None or a number of seconds >= 0")
    got = self.receive_envelope_sync(_inline_timeout(timeout))
    if got is not None or (timeout is not None and timeout <= _INLINE_RECEIVE_S):
        return got
    return await _in_thread(self.receive_envelope_sync, None if timeout is None else timeout - _INLINE_RECEIVE_S)


KernelHandle.activate = _kh_activate  # type: ignore[attr-defined]
KernelHandle.deactivate = _kh_deactivate  # type: ignore[attr-defined]
KernelHandle.terminate = _kh_terminate  # type: ignore[attr-defined]
KernelHandle.send = _kh_send  # type: ignore[attr-defined]
KernelHandle.receive = _kh_receive  # type: ignore[attr-defined]
KernelHandle.receive_envelope = _kh_receive_envelope  # type: ignore[attr-defined]
