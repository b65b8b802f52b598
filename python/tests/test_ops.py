"""Operations toolkit: seed 003's Hybrid Dispatcher, Resource Guard and Queue Monitoring examples."""
import pytest

import ringkernel as rk
from ringkernel import (HybridConfig, HybridDispatcher, MemoryEstimate, MemoryLimitError, ProcessingMode,
                        QueueHealth, QueueMonitor, QueueTier, ResourceGuard)


def test_hybrid_configs_and_routing():
    assert not HybridDispatcher(HybridConfig.cpu_only()).should_use_gpu(10**9)
    assert HybridDispatcher(HybridConfig.gpu_only()).should_use_gpu(1)
    assert HybridConfig.adaptive().mode == ProcessingMode.Adaptive
    config = HybridConfig(mode=ProcessingMode.Hybrid, gpu_threshold=10000, learning_rate=0.1, gpu_available=True)
    d = HybridDispatcher(config)
    assert d.should_use_gpu(50000) and not d.should_use_gpu(9999)
    d.record_gpu_execution()
    d.record_cpu_execution()
    d.record_cpu_execution()
    stats = d.stats()
    assert (stats.cpu_count, stats.gpu_count, stats.total()) == (2, 1, 3)
    assert stats.gpu_ratio() == pytest.approx(1 / 3)
    with pytest.raises(rk.RingKernelError):
        HybridDispatcher(HybridConfig(learning_rate=0.0))
    with pytest.raises(rk.RingKernelError):
        HybridDispatcher(HybridConfig(mode=ProcessingMode.GpuOnly, gpu_available=False))


def test_adaptive_threshold_learns():
    d = HybridDispatcher(HybridConfig.adaptive())
    assert d.adaptive_threshold == 10000
    # GPU faster below the threshold: the threshold moves down towards 5000.
    for _ in range(50):
        d.update_adaptive_threshold(workload_size=5000, cpu_time_ms=100.0, gpu_time_ms=10.0)
    assert 5000 <= d.adaptive_threshold < 6000
    assert d.should_use_gpu(7000)
    with pytest.raises(rk.RingKernelError):
        d.update_adaptive_threshold(workload_size=0, cpu_time_ms=1.0, gpu_time_ms=1.0)
    with pytest.raises(rk.RingKernelError):
        d.update_adaptive_threshold(workload_size=10, cpu_time_ms=float("nan"), gpu_time_ms=1.0)


def test_resource_guard():
    guard = ResourceGuard(max_memory_bytes=4 * 1024**3, safety_margin=0.1)
    assert guard.max_memory == 4 * 1024**3
    limit = int(4 * 1024**3 * 0.9)
    requested = 1_000_000
    assert guard.can_allocate(requested)
    guard.record_allocation(requested)
    assert guard.current_memory == requested
    assert guard.available_memory() == limit - requested
    assert guard.utilization() == pytest.approx(requested / limit)
    guard.record_deallocation(requested)
    assert guard.current_memory == 0
    with pytest.raises(rk.RingKernelError):
        guard.record_deallocation(1)
    assert not guard.can_allocate(limit + 1)
    assert guard.max_safe_elements(bytes_per_element=8) == limit // 8
    assert ResourceGuard.unguarded().can_allocate(2**63)
    assert ResourceGuard.default().max_memory > 0
    with pytest.raises(rk.RingKernelError):
        ResourceGuard(max_memory_bytes=0)


def test_reservation_context_manager():
    guard = ResourceGuard(max_memory_bytes=10_000_000, safety_margin=0.0)
    with guard.reserve(1_000_000) as reservation:
        assert reservation.bytes == 1_000_000 and reservation.active
        assert guard.reserved_memory == 1_000_000
    assert guard.reserved_memory == 0 and guard.current_memory == 0  # released on exit
    with pytest.raises(ZeroDivisionError):
        with guard.reserve(500):
            1 / 0
    assert guard.reserved_memory == 0  # released on exception too
    with guard.reserve(2_000_000) as r:
        r.commit()
    assert guard.current_memory == 2_000_000 and guard.reserved_memory == 0
    with pytest.raises(MemoryLimitError) as e:
        guard.reserve(9_000_000)
    assert e.value.code == rk.ErrorCode.MemoryLimit


