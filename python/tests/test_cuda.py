"""ringkernel.cuda (ringkernel_cuda.hpp sections C2, C3) and the CUDA backend in the extension.

Skipped as a whole when the extension was built without CUDA (then ringkernel.cuda must not
exist: test_built_without_cuda in test_runtime.py checks that). The no-GPU tests run wherever
the extension has CUDA and no device is usable (CI has nvcc but no GPU); the GPU tests skip
there with the reason, and run on a GPU machine.
"""
import importlib

import pytest

import ringkernel as rk
from ringkernel import CudaError, ErrorCode, KernelError, RingKernelError

if not hasattr(rk._core, "cuda"):
    pytest.skip("ringkernel was built without CUDA (no nvcc, or -Dcuda=disabled): ringkernel.cuda is absent",
                allow_module_level=True)

from ringkernel import cuda  # noqa: E402

HAVE_GPU = cuda.cuda_device_count() > 0
needs_gpu = pytest.mark.skipif(not HAVE_GPU, reason="no CUDA device (cuda_device_count() == 0)")
needs_no_gpu = pytest.mark.skipif(HAVE_GPU, reason="a CUDA device is present: the no-device behaviour is not observable")

MiB = 1 << 20


def test_submodule_is_the_extension_one():
    assert importlib.import_module("ringkernel.cuda") is cuda
    assert cuda.CudaDevice is rk._core.cuda.CudaDevice
    # the seed's names are aliases of the plain ones
    assert cuda.PyCudaDevice is cuda.CudaDevice
    assert cuda.PyCudaDeviceInfo is cuda.DeviceInfo
    assert cuda.PyGpuPoolConfig is cuda.GpuPoolConfig
    assert cuda.PyGpuPoolDiagnostics is cuda.GpuPoolDiagnostics
    assert cuda.PyGpuSizeClass is cuda.GpuSizeClass
    assert cuda.PyStreamConfig is cuda.StreamConfig
    for name in cuda.__all__:
        assert (getattr(cuda, name).__doc__ or "").strip(), f"ringkernel.cuda.{name} has no docstring"


# ---- without a GPU ------------------------------------------------------------------------------

@needs_no_gpu
def test_no_device_queries():
    assert cuda.cuda_device_count() == 0
    assert cuda.enumerate_devices() == []
    assert cuda.is_cuda_available() is False
    assert rk.is_cuda_available() is False


@needs_no_gpu
def test_no_device_cuda_device_raises_cuda_error_naming_the_call():
    with pytest.raises(CudaError) as e:
        cuda.CudaDevice(0)
    assert isinstance(e.value, RingKernelError)
    assert e.value.code == ErrorCode.CudaFailure
    assert e.value.call == "cudaGetDeviceCount"
    assert "cudaGetDeviceCount failed" in str(e.value)
    assert e.value.error_name.startswith("cudaError") and e.value.error_name in str(e.value)
    assert e.value.cuda_error != 0 and f"({e.value.cuda_error})" in str(e.value)
    with pytest.raises(CudaError):
        cuda.PyCudaDevice(ordinal=0)  # the seed's spelling


@needs_no_gpu
def test_no_device_cuda_runtime_raises_cuda_error():
    with pytest.raises(CudaError) as e:
        rk.RingKernel.create_sync(backend="cuda")
    assert e.value.code == ErrorCode.CudaFailure
    assert "cannot use device 0" in str(e.value) and "cudaGetDeviceCount" in str(e.value)
    assert e.value.call == "cudaGetDeviceCount"
    # "auto" is the CPU backend (Python kernels run on CPU threads)
    with rk.RingKernel.create_sync(backend="auto") as rt:
        assert rt.backend == rk.Backend.Cpu


@needs_no_gpu
def test_no_device_pool_with_preallocation_raises_cuda_error():
    # for_simulation reserves 2 blocks per class: creating the pool calls cudaMalloc, which fails.
    cuda.set_device_pool_config(7, cuda.GpuPoolConfig.for_simulation())
    with pytest.raises(CudaError) as e:
        cuda.device_pool_diagnostics(7)
    assert "(pool)" in e.value.call  # "cudaSetDevice (pool)" or "cudaMalloc (pool)"
    # the pool was not created, so its config may still change
    cuda.set_device_pool_config(7, cuda.GpuPoolConfig.minimal())


def test_pool_diagnostics_of_an_unused_pool_and_config_frozen_after_first_use():
    # minimal() reserves nothing, so the pool exists without touching the device.
    d = cuda.device_pool_diagnostics(6)
    assert isinstance(d, cuda.GpuPoolDiagnostics)
    assert [c.block_size for c in d.classes] == cuda.GpuPoolConfig.minimal().size_classes
    assert all(c.reserved_blocks == 0 and c.in_use_blocks == 0 and c.hits == 0 and c.misses == 0 for c in d.classes)
    assert (d.reserved_bytes, d.in_use_bytes, d.oversized_in_use, d.limit_refusals) == (0, 0, 0, 0)
    with pytest.raises(KernelError) as e:
        cuda.set_device_pool_config(6, cuda.GpuPoolConfig.for_graph_analytics())
    assert e.value.code == ErrorCode.InvalidState and "already in use" in str(e.value)
    with pytest.raises(RingKernelError) as e:
        cuda.set_device_pool_config(-1, cuda.GpuPoolConfig.minimal())
    assert e.value.code == ErrorCode.InvalidArgument


# ---- config presets: the numbers of ringkernel_cuda.hpp (section C8, GpuPoolConfig::*, StreamConfig::*)

