"""Type stubs of ringkernel._core, the pybind11 extension (python/src/*.cpp).

The package ``ringkernel`` re-exports these names; ``ringkernel/__init__.py`` adds the asyncio
forms of KernelHandle's waiting methods (declared here, on KernelHandle), the
``@ring_kernel`` decorator, ``KernelContext`` and ``RingKernel``. python/tests/test_stubs.py
checks that every public name of the built module and of its classes is declared here.
"""
from typing import Any, Callable, ClassVar, Iterable, List, Optional, Tuple, Union, overload

from . import benchmark as benchmark
from . import cuda as cuda  # only when built with CUDA (see cuda.pyi)

__version__: str

#: What a message may be: any C-contiguous buffer (bytes, bytearray, memoryview, numpy array),
#: read without a copy. str is refused (TypeError): encode it first.
BytesLike = Union[bytes, bytearray, memoryview, Any]

def _shutdown_all() -> None:
    """Shuts down every live runtime (run by an atexit hook)."""

class RingKernelError(Exception):
    """Base of every error ringkernel raises; `code` is an ErrorCode."""
    code: ErrorCode

class Backend:
    """Where kernels run."""
    def __init__(self, value: int) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> int: ...
    def __int__(self) -> int: ...
    def __index__(self) -> int: ...
    def __eq__(self, other: object) -> bool: ...
    def __ne__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
    Auto: ClassVar[Backend]
    Cpu: ClassVar[Backend]
    Cuda: ClassVar[Backend]
    Vulkan: ClassVar[Backend]

class BackpressureStrategy:
    """What a full inbox does with a new message."""
    def __init__(self, value: int) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> int: ...
    def __int__(self) -> int: ...
    def __index__(self) -> int: ...
    def __eq__(self, other: object) -> bool: ...
    def __ne__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
    Block: ClassVar[BackpressureStrategy]
    Reject: ClassVar[BackpressureStrategy]
    DropOldest: ClassVar[BackpressureStrategy]
    BLOCK: ClassVar[BackpressureStrategy]
    REJECT: ClassVar[BackpressureStrategy]
    DROP_OLDEST: ClassVar[BackpressureStrategy]

class CudaError(RingKernelError):
    """A CUDA call failed (code CudaFailure)."""
    code: ErrorCode

class DeliveryReceipt:
    """What happened to one K2K message."""
    @property
    def message_id(self) -> int: ...
    @property
    def source(self) -> str: ...
    @property
    def destination(self) -> str: ...
    @property
    def delivered_to(self) -> str: ...
    @property
    def status(self) -> DeliveryStatus: ...
    @property
    def hops(self) -> int: ...
    @property
    def timestamp(self) -> HlcTimestamp: ...
    @property
    def trace(self) -> List[str]: ...
    def is_success(self) -> bool: ...
    def is_pending(self) -> bool: ...
    def is_failure(self) -> bool: ...

class DeliveryStatus:
    """Outcome of one K2K delivery."""
    def __init__(self, value: int) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> int: ...
    def __int__(self) -> int: ...
    def __index__(self) -> int: ...
    def __eq__(self, other: object) -> bool: ...
    def __ne__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
    Delivered: ClassVar[DeliveryStatus]
    Pending: ClassVar[DeliveryStatus]
    NoRoute: ClassVar[DeliveryStatus]
    HopLimitExceeded: ClassVar[DeliveryStatus]
    Timeout: ClassVar[DeliveryStatus]
    QueueFull: ClassVar[DeliveryStatus]
    NotActive: ClassVar[DeliveryStatus]
    Rejected: ClassVar[DeliveryStatus]
    def is_success(self) -> bool:
        """Delivered."""
    def is_pending(self) -> bool:
        """Pending."""
    def is_failure(self) -> bool:
        """Neither delivered nor pending."""

