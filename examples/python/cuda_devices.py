#!/usr/bin/python3
"""CUDA devices from Python: what ringkernel.cuda reports, on any machine.

Three cases, each printed and checked:
  * the extension was built without CUDA: `import ringkernel.cuda` raises ImportError;
  * built with CUDA, no usable device: "no CUDA device", and CudaDevice(0) raises CudaError
    naming the CUDA call that failed;
  * a device: every device's name, compute capability, memory and persistent/cooperative
    support, then CudaDevice(0).synchronize().
The memory pool and stream presets are printed in the last two cases (they need no device).

Run from a build tree:  PYTHONPATH=build/python /usr/bin/python3 examples/python/cuda_devices.py
"""
import ringkernel as rk


def main() -> None:
    try:
        from ringkernel import cuda
    except ImportError as e:
        print(f"ringkernel.cuda: {e}")
        assert not rk.is_cuda_available()
        return

    pool = cuda.PyGpuPoolConfig.minimal()
    print(f"pool minimal: classes {pool.size_classes[0]} B .. {pool.size_classes[-1] >> 20} MiB, "
          f"max pool bytes {pool.max_pool_bytes >> 20} MiB, track allocations {pool.track_allocations}")
    assert pool.size_classes[0] == 256 and pool.max_pool_bytes == 64 << 20
    stream = cuda.PyStreamConfig.performance()
    print(f"stream performance: high priority {stream.high_priority}, spin {stream.spin_before_sleep_us} us, "
          f"{stream.num_compute_streams} compute stream, transfer stream {stream.use_transfer_stream}")
    assert stream.high_priority and stream.spin_before_sleep_us == 1000

    count = cuda.cuda_device_count()
    if count == 0:
        print("no CUDA device: cuda_device_count() == 0, enumerate_devices() == []")
        assert cuda.enumerate_devices() == [] and not rk.is_cuda_available()
        try:
            cuda.CudaDevice(0)
        except rk.CudaError as e:
            print(f"CudaDevice(0) raised CudaError: {e.call} -> {e.error_name}")
            assert e.call == "cudaGetDeviceCount"
        else:
            raise AssertionError("CudaDevice(0) without a device did not raise")
        return

    print(f"CUDA devices: {count} (ringkernel.is_cuda_available(): {rk.is_cuda_available()})")
    devices = cuda.enumerate_devices()
    assert len(devices) == count
    for info in devices:
        print(f"  {info.ordinal}: {info.name} (CC {info.compute_capability})")
        print(f"    Memory: {info.total_memory / 1e9:.1f} GB, {info.sm_count} SMs")
        print(f"    Persistent: {info.supports_persistent}, cooperative: {info.supports_cooperative}")
        assert info.name and info.total_memory > 0 and info.sm_count > 0
    device = cuda.PyCudaDevice(ordinal=0)
    print(f"Device 0: {device.name}, {device.total_memory_mb():.0f} MB")
    device.synchronize()
    print("synchronized")


if __name__ == "__main__":
    main()
