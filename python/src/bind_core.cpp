// Errors, HLC, messages, the runtime, kernels written in Python, K2K.
//
// Threads and the GIL: every call that can wait in C++ (send under Block backpressure,
// receive, lifecycle changes, launch, shutdown) releases the GIL. A kernel written in Python
// runs on the C++ worker thread of its kernel and takes the GIL only while Python code runs
// (its handler, or its loop between waits). Python objects owned by C++ (handlers) are
// released under the GIL, and leaked on purpose once the interpreter is finalizing. Every
// runtime is shut down by an atexit hook, before finalization, so no worker thread ever
// needs the GIL of a dead interpreter.
#include <mutex>
#include <optional>
#include <set>
#include <vector>

#include <pybind11/operators.h>

#include "bindings.hpp"

namespace rkpy {
namespace rk = ringkernel;
namespace detail = ringkernel::detail;
using namespace pybind11::literals;

// ---- errors ---------------------------------------------------------------------------------
namespace {
PyObject* exc_base = nullptr;
PyObject* exc_kernel = nullptr;
PyObject* exc_memory = nullptr;
PyObject* exc_cuda = nullptr;
PyObject* exc_vulkan = nullptr;

void set_error(PyObject* type, const rk::Error& e) {
  py::object inst = py::reinterpret_borrow<py::object>(type)(e.what());
  inst.attr("code") = py::cast(e.code());
  PyErr_SetObject(type, inst.ptr());
}
}  // namespace

void bind_errors(py::module_& m) {
  py::enum_<rk::ErrorCode>(m, "ErrorCode", "Machine-readable cause of a RingKernelError (its `code`).")
      .value("Ok", rk::ErrorCode::Ok)
      .value("InvalidArgument", rk::ErrorCode::InvalidArgument)
      .value("InvalidMessage", rk::ErrorCode::InvalidMessage)
      .value("InvalidTopic", rk::ErrorCode::InvalidTopic)
      .value("ClockDrift", rk::ErrorCode::ClockDrift)
      .value("QueueFull", rk::ErrorCode::QueueFull)
      .value("Timeout", rk::ErrorCode::Timeout)
      .value("NotActive", rk::ErrorCode::NotActive)
      .value("KernelNotFound", rk::ErrorCode::KernelNotFound)
      .value("InvalidState", rk::ErrorCode::InvalidState)
      .value("KernelFault", rk::ErrorCode::KernelFault)
      .value("MemoryLimit", rk::ErrorCode::MemoryLimit)
      .value("BackendUnavailable", rk::ErrorCode::BackendUnavailable)
      .value("CudaFailure", rk::ErrorCode::CudaFailure)
      .value("VulkanFailure", rk::ErrorCode::VulkanFailure)
      .value("Closed", rk::ErrorCode::Closed)
      .value("Internal", rk::ErrorCode::Internal);

  // Created once and kept for the process's life (never freed: a static py::object would be
  // destroyed after the interpreter).
  exc_base = PyErr_NewExceptionWithDoc("ringkernel.RingKernelError",
                                       "Base of every error ringkernel raises; `code` is an ErrorCode.",
                                       PyExc_Exception, nullptr);
  exc_kernel = PyErr_NewExceptionWithDoc("ringkernel.KernelError",
                                         "A kernel lifecycle or handler error (illegal transition, fault, not found, "
                                         "not accepting messages).",
                                         exc_base, nullptr);
  exc_memory = PyErr_NewExceptionWithDoc("ringkernel.MemoryLimitError",
                                         "A ResourceGuard refused an allocation (code MemoryLimit).", exc_base, nullptr);
  exc_cuda = PyErr_NewExceptionWithDoc("ringkernel.CudaError", "A CUDA call failed (code CudaFailure).", exc_base,
                                       nullptr);
  exc_vulkan = PyErr_NewExceptionWithDoc("ringkernel.VulkanError", "A Vulkan call failed (code VulkanFailure).",
                                         exc_base, nullptr);
  m.attr("RingKernelError") = py::reinterpret_borrow<py::object>(exc_base);
  m.attr("KernelError") = py::reinterpret_borrow<py::object>(exc_kernel);
  m.attr("MemoryLimitError") = py::reinterpret_borrow<py::object>(exc_memory);
  m.attr("CudaError") = py::reinterpret_borrow<py::object>(exc_cuda);
  m.attr("VulkanError") = py::reinterpret_borrow<py::object>(exc_vulkan);

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const rk::MemoryLimitError& e) {
      set_error(exc_memory, e);
    } catch (const rk::CudaError& e) {
      set_error(exc_cuda, e);
    } catch (const rk::VulkanError& e) {
      set_error(exc_vulkan, e);
    } catch (const rk::KernelError& e) {
      set_error(exc_kernel, e);
    } catch (const rk::Error& e) {
      set_error(exc_base, e);
    }
  });
}

struct PyRuntime;