def test_memory_estimate_and_validate():
    estimate = MemoryEstimate(primary_bytes=1_000_000, auxiliary_bytes=500_000, peak_bytes=2_000_000, confidence=0.9)
    assert estimate.total_bytes() == 1_500_000 and estimate.required_bytes() == 2_000_000
    ResourceGuard(max_memory_bytes=3_000_000, safety_margin=0.0).validate(estimate)
    with pytest.raises(MemoryLimitError):
        ResourceGuard(max_memory_bytes=1_900_000, safety_margin=0.0).validate(estimate)
    with pytest.raises(ValueError):
        MemoryEstimate(confidence=1.5)


def test_runtime_charges_queues_to_guard():
    tiny = ResourceGuard(max_memory_bytes=4096, safety_margin=0.0)
    with rk.RingKernel.create_sync(backend="cpu", resource_guard=tiny) as rt:
        with pytest.raises(MemoryLimitError):
            rt.launch_sync("big", lambda b: b, rk.LaunchOptions().with_queue_capacity(1 << 16))
    assert rk.estimate_queue_memory(rk.LaunchOptions()).total_bytes() > 0


def test_queue_monitor():
    monitor = QueueMonitor(warning_threshold=0.75, critical_threshold=0.90)
    assert QueueMonitor.default().warning_threshold == 0.75
    assert monitor.utilization(depth=800, capacity=1000) == pytest.approx(0.8)
    assert monitor.check_health(depth=800, capacity=1000) == QueueHealth.Warning
    assert monitor.check_health(depth=100, capacity=1000) == QueueHealth.Healthy
    assert monitor.check_health(depth=950, capacity=1000) == QueueHealth.Critical
    with pytest.raises(rk.RingKernelError):
        monitor.utilization(depth=1, capacity=0)
    with pytest.raises(rk.RingKernelError):
        QueueMonitor(warning_threshold=0.9, critical_threshold=0.5)
    suggested = monitor.suggest_upgrade(depth=900, capacity=1000, current_tier=QueueTier.Medium)
    assert suggested == QueueTier.Large
    assert monitor.suggest_upgrade(depth=10, capacity=1000, current_tier=QueueTier.Medium) is None


def test_queue_tiers():
    assert [t.capacity for t in (QueueTier.Small, QueueTier.Medium, QueueTier.Large, QueueTier.ExtraLarge)] == [
        256, 1024, 4096, 16384]
    assert QueueTier.Medium.upgrade() == QueueTier.Large
    assert QueueTier.Large.downgrade() == QueueTier.Medium
    assert QueueTier.ExtraLarge.upgrade() == QueueTier.ExtraLarge
    assert QueueTier.Small.downgrade() == QueueTier.Small
    tier = QueueTier.for_throughput(messages_per_second=10000, headroom_ms=100)  # 1000 messages
    assert tier == QueueTier.Medium
    assert str(tier) == "Medium" and repr(tier) == "QueueTier.Medium"
    with pytest.raises(rk.RingKernelError):
        QueueTier.for_throughput(messages_per_second=-1, headroom_ms=100)


def test_queue_metrics_of_a_kernel():
    with rk.RingKernel.create_sync(backend="cpu") as rt:
        k = rt.launch_sync("q", lambda b: b, rk.LaunchOptions().with_queue_capacity(256).without_auto_activate())
        k.send_many_sync([b"x"] * 200)
        stats = rk.QueueStats.from_status(k.status())
        assert stats.depth == 200 and stats.capacity == 256
        m = QueueMonitor().metrics_for("q", stats)
        assert m.health == QueueHealth.Warning and m.tier == QueueTier.Small and m.suggested_tier == QueueTier.Medium