def test_pool_presets():
    g = cuda.GpuPoolConfig.for_graph_analytics()  # 256 B .. 16 MiB by x4, 8 reserved, no cap
    assert g.size_classes == [256, 1024, 4096, 16384, 65536, 262144, 1 * MiB, 4 * MiB, 16 * MiB]
    assert (g.max_bytes, g.max_pool_bytes, g.preallocate_per_class) == (0, 0, 8)
    s = cuda.GpuPoolConfig.for_simulation()  # 4 KiB .. 64 MiB by x4, 2 reserved, no cap
    assert s.size_classes == [4096, 16384, 65536, 262144, 1 * MiB, 4 * MiB, 16 * MiB, 64 * MiB]
    assert (s.max_bytes, s.preallocate_per_class) == (0, 2)
    m = cuda.PyGpuPoolConfig.minimal()  # 256 B .. 1 MiB by x4, nothing reserved, 64 MiB cap
    assert m.size_classes == [256, 1024, 4096, 16384, 65536, 262144, 1 * MiB]
    assert (m.max_bytes, m.max_pool_bytes, m.preallocate_per_class) == (64 * MiB, 64 * MiB, 0)
    assert m.track_allocations is True
    for c in (g, s, m):
        c.validate()


def test_pool_config_is_a_value_and_validates():
    c = cuda.GpuPoolConfig.minimal()
    c.max_pool_bytes = 123 * 256
    assert c.max_bytes == 123 * 256
    assert cuda.GpuPoolConfig.minimal().max_bytes == 64 * MiB  # presets are fresh values
    c.size_classes = [256, 300]
    with pytest.raises(RingKernelError) as e:
        c.validate()
    assert e.value.code == ErrorCode.InvalidArgument and "300" in str(e.value)
    c.size_classes = [1024, 512]
    with pytest.raises(RingKernelError) as e:
        c.validate()
    assert "ascending" in str(e.value)
    with pytest.raises(RingKernelError) as e:
        cuda.GpuPoolConfig().validate()
    assert "no size classes" in str(e.value)
    with pytest.raises(AttributeError):
        c.track_allocations = False  # type: ignore[misc]


def test_stream_presets():
    p = cuda.StreamConfig.performance()
    assert (p.high_priority, p.non_blocking, p.spin_before_sleep_us, p.sleep_interval_us) == (True, True, 1000, 1)
    m = cuda.StreamConfig.minimal()
    assert (m.high_priority, m.non_blocking, m.spin_before_sleep_us, m.sleep_interval_us) == (False, True, 0, 100)
    s = cuda.PyStreamConfig.for_simulation()
    assert (s.high_priority, s.non_blocking, s.spin_before_sleep_us, s.sleep_interval_us) == (True, True, 100, 50)
    d = cuda.StreamConfig()
    assert (d.high_priority, d.non_blocking, d.spin_before_sleep_us, d.sleep_interval_us) == (False, True, 50, 20)
    for c in (p, m, s, d):  # what the backend does, the same for every config
        assert (c.num_compute_streams, c.use_transfer_stream, c.enable_graph_capture) == (1, False, False)
    d.sleep_interval_us = 7
    assert d.sleep_interval_us == 7 and "sleep_interval_us=7" in repr(d)
    with pytest.raises(ValueError):
        d.spin_before_sleep_us = -1


def test_device_info_value_type():
    i = cuda.DeviceInfo()
    assert (i.ordinal, i.name, i.total_memory, i.sm_count, i.supports_persistent) == (0, "", 0, 0, False)
    i.compute_major, i.compute_minor = 9, 0
    i.sm_count = 132
    assert i.compute_capability == "9.0" and i.multiprocessor_count == 132
    assert "compute_capability='9.0'" in repr(i)


# ---- with a GPU ---------------------------------------------------------------------------------

@needs_gpu
def test_gpu_enumerate_devices():
    devs = cuda.enumerate_devices()
    assert len(devs) == cuda.cuda_device_count() > 0
    for n, d in enumerate(devs):
        assert d.ordinal == n and d.name
        assert d.compute_major >= 3 and d.compute_capability == f"{d.compute_major}.{d.compute_minor}"
        assert d.total_memory > 256 * MiB and d.sm_count > 0 and d.max_threads_per_block >= 256
    assert cuda.is_cuda_available() is True


@needs_gpu
def test_gpu_cuda_device():
    dev = cuda.PyCudaDevice(ordinal=0)
    info = cuda.enumerate_devices()[0]
    assert dev.ordinal == 0 and dev.name == info.name and dev.compute_capability == info.compute_capability
    assert dev.total_memory == info.total_memory
    assert dev.total_memory_mb() == pytest.approx(info.total_memory / MiB)
    assert dev.supports_persistent_kernels() == info.supports_persistent
    assert dev.supports_cooperative_groups() == info.supports_cooperative
    assert dev.resident_kernels() == 0
    dev.make_current()
    dev.synchronize()
    with pytest.raises(RingKernelError) as e:
        cuda.CudaDevice(cuda.cuda_device_count())
    assert e.value.code == ErrorCode.InvalidArgument and "out of range" in str(e.value)


@needs_gpu
def test_gpu_cuda_runtime_refuses_python_kernels():
    if not rk.is_cuda_available():
        pytest.skip("device 0 cannot run this extension's code (built for another -arch?)")
    with rk.RingKernel.create_sync(backend="cuda") as rt:
        assert rt.backend == rk.Backend.Cuda
        with pytest.raises(KernelError) as e:
            rt.launch_sync("py_on_cuda", lambda b: b)
        assert e.value.code == ErrorCode.BackendUnavailable
    with rk.RingKernel.create_sync() as rt:  # "auto" stays on the CPU, where Python kernels run
        assert rt.backend == rk.Backend.Cpu