class ErrorCode:
    """Machine-readable cause of a RingKernelError (its `code`)."""
    def __init__(self, value: int) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> int: ...
    def __int__(self) -> int: ...
    def __index__(self) -> int: ...
    def __eq__(self, other: object) -> bool: ...
    def __ne__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
    Ok: ClassVar[ErrorCode]
    InvalidArgument: ClassVar[ErrorCode]
    InvalidMessage: ClassVar[ErrorCode]
    InvalidTopic: ClassVar[ErrorCode]
    ClockDrift: ClassVar[ErrorCode]
    QueueFull: ClassVar[ErrorCode]
    Timeout: ClassVar[ErrorCode]
    NotActive: ClassVar[ErrorCode]
    KernelNotFound: ClassVar[ErrorCode]
    InvalidState: ClassVar[ErrorCode]
    KernelFault: ClassVar[ErrorCode]
    MemoryLimit: ClassVar[ErrorCode]
    BackendUnavailable: ClassVar[ErrorCode]
    CudaFailure: ClassVar[ErrorCode]
    VulkanFailure: ClassVar[ErrorCode]
    Closed: ClassVar[ErrorCode]
    Internal: ClassVar[ErrorCode]

class HlcClock:
    """A Hybrid Logical Clock for one node. Thread-safe: every method may be called from any thread."""
    def __init__(self, node_id: int = 0, max_drift_ms: float = 60000.0) -> None:
        """A clock for `node_id` refusing remote timestamps more than `max_drift_ms` ahead of its
        wall clock.
        """
    def tick(self) -> HlcTimestamp:
        """The next timestamp: greater than every one this clock returned before."""
    def now(self) -> HlcTimestamp:
        """The clock's current time without advancing it."""
    def update(self, remote: HlcTimestamp) -> HlcTimestamp:
        """Merges a received timestamp; returns one greater than `remote` and than everything
        before. RingKernelError(code=ClockDrift) when `remote` is too far ahead.
        """
    @property
    def node_id(self) -> int: ...
    @property
    def max_drift_ms(self) -> float: ...

class HlcTimestamp:
    """A Hybrid Logical Clock timestamp, totally ordered by (physical, logical, node_id).
    `physical` is microseconds since the Unix epoch. Immutable value.
    """
    def __init__(self, physical: int = 0, logical: int = 0, node_id: int = 0) -> None: ...
    @property
    def physical(self) -> int:
        """Microseconds since the Unix epoch."""
    @property
    def logical(self) -> int:
        """Counter within one physical value."""
    @property
    def node_id(self) -> int:
        """The node that made it (tie-breaker)."""
    @staticmethod
    def now(node_id: int = 0) -> HlcTimestamp:
        """The wall clock now, logical 0."""
    @staticmethod
    def zero() -> HlcTimestamp:
        """The smallest timestamp (0, 0, 0)."""
    def pack(self) -> int:
        """Lossless 128-bit form as an int (physical << 64 | logical << 32 | node_id); orders like
        the timestamp.
        """
    @staticmethod
    def unpack(packed: int) -> HlcTimestamp:
        """Inverse of pack(); ValueError for a negative int or one above 128 bits."""
    def as_micros(self) -> int:
        """Physical time in microseconds since the epoch."""
    def as_millis(self) -> int:
        """Physical time in milliseconds since the epoch (truncated)."""
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
    def __ne__(self, other: object) -> bool: ...
    def __lt__(self, other: HlcTimestamp) -> bool: ...
    def __le__(self, other: HlcTimestamp) -> bool: ...
    def __gt__(self, other: HlcTimestamp) -> bool: ...
    def __ge__(self, other: HlcTimestamp) -> bool: ...

class HybridConfig:
    """Settings of a HybridDispatcher."""
    def __init__(self, mode: ProcessingMode = ProcessingMode.Hybrid, gpu_threshold: int = 10000, learning_rate: float = 0.1, gpu_available: bool = True) -> None: ...
    @staticmethod
    def cpu_only() -> HybridConfig: ...
    @staticmethod
    def gpu_only() -> HybridConfig: ...
    @staticmethod
    def adaptive() -> HybridConfig: ...
    @staticmethod
    def hybrid(threshold: int) -> HybridConfig: ...
    @property
    def mode(self) -> ProcessingMode: ...
    @property
    def gpu_threshold(self) -> int: ...
    @property
    def learning_rate(self) -> float: ...
    @property
    def gpu_available(self) -> bool: ...

