// cuda_echo — one functor, any backend: a stateful handler launched with cuda::launch runs as a
// persistent kernel on the GPU when there is one (Backend::Auto picks CUDA), and on the CPU
// otherwise. The pattern to copy: the handler's call operator is RINGKERNEL_HD, its state is
// trivially copyable, and the launch happens in a .cu file that nvcc compiles — that is where the
// device code for the functor is instantiated.
#define RINGKERNEL_IMPLEMENTATION  // in exactly one file; implies RINGKERNEL_CUDA_IMPLEMENTATION
#include "ringkernel_cuda.hpp"

#include <cstdio>

struct Reading {
  std::uint32_t sensor;
  float celsius;
};
RINGKERNEL_MESSAGE(Reading, 100)
struct Summary {
  std::uint32_t sensor;
  float celsius;
  float running_max;
  std::uint32_t count;
};
RINGKERNEL_MESSAGE(Summary, 101)

struct MaxTracker {  // state lives where the kernel runs: device memory on a GPU
  using input_type = Reading;
  using output_type = Summary;
  float max_seen = -273.15f;
  std::uint32_t count = 0;
  RINGKERNEL_HD Summary operator()(const Reading& r) {
    if (r.celsius > max_seen) max_seen = r.celsius;
    ++count;
    return Summary{r.sensor, r.celsius, max_seen, count};
  }
};

int main() {
  namespace rkc = ringkernel::cuda;
  ringkernel::Runtime rt = ringkernel::Runtime::builder().backend(ringkernel::Backend::Auto).build();
  rkc::CudaKernel k = rkc::launch(rt, "max-tracker", MaxTracker{});
  std::printf("backend: %s\n", k.on_device() ? "CUDA (persistent kernel on the GPU)" : "CPU (no usable GPU)");
  const float temps[] = {21.5f, 23.0f, 22.25f, 25.5f, 24.0f};
  Summary last{};
  for (std::uint32_t i = 0; i < 5; ++i) last = k.call<Summary>(Reading{i, temps[i]});
  std::printf("readings: %u, max: %.2f C\n", last.count, static_cast<double>(last.running_max));
  const ringkernel::KernelStatus s = k.status();
  std::printf("processed: %llu\n", static_cast<unsigned long long>(s.messages_processed));
  if (auto t = k.device_telemetry()) std::printf("device telemetry: %llu processed on the GPU\n",
                                                 static_cast<unsigned long long>(t->messages_processed));
  k.terminate();
  const bool ok = last.count == 5 && last.running_max == 25.5f && s.messages_processed == 5;
  std::printf("%s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
