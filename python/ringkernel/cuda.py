"""CUDA devices, the device memory pool's settings and diagnostics, and stream settings
(ringkernel_cuda.hpp sections C2 and C3).

Present only when the extension was built with nvcc (the repository's build with nvcc on PATH,
or ``pip install ./python`` where nvcc is found); otherwise importing it raises ImportError
saying so. Built with CUDA, it works on any machine: without a driver or device
``cuda_device_count()`` is 0, ``enumerate_devices()`` is ``[]`` and ``CudaDevice(0)`` raises
:class:`ringkernel.CudaError` (its ``call`` attribute is ``'cudaGetDeviceCount'``).

``compute_capability`` (of DeviceInfo and CudaDevice) is text, ``'major.minor'`` such as
``'9.0'``, as the seed's ``f"CC {info.compute_capability}"`` prints it; compare
``(compute_major, compute_minor)`` to order capabilities. The ``Py``-prefixed names
(``PyCudaDevice``, ``PyGpuPoolConfig``, ...) are aliases kept for code written against the
seed's API. ``GpuPoolConfig.track_allocations`` and ``StreamConfig.num_compute_streams``,
``use_transfer_stream``, ``enable_graph_capture`` are read-only: they report what the backend
does (always counts, one stream per kernel, no copy stream, no graph capture), not settings.
"""
from . import _core

if not hasattr(_core, "cuda"):
    raise ImportError(
        "ringkernel.cuda is not available: this ringkernel extension was built without CUDA "
        "(nvcc was not found, or the build was configured with -Dcuda=disabled); "
        "ringkernel.is_cuda_available() is False")

from ._core.cuda import (  # noqa: E402,F401
    CudaDevice,
    DeviceInfo,
    GpuPoolConfig,
    GpuPoolDiagnostics,
    GpuSizeClass,
    PyCudaDevice,
    PyCudaDeviceInfo,
    PyGpuPoolConfig,
    PyGpuPoolDiagnostics,
    PyGpuSizeClass,
    PyStreamConfig,
    StreamConfig,
    cuda_device_count,
    device_pool_diagnostics,
    enumerate_devices,
    is_cuda_available,
    set_device_pool_config,
)

__all__ = [
    "CudaDevice", "DeviceInfo", "GpuPoolConfig", "GpuPoolDiagnostics", "GpuSizeClass", "StreamConfig",
    "PyCudaDevice", "PyCudaDeviceInfo", "PyGpuPoolConfig", "PyGpuPoolDiagnostics", "PyGpuSizeClass",
    "PyStreamConfig", "cuda_device_count", "device_pool_diagnostics", "enumerate_devices",
    "is_cuda_available", "set_device_pool_config",
]