class HybridDispatcher:
    """Routes workloads to the CPU or the GPU by size; Adaptive mode learns the crossover size from
    measured times. Thread-safe.
    """
    def __init__(self, config: HybridConfig = ...) -> None: ...
    def should_use_gpu(self, workload_size: int) -> bool: ...
    def record_cpu_execution(self) -> None: ...
    def record_gpu_execution(self) -> None: ...
    def update_adaptive_threshold(self, workload_size: int, cpu_time_ms: float, gpu_time_ms: float) -> None: ...
    @property
    def adaptive_threshold(self) -> int: ...
    @property
    def config(self) -> HybridConfig: ...
    def stats(self) -> HybridStats: ...
    def reset_stats(self) -> None: ...

class HybridStats:
    """Executions recorded on each side."""
    @property
    def cpu_count(self) -> int: ...
    @property
    def gpu_count(self) -> int: ...
    def total(self) -> int: ...
    def gpu_ratio(self) -> float: ...

class K2KBroker:
    """Kernel-to-kernel delivery between the kernels of one runtime. Get a runtime's broker with
    RingKernel.k2k_broker(); K2KBroker(config) makes a broker of its own, empty runtime (routes
    and statistics, no endpoints). Thread-safe.
    """
    def __init__(self, config: Optional[K2KConfig] = None) -> None: ...
    @property
    def config(self) -> K2KConfig: ...
    def registered_kernels(self) -> List[str]:
        """Ids of the kernels reachable now, in launch order."""
    def is_registered(self, kernel_id: str) -> bool: ...
    def add_route(self, destination: str, next_hop: str) -> None:
        """Messages for `destination` go on to `next_hop`."""
    def remove_route(self, destination: str) -> bool: ...
    def routes(self) -> List[Tuple[str, str]]:
        """Every route as (destination, next_hop)."""
    def send(self, source: str, destination: str, message: Union[BytesLike, MessageEnvelope], type_id: int = 0) -> DeliveryReceipt:
        """Delivers `message` (bytes-like or a MessageEnvelope) from `source` to `destination`;
        never raises for delivery failures: see the receipt.
        """
    def stats(self) -> K2KStats: ...

class PubSubStats:
    """Pub/sub counters at one moment."""
    @property
    def subscriptions(self) -> int:
        """Active subscriptions."""
    @property
    def messages_published(self) -> int:
        """publish() calls accepted."""
    @property
    def deliveries(self) -> int:
        """Messages put into subscribers' inboxes."""
    @property
    def delivery_failures(self) -> int:
        """Subscribers that could not take one (full, terminated, wrong type)."""
    @property
    def unmatched(self) -> int:
        """Publishes no subscription matched."""

class PubSubBroker:
    """Topic pub/sub between the kernels of one runtime (RingKernel.pubsub()). Topics are
    MQTT-style: levels split by '/', '+' (or '*') matches one level, a final '#' any number. A
    publish goes into the inbox of every kernel holding a matching subscription, once per kernel.
    Bad topics raise RingKernelError(code=InvalidTopic). Thread-safe.
    """
    def subscribe(self, filter: str, kernel_id: str) -> int:
        """Subscribes kernel `kernel_id` to `filter`; returns the subscription id.
        KernelError(KernelNotFound) for an unknown kernel, RingKernelError(QueueFull) beyond
        PubSubConfig.max_subscriptions.
        """
    def unsubscribe(self, subscription_id: int) -> bool:
        """Removes one subscription; False if unknown."""
    def unsubscribe_all(self, kernel_id: str) -> int:
        """Removes every subscription of `kernel_id`; returns how many."""
    def subscriptions(self) -> List[Tuple[int, str, str]]:
        """Every subscription as (id, filter, kernel_id)."""
    def publish(self, topic: str, sender: str, message: Union[BytesLike, MessageEnvelope], type_id: int = 0) -> int:
        """Publishes `message` (bytes-like or a MessageEnvelope) on `topic` (a name, not a filter)
        as `sender`; returns how many kernels got it. Subscribers that could not take it count in
        stats().delivery_failures.
        """
    def stats(self) -> PubSubStats: ...

class K2KConfig:
    """K2K broker settings."""
    def __init__(self, max_pending_messages: int = 4096, delivery_timeout_ms: int = 1000, enable_tracing: bool = False, max_hops: int = 8) -> None: ...
    @staticmethod
    def default() -> K2KConfig:
        """The defaults."""
    @property
    def max_pending_messages(self) -> int: ...
    @property
    def delivery_timeout_ms(self) -> int: ...
    @property
    def enable_tracing(self) -> bool: ...
    @property
    def max_hops(self) -> int: ...

