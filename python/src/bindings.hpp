// Shared declarations of the ringkernel Python extension (ringkernel._core).
// bind_core.cpp: errors, HLC, messages, runtime, kernels, K2K; bind_ops.cpp: operations toolkit
// and benchmark statistics; bind_cuda.cu (nvcc, only where CUDA is found): ringkernel.cuda and the
// CUDA backend. rk_impl.cpp holds the C++ implementation (RINGKERNEL_IMPLEMENTATION).
#pragma once

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <cmath>
#include <string>

#include "ringkernel.hpp"

namespace rkpy {
namespace py = pybind11;

void bind_errors(py::module_& m);
void bind_core(py::module_& m);
void bind_ops(py::module_& m);
void bind_bench(py::module_& bench);
/// The submodule _core.cuda (bind_cuda.cu); compiled in only with -DRINGKERNEL_PY_CUDA (nvcc found).
void bind_cuda(py::module_& m);

/// A read-only view of any C-contiguous buffer (bytes, bytearray, memoryview, numpy array):
/// no copy is made. Throws TypeError for an object without the buffer protocol (str included).
class ByteView {
 public:
  explicit ByteView(const py::handle& obj) {
    if (PyUnicode_Check(obj.ptr()))
      throw py::type_error("ringkernel messages are bytes-like (bytes, bytearray, memoryview, numpy array), not str: "
                           "encode the text first");
    if (PyObject_GetBuffer(obj.ptr(), &view_, PyBUF_SIMPLE) != 0) {
      PyErr_Clear();
      throw py::type_error(std::string("ringkernel messages are C-contiguous bytes-like objects; got ") +
                           Py_TYPE(obj.ptr())->tp_name);
    }
    held_ = true;
  }
  ByteView(const ByteView&) = delete;
  ByteView& operator=(const ByteView&) = delete;
  ~ByteView() {
    if (held_) PyBuffer_Release(&view_);
  }
  const std::uint8_t* data() const noexcept { return static_cast<const std::uint8_t*>(view_.buf); }
  std::size_t size() const noexcept { return static_cast<std::size_t>(view_.len); }

 private:
  Py_buffer view_{};
  bool held_ = false;
};

/// Seconds (float, None = forever) as nanoseconds; ValueError for a negative or NaN value.
inline std::chrono::nanoseconds to_timeout(const py::object& seconds) {
  if (seconds.is_none()) return std::chrono::nanoseconds::max();
  const double s = seconds.cast<double>();
  if (std::isnan(s) || s < 0) throw py::value_error("timeout must be None or a number of seconds >= 0");
  if (s >= 9.0e9) return std::chrono::nanoseconds::max();  // ~285 years: forever
  return std::chrono::nanoseconds(static_cast<std::int64_t>(s * 1e9));
}

/// A message priority from a Priority or an int 0..255.
inline ringkernel::Priority to_priority(const py::handle& p) {
  if (py::isinstance<ringkernel::Priority>(p)) return p.cast<ringkernel::Priority>();
  const long v = p.cast<long>();
  if (v < 0 || v > 255) throw py::value_error("priority must be 0..255, got " + std::to_string(v));
  return static_cast<ringkernel::Priority>(v);
}

/// Whether Python can still run code (not finalizing): objects owned by C++ threads are
/// released only then; after finalization they are leaked on purpose.
inline bool python_alive() noexcept { return Py_IsInitialized() != 0 && _Py_IsFinalizing() == 0; }

}  // namespace rkpy