// ---- helpers ----------------------------------------------------------------------------------
namespace {

py::bytes to_pybytes(const std::uint8_t* data, std::size_t size) {
  return py::bytes(reinterpret_cast<const char*>(data), size);
}

py::int_ uint128_to_int(rk::Uint128 v) {
  std::uint8_t buf[16];
  v.to_bytes(buf);
  return py::reinterpret_steal<py::int_>(
      py::module_::import("builtins").attr("int").attr("from_bytes")(to_pybytes(buf, 16), "big").release());
}

rk::Uint128 int_to_uint128(const py::int_& v) {
  if (PyObject_RichCompareBool(v.ptr(), py::int_(0).ptr(), Py_LT) == 1)
    throw py::value_error("a packed HLC timestamp is an unsigned 128-bit integer, got a negative one");
  py::object bytes;
  try {
    bytes = v.attr("to_bytes")(16, "big");
  } catch (py::error_already_set&) {
    throw py::value_error("a packed HLC timestamp is an unsigned 128-bit integer; this one needs more than 128 bits");
  }
  const std::string s = bytes.cast<std::string>();
  return rk::Uint128::from_bytes(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

std::string ts_repr(const rk::HlcTimestamp& t) {
  return "HlcTimestamp(physical=" + std::to_string(t.physical) + ", logical=" + std::to_string(t.logical) +
         ", node_id=" + std::to_string(t.node_id) + ")";
}

rk::Backend parse_backend(const py::object& b) {
  if (py::isinstance<rk::Backend>(b)) return b.cast<rk::Backend>();
  std::string s = py::str(b).cast<std::string>();
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s == "auto") return rk::Backend::Auto;
  if (s == "cpu") return rk::Backend::Cpu;
  if (s == "cuda") return rk::Backend::Cuda;
  if (s == "vulkan") return rk::Backend::Vulkan;
  throw py::value_error("backend must be 'auto', 'cpu', 'cuda' or 'vulkan' (or a Backend), got '" + s + "'");
}

/// Text of the Python exception being handled (type, message, traceback), for a kernel fault.
std::string describe(py::error_already_set& e) {
  std::string what = e.what();
  return "Python handler raised " + what;
}

/// Fills `p` with the bytes of a handler's result.
void fill_packet(detail::Packet& p, const py::handle& obj, std::uint64_t type_id) {
  ByteView v(obj);
  if (v.size() > UINT32_MAX) throw py::value_error("message larger than 4 GiB");
  p.type_id = type_id;
  p.assign(v.data(), v.size());
}

// Every live runtime, so the atexit hook can shut them down before finalization.
std::mutex live_mu;
std::set<PyRuntime*> live;
}  // namespace

// ---- the runtime ------------------------------------------------------------------------------
/// A Runtime owned by Python. Shared (kernel handles and brokers keep it alive).
struct PyRuntime {
  std::optional<rk::Runtime> rt;
  explicit PyRuntime(rk::Runtime r) : rt(std::move(r)) {
    std::lock_guard<std::mutex> lk(live_mu);
    live.insert(this);
  }
  PyRuntime(const PyRuntime&) = delete;
  PyRuntime& operator=(const PyRuntime&) = delete;
  ~PyRuntime() {
    {
      std::lock_guard<std::mutex> lk(live_mu);
      live.erase(this);
    }
    if (PyGILState_Check()) {
      py::gil_scoped_release nogil;  // workers may need the GIL to finish their handler
      rt.reset();
    } else {
      rt.reset();
    }
  }
  rk::Runtime& get() {
    if (!rt) throw rk::Error(rk::ErrorCode::Closed, "the runtime was shut down");
    return *rt;
  }
  void shutdown() {
    if (!rt) return;
    py::gil_scoped_release nogil;
    rt->shutdown();
  }
};

namespace {
void shutdown_all() {
  std::vector<PyRuntime*> all;
  {
    std::lock_guard<std::mutex> lk(live_mu);
    all.assign(live.begin(), live.end());
  }
  for (PyRuntime* r : all) r->shutdown();
}
}  // namespace

/// A kernel handle plus the runtime it belongs to (kept alive) and its default priority.
struct PyKernel {
  rk::KernelHandle h;
  std::shared_ptr<PyRuntime> owner;
  rk::Priority priority;
};

/// KernelStatus plus the fault text of a faulted kernel.
struct PyKernelStatus : rk::KernelStatus {
  std::optional<std::string> fault;
};

// ---- kernels written in Python --------------------------------------------------------------
namespace {

/// Drops a Python reference from any thread: under the GIL, or leaked after finalization.
void release_py(py::object& o) noexcept {
  if (!o) return;
  if (python_alive()) {
    py::gil_scoped_acquire gil;
    o = py::object();
  } else {
    o.release();  // the interpreter is gone: leak rather than touch it
  }
}

/// A message handler: a Python callable bytes -> bytes-like | None, called once per message.
class PyHandlerBody final : public detail::KernelBody {
 public:
  PyHandlerBody(py::object fn, std::uint64_t output_type) : fn_(std::move(fn)), output_type_(output_type) {}
  ~PyHandlerBody() override { release_py(fn_); }
  void run(detail::KernelCore& core) override {
    // The GIL is held while Python runs and released around every C++ wait. One
    // gil_scoped_acquire for the worker's whole life keeps one Python thread state: making one
    // per message would cost several microseconds each.
    py::gil_scoped_acquire gil;
    detail::Packet in;
    for (;;) {
      rk::HlcTimestamp merged;
      bool got = false;
      {
        py::gil_scoped_release nogil;
        got = detail::core_next(core, in);
        if (got) detail::core_begin(core, in, merged);
      }
      if (!got) return;  // terminating
      detail::Packet out;
      bool has_out = false;
      std::string fault;
      try {
        py::object r = fn_(to_pybytes(in.data(), in.size));
        if (!r.is_none()) {
          fill_packet(out, r, output_type_);
          has_out = true;
        }
      } catch (py::error_already_set& e) {
        fault = describe(e);
      } catch (const std::exception& e) {
        fault = std::string("Python handler failed: ") + e.what();
      }
      py::gil_scoped_release nogil;
      if (!fault.empty()) {
        detail::core_fault(core, in, fault.c_str());
        return;  // faulted: this kernel stops, the runtime and other kernels go on
      }
      detail::core_done(core, in, has_out ? &out : nullptr);  // may wait for room in the outputs
    }
  }
  std::uint64_t input_type_id() const noexcept override { return 0; }
  std::size_t input_size() const noexcept override { return 0; }
  const char* handler_name() const noexcept override { return "Python message handler"; }

 private:
  py::object fn_;
  std::uint64_t output_type_;
};

/// A kernel written in C++ that answers every message with its payload: the reference that
/// bench/python_bench.py times a Python host against, with no Python on the kernel's side.
class NativeEchoBody final : public detail::KernelBody {
 public:
  void run(detail::KernelCore& core) override {
    detail::Packet in;
    while (detail::core_next(core, in)) {
      rk::HlcTimestamp merged;
      detail::core_begin(core, in, merged);
      detail::Packet out;
      out.type_id = in.type_id;
      out.assign(in.data(), in.size);
      detail::core_done(core, in, &out);
    }
  }
  std::uint64_t input_type_id() const noexcept override { return 0; }
  std::size_t input_size() const noexcept override { return 0; }
  const char* handler_name() const noexcept override { return "C++ echo"; }
};

}  // namespace

/// What a loop kernel's Python context refers to; valid only while its loop runs.
struct LoopState {
  rk::KernelContext* ctx = nullptr;  // null once the loop returned
  detail::KernelCore* core = nullptr;
  rk::K2KBroker* broker = nullptr;
  rk::PubSubBroker* pubsub = nullptr;
  std::string id;
  std::uint64_t last_correlation = 0;
  std::uint64_t output_type = 0;
  rk::KernelContext& get() const {
    if (ctx == nullptr)
      throw rk::KernelError(rk::ErrorCode::InvalidState,
                            "kernel context of '" + id + "' used after its loop returned");
    return *ctx;
  }
};

/// The C++ side of a loop kernel's context (ringkernel.KernelContext wraps it with awaitables).
struct PyLoopContext {
  std::shared_ptr<LoopState> s;
};

namespace {
/// A loop kernel: a Python callable(ctx) that runs the whole loop (ringkernel/__init__.py drives
/// an `async def` loop on an event loop of the kernel's own thread).
class PyLoopBody final : public detail::KernelBody {
 public:
  PyLoopBody(py::object runner, rk::K2KBroker* broker, rk::PubSubBroker* pubsub, std::uint64_t output_type)
      : runner_(std::move(runner)), broker_(broker), pubsub_(pubsub), output_type_(output_type) {}
  ~PyLoopBody() override { release_py(runner_); }
  void run(detail::KernelCore& core) override {
    rk::KernelContext kctx = detail::make_kernel_context(core);
    auto st = std::make_shared<LoopState>();
    st->ctx = &kctx;
    st->core = &core;
    st->broker = broker_;
    st->pubsub = pubsub_;
    st->id = kctx.kernel_id();
    st->output_type = output_type_;
    std::string fault;
    {
      py::gil_scoped_acquire gil;
      try {
        runner_(PyLoopContext{st});
      } catch (py::error_already_set& e) {
        fault = describe(e);
      } catch (const std::exception& e) {
        fault = std::string("Python loop kernel failed: ") + e.what();
      }
      st->ctx = nullptr;  // under the GIL: a context kept by Python code now refuses use
    }
    if (!fault.empty()) {
      detail::Packet none;
      detail::core_fault(core, none, fault.c_str());
    }
  }
  std::uint64_t input_type_id() const noexcept override { return 0; }
  std::size_t input_size() const noexcept override { return 0; }
  const char* handler_name() const noexcept override { return "Python loop kernel"; }