class K2KStats:
    """K2K counters at one moment."""
    @property
    def registered_endpoints(self) -> int: ...
    @property
    def messages_delivered(self) -> int: ...
    @property
    def delivery_failures(self) -> int: ...
    @property
    def routes_configured(self) -> int: ...
    @property
    def in_flight(self) -> int: ...

class KernelError(RingKernelError):
    """A kernel lifecycle or handler error (illegal transition, fault, not found, not accepting
    messages).
    """
    code: ErrorCode

class KernelHandle:
    """A launched kernel. Copies refer to the same kernel; thread-safe. Methods that can wait
    release the GIL; their asyncio forms are added by the ringkernel package.
    """
    @property
    def id(self) -> str: ...
    @property
    def state(self) -> KernelState: ...
    def is_active(self) -> bool: ...
    def status(self) -> KernelStatus:
        """Counters and latency now, plus the fault text."""
    def send_sync(self, data: Union[BytesLike, MessageEnvelope], priority: Union[Priority, int, None] = None, type_id: int = 0) -> None:
        """Sends a bytes-like message (or a MessageEnvelope). Raises RingKernelError(QueueFull)
        when full under Reject or Block timed out, KernelError(NotActive/KernelFault) when it
        accepts no messages.
        """
    def try_send(self, data: Union[BytesLike, MessageEnvelope], priority: Union[Priority, int, None] = None, type_id: int = 0, timeout: Optional[float] = None) -> SendStatus:
        """Like send_sync, but returns a SendStatus. `timeout` (seconds) bounds the wait for room
        in a full Block-strategy inbox (0: never wait; None: the launch's send_timeout); QueueFull
        when there was no room in time, counted in status().messages_rejected like every refusal.
        """
    def send_many_sync(self, items: Iterable[Union[BytesLike, MessageEnvelope]], priority: Union[Priority, int, None] = None, type_id: int = 0) -> int:
        """Sends every message of `items` in order, releasing the GIL once; returns how many."""
    def receive_sync(self, timeout: Optional[float] = None) -> Optional[bytes]:
        """The next output's payload as bytes, or None after `timeout` seconds."""
    def request_sync(self, data: BytesLike, timeout: Optional[float] = None) -> Optional[bytes]:
        """send_sync(data) then receive_sync(timeout) with the GIL released once: a host round
        trip. The reply is the kernel's next output, so use it where this caller is the kernel's
        only reader.
        """
    def receive_envelope_sync(self, timeout: Optional[float] = None) -> Optional[MessageEnvelope]:
        """The next output as a MessageEnvelope, or None after `timeout` seconds."""
    def activate_sync(self) -> None:
        """Launched/Deactivated -> Active; KernelError(InvalidState) otherwise."""
    def deactivate_sync(self) -> None:
        """Active -> Deactivated (messages wait); KernelError(InvalidState) otherwise."""
    def terminate_sync(self) -> None:
        """Stops the kernel after the message in hand. Idempotent."""
    def drain_unprocessed(self) -> List[MessageEnvelope]:
        """After terminate: the messages never processed, as envelopes."""
    async def activate(self) -> None:
        """Awaitable activate_sync() (run off the event loop)."""
    async def deactivate(self) -> None:
        """Awaitable deactivate_sync()."""
    async def terminate(self) -> None:
        """Awaitable terminate_sync()."""
    async def send(self, data: Union[BytesLike, MessageEnvelope], priority: Union[Priority, int, None] = None, type_id: int = 0) -> None:
        """Awaitable send_sync(): on the event loop while the inbox is under half full, else off it."""
    async def receive(self, timeout: Optional[float] = None) -> Optional[bytes]:
        """Awaitable receive_sync(): a reply within 50 us is taken on the event loop, longer waits in the executor."""
    async def receive_envelope(self, timeout: Optional[float] = None) -> Optional[MessageEnvelope]:
        """Awaitable receive_envelope_sync()."""

class KernelMode:
    """Persistent loop or (GPU backends) one launch per batch."""
    def __init__(self, value: int) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> int: ...
    def __int__(self) -> int: ...
    def __index__(self) -> int: ...
    def __eq__(self, other: object) -> bool: ...
    def __ne__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
    Persistent: ClassVar[KernelMode]
    EventDriven: ClassVar[KernelMode]

