// vulkan_echo: a persistent kernel on the Vulkan backend (lavapipe works: no GPU needed).
// The shader scale.comp, compiled by glslc at build time against ringkernel's GLSL prelude,
// scales each sample by a gain kept in its state buffer and answers with running totals.
// Prints what it got and exits 0 when every answer is right; exits 77 without a Vulkan device.
#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel_vulkan.hpp"

#include <cstdio>

namespace demo {
struct Sample {
  std::uint32_t id;
  float value;
  std::uint32_t pad[2];
};
RINGKERNEL_MESSAGE(Sample, 0x5645'0001)
struct Scaled {
  std::uint32_t id;
  float value;
  std::uint32_t count;
  float sum;
};
RINGKERNEL_MESSAGE(Scaled, 0x5645'0002)

const std::uint32_t kScale[] = {
#include "scale.spv.inc"
};
}  // namespace demo

int main() {
  namespace rk = ringkernel;
  namespace vk = ringkernel::vulkan;
  using demo::Sample;
  using demo::Scaled;
  try {
    rk::Runtime rt = rk::Runtime::builder().backend(rk::Backend::Vulkan).build();
    const vk::DeviceInfo dev = vk::device_info(rt.device());
    std::printf("device %d: %s (%s)\n", dev.ordinal, dev.name.c_str(), vk::to_string(dev.type));

    const float gain = 2.5f;  // the state buffer's first word
    rk::KernelHandle k = vk::launch<Sample, Scaled>(
        rt, "scale", vk::Program::from_spirv(demo::kScale, sizeof demo::kScale / 4, "scale.comp"), rk::LaunchOptions{},
        vk::KernelOptions{}.with_initial_state(&gain, sizeof gain));

    int wrong = 0;
    float sum = 0;
    for (std::uint32_t i = 1; i <= 5; ++i) {
      const Scaled r = k.call<Scaled>(Sample{i, static_cast<float>(i), {0, 0}}, std::chrono::seconds(10));
      sum += static_cast<float>(i) * gain;
      std::printf("sample %u: %.1f -> %.2f  (count %u, sum %.2f)\n", i, static_cast<double>(i), static_cast<double>(r.value),
                  r.count, static_cast<double>(r.sum));
      if (r.id != i || r.value != static_cast<float>(i) * gain || r.count != i || r.sum != sum) ++wrong;
    }
    const rk::KernelStatus s = k.status();
    std::printf("status: %s, %llu processed, avg latency %.0f us\n", rk::to_string(s.state),
                static_cast<unsigned long long>(s.messages_processed), s.avg_latency_ns / 1000.0);
    k.terminate();
    std::printf("%s\n", wrong == 0 ? "all answers right" : "WRONG ANSWERS");
    return wrong == 0 ? 0 : 1;
  } catch (const rk::Error& e) {
    if (e.code() == rk::ErrorCode::BackendUnavailable || e.code() == rk::ErrorCode::VulkanFailure) {
      std::printf("vulkan_echo: SKIP: %s\n", e.what());
      return 77;
    }
    std::printf("error: %s\n", e.what());
    return 1;
  }
}
