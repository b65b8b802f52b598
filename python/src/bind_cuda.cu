// ringkernel._core.cuda (Python `ringkernel.cuda`): devices, the device memory pool's settings and
// diagnostics, and stream settings of ringkernel_cuda.hpp (sections C2 and C3). The extension's
// one nvcc translation unit, built only where Meson finds nvcc: it also holds ringkernel_cuda.hpp's
// implementation (RINGKERNEL_CUDA_IMPLEMENTATION; the core's is in rk_impl.cpp), whose static
// registrar registers Backend::Cuda when the extension is loaded, so `ringkernel.is_cuda_available()`
// and RingKernel.create_sync(backend="cuda") probe a real device.
//
// The seed's names (PyCudaDevice, PyGpuPoolConfig, ...) are aliases of the plain ones. Fields the
// seed names that ringkernel has no setting for (GpuPoolConfig.track_allocations,
// StreamConfig.num_compute_streams / use_transfer_stream / enable_graph_capture) are read-only
// properties that report what the backend does.
#define RINGKERNEL_CUDA_IMPLEMENTATION
#include "bindings.hpp"
#include "ringkernel_cuda.hpp"

#include <cstdio>

namespace rkpy {
namespace rk = ringkernel;
namespace rkc = ringkernel::cuda;
using namespace pybind11::literals;

namespace {

std::string capability(int major, int minor) { return std::to_string(major) + "." + std::to_string(minor); }

std::string info_repr(const rkc::DeviceInfo& d) {
  return "DeviceInfo(ordinal=" + std::to_string(d.ordinal) + ", name='" + d.name + "', compute_capability='" +
         capability(d.compute_major, d.compute_minor) + "', total_memory=" + std::to_string(d.total_memory) +
         ", sm_count=" + std::to_string(d.sm_count) + ", supports_persistent=" + (d.supports_persistent ? "True" : "False") +
         ", supports_cooperative=" + (d.supports_cooperative ? "True" : "False") + ")";
}

std::int64_t to_us(std::chrono::microseconds v) { return static_cast<std::int64_t>(v.count()); }
std::chrono::microseconds from_us(std::int64_t v, const char* what) {
  if (v < 0) throw py::value_error(std::string(what) + " must be >= 0 microseconds, got " + std::to_string(v));
  return std::chrono::microseconds(v);
}

}  // namespace

void bind_cuda(py::module_& m) {
  // CudaCallError carries the failed call, CUDA's error number and its name: raised as
  // ringkernel.CudaError (the core's translator, bind_core.cpp) with those as attributes. pybind11
  // tries the translators registered last first, so this one sees CudaCallError before the core's.
  static PyObject* exc_cuda = m.attr("CudaError").ptr();  // the core's type, kept alive by _core
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const rkc::CudaCallError& e) {
      py::object inst = py::reinterpret_borrow<py::object>(exc_cuda)(e.what());
      inst.attr("code") = py::cast(e.code());
      inst.attr("call") = py::str(e.call());
      inst.attr("cuda_error") = py::int_(e.cuda_error());
      inst.attr("error_name") = py::str(e.error_name());
      PyErr_SetObject(exc_cuda, inst.ptr());
    }
  });

  py::module_ c = m.def_submodule(
      "cuda",
      "CUDA devices, device memory pool and stream settings (ringkernel_cuda.hpp sections C2, C3). Present only "
      "when the extension was built with nvcc; every query works without a GPU (no device: count 0, empty list).");

  c.def("cuda_device_count", &rkc::cuda_device_count,
        "Number of CUDA devices the driver reports; 0 when there is no driver or device (never raises).");
  c.def("is_cuda_available", &rkc::is_cuda_available,
        "True when the driver reports at least one CUDA device (never raises). ringkernel.is_cuda_available() "
        "is stricter: it also checks that device 0 can run this extension's code.");
  c.def(
      "enumerate_devices",
      []() {
        py::gil_scoped_release nogil;
        return rkc::enumerate_devices();
      },
      "Every CUDA device's DeviceInfo, in ordinal order; [] without a driver or device. Raises CudaError if a "
      "device the driver reported cannot be queried.");

  py::class_<rkc::DeviceInfo> info(c, "DeviceInfo", "What one CUDA device offers (value type).");
  info.def(py::init<>(), "All fields zero / empty / False (enumerate_devices() and CudaDevice.info fill them).")
      .def_readwrite("ordinal", &rkc::DeviceInfo::ordinal, "The device's ordinal (CudaDevice(ordinal)).")
      .def_readwrite("name", &rkc::DeviceInfo::name, "The device's name, e.g. 'NVIDIA H200'.")
      .def_readwrite("compute_major", &rkc::DeviceInfo::compute_major, "Compute capability, major (9 for H100/H200).")
      .def_readwrite("compute_minor", &rkc::DeviceInfo::compute_minor, "Compute capability, minor.")
      .def_property_readonly(
          "compute_capability", [](const rkc::DeviceInfo& d) { return capability(d.compute_major, d.compute_minor); },
          "Compute capability as text, 'major.minor' (e.g. '9.0'); compare (compute_major, compute_minor) for order.")
      .def_readwrite("total_memory", &rkc::DeviceInfo::total_memory, "Bytes of device memory.")
      .def_readwrite("sm_count", &rkc::DeviceInfo::sm_count, "Streaming multiprocessors.")
      .def_property_readonly(
          "multiprocessor_count", [](const rkc::DeviceInfo& d) { return d.sm_count; }, "Same as sm_count.")
      .def_readwrite("max_threads_per_block", &rkc::DeviceInfo::max_threads_per_block, "Most threads in one block.")
      .def_readwrite("can_map_host_memory", &rkc::DeviceInfo::can_map_host_memory,
                     "Pinned host memory can be mapped into the device (the backend's rings need it).")
      .def_readwrite("host_native_atomics", &rkc::DeviceInfo::host_native_atomics,
                     "hostNativeAtomicSupported (reported; ringkernel does not need it).")
      .def_readwrite("kernel_timeout", &rkc::DeviceInfo::kernel_timeout,
                     "A display watchdog limits kernel run time (then no persistent kernels).")
      .def_readwrite("supports_persistent", &rkc::DeviceInfo::supports_persistent,
                     "Mapped host memory, unified addressing, compute capability >= 7.0 and no watchdog: a kernel "
                     "may stay resident.")
      .def_readwrite("supports_cooperative", &rkc::DeviceInfo::supports_cooperative,
                     "Cooperative (grid-wide synchronized) launches are available.")
      .def("__repr__", &info_repr);
  c.attr("PyCudaDeviceInfo") = info;

  py::class_<rkc::CudaDevice> dev(c, "CudaDevice", "A CUDA device by ordinal (cheap, thread-safe).");
  dev.def(py::init([](int ordinal) {
            py::gil_scoped_release nogil;
            return rkc::CudaDevice(ordinal);
          }),
          "ordinal"_a = 0,
          "Selects device `ordinal`. CudaError (with .call == 'cudaGetDeviceCount') when there is no driver or "
          "device, RingKernelError(code=InvalidArgument) for an ordinal out of range, CudaError when the device "
          "cannot be queried.")
      .def_property_readonly("ordinal", &rkc::CudaDevice::ordinal, "The ordinal.")
      .def_property_readonly("info", &rkc::CudaDevice::info, "The device's DeviceInfo (a copy).")
      .def_property_readonly(
          "name", [](const rkc::CudaDevice& d) { return d.info().name; }, "The device's name.")
      .def_property_readonly(
          "compute_capability",
          [](const rkc::CudaDevice& d) { return capability(d.info().compute_major, d.info().compute_minor); },
          "Compute capability as text, 'major.minor' (e.g. '9.0').")
      .def_property_readonly(
          "total_memory", [](const rkc::CudaDevice& d) { return d.info().total_memory; }, "Bytes of device memory.")
      .def(
          "total_memory_mb", [](const rkc::CudaDevice& d) { return static_cast<double>(d.info().total_memory) / (1024.0 * 1024.0); },
          "Device memory in MiB (bytes / 2**20), as a float.")
      .def(
          "supports_persistent_kernels", [](const rkc::CudaDevice& d) { return d.info().supports_persistent; },
          "DeviceInfo.supports_persistent: a kernel may stay resident on this device.")
      .def(
          "supports_cooperative_groups", [](const rkc::CudaDevice& d) { return d.info().supports_cooperative; },
          "DeviceInfo.supports_cooperative: grid-wide synchronized launches are available.")
      .def(
          "make_current",
          [](const rkc::CudaDevice& d) {
            py::gil_scoped_release nogil;
            d.make_current();
          },
          "Makes this device current on the calling thread (cudaSetDevice); CudaError on failure.")
      .def(
          "synchronize",
          [](const rkc::CudaDevice& d) {
            py::gil_scoped_release nogil;
            d.synchronize();
          },
          "Waits for all work on the device (GIL released). KernelError(code=InvalidState) while this process "
          "runs a persistent kernel on it (it never finishes); CudaError if the device reports an error.")
      .def("resident_kernels", &rkc::CudaDevice::resident_kernels,
           "Persistent kernels of this process now resident on the device.")
      .def("__repr__", [](const rkc::CudaDevice& d) {
        return "CudaDevice(ordinal=" + std::to_string(d.ordinal()) + ", name='" + d.info().name + "')";
      });
  c.attr("PyCudaDevice") = dev;

  py::class_<rkc::GpuPoolConfig> pool(
      c, "GpuPoolConfig",
      "Settings of the device memory pool: size classes (ascending, multiples of 256 bytes), a cap on the bytes "
      "it may hold (0: none) and blocks reserved per class up front (value type).");
  pool.def(py::init<>(), "No size classes (validate() refuses it until some are set).")
      .def_readwrite("size_classes", &rkc::GpuPoolConfig::size_classes,
                     "Block sizes in bytes, strictly ascending, each a positive multiple of 256 (a list; assign a "
                     "new list to change it).")
      .def_readwrite("max_bytes", &rkc::GpuPoolConfig::max_bytes, "Cap on reserved bytes (in use + free); 0: no cap.")
      .def_property(
          "max_pool_bytes", [](const rkc::GpuPoolConfig& p) { return p.max_bytes; },
          [](rkc::GpuPoolConfig& p, std::size_t v) { p.max_bytes = v; }, "Same as max_bytes (the seed's name).")
      .def_readwrite("preallocate_per_class", &rkc::GpuPoolConfig::preallocate_per_class,
                     "Blocks of every class reserved when the pool is created.")
      .def_property_readonly(
          "track_allocations", [](const rkc::GpuPoolConfig&) { return true; },
          "Always True: the pool always counts blocks in use, hits and misses per class (see "
          "device_pool_diagnostics); there is no setting to turn that off.")
      .def_static("for_graph_analytics", &rkc::GpuPoolConfig::for_graph_analytics,
                  "Many small buffers and some large ones: classes 256 B .. 16 MiB (x4 steps), 8 blocks per class "
                  "reserved, no cap.")
      .def_static("for_simulation", &rkc::GpuPoolConfig::for_simulation,
                  "Fewer, larger field buffers: classes 4 KiB .. 64 MiB (x4 steps), 2 per class reserved, no cap.")
      .def_static("minimal", &rkc::GpuPoolConfig::minimal,
                  "Smallest footprint: classes 256 B .. 1 MiB (x4 steps), nothing reserved, 64 MiB cap (the "
                  "backend's default).")
      .def("validate", &rkc::GpuPoolConfig::validate,
           "RingKernelError(code=InvalidArgument) naming the problem: no classes, one not a positive multiple of "
           "256, or not strictly ascending.")
      .def("__repr__", [](const rkc::GpuPoolConfig& p) {
        return "GpuPoolConfig(size_classes=" + py::repr(py::cast(p.size_classes)).cast<std::string>() +
               ", max_bytes=" + std::to_string(p.max_bytes) +
               ", preallocate_per_class=" + std::to_string(p.preallocate_per_class) + ")";
      });
  c.attr("PyGpuPoolConfig") = pool;

  py::class_<rkc::PoolDiagnostics::SizeClass> sc(c, "GpuSizeClass", "Counters of one size class of the device pool.");
  sc.def_readonly("block_size", &rkc::PoolDiagnostics::SizeClass::block_size, "The class's block size in bytes.")
      .def_readonly("reserved_blocks", &rkc::PoolDiagnostics::SizeClass::reserved_blocks,
                    "Blocks obtained from cudaMalloc and not released.")
      .def_readonly("in_use_blocks", &rkc::PoolDiagnostics::SizeClass::in_use_blocks, "Blocks handed out now.")
      .def_readonly("hits", &rkc::PoolDiagnostics::SizeClass::hits, "Allocations served from the free list.")
      .def_readonly("misses", &rkc::PoolDiagnostics::SizeClass::misses, "Allocations that went to cudaMalloc.");
  c.attr("PyGpuSizeClass") = sc;

  py::class_<rkc::PoolDiagnostics> diag(c, "GpuPoolDiagnostics", "Per-class and total counters of the device pool.");
  diag.def_readonly("classes", &rkc::PoolDiagnostics::classes, "One GpuSizeClass per size class, ascending.")
      .def_readonly("reserved_bytes", &rkc::PoolDiagnostics::reserved_bytes, "All classes plus oversized blocks.")
      .def_readonly("in_use_bytes", &rkc::PoolDiagnostics::in_use_bytes, "Bytes in use, by block size.")
      .def_readonly("oversized_in_use", &rkc::PoolDiagnostics::oversized_in_use,
                    "Requests above the largest class now in use (allocated directly).")
      .def_readonly("limit_refusals", &rkc::PoolDiagnostics::limit_refusals, "Allocations refused by max_bytes.");
  c.attr("PyGpuPoolDiagnostics") = diag;

  c.def(
      "device_pool_diagnostics",
      [](int ordinal) {
        py::gil_scoped_release nogil;
        return rkc::device_pool(ordinal).diagnostics();
      },
      "ordinal"_a = 0,
      "Counters of the pool the backend takes device memory from on device `ordinal` (handler state, K2K rings). "
      "Creates that pool if it does not exist yet, with the config set_device_pool_config() chose or else "
      "GpuPoolConfig.minimal(); after that the config can no longer change. CudaError when reserving the "
      "config's preallocated blocks fails (e.g. no device).");
  c.def("set_device_pool_config", &rkc::set_device_pool_config, "ordinal"_a, "config"_a,
        "Chooses the config of device `ordinal`'s pool before its first use. KernelError(code=InvalidState) once "
        "that pool exists, RingKernelError(code=InvalidArgument) for an invalid config.");

  py::class_<rkc::StreamConfig> stream(c, "StreamConfig",
                                       "How the backend creates its CUDA streams and how host threads wait on "
                                       "them (value type).");
  stream.def(py::init<>(), "Normal priority, non-blocking, spin 50 us then sleep 20 us between polls.")
      .def_readwrite("high_priority", &rkc::StreamConfig::high_priority, "Streams get the device's greatest priority.")
      .def_readwrite("non_blocking", &rkc::StreamConfig::non_blocking,
                     "No implicit synchronization with the legacy default stream.")
      .def_property(
          "spin_before_sleep_us", [](const rkc::StreamConfig& s) { return to_us(s.spin_before_sleep); },
          [](rkc::StreamConfig& s, std::int64_t v) { s.spin_before_sleep = from_us(v, "spin_before_sleep_us"); },
          "Microseconds a waiting host thread spins before it sleeps (0: sleep at once).")
      .def_property(
          "sleep_interval_us", [](const rkc::StreamConfig& s) { return to_us(s.sleep_interval); },
          [](rkc::StreamConfig& s, std::int64_t v) { s.sleep_interval = from_us(v, "sleep_interval_us"); },
          "Microseconds slept between polls once the spin is over.")
      .def_property_readonly(
          "num_compute_streams", [](const rkc::StreamConfig&) { return 1; },
          "Always 1: each CUDA kernel runs on one stream of its own (not a setting).")
      .def_property_readonly(
          "use_transfer_stream", [](const rkc::StreamConfig&) { return false; },
          "Always False: messages travel through pinned, mapped host memory, so there is no copy stream.")
      .def_property_readonly(
          "enable_graph_capture", [](const rkc::StreamConfig&) { return false; },
          "Always False: a persistent kernel is launched once, so nothing is captured into CUDA graphs.")
      .def_static("performance", &rkc::StreamConfig::performance,
                  "Lowest latency: high priority, non-blocking, spin 1000 us then sleep 1 us (the backend's default).")
      .def_static("minimal", &rkc::StreamConfig::minimal,
                  "Least host CPU: normal priority, non-blocking, no spin, sleep 100 us between polls.")
      .def_static("for_simulation", &rkc::StreamConfig::for_simulation,
                  "Long simulation steps: high priority, non-blocking, spin 100 us then sleep 50 us.")
      .def("__repr__", [](const rkc::StreamConfig& s) {
        return std::string("StreamConfig(high_priority=") + (s.high_priority ? "True" : "False") +
               ", non_blocking=" + (s.non_blocking ? "True" : "False") +
               ", spin_before_sleep_us=" + std::to_string(to_us(s.spin_before_sleep)) +
               ", sleep_interval_us=" + std::to_string(to_us(s.sleep_interval)) + ")";
      });
  c.attr("PyStreamConfig") = stream;
}

}  // namespace rkpy