class KernelState:
    """Kernel lifecycle state."""
    def __init__(self, value: int) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> int: ...
    def __int__(self) -> int: ...
    def __index__(self) -> int: ...
    def __eq__(self, other: object) -> bool: ...
    def __ne__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
    Created: ClassVar[KernelState]
    Launched: ClassVar[KernelState]
    Active: ClassVar[KernelState]
    Deactivated: ClassVar[KernelState]
    Terminating: ClassVar[KernelState]
    Terminated: ClassVar[KernelState]
    Faulted: ClassVar[KernelState]

class KernelStatus:
    """A kernel's counters at one moment (see KernelHandle.status())."""
    @property
    def id(self) -> str: ...
    @property
    def state(self) -> KernelState: ...
    @property
    def mode(self) -> KernelMode: ...
    @property
    def messages_received(self) -> int: ...
    @property
    def messages_processed(self) -> int: ...
    @property
    def messages_dropped(self) -> int: ...
    @property
    def messages_rejected(self) -> int: ...
    @property
    def queue_capacity(self) -> int: ...
    @property
    def queue_depth(self) -> int: ...
    @property
    def outputs_pending(self) -> int: ...
    @property
    def outputs_dropped(self) -> int: ...
    @property
    def errors(self) -> int: ...
    @property
    def min_latency_ns(self) -> int: ...
    @property
    def avg_latency_ns(self) -> float: ...
    @property
    def max_latency_ns(self) -> int: ...
    @property
    def last_activity_us(self) -> int: ...
    @property
    def fault(self) -> Optional[str]:
        """For a Faulted kernel: what its handler raised (type, message, traceback); else None."""

class LaunchOptions:
    """How to launch a kernel; builder methods validate at once (RingKernelError with code
    InvalidArgument) and return the same object for chaining.
    """
    def __init__(self) -> None: ...
    def with_queue_capacity(self, capacity: int) -> LaunchOptions:
        """Inbox and output capacity: a power of two (default 1024)."""
    def with_max_message_size(self, size: int) -> LaunchOptions:
        """Largest payload in bytes (default 64 KiB)."""
    def with_block_size(self, threads: int) -> LaunchOptions:
        """GPU threads per block (the CPU backend ignores it)."""
    def with_grid_size(self, blocks: int) -> LaunchOptions:
        """GPU blocks (the CPU backend ignores it)."""
    def with_priority(self, priority: Union[Priority, int]) -> LaunchOptions:
        """Default priority of messages sent to it."""
    def with_backpressure(self, strategy: BackpressureStrategy) -> LaunchOptions:
        """What a full inbox does (default Block)."""
    def with_k2k(self, enabled: bool) -> LaunchOptions:
        """Whether the kernel joins the K2K fabric (default True)."""
    def with_mode(self, mode: KernelMode) -> LaunchOptions: ...
    def with_send_timeout(self, seconds: float) -> LaunchOptions:
        """How long a send waits for room under Block (default 30 s)."""
    def without_auto_activate(self) -> LaunchOptions:
        """Launch in state Launched (two-phase launch)."""
    @property
    def queue_capacity(self) -> int: ...
    @property
    def max_message_size(self) -> int: ...
    @property
    def block_size(self) -> int: ...
    @property
    def grid_size(self) -> int: ...
    @property
    def priority(self) -> int: ...
    @property
    def backpressure(self) -> BackpressureStrategy: ...
    @property
    def k2k(self) -> bool: ...
    @property
    def mode(self) -> KernelMode: ...
    @property
    def send_timeout(self) -> float: ...
    @property
    def auto_activate(self) -> bool: ...
    def copy(self) -> LaunchOptions:
        """An independent copy."""

class MemoryEstimate:
    """Predicted memory of a workload, in bytes."""
    def __init__(self, primary_bytes: int = 0, auxiliary_bytes: int = 0, peak_bytes: int = 0, confidence: float = 1.0) -> None: ...
    @property
    def primary_bytes(self) -> int: ...
    @property
    def auxiliary_bytes(self) -> int: ...
    @property
    def peak_bytes(self) -> int: ...
    @property
    def confidence(self) -> float: ...
    def total_bytes(self) -> int:
        """primary + auxiliary."""
    def required_bytes(self) -> int:
        """max(total_bytes(), peak_bytes)."""

