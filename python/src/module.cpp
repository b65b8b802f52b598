// ringkernel._core: the pybind11 module. The Python package `ringkernel` (ringkernel/__init__.py)
// re-exports it and adds the asyncio forms and the @ring_kernel decorator.
#include "bindings.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "ringkernel's C++ core (ringkernel.hpp) for Python; import it as `ringkernel`.";
  m.attr("__version__") = RINGKERNEL_VERSION_STRING;
  rkpy::bind_errors(m);
  rkpy::bind_core(m);
  rkpy::bind_ops(m);
  pybind11::module_ bench = m.def_submodule("benchmark", "Benchmark statistics, reports, baselines and regression checks.");
  rkpy::bind_bench(bench);
#if defined(RINGKERNEL_PY_CUDA)
  rkpy::bind_cuda(m);  // the submodule _core.cuda (bind_cuda.cu, built by nvcc)
#endif
}