 private:
  py::object runner_;
  rk::K2KBroker* broker_;
  rk::PubSubBroker* pubsub_;
  std::uint64_t output_type_;
};

rk::MessageEnvelope make_envelope(const py::handle& data, std::uint64_t type_id, rk::Priority priority,
                                  std::uint64_t correlation = 0) {
  if (py::isinstance<rk::MessageEnvelope>(data)) return data.cast<rk::MessageEnvelope>();
  ByteView v(data);
  rk::MessageHeader h = rk::MessageHeader::create(type_id, 0, 0, v.size(), rk::HlcTimestamp{});
  h.priority = static_cast<std::uint8_t>(priority);
  h.correlation_id = correlation;
  return rk::MessageEnvelope(h, std::vector<std::uint8_t>(v.data(), v.data() + v.size()));
}

PyKernelStatus status_of(const rk::KernelHandle& h) {
  PyKernelStatus s;
  static_cast<rk::KernelStatus&>(s) = h.status();
  if (s.state == rk::KernelState::Faulted) {
    if (auto f = h.fault()) s.fault = f->what;
  }
  return s;
}

PyKernel launch_with(const std::shared_ptr<PyRuntime>& r, const std::string& id,
                     std::unique_ptr<detail::KernelBody> body, const rk::LaunchOptions& opts) {
  rk::Runtime& rt = r->get();
  py::gil_scoped_release nogil;  // the worker may start running Python at once
  rk::KernelHandle h = body ? rt.launch_body(id, std::move(body), opts) : rt.launch(id, opts);
  return PyKernel{h, r, opts.priority()};
}

rk::LaunchOptions opts_or_default(const py::object& o) {
  return o.is_none() ? rk::LaunchOptions{} : o.cast<rk::LaunchOptions>();
}

/// A K2K broker: the one of a runtime (RingKernel.k2k_broker()) or, built standalone, the broker
/// of a private runtime with no kernels (routes and statistics only).
struct PyBroker {
  std::shared_ptr<PyRuntime> owner;
  rk::K2KBroker& get() const { return owner->get().k2k_broker(); }
};

/// A runtime's pub/sub broker (RingKernel.pubsub()); keeps its runtime alive.
struct PyPubSub {
  std::shared_ptr<PyRuntime> owner;
  rk::PubSubBroker& get() const { return owner->get().pubsub(); }
};

}  // namespace

void bind_core(py::module_& m) {
  m.def("_shutdown_all", &shutdown_all, "Shuts down every live runtime (run by an atexit hook).");

  // ---- HLC ----
  py::class_<rk::HlcTimestamp>(m, "HlcTimestamp",
                               "A Hybrid Logical Clock timestamp, totally ordered by (physical, logical, node_id).\n"
                               "`physical` is microseconds since the Unix epoch. Immutable value.")
      .def(py::init([](std::uint64_t physical, std::uint32_t logical, std::uint32_t node_id) {
             return rk::HlcTimestamp{physical, logical, node_id};
           }),
           "physical"_a = 0, "logical"_a = 0, "node_id"_a = 0)
      .def_readonly("physical", &rk::HlcTimestamp::physical, "Microseconds since the Unix epoch.")
      .def_readonly("logical", &rk::HlcTimestamp::logical, "Counter within one physical value.")
      .def_readonly("node_id", &rk::HlcTimestamp::node_id, "The node that made it (tie-breaker).")
      .def_static("now", &rk::HlcTimestamp::now, "node_id"_a = 0, "The wall clock now, logical 0.")
      .def_static("zero", &rk::HlcTimestamp::zero, "The smallest timestamp (0, 0, 0).")
      .def("pack", [](const rk::HlcTimestamp& t) { return uint128_to_int(t.pack()); },
           "Lossless 128-bit form as an int (physical << 64 | logical << 32 | node_id); orders like the timestamp.")
      .def_static("unpack", [](const py::int_& v) { return rk::HlcTimestamp::unpack(int_to_uint128(v)); }, "packed"_a,
                  "Inverse of pack(); ValueError for a negative int or one above 128 bits.")
      .def("as_micros", &rk::HlcTimestamp::as_micros, "Physical time in microseconds since the epoch.")
      .def("as_millis", &rk::HlcTimestamp::as_millis, "Physical time in milliseconds since the epoch (truncated).")
      .def(py::self == py::self)
      .def(py::self != py::self)
      .def(py::self < py::self)
      .def(py::self <= py::self)
      .def(py::self > py::self)
      .def(py::self >= py::self)
      .def("__hash__", [](const rk::HlcTimestamp& t) {
        return py::hash(py::make_tuple(t.physical, t.logical, t.node_id));
      })
      .def("__repr__", &ts_repr);

  py::class_<rk::HlcClock>(m, "HlcClock",
                           "A Hybrid Logical Clock for one node. Thread-safe: every method may be called from any "
                           "thread.")
      .def(py::init([](std::uint32_t node_id, double max_drift_ms) {
             if (!(max_drift_ms >= 0) || std::isinf(max_drift_ms))
               throw py::value_error("max_drift_ms must be a finite number >= 0");
             return new rk::HlcClock(node_id, std::chrono::microseconds(static_cast<std::int64_t>(max_drift_ms * 1000)));
           }),
           "node_id"_a = 0, "max_drift_ms"_a = 60000.0,
           "A clock for `node_id` refusing remote timestamps more than `max_drift_ms` ahead of its wall clock.")
      .def("tick", &rk::HlcClock::tick, "The next timestamp: greater than every one this clock returned before.")
      .def("now", &rk::HlcClock::now, "The clock's current time without advancing it.")
      .def("update", &rk::HlcClock::update, "remote"_a,
           "Merges a received timestamp; returns one greater than `remote` and than everything before. "
           "RingKernelError(code=ClockDrift) when `remote` is too far ahead.")
      .def_property_readonly("node_id", &rk::HlcClock::node_id)
      .def_property_readonly("max_drift_ms",
                             [](const rk::HlcClock& c) { return static_cast<double>(c.max_drift().count()) / 1000.0; });

  // ---- messages ----
  py::enum_<rk::Priority>(m, "Priority", "Named message priorities; any int 0..255 is accepted where a priority is.")
      .value("Low", rk::Priority::Low)
      .value("Normal", rk::Priority::Normal)
      .value("High", rk::Priority::High)
      .value("Critical", rk::Priority::Critical);

  py::class_<rk::MessageHeader>(m, "MessageHeader",
                                "The fixed 256-byte header in front of every payload (little-endian wire layout).")
      .def(py::init<>())
      .def_static(
          "new",
          [](std::uint64_t type_id, std::uint64_t source_kernel, std::uint64_t dest_kernel, std::uint64_t payload_size,
             const py::object& timestamp) {
            const rk::HlcTimestamp ts = timestamp.is_none() ? rk::HlcTimestamp{} : timestamp.cast<rk::HlcTimestamp>();
            return rk::MessageHeader::create(type_id, source_kernel, dest_kernel, payload_size, ts);
          },
          "type_id"_a, "source_kernel"_a = 0, "dest_kernel"_a = 0, "payload_size"_a = 0, "timestamp"_a = py::none(),
          "A version-1 header with a fresh message id, Normal priority and no correlation.")
      .def_readonly("magic", &rk::MessageHeader::magic)
      .def_readonly("version", &rk::MessageHeader::version)
      .def_readwrite("type_id", &rk::MessageHeader::type_id)
      .def_readwrite("source_kernel", &rk::MessageHeader::source_kernel)
      .def_readwrite("dest_kernel", &rk::MessageHeader::dest_kernel)
      .def_readwrite("message_id", &rk::MessageHeader::message_id)
      .def_readwrite("correlation_id", &rk::MessageHeader::correlation_id)
      .def_readwrite("payload_size", &rk::MessageHeader::payload_size)
      .def_readwrite("timestamp", &rk::MessageHeader::timestamp)
      .def_readonly("checksum", &rk::MessageHeader::checksum, "CRC-32C over the header and payload (set by an envelope).")
      .def_property(
          "priority", [](const rk::MessageHeader& h) { return static_cast<int>(h.priority); },
          [](rk::MessageHeader& h, const py::object& p) { h.priority = static_cast<std::uint8_t>(to_priority(p)); },
          "0..255 (see Priority).")
      .def("to_bytes",
           [](const rk::MessageHeader& h) {
             return to_pybytes(reinterpret_cast<const std::uint8_t*>(&h), sizeof h);
           },
           "The 256 header bytes as on the wire.")
      .def("__repr__", [](const rk::MessageHeader& h) {
        return "MessageHeader(type_id=" + std::to_string(h.type_id) + ", source_kernel=" +
               std::to_string(h.source_kernel) + ", dest_kernel=" + std::to_string(h.dest_kernel) +
               ", payload_size=" + std::to_string(h.payload_size) + ", message_id=" + std::to_string(h.message_id) +
               ", priority=" + std::to_string(h.priority) + ", timestamp=" + ts_repr(h.timestamp) + ")";
      });

  py::class_<rk::MessageEnvelope>(m, "MessageEnvelope",
                                  "An immutable message: a header whose checksum covers it and the payload, plus the "
                                  "payload.")
      .def(py::init<>(), "An empty, valid message (type 0, no payload).")
      .def(py::init([](const rk::MessageHeader& h, const py::handle& payload) {
             ByteView v(payload);
             return rk::MessageEnvelope(h, std::vector<std::uint8_t>(v.data(), v.data() + v.size()));
           }),
           "header"_a, "payload"_a)
      .def_static(
          "from_bytes",
          [](const rk::MessageHeader& h, const py::handle& payload) {
            ByteView v(payload);
            return rk::MessageEnvelope(h, std::vector<std::uint8_t>(v.data(), v.data() + v.size()));
          },
          "header"_a, "payload"_a,
          "An envelope of `header` (its checksum is computed here) and the bytes-like `payload`. "
          "RingKernelError(code=InvalidMessage) when header.payload_size != len(payload).")
      .def_static(
          "from_raw_bytes",
          [](const py::handle& raw) {
            ByteView v(raw);
            return rk::MessageEnvelope::from_raw_bytes(v.data(), v.size());
          },
          "raw"_a,
          "Parses and fully validates a wire form (length, magic, version, sizes, checksum). "
          "RingKernelError(code=InvalidMessage) naming the first problem.")
      .def_property_readonly("header", &rk::MessageEnvelope::header)
      .def_property_readonly("payload",
                             [](const rk::MessageEnvelope& e) { return to_pybytes(e.payload().data(), e.payload().size()); })
      .def_property_readonly("total_size", &rk::MessageEnvelope::total_size, "256 + len(payload): len(to_bytes()).")
      .def("to_bytes",
           [](const rk::MessageEnvelope& e) {
             std::vector<std::uint8_t> b = e.to_bytes();
             return to_pybytes(b.data(), b.size());
           },
           "The wire form: 256 header bytes, then the payload.")
      .def("__len__", &rk::MessageEnvelope::total_size)
      .def("__repr__", [](const rk::MessageEnvelope& e) {
        return "MessageEnvelope(type_id=" + std::to_string(e.header().type_id) +
               ", payload_size=" + std::to_string(e.payload().size()) + ")";
      });

  // ---- kernel model ----
  py::enum_<rk::KernelState>(m, "KernelState", "Kernel lifecycle state.")
      .value("Created", rk::KernelState::Created)
      .value("Launched", rk::KernelState::Launched)
      .value("Active", rk::KernelState::Active)
      .value("Deactivated", rk::KernelState::Deactivated)
      .value("Terminating", rk::KernelState::Terminating)
      .value("Terminated", rk::KernelState::Terminated)
      .value("Faulted", rk::KernelState::Faulted);
  py::enum_<rk::KernelMode>(m, "KernelMode", "Persistent loop or (GPU backends) one launch per batch.")
      .value("Persistent", rk::KernelMode::Persistent)
      .value("EventDriven", rk::KernelMode::EventDriven);
  py::enum_<rk::Backend>(m, "Backend", "Where kernels run.")
      .value("Auto", rk::Backend::Auto)
      .value("Cpu", rk::Backend::Cpu)
      .value("Cuda", rk::Backend::Cuda)
      .value("Vulkan", rk::Backend::Vulkan);
  py::enum_<rk::BackpressureStrategy>(m, "BackpressureStrategy", "What a full inbox does with a new message.")
      .value("Block", rk::BackpressureStrategy::Block)
      .value("Reject", rk::BackpressureStrategy::Reject)
      .value("DropOldest", rk::BackpressureStrategy::DropOldest)
      .value("BLOCK", rk::BackpressureStrategy::Block)
      .value("REJECT", rk::BackpressureStrategy::Reject)
      .value("DROP_OLDEST", rk::BackpressureStrategy::DropOldest);
  py::enum_<rk::SendStatus>(m, "SendStatus", "Outcome of KernelHandle.try_send.")
      .value("Ok", rk::SendStatus::Ok)
      .value("QueueFull", rk::SendStatus::QueueFull)
      .value("NotActive", rk::SendStatus::NotActive)
      .value("KernelFaulted", rk::SendStatus::KernelFaulted)
      .value("TypeMismatch", rk::SendStatus::TypeMismatch)
      .value("TooLarge", rk::SendStatus::TooLarge)
      .value("ClockDrift", rk::SendStatus::ClockDrift);

  py::class_<rk::LaunchOptions>(m, "LaunchOptions",
                                "How to launch a kernel; builder methods validate at once (RingKernelError with "
                                "code InvalidArgument) and return the same object for chaining.")
      .def(py::init<>())
      .def("with_queue_capacity", &rk::LaunchOptions::with_queue_capacity, "capacity"_a,
           py::return_value_policy::reference_internal, "Inbox and output capacity: a power of two (default 1024).")
      .def("with_max_message_size", &rk::LaunchOptions::with_max_message_size, "size"_a,
           py::return_value_policy::reference_internal, "Largest payload in bytes (default 64 KiB).")
      .def("with_block_size", &rk::LaunchOptions::with_block_size, "threads"_a,
           py::return_value_policy::reference_internal, "GPU threads per block (the CPU backend ignores it).")
      .def("with_grid_size", &rk::LaunchOptions::with_grid_size, "blocks"_a,
           py::return_value_policy::reference_internal, "GPU blocks (the CPU backend ignores it).")
      .def("with_priority",
           [](rk::LaunchOptions& o, const py::object& p) -> rk::LaunchOptions& { return o.with_priority(to_priority(p)); },
           "priority"_a, py::return_value_policy::reference_internal, "Default priority of messages sent to it.")
      .def("with_backpressure", &rk::LaunchOptions::with_backpressure, "strategy"_a,
           py::return_value_policy::reference_internal, "What a full inbox does (default Block).")
      .def("with_k2k", &rk::LaunchOptions::with_k2k, "enabled"_a, py::return_value_policy::reference_internal,
           "Whether the kernel joins the K2K fabric (default True).")
      .def("with_mode", &rk::LaunchOptions::with_mode, "mode"_a, py::return_value_policy::reference_internal)
      .def("with_send_timeout",
           [](rk::LaunchOptions& o, double s) -> rk::LaunchOptions& {
             if (!(s >= 0) || std::isinf(s)) throw py::value_error("send timeout must be a finite number of seconds >= 0");
             return o.with_send_timeout(std::chrono::nanoseconds(static_cast<std::int64_t>(s * 1e9)));
           },
           "seconds"_a, py::return_value_policy::reference_internal,
           "How long a send waits for room under Block (default 30 s).")
      .def("without_auto_activate", &rk::LaunchOptions::without_auto_activate,
           py::return_value_policy::reference_internal, "Launch in state Launched (two-phase launch).")
      .def_property_readonly("queue_capacity", &rk::LaunchOptions::queue_capacity)
      .def_property_readonly("max_message_size", &rk::LaunchOptions::max_message_size)
      .def_property_readonly("block_size", &rk::LaunchOptions::block_size)
      .def_property_readonly("grid_size", &rk::LaunchOptions::grid_size)
      .def_property_readonly("priority", [](const rk::LaunchOptions& o) { return static_cast<int>(o.priority()); })
      .def_property_readonly("backpressure", &rk::LaunchOptions::backpressure)
      .def_property_readonly("k2k", &rk::LaunchOptions::k2k)
      .def_property_readonly("mode", &rk::LaunchOptions::mode)
      .def_property_readonly("send_timeout",
                             [](const rk::LaunchOptions& o) { return static_cast<double>(o.send_timeout().count()) / 1e9; })
      .def_property_readonly("auto_activate", &rk::LaunchOptions::auto_activate)
      .def("copy", [](const rk::LaunchOptions& o) { return rk::LaunchOptions(o); }, "An independent copy.");

  py::class_<PyKernelStatus>(m, "KernelStatus", "A kernel's counters at one moment (see KernelHandle.status()).")
      .def_readonly("id", &PyKernelStatus::id)
      .def_readonly("state", &PyKernelStatus::state)
      .def_readonly("mode", &PyKernelStatus::mode)
      .def_readonly("messages_received", &PyKernelStatus::messages_received)
      .def_readonly("messages_processed", &PyKernelStatus::messages_processed)
      .def_readonly("messages_dropped", &PyKernelStatus::messages_dropped)
      .def_readonly("messages_rejected", &PyKernelStatus::messages_rejected)
      .def_readonly("queue_capacity", &PyKernelStatus::queue_capacity)
      .def_readonly("queue_depth", &PyKernelStatus::queue_depth)
      .def_readonly("outputs_pending", &PyKernelStatus::outputs_pending)
      .def_readonly("outputs_dropped", &PyKernelStatus::outputs_dropped)
      .def_readonly("errors", &PyKernelStatus::errors)
      .def_readonly("min_latency_ns", &PyKernelStatus::min_latency_ns)
      .def_readonly("avg_latency_ns", &PyKernelStatus::avg_latency_ns)
      .def_readonly("max_latency_ns", &PyKernelStatus::max_latency_ns)
      .def_readonly("last_activity_us", &PyKernelStatus::last_activity_us)
      .def_readonly("fault", &PyKernelStatus::fault,
                    "For a Faulted kernel: what its handler raised (type, message, traceback); else None.")
      .def("__repr__", [](const PyKernelStatus& s) {
        return "KernelStatus(id='" + s.id + "', state=" + rk::to_string(s.state) +
               ", processed=" + std::to_string(s.messages_processed) + ", depth=" + std::to_string(s.queue_depth) +
               ", errors=" + std::to_string(s.errors) + ")";
      });

  py::class_<rk::RuntimeMetrics>(m, "RuntimeMetrics", "Runtime-wide counters.")
      .def_readonly("total_launched", &rk::RuntimeMetrics::total_launched)
      .def_readonly("active_kernels", &rk::RuntimeMetrics::active_kernels)
      .def_readonly("messages_in", &rk::RuntimeMetrics::messages_in)
      .def_readonly("messages_out", &rk::RuntimeMetrics::messages_out)
      .def_readonly("messages_dropped", &rk::RuntimeMetrics::messages_dropped)
      .def_readonly("faults", &rk::RuntimeMetrics::faults);

  // ---- K2K ----
  py::enum_<rk::DeliveryStatus>(m, "DeliveryStatus", "Outcome of one K2K delivery.")
      .value("Delivered", rk::DeliveryStatus::Delivered)
      .value("Pending", rk::DeliveryStatus::Pending)
      .value("NoRoute", rk::DeliveryStatus::NoRoute)
      .value("HopLimitExceeded", rk::DeliveryStatus::HopLimitExceeded)
      .value("Timeout", rk::DeliveryStatus::Timeout)
      .value("QueueFull", rk::DeliveryStatus::QueueFull)
      .value("NotActive", rk::DeliveryStatus::NotActive)
      .value("Rejected", rk::DeliveryStatus::Rejected)
      .def("is_success", [](rk::DeliveryStatus s) { return rk::is_success(s); }, "Delivered.")
      .def("is_pending", [](rk::DeliveryStatus s) { return rk::is_pending(s); }, "Pending.")
      .def("is_failure", [](rk::DeliveryStatus s) { return rk::is_failure(s); }, "Neither delivered nor pending.");

  py::class_<rk::DeliveryReceipt>(m, "DeliveryReceipt", "What happened to one K2K message.")
      .def_property_readonly("message_id", [](const rk::DeliveryReceipt& r) { return r.message_id.value; })
      .def_readonly("source", &rk::DeliveryReceipt::source)
      .def_readonly("destination", &rk::DeliveryReceipt::destination)
      .def_readonly("delivered_to", &rk::DeliveryReceipt::delivered_to)
      .def_readonly("status", &rk::DeliveryReceipt::status)
      .def_readonly("hops", &rk::DeliveryReceipt::hops)
      .def_readonly("timestamp", &rk::DeliveryReceipt::timestamp)
      .def_readonly("trace", &rk::DeliveryReceipt::trace)
      .def("is_success", &rk::DeliveryReceipt::is_success)
      .def("is_pending", &rk::DeliveryReceipt::is_pending)
      .def("is_failure", &rk::DeliveryReceipt::is_failure)
      .def("__repr__", [](const rk::DeliveryReceipt& r) {
        return "DeliveryReceipt(status=" + std::string(rk::to_string(r.status)) + ", destination='" + r.destination +
               "', delivered_to='" + r.delivered_to + "', hops=" + std::to_string(r.hops) + ")";
      });

  py::class_<rk::K2KConfig>(m, "K2KConfig", "K2K broker settings.")
      .def(py::init([](std::size_t max_pending_messages, std::uint64_t delivery_timeout_ms, bool enable_tracing,
                       std::uint32_t max_hops) {
             if (max_pending_messages == 0) throw py::value_error("max_pending_messages must be > 0");
             if (max_hops == 0) throw py::value_error("max_hops must be > 0");
             return rk::K2KConfig{max_pending_messages, delivery_timeout_ms, enable_tracing, max_hops};
           }),
           "max_pending_messages"_a = 4096, "delivery_timeout_ms"_a = 1000, "enable_tracing"_a = false,
           "max_hops"_a = 8)
      .def_static("default", &rk::K2KConfig::default_config, "The defaults.")
      .def_readonly("max_pending_messages", &rk::K2KConfig::max_pending_messages)
      .def_readonly("delivery_timeout_ms", &rk::K2KConfig::delivery_timeout_ms)
      .def_readonly("enable_tracing", &rk::K2KConfig::enable_tracing)
      .def_readonly("max_hops", &rk::K2KConfig::max_hops);

  py::class_<rk::K2KStats>(m, "K2KStats", "K2K counters at one moment.")
      .def_readonly("registered_endpoints", &rk::K2KStats::registered_endpoints)
      .def_readonly("messages_delivered", &rk::K2KStats::messages_delivered)
      .def_readonly("delivery_failures", &rk::K2KStats::delivery_failures)
      .def_readonly("routes_configured", &rk::K2KStats::routes_configured)
      .def_readonly("in_flight", &rk::K2KStats::in_flight);

  py::class_<PyRuntime, std::shared_ptr<PyRuntime>> runtime(m, "_Runtime", "The C++ runtime (see ringkernel.RingKernel).");

  py::class_<PyBroker>(m, "K2KBroker",
                       "Kernel-to-kernel delivery between the kernels of one runtime. Get a runtime's broker with "
                       "RingKernel.k2k_broker(); K2KBroker(config) makes a broker of its own, empty runtime "
                       "(routes and statistics, no endpoints). Thread-safe.")
      .def(py::init([](const py::object& config) {
             rk::RuntimeConfig rc;
             if (!config.is_none()) rc.k2k = config.cast<rk::K2KConfig>();
             return PyBroker{std::make_shared<PyRuntime>(rk::Runtime::builder().backend(rk::Backend::Cpu).config(rc).build())};
           }),
           "config"_a = py::none())
      .def_property_readonly("config", [](const PyBroker& b) { return b.get().config(); })
      .def("registered_kernels", [](const PyBroker& b) { return b.get().registered_kernels(); },
           "Ids of the kernels reachable now, in launch order.")
      .def("is_registered", [](const PyBroker& b, const std::string& id) { return b.get().is_registered(id); }, "kernel_id"_a)
      .def("add_route",
           [](const PyBroker& b, const std::string& destination, const std::string& next_hop) {
             b.get().add_route(destination, next_hop);
           },
           "destination"_a, "next_hop"_a, "Messages for `destination` go on to `next_hop`.")
      .def("remove_route", [](const PyBroker& b, const std::string& d) { return b.get().remove_route(d); }, "destination"_a)
      .def("routes", [](const PyBroker& b) { return b.get().routes(); }, "Every route as (destination, next_hop).")
      .def(
          "send",
          [](const PyBroker& b, const std::string& source, const std::string& destination, const py::object& message,
             std::uint64_t type_id) {
            rk::MessageEnvelope e = make_envelope(message, type_id, rk::Priority::Normal);
            py::gil_scoped_release nogil;
            return b.get().send(source, destination, e);
          },
          "source"_a, "destination"_a, "message"_a, "type_id"_a = 0,
          "Delivers `message` (bytes-like or a MessageEnvelope) from `source` to `destination`; never raises "
          "for delivery failures: see the receipt.")
      .def("stats", [](const PyBroker& b) { return b.get().stats(); });

  py::class_<rk::PubSubStats>(m, "PubSubStats", "Pub/sub counters at one moment.")
      .def_readonly("subscriptions", &rk::PubSubStats::subscriptions, "Active subscriptions.")
      .def_readonly("messages_published", &rk::PubSubStats::messages_published, "publish() calls accepted.")
      .def_readonly("deliveries", &rk::PubSubStats::deliveries, "Messages put into subscribers' inboxes.")
      .def_readonly("delivery_failures", &rk::PubSubStats::delivery_failures,
                    "Subscribers that could not take one (full, terminated, wrong type).")
      .def_readonly("unmatched", &rk::PubSubStats::unmatched, "Publishes no subscription matched.");

  py::class_<PyPubSub>(m, "PubSubBroker",
                       "Topic pub/sub between the kernels of one runtime (RingKernel.pubsub()). Topics are MQTT-style: "
                       "levels split by '/', '+' (or '*') matches one level, a final '#' any number. A publish goes into "
                       "the inbox of every kernel holding a matching subscription, once per kernel. Bad topics raise "
                       "RingKernelError(code=InvalidTopic). Thread-safe.")
      .def(
          "subscribe",
          [](const PyPubSub& b, const std::string& filter, const std::string& kernel_id) {
            return b.get().subscribe(rk::Topic(filter), kernel_id).value;
          },
          "filter"_a, "kernel_id"_a,
          "Subscribes kernel `kernel_id` to `filter`; returns the subscription id. KernelError(KernelNotFound) for an "
          "unknown kernel, RingKernelError(QueueFull) beyond PubSubConfig.max_subscriptions.")
      .def(
          "unsubscribe", [](const PyPubSub& b, std::uint64_t id) { return b.get().unsubscribe(rk::SubscriptionId{id}); },
          "subscription_id"_a, "Removes one subscription; False if unknown.")
      .def(
          "unsubscribe_all", [](const PyPubSub& b, const std::string& kernel_id) { return b.get().unsubscribe_all(kernel_id); },
          "kernel_id"_a, "Removes every subscription of `kernel_id`; returns how many.")
      .def(
          "subscriptions",
          [](const PyPubSub& b) {
            std::vector<std::tuple<std::uint64_t, std::string, std::string>> out;
            for (const auto& t : b.get().subscriptions())
              out.emplace_back(std::get<0>(t).value, std::get<1>(t).str(), std::get<2>(t));
            return out;
          },
          "Every subscription as (id, filter, kernel_id).")
      .def(
          "publish",
          [](const PyPubSub& b, const std::string& topic, const std::string& sender, const py::object& message,
             std::uint64_t type_id) {
            const rk::Topic t(topic);
            rk::MessageEnvelope e = make_envelope(message, type_id, rk::Priority::Normal);
            py::gil_scoped_release nogil;  // a full Block-strategy subscriber makes it wait (delivery_timeout)
            return b.get().publish(t, sender, e);
          },
          "topic"_a, "sender"_a, "message"_a, "type_id"_a = 0,
          "Publishes `message` (bytes-like or a MessageEnvelope) on `topic` (a name, not a filter) as `sender`; "
          "returns how many kernels got it. Subscribers that could not take it count in stats().delivery_failures.")
      .def("stats", [](const PyPubSub& b) { return b.get().stats(); });

  // ---- runtime ----
  runtime
      .def_static(
          "create",
          [](const py::object& backend, std::uint32_t node_id, const py::object& k2k,
             const py::object& guard, double spin_before_park_us, int device) {
            rk::RuntimeConfig rc;
            if (!k2k.is_none()) rc.k2k = k2k.cast<rk::K2KConfig>();
            if (!guard.is_none()) rc.resource_guard = guard.cast<std::shared_ptr<rk::ResourceGuard>>();
            if (!(spin_before_park_us >= 0) || spin_before_park_us > 1e9)
              throw py::value_error("spin_before_park_us must be in [0, 1e9]");
            rc.spin_before_park = std::chrono::microseconds(static_cast<std::int64_t>(spin_before_park_us));
            rk::Backend b = parse_backend(backend);
            // Every kernel this extension launches (Python handlers and loops, C++ kernels
            // registered with RINGKERNEL_KERNEL, the native echo) runs on CPU worker threads: a
            // CUDA or Vulkan runtime refuses them (KernelError(BackendUnavailable)). So "auto"
            // is the CPU backend here, with or without a GPU; "cuda" still builds a CUDA runtime
            // (the device is checked, CudaError if unusable), which can launch none of them.
            if (b == rk::Backend::Auto) b = rk::Backend::Cpu;
            std::optional<rk::Runtime> built;
            {
              py::gil_scoped_release nogil;
              built.emplace(rk::Runtime::builder().backend(b).node_id(node_id).device(device).config(rc).build());
            }
            return std::make_shared<PyRuntime>(std::move(*built));
          },
          "backend"_a = "auto", "node_id"_a = 0, "k2k_config"_a = py::none(), "resource_guard"_a = py::none(),
          "spin_before_park_us"_a = 50.0, "device"_a = 0)
      .def("launch_registered",
           [](const std::shared_ptr<PyRuntime>& r, const std::string& name, const py::object& o) {
             return launch_with(r, name, nullptr, opts_or_default(o));
           },
           "name"_a, "options"_a = py::none(), "Launches a kernel registered in C++ (RINGKERNEL_KERNEL).")
      .def("launch_handler",
           [](const std::shared_ptr<PyRuntime>& r, const std::string& id, py::object fn, const py::object& o,
              std::uint64_t output_type) {
             if (!PyCallable_Check(fn.ptr())) throw py::type_error("a message handler must be callable");
             return launch_with(r, id, std::unique_ptr<detail::KernelBody>(new PyHandlerBody(std::move(fn), output_type)),
                                opts_or_default(o));
           },
           "kernel_id"_a, "handler"_a, "options"_a = py::none(), "output_type_id"_a = 0)
      .def("launch_loop",
           [](const std::shared_ptr<PyRuntime>& r, const std::string& id, py::object runner, const py::object& o,
              std::uint64_t output_type) {
             if (!PyCallable_Check(runner.ptr())) throw py::type_error("a loop runner must be callable");
             rk::K2KBroker* broker = &r->get().k2k_broker();
             rk::PubSubBroker* pubsub = &r->get().pubsub();
             return launch_with(
                 r, id, std::unique_ptr<detail::KernelBody>(new PyLoopBody(std::move(runner), broker, pubsub, output_type)),
                 opts_or_default(o));
           },
           "kernel_id"_a, "runner"_a, "options"_a = py::none(), "output_type_id"_a = 0)
      .def("launch_native_echo",
           [](const std::shared_ptr<PyRuntime>& r, const std::string& id, const py::object& o) {
             return launch_with(r, id, std::unique_ptr<detail::KernelBody>(new NativeEchoBody()), opts_or_default(o));
           },
           "kernel_id"_a, "options"_a = py::none(),
           "Launches a kernel written in C++ that answers each message with its payload (a benchmark reference: "
           "no Python runs on the kernel's side).")
      .def("kernel",
           [](const std::shared_ptr<PyRuntime>& r, const std::string& id) {
             rk::KernelHandle h = r->get().kernel(id);
             return PyKernel{h, r, rk::Priority::Normal};
           },
           "kernel_id"_a)
      .def("list_kernels", [](PyRuntime& r) { return r.get().list_kernels(); })
      .def("metrics", [](PyRuntime& r) { return r.get().metrics(); })
      .def_property_readonly("backend", [](PyRuntime& r) { return r.get().backend(); })
      .def_property_readonly("clock", [](PyRuntime& r) -> rk::HlcClock& { return r.get().clock(); },
                             py::return_value_policy::reference_internal)
      .def("k2k_broker", [](const std::shared_ptr<PyRuntime>& r) { r->get(); return PyBroker{r}; })
      .def("pubsub", [](const std::shared_ptr<PyRuntime>& r) { r->get(); return PyPubSub{r}; })
      .def("shutdown", &PyRuntime::shutdown);

  // ---- kernel handle ----
  py::class_<PyKernel>(m, "KernelHandle",
                       "A launched kernel. Copies refer to the same kernel; thread-safe. Methods that can wait "
                       "release the GIL; their asyncio forms are added by the ringkernel package.")
      .def_property_readonly("id", [](const PyKernel& k) { return k.h.id(); })
      .def_property_readonly("state", [](const PyKernel& k) { return k.h.state(); })
      .def("is_active", [](const PyKernel& k) { return k.h.is_active(); })
      .def("status", [](const PyKernel& k) { return status_of(k.h); }, "Counters and latency now, plus the fault text.")
      .def(
          "send_sync",
          [](PyKernel& k, const py::handle& data, const py::object& priority, std::uint64_t type_id) {
            rk::MessageEnvelope e = make_envelope(data, type_id, priority.is_none() ? k.priority : to_priority(priority));
            py::gil_scoped_release nogil;
            k.h.send_envelope(e);
          },
          "data"_a, "priority"_a = py::none(), "type_id"_a = 0,
          "Sends a bytes-like message (or a MessageEnvelope). Raises RingKernelError(QueueFull) when full under "
          "Reject or Block timed out, KernelError(NotActive/KernelFault) when it accepts no messages.")
      .def(
          "try_send",
          [](PyKernel& k, const py::handle& data, const py::object& priority, std::uint64_t type_id,
             const py::object& timeout) {
            rk::MessageEnvelope e = make_envelope(data, type_id, priority.is_none() ? k.priority : to_priority(priority));
            const bool bounded = !timeout.is_none();
            const auto t = bounded ? to_timeout(timeout) : std::chrono::nanoseconds::zero();
            py::gil_scoped_release nogil;
            return bounded ? k.h.try_send_envelope(e, t) : k.h.try_send_envelope(e);
          },
          "data"_a, "priority"_a = py::none(), "type_id"_a = 0, "timeout"_a = py::none(),
          "Like send_sync, but returns a SendStatus. `timeout` (seconds) bounds the wait for room in a full "
          "Block-strategy inbox (0: never wait; None: the launch's send_timeout); QueueFull when there was "
          "no room in time, counted in status().messages_rejected like every refusal.")
      .def(
          "send_many_sync",
          [](PyKernel& k, const py::iterable& items, const py::object& priority, std::uint64_t type_id) {
            const rk::Priority p = priority.is_none() ? k.priority : to_priority(priority);
            std::vector<rk::MessageEnvelope> es;
            for (py::handle it : items) es.push_back(make_envelope(it, type_id, p));
            py::gil_scoped_release nogil;
            for (const auto& e : es) k.h.send_envelope(e);
            return es.size();
          },
          "items"_a, "priority"_a = py::none(), "type_id"_a = 0,
          "Sends every message of `items` in order, releasing the GIL once; returns how many.")
      .def(
          "receive_sync",
          [](PyKernel& k, const py::object& timeout) -> py::object {
            const auto t = to_timeout(timeout);
            std::optional<rk::MessageEnvelope> e;
            {
              py::gil_scoped_release nogil;
              e = k.h.receive_envelope(t);
            }
            if (!e) return py::none();
            return to_pybytes(e->payload().data(), e->payload().size());
          },
          "timeout"_a = py::none(), "The next output's payload as bytes, or None after `timeout` seconds.")
      .def(
          "request_sync",
          [](PyKernel& k, const py::handle& data, const py::object& timeout) -> py::object {
            rk::MessageEnvelope e = make_envelope(data, 0, k.priority);
            const auto t = to_timeout(timeout);
            std::optional<rk::MessageEnvelope> r;
            {
              py::gil_scoped_release nogil;  // once for both halves: no GIL hand-off in between
              k.h.send_envelope(e);
              r = k.h.receive_envelope(t);
            }
            if (!r) return py::none();
            return to_pybytes(r->payload().data(), r->payload().size());
          },
          "data"_a, "timeout"_a = py::none(),
          "send_sync(data) then receive_sync(timeout) with the GIL released once: a host round trip. The "
          "reply is the kernel's next output, so use it where this caller is the kernel's only reader.")
      .def(
          "receive_envelope_sync",
          [](PyKernel& k, const py::object& timeout) {
            const auto t = to_timeout(timeout);
            py::gil_scoped_release nogil;
            return k.h.receive_envelope(t);
          },
          "timeout"_a = py::none(), "The next output as a MessageEnvelope, or None after `timeout` seconds.")
      .def("activate_sync", [](PyKernel& k) { py::gil_scoped_release nogil; k.h.activate(); },
           "Launched/Deactivated -> Active; KernelError(InvalidState) otherwise.")
      .def("deactivate_sync", [](PyKernel& k) { py::gil_scoped_release nogil; k.h.deactivate(); },
           "Active -> Deactivated (messages wait); KernelError(InvalidState) otherwise.")
      .def("terminate_sync", [](PyKernel& k) { py::gil_scoped_release nogil; k.h.terminate(); },
           "Stops the kernel after the message in hand. Idempotent.")
      .def(
          "drain_unprocessed",
          [](PyKernel& k) {
            std::vector<rk::MessageEnvelope> v;
            {
              py::gil_scoped_release nogil;
              v = k.h.drain_unprocessed();
            }
            return v;
          },
          "After terminate: the messages never processed, as envelopes.")
      .def("__repr__", [](const PyKernel& k) {
        return "KernelHandle(id='" + k.h.id() + "', state=" + rk::to_string(k.h.state()) + ")";
      });

  // ---- loop kernel context ----
  py::class_<PyLoopContext>(m, "_LoopContext", "C++ side of ringkernel.KernelContext.")
      .def_property_readonly("kernel_id", [](const PyLoopContext& c) { return c.s->id; })
      .def_property_readonly("should_terminate", [](const PyLoopContext& c) { return c.s->get().should_terminate(); })
      .def_property_readonly("is_active", [](const PyLoopContext& c) { return c.s->get().is_active(); })
      .def("wait_active",
           [](const PyLoopContext& c, const py::object& timeout) {
             rk::KernelContext& ctx = c.s->get();
             const auto t = to_timeout(timeout);
             py::gil_scoped_release nogil;
             return ctx.wait_active(t);
           },
           "timeout"_a = py::none())
      .def("receive_envelope",
           [](const PyLoopContext& c, const py::object& timeout) {
             rk::KernelContext& ctx = c.s->get();
             const auto t = to_timeout(timeout);
             std::optional<rk::MessageEnvelope> e;
             {
               py::gil_scoped_release nogil;
               e = ctx.receive_envelope(t);
             }
             if (e) c.s->last_correlation = e->header().correlation_id;
             return e;
           },
           "timeout"_a = py::none())
      .def("receive",
           [](const PyLoopContext& c, const py::object& timeout) -> py::object {
             rk::KernelContext& ctx = c.s->get();
             const auto t = to_timeout(timeout);
             std::optional<rk::MessageEnvelope> e;
             {
               py::gil_scoped_release nogil;
               e = ctx.receive_envelope(t);
             }
             if (!e) return py::none();
             c.s->last_correlation = e->header().correlation_id;
             return to_pybytes(e->payload().data(), e->payload().size());
           },
           "timeout"_a = py::none())
      .def("send",
           [](const PyLoopContext& c, const py::handle& data, const py::object& type_id, const py::object& priority) {
             c.s->get();
             detail::Packet p;
             fill_packet(p, data, type_id.is_none() ? c.s->output_type : type_id.cast<std::uint64_t>());
             if (!priority.is_none()) p.priority = static_cast<std::uint8_t>(to_priority(priority));
             py::gil_scoped_release nogil;  // a full output queue blocks until the host receives
             detail::core_emit(*c.s->core, std::move(p), c.s->last_correlation);
           },
           "data"_a, "type_id"_a = py::none(), "priority"_a = py::none())
      .def("send_to_kernel",
           [](const PyLoopContext& c, const std::string& destination, const py::handle& data, std::uint64_t type_id) {
             c.s->get();
             rk::MessageEnvelope e = make_envelope(data, type_id, rk::Priority::Normal);
             py::gil_scoped_release nogil;
             return c.s->broker->send(c.s->id, destination, e);
           },
           "destination"_a, "data"_a, "type_id"_a = 0)
      .def("publish",
           [](const PyLoopContext& c, const std::string& topic, const py::handle& data, std::uint64_t type_id) {
             c.s->get();
             const rk::Topic t(topic);
             rk::MessageEnvelope e = make_envelope(data, type_id, rk::Priority::Normal);
             py::gil_scoped_release nogil;
             return c.s->pubsub->publish(t, c.s->id, e);
           },
           "topic"_a, "data"_a, "type_id"_a = 0,
           "Publishes `data` on `topic` as this kernel (RingKernel.pubsub()); returns how many kernels got it.")
      .def("now", [](const PyLoopContext& c) { return c.s->get().now(); })
      .def_property_readonly("last_source_kernel", [](const PyLoopContext& c) { return c.s->get().last_source_kernel(); });

  m.def(
      "is_cuda_available",
      []() {
        auto p = rk::find_backend_provider(rk::Backend::Cuda);
        if (!p) return false;
        try {
          return p->probe(0).empty();
        } catch (const std::exception&) {
          return false;
        }
      },
      "Whether this extension has the CUDA backend and device 0 is usable: built with CUDA (ringkernel.cuda "
      "exists), a driver and device present, and this extension's device code runs on it (the backend's own "
      "probe). Never raises; always False when built without CUDA.");
  m.def("registered_kernel_names", &detail::registered_kernel_names, "Kernels registered in C++ (RINGKERNEL_KERNEL).");
}

}  // namespace rkpy