class MemoryLimitError(RingKernelError):
    """A ResourceGuard refused an allocation (code MemoryLimit)."""
    code: ErrorCode

class MessageEnvelope:
    """An immutable message: a header whose checksum covers it and the payload, plus the payload."""
    @overload
    def __init__(self) -> None: ...
    @overload
    def __init__(self, header: MessageHeader, payload: BytesLike) -> None: ...
    @staticmethod
    def from_bytes(header: MessageHeader, payload: BytesLike) -> MessageEnvelope:
        """An envelope of `header` (its checksum is computed here) and the bytes-like `payload`.
        RingKernelError(code=InvalidMessage) when header.payload_size != len(payload).
        """
    @staticmethod
    def from_raw_bytes(raw: BytesLike) -> MessageEnvelope:
        """Parses and fully validates a wire form (length, magic, version, sizes, checksum).
        RingKernelError(code=InvalidMessage) naming the first problem.
        """
    @property
    def header(self) -> MessageHeader: ...
    @property
    def payload(self) -> bytes: ...
    @property
    def total_size(self) -> int:
        """256 + len(payload): len(to_bytes())."""
    def to_bytes(self) -> bytes:
        """The wire form: 256 header bytes, then the payload."""
    def __len__(self) -> int: ...

class MessageHeader:
    """The fixed 256-byte header in front of every payload (little-endian wire layout)."""
    def __init__(self) -> None: ...
    @staticmethod
    def new(type_id: int, source_kernel: int = 0, dest_kernel: int = 0, payload_size: int = 0, timestamp: Optional[HlcTimestamp] = None) -> MessageHeader:
        """A version-1 header with a fresh message id, Normal priority and no correlation."""
    @property
    def magic(self) -> int: ...
    @property
    def version(self) -> int: ...
    type_id: int
    source_kernel: int
    dest_kernel: int
    message_id: int
    correlation_id: int
    payload_size: int
    timestamp: HlcTimestamp
    @property
    def checksum(self) -> int:
        """CRC-32C over the header and payload (set by an envelope)."""
    priority: int
    """0..255 (see Priority)."""
    def to_bytes(self) -> bytes:
        """The 256 header bytes as on the wire."""

class Priority:
    """Named message priorities; any int 0..255 is accepted where a priority is."""
    def __init__(self, value: int) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> int: ...
    def __int__(self) -> int: ...
    def __index__(self) -> int: ...
    def __eq__(self, other: object) -> bool: ...
    def __ne__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
    Low: ClassVar[Priority]
    Normal: ClassVar[Priority]
    High: ClassVar[Priority]
    Critical: ClassVar[Priority]

class ProcessingMode:
    """Where a HybridDispatcher sends work."""
    def __init__(self, value: int) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> int: ...
    def __int__(self) -> int: ...
    def __index__(self) -> int: ...
    def __eq__(self, other: object) -> bool: ...
    def __ne__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
    CpuOnly: ClassVar[ProcessingMode]
    GpuOnly: ClassVar[ProcessingMode]
    Hybrid: ClassVar[ProcessingMode]
    Adaptive: ClassVar[ProcessingMode]

class QueueHealth:
    """How full a queue is against a QueueMonitor's thresholds."""
    def __init__(self, value: int) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> int: ...
    def __int__(self) -> int: ...
    def __index__(self) -> int: ...
    def __eq__(self, other: object) -> bool: ...
    def __ne__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
    Healthy: ClassVar[QueueHealth]
    Warning: ClassVar[QueueHealth]
    Critical: ClassVar[QueueHealth]

class QueueMetrics:
    """One kernel's queue, judged by a QueueMonitor."""
    @property
    def kernel_id(self) -> str: ...
    @property
    def stats(self) -> QueueStats: ...
    @property
    def utilization(self) -> float: ...
    @property
    def health(self) -> QueueHealth: ...
    @property
    def tier(self) -> Optional[QueueTier]: ...
    @property
    def suggested_tier(self) -> Optional[QueueTier]: ...

class QueueMonitor:
    """Judges queue fill against a warning and a critical threshold. Immutable; thread-safe."""
    def __init__(self, warning_threshold: float = 0.75, critical_threshold: float = 0.9) -> None: ...
    @staticmethod
    def default() -> QueueMonitor: ...
    @property
    def warning_threshold(self) -> float: ...
    @property
    def critical_threshold(self) -> float: ...
    def utilization(self, depth: int, capacity: int) -> float: ...
    def check_health(self, depth: int, capacity: int) -> QueueHealth: ...
    def suggest_upgrade(self, depth: int, capacity: int, current_tier: QueueTier) -> Optional[QueueTier]: ...
    def metrics_for(self, kernel_id: str, stats: QueueStats) -> QueueMetrics:
        """The metrics of a queue with these counters."""

class QueueStats:
    """A queue's counters at one moment."""
    def __init__(self, depth: int = 0, capacity: int = 0, enqueued: int = 0, processed: int = 0, dropped: int = 0, rejected: int = 0) -> None: ...
    @staticmethod
    def from_status(status: KernelStatus) -> QueueStats: ...
    @property
    def depth(self) -> int: ...
    @property
    def capacity(self) -> int: ...
    @property
    def enqueued(self) -> int: ...
    @property
    def processed(self) -> int: ...
    @property
    def dropped(self) -> int: ...
    @property
    def rejected(self) -> int: ...

class QueueTier:
    """A standard queue size: Small 256, Medium 1024, Large 4096, ExtraLarge 16384."""
    @property
    def capacity(self) -> int: ...
    @property
    def name(self) -> str: ...
    def upgrade(self) -> QueueTier:
        """The next larger tier (ExtraLarge stays)."""
    def downgrade(self) -> QueueTier:
        """The next smaller tier (Small stays)."""
    @staticmethod
    def for_throughput(messages_per_second: float, headroom_ms: float) -> QueueTier:
        """The smallest tier buffering `headroom_ms` of traffic (ExtraLarge when none does)."""
    @staticmethod
    def for_capacity(capacity: int) -> Optional[QueueTier]: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
    def __ne__(self, other: object) -> bool: ...
    def __lt__(self, other: QueueTier) -> bool: ...
    Small: ClassVar[QueueTier]
    Medium: ClassVar[QueueTier]
    Large: ClassVar[QueueTier]
    ExtraLarge: ClassVar[QueueTier]

class Reservation:
    """Memory held against a ResourceGuard; a context manager: released on exit unless commit()
    made it a recorded allocation.
    """
    @property
    def bytes(self) -> int: ...
    @property
    def committed(self) -> bool: ...
    @property
    def active(self) -> bool: ...
    def commit(self) -> None:
        """Turns the reservation into a recorded allocation."""
    def release(self) -> None:
        """Gives the bytes back now (no-op when not active)."""
    def __enter__(self) -> Reservation: ...
    def __exit__(self, exc_type: object, exc: object, tb: object) -> bool: ...

class ResourceGuard:
    """Tracks memory against a limit (max_memory x (1 - safety_margin)) so a workload that would
    not fit fails with MemoryLimitError before it allocates. Thread-safe.
    """
    def __init__(self, max_memory_bytes: int, safety_margin: float = 0.1) -> None: ...
    @staticmethod
    def default() -> ResourceGuard:
        """The process-wide guard the runtime uses by default: 80% of physical memory."""
    @staticmethod
    def unguarded() -> ResourceGuard:
        """A guard that never refuses but still counts."""
    @staticmethod
    def system_memory_bytes() -> int: ...
    @property
    def max_memory(self) -> int: ...
    @property
    def safety_margin(self) -> float: ...
    @property
    def limit(self) -> int: ...
    @property
    def is_unguarded(self) -> bool: ...
    @property
    def current_memory(self) -> int: ...
    @property
    def reserved_memory(self) -> int: ...
    def available_memory(self) -> int: ...
    def utilization(self) -> float: ...
    def can_allocate(self, bytes: int) -> bool: ...
    def try_record_allocation(self, bytes: int) -> bool: ...
    def record_allocation(self, bytes: int) -> None: ...
    def record_deallocation(self, bytes: int) -> None: ...
    def reserve(self, bytes: int) -> Reservation:
        """Reserves `bytes` (MemoryLimitError when they do not fit); use as `with guard.reserve(n)
        as r:`.
        """
    def validate(self, estimate: MemoryEstimate) -> None:
        """Raises MemoryLimitError when estimate.required_bytes() do not fit now."""
    def max_safe_elements(self, bytes_per_element: int) -> int: ...

class RuntimeMetrics:
    """Runtime-wide counters."""
    @property
    def total_launched(self) -> int: ...
    @property
    def active_kernels(self) -> int: ...
    @property
    def messages_in(self) -> int: ...
    @property
    def messages_out(self) -> int: ...
    @property
    def messages_dropped(self) -> int: ...
    @property
    def faults(self) -> int: ...

class SendStatus:
    """Outcome of KernelHandle.try_send."""
    def __init__(self, value: int) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> int: ...
    def __int__(self) -> int: ...
    def __index__(self) -> int: ...
    def __eq__(self, other: object) -> bool: ...
    def __ne__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
    Ok: ClassVar[SendStatus]
    QueueFull: ClassVar[SendStatus]
    NotActive: ClassVar[SendStatus]
    KernelFaulted: ClassVar[SendStatus]
    TypeMismatch: ClassVar[SendStatus]
    TooLarge: ClassVar[SendStatus]
    ClockDrift: ClassVar[SendStatus]

class VulkanError(RingKernelError):
    """A Vulkan call failed (code VulkanFailure)."""
    code: ErrorCode

class _LoopContext:
    """C++ side of ringkernel.KernelContext."""
    @property
    def kernel_id(self) -> str: ...
    @property
    def should_terminate(self) -> bool: ...
    @property
    def is_active(self) -> bool: ...
    def wait_active(self, timeout: Optional[float] = None) -> bool: ...
    def receive_envelope(self, timeout: Optional[float] = None) -> Optional[MessageEnvelope]: ...
    def receive(self, timeout: Optional[float] = None) -> Optional[bytes]: ...
    def send(self, data: BytesLike, type_id: Optional[int] = None, priority: Union[Priority, int, None] = None) -> None: ...
    def send_to_kernel(self, destination: str, data: BytesLike, type_id: int = 0) -> DeliveryReceipt: ...
    def publish(self, topic: str, data: BytesLike, type_id: int = 0) -> int:
        """Publishes `data` on `topic` as this kernel (RingKernel.pubsub()); returns how many kernels got it."""
    def now(self) -> HlcTimestamp: ...
    @property
    def last_source_kernel(self) -> str: ...

class _Runtime:
    """The C++ runtime (see ringkernel.RingKernel)."""
    @staticmethod
    def create(backend: Union[str, Backend] = 'auto', node_id: int = 0, k2k_config: Optional[K2KConfig] = None, resource_guard: Optional[ResourceGuard] = None, spin_before_park_us: float = 50.0, device: int = 0) -> _Runtime: ...
    def launch_registered(self, name: str, options: Optional[LaunchOptions] = None) -> KernelHandle:
        """Launches a kernel registered in C++ (RINGKERNEL_KERNEL)."""
    def launch_handler(self, kernel_id: str, handler: Callable[[bytes], Optional[BytesLike]], options: Optional[LaunchOptions] = None, output_type_id: int = 0) -> KernelHandle: ...
    def launch_loop(self, kernel_id: str, runner: Callable[[_LoopContext], None], options: Optional[LaunchOptions] = None, output_type_id: int = 0) -> KernelHandle: ...
    def launch_native_echo(self, kernel_id: str, options: Optional[LaunchOptions] = None) -> KernelHandle:
        """Launches a kernel written in C++ that answers each message with its payload (a benchmark
        reference: no Python runs on the kernel's side).
        """
    def kernel(self, kernel_id: str) -> KernelHandle: ...
    def list_kernels(self) -> List[str]: ...
    def metrics(self) -> RuntimeMetrics: ...
    @property
    def backend(self) -> Backend: ...
    @property
    def clock(self) -> HlcClock: ...
    def k2k_broker(self) -> K2KBroker: ...
    def pubsub(self) -> PubSubBroker: ...
    def shutdown(self) -> None: ...


def estimate_queue_memory(options: LaunchOptions) -> MemoryEstimate:
    """What launch() charges a kernel's queues against its ResourceGuard."""

def is_cuda_available() -> bool:
    """Whether this extension has the CUDA backend and device 0 is usable (built with CUDA, a
    driver and device present, and the extension's device code runs on it). Never raises; always
    False when built without CUDA.
    """

def registered_kernel_names() -> List[str]:
    """Kernels registered in C++ (RINGKERNEL_KERNEL)."""
