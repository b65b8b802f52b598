// vulkan_tests: the Vulkan backend (ringkernel_vulkan.hpp) on whatever Vulkan device is present
// (lavapipe in CI), with VK_LAYER_KHRONOS_validation on and every message it reports counted:
// the run fails unless there were none. Exits 77 (Meson: skipped) with the reason when there is
// no usable Vulkan device. Shaders: tests/vulkan/*.comp, compiled by glslc at build time.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel_vulkan.hpp"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace rk = ringkernel;
namespace vk = ringkernel::vulkan;
using namespace std::chrono_literals;

namespace {
const std::uint32_t kEcho[] = {
#include "echo.spv.inc"
};
const std::uint32_t kMix[] = {
#include "mix.spv.inc"
};
const std::uint32_t kStage1[] = {
#include "stage1.spv.inc"
};
const std::uint32_t kStage2[] = {
#include "stage2.spv.inc"
};

struct Ping {
  std::uint32_t seq;
  std::uint32_t value;
  std::uint32_t flags;  // 1: the echo shader reports rk_fail(42)
  std::uint32_t pad;
};
struct Pong {
  std::uint32_t seq;
  std::uint32_t value;     // echo: value * 2 + 1; mix: the hash; stage2: value + 1
  std::uint32_t dispatch;  // echo: the dispatch that handled it; stage2: the ring
  std::uint32_t count;     // messages the kernel has seen (its state)
};
RINGKERNEL_MESSAGE(Ping, 0x56'4B'50'49'4E'47ull)
RINGKERNEL_MESSAGE(Pong, 0x56'4B'50'4F'4E'47ull)

rk::Runtime vulkan_runtime() { return rk::Runtime::builder().backend(rk::Backend::Vulkan).build(); }
vk::Program echo_program() { return vk::Program::from_spirv(kEcho, sizeof kEcho / 4, "echo"); }

// The CPU twin of mix.comp.
struct MixCpu {
  using input_type = Ping;
  using output_type = Pong;
  std::uint32_t acc = 0;
  Pong operator()(const Ping& p) {
    std::uint32_t x = p.value;
    std::uint32_t h = acc;
    for (int r = 0; r < 16; ++r) {
      h = (h ^ x) * 16777619u;
      x = (x >> 3) | (x << 29);
    }
    acc = h;
    return Pong{p.seq, h, 0, 0};
  }
};

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 10s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}
}  // namespace

TEST_SUITE("vulkan") {
TEST_CASE("devices are listed in preference order with their properties") {
  const std::vector<vk::DeviceInfo> devices = vk::enumerate_devices();
  REQUIRE(!devices.empty());
  for (std::size_t i = 0; i < devices.size(); ++i) {
    CHECK(devices[i].ordinal == static_cast<int>(i));
    CHECK(!devices[i].name.empty());
    CHECK(devices[i].host_visible_bytes > 0);
    CHECK(devices[i].max_workgroup_invocations >= 128);
    if (i > 0) CHECK(static_cast<int>(devices[i - 1].type) <= static_cast<int>(devices[i].type));
  }
  CHECK(vk::find_device(devices[0].name) == 0);
  CHECK(rk_test::error_code_of([] { vk::find_device("no such device name, surely"); }) == rk::ErrorCode::BackendUnavailable);
  CHECK(vk::validation_active());
  // The instance exists now: loader and validation choices are fixed.
  CHECK(rk_test::error_code_of([] { vk::use_loader(vkGetInstanceProcAddr); }) == rk::ErrorCode::InvalidState);
  CHECK(rk_test::error_code_of([] { vk::use_loader(nullptr); }) == rk::ErrorCode::InvalidArgument);
  CHECK(rk_test::error_code_of([] { vk::enable_validation(false); }) == rk::ErrorCode::InvalidState);
}

TEST_CASE("Backend::Vulkan and Backend::Auto find the registered provider") {
  REQUIRE(rk::find_backend_provider(rk::Backend::Vulkan) != nullptr);
  CHECK(vulkan_runtime().backend() == rk::Backend::Vulkan);
  // Auto takes a GPU, but leaves a CPU implementation of Vulkan (lavapipe) to the CPU backend.
  const bool cpu_device = vk::device_info(0).type == vk::DeviceType::Cpu;
  CHECK(rk::Runtime::builder().backend(rk::Backend::Auto).build().backend() ==
        (cpu_device ? rk::Backend::Cpu : rk::Backend::Vulkan));
}

TEST_CASE("a missing device is a clear error naming the device count") {
  const int missing = static_cast<int>(vk::enumerate_devices().size()) + 7;
  try {
    (void)vk::device_info(missing);
    FAIL("device_info accepted a missing ordinal");
  } catch (const rk::VulkanError& e) {
    CHECK(e.code() == rk::ErrorCode::VulkanFailure);
    const std::string what = e.what();
    CHECK(what.find("Vulkan device " + std::to_string(missing) + " does not exist") != std::string::npos);
    CHECK(what.find("vkEnumeratePhysicalDevices returned VK_SUCCESS") != std::string::npos);
  }
  try {
    (void)rk::Runtime::builder().backend(rk::Backend::Vulkan).device(missing).build();
    FAIL("build accepted a missing device");
  } catch (const rk::Error& e) {
    CHECK(e.code() == rk::ErrorCode::BackendUnavailable);
    CHECK(std::string(e.what()).find("does not exist") != std::string::npos);
  }
}

TEST_CASE("device_access and queue_submit: a program's own work on the kernels' device and queue") {
  const vk::DeviceAccess a = vk::device_access(0);
  CHECK(a.ordinal == 0);
  CHECK(a.instance != VK_NULL_HANDLE);
  CHECK(a.physical_device != VK_NULL_HANDLE);
  CHECK(a.device != VK_NULL_HANDLE);
  CHECK(a.queue != VK_NULL_HANDLE);
  CHECK(a.info.name == vk::device_info(0).name);
  CHECK(a.memory.memoryTypeCount > 0);
  const vk::DeviceAccess again = vk::device_access(0);
  CHECK(again.device == a.device);  // opened once per process
  CHECK(again.queue == a.queue);
  // Beside a persistent kernel that is spinning idle in its dispatch: the submission asks it to
  // return, so the fence signals at once rather than after the kernel's idle budget.
  rk::Runtime rt = vulkan_runtime();
  rk::KernelHandle k = vk::launch<Ping, Pong>(rt, "beside", echo_program());
  CHECK(k.call<Pong>(Ping{1, 5, 0, 0}, 5s).value == 11);
  VkFenceCreateInfo fi{};
  fi.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO;
  VkFence fence = VK_NULL_HANDLE;
  REQUIRE(vkCreateFence(a.device, &fi, nullptr, &fence) == VK_SUCCESS);
  CHECK(vk::queue_submit(0, 0, nullptr, fence) == VK_SUCCESS);
  CHECK(vkWaitForFences(a.device, 1, &fence, VK_TRUE, 5'000'000'000ull) == VK_SUCCESS);
  vkDestroyFence(a.device, fence, nullptr);
  CHECK(k.call<Pong>(Ping{2, 6, 0, 0}, 5s).value == 13);  // the kernel carries on
  k.terminate();
  // A missing ordinal: the same clear error as device_info.
  const int missing = static_cast<int>(vk::enumerate_devices().size()) + 3;
  try {
    (void)vk::device_access(missing);
    FAIL("device_access accepted a missing ordinal");
  } catch (const rk::VulkanError& e) {
    CHECK(std::string(e.what()).find("Vulkan device " + std::to_string(missing) + " does not exist") != std::string::npos);
  }
  CHECK_THROWS_AS(vk::queue_submit(missing, 0, nullptr, VK_NULL_HANDLE), rk::VulkanError);
}

TEST_CASE("bad SPIR-V blobs are refused with a VulkanError that says why") {
  const std::uint32_t garbage[] = {0xdeadbeefu, 1, 2, 3, 4, 5, 6, 7};
  const std::uint32_t swapped[] = {0x03022307u, 0, 0, 0, 0};
  std::vector<std::uint32_t> truncated(kEcho, kEcho + 40);
  std::vector<std::uint32_t> no_main(kEcho, kEcho + sizeof kEcho / 4);
  for (std::size_t i = 5; i < no_main.size();) {  // rename the entry point "main" -> "mainx"
    const std::uint32_t wc = no_main[i] >> 16;
    if ((no_main[i] & 0xFFFFu) == 15) std::memcpy(&no_main[i + 3], "nope", 4);
    i += wc;
  }
  struct Case {
    const std::uint32_t* words;
    std::size_t count;
    const char* expect;
  } cases[] = {{garbage, 8, "not the SPIR-V magic number"},
               {swapped, 5, "byte-swapped"},
               {garbage, 2, "at least a 5-word header"},
               {truncated.data(), truncated.size(), "does not fit"},
               {no_main.data(), no_main.size(), "no OpEntryPoint GLCompute named \"main\""}};
  for (const Case& c : cases) {
    CAPTURE(c.expect);
    try {
      (void)vk::Program::from_spirv(c.words, c.count, "bad");
      FAIL("accepted");
    } catch (const rk::VulkanError& e) {
      CHECK(std::string(e.what()).find(c.expect) != std::string::npos);
      CHECK(std::string(e.what()).find("vulkan::Program 'bad'") != std::string::npos);
    }
  }
  CHECK(rk_test::error_code_of([] { (void)vk::Program::from_file("/nonexistent/kernel.spv"); }) ==
        rk::ErrorCode::InvalidArgument);
}

TEST_CASE("vulkan::launch on a CPU runtime is refused") {
  rk::Runtime cpu = rk::Runtime::builder().backend(rk::Backend::Cpu).build();
  CHECK(rk_test::error_code_of([&] { (void)vk::launch<Ping, Pong>(cpu, "echo", echo_program()); }) ==
        rk::ErrorCode::BackendUnavailable);
}

TEST_CASE("echo round trip: send/receive and call, persistent and event-driven") {
  rk::Runtime rt = vulkan_runtime();
  for (rk::KernelMode mode : {rk::KernelMode::Persistent, rk::KernelMode::EventDriven}) {
    CAPTURE(rk::to_string(mode));
    const std::string id = std::string("echo-") + rk::to_string(mode);
    rk::KernelHandle k = vk::launch<Ping, Pong>(rt, id, echo_program(), rk::LaunchOptions{}.with_mode(mode));
    CHECK(k.state() == rk::KernelState::Active);
    k.send(Ping{7, 20, 0, 0});
    std::optional<Pong> r = k.receive<Pong>(5s);
    REQUIRE(r.has_value());
    CHECK(r->seq == 7);
    CHECK(r->value == 41);
    CHECK(r->count == 1);
    const Pong c = k.call<Pong>(Ping{8, 100, 0, 0}, 5s);
    CHECK(c.seq == 8);
    CHECK(c.value == 201);
    CHECK(c.count == 2);
    const rk::KernelStatus s = k.status();
    CHECK(s.messages_received == 2);
    CHECK(s.messages_processed == 2);
    CHECK(s.mode == mode);
    CHECK(k.telemetry().messages_processed == 2);
    CHECK(rt.metrics().messages_out >= 2);
    k.terminate();
    CHECK(k.state() == rk::KernelState::Terminated);
  }
}

TEST_CASE("1,000,000 messages across many relaunches: none lost, none duplicated, in order") {
  rk::Runtime rt = vulkan_runtime();
  const std::uint32_t total = static_cast<std::uint32_t>(rk_test::scaled(1'000'000));
  rk::KernelHandle k = vk::launch<Ping, Pong>(
      rt, "stream", echo_program(), rk::LaunchOptions{}.with_queue_capacity(4096),
      vk::KernelOptions{}.with_iteration_budget(8192));
  std::thread sender([&] {
    for (std::uint32_t i = 0; i < total; ++i) k.send(Ping{i, i ^ 0x5A5Au, 0, 0});
  });
  std::vector<bool> seen(total, false);
  std::uint32_t next = 0;
  std::uint32_t max_dispatch = 0;
  std::uint64_t bad = 0;
  for (std::uint32_t n = 0; n < total; ++n) {
    std::optional<Pong> r = k.receive<Pong>(10s);
    if (!r) break;
    if (r->seq >= total || seen[r->seq] || r->seq != next || r->value != (r->seq ^ 0x5A5Au) * 2u + 1u ||
        r->count != r->seq + 1)
      ++bad;
    if (r->seq < total) seen[r->seq] = true;
    next = r->seq + 1;
    max_dispatch = std::max(max_dispatch, r->dispatch);
  }
  sender.join();
  CHECK(next == total);
  CHECK(bad == 0);
  // 8192 iterations per dispatch: at least one relaunch per 8192 messages.
  CHECK(max_dispatch >= total / 8192);
  MESSAGE("messages: " << total << ", dispatches: " << max_dispatch + 1);
  const rk::KernelStatus s = k.status();
  CHECK(s.messages_received == total);
  CHECK(s.messages_processed == total);
  CHECK(s.messages_dropped == 0);
  CHECK(s.queue_depth == 0);
  CHECK(!k.receive<Pong>(1ms).has_value());
}

TEST_CASE("state persists across messages and relaunches, from the initial state") {
  rk::Runtime rt = vulkan_runtime();
  const std::uint32_t initial[2] = {1000, 0};
  // A budget of 3 iterations: every few messages the dispatch returns and is relaunched.
  rk::KernelHandle k = vk::launch<Ping, Pong>(
      rt, "state", echo_program(), rk::LaunchOptions{},
      vk::KernelOptions{}.with_iteration_budget(3).with_initial_state(initial, sizeof initial));
  std::uint32_t last_dispatch = 0;
  for (std::uint32_t i = 0; i < 300; ++i) {
    const Pong r = k.call<Pong>(Ping{i, i, 0, 0}, 5s);
    REQUIRE(r.count == 1001 + i);
    CHECK(r.dispatch >= last_dispatch);
    last_dispatch = r.dispatch;
  }
  CHECK(last_dispatch >= 100);
  // Pause and resume: the state is still there.
  k.deactivate();
  k.activate();
  CHECK(k.call<Pong>(Ping{300, 1, 0, 0}, 5s).count == 1301);
}

void lifecycle_while_streaming(rk::KernelMode mode) {
  rk::Runtime rt = vulkan_runtime();
  CAPTURE(rk::to_string(mode));
  rk::KernelHandle k = vk::launch<Ping, Pong>(
      rt, "life", echo_program(), rk::LaunchOptions{}.with_queue_capacity(1024).with_mode(mode).without_auto_activate());
  CHECK(k.state() == rk::KernelState::Launched);
  k.send(Ping{0, 1, 0, 0});
  CHECK(!k.receive<Pong>(50ms).has_value());  // Launched: not processing
  k.activate();
  REQUIRE(k.receive<Pong>(5s).has_value());

  std::atomic<bool> stop{false};
  std::atomic<bool> stop_receiving{false};
  std::atomic<std::uint32_t> sent{1};
  std::thread sender([&] {
    while (!stop.load()) {
      if (k.try_send(Ping{sent.load(), 1, 0, 0}) == rk::SendStatus::Ok) sent.fetch_add(1);
      else std::this_thread::sleep_for(100us);
    }
  });
  // Every processed message produces exactly one reply, in order.
  std::uint64_t replies = 1;
  std::uint64_t out_of_order = 0;
  std::thread receiver([&] {
    std::uint32_t expect = 1;
    for (;;) {
      std::optional<Pong> r = k.receive<Pong>(1ms);
      if (!r) {
        if (stop_receiving.load()) return;
        continue;
      }
      if (r->seq != expect) ++out_of_order;
      expect = r->seq + 1;
      ++replies;
    }
  });
  auto finish = [&] {
    stop.store(true);
    if (sender.joinable()) sender.join();
    stop_receiving.store(true);
    if (receiver.joinable()) receiver.join();
  };
  const bool streaming = eventually([&] { return k.status().messages_processed > 2000; });
  if (!streaming) finish();
  REQUIRE(streaming);
  k.deactivate();
  CHECK(k.state() == rk::KernelState::Deactivated);
  const std::uint64_t frozen = k.status().messages_processed;
  std::this_thread::sleep_for(100ms);
  CHECK(k.status().messages_processed == frozen);  // nothing processed after deactivate returned
  CHECK(k.status().queue_depth > 0);               // the sender kept queueing
  k.activate();
  const bool resumed = eventually([&] { return k.status().messages_processed > frozen + 1000; });
  stop.store(true);
  sender.join();
  CHECK(resumed);
  k.terminate();
  CHECK(k.state() == rk::KernelState::Terminated);
  finish();
  const rk::KernelStatus s = k.status();
  const std::vector<rk::MessageEnvelope> rest = k.drain_unprocessed();
  CHECK(s.messages_received == sent.load());
  CHECK(s.messages_processed + rest.size() == sent.load());
  CHECK(rk_test::error_code_of([&] { k.send(Ping{0, 0, 0, 0}); }) == rk::ErrorCode::NotActive);
  CHECK(out_of_order == 0);
  // A reply published while terminating with a full output queue is dropped and counted (as on
  // the CPU backend); an event-driven batch publishes up to 1024 at once.
  CHECK(replies + s.outputs_dropped == s.messages_processed);
}

TEST_CASE("lifecycle while streaming: deactivate stops processing, activate resumes, terminate keeps the rest") {
  SUBCASE("persistent") { lifecycle_while_streaming(rk::KernelMode::Persistent); }
  SUBCASE("event-driven") { lifecycle_while_streaming(rk::KernelMode::EventDriven); }
}

TEST_CASE("results are identical to the CPU backend for the same computation") {
  const std::uint32_t n = 5000;
  std::vector<std::uint32_t> cpu_out, gpu_out;
  {
    rk::Runtime cpu = rk::Runtime::builder().backend(rk::Backend::Cpu).build();
    rk::KernelHandle k = cpu.launch("mix", MixCpu{}, rk::LaunchOptions{}.with_queue_capacity(8192));
    for (std::uint32_t i = 0; i < n; ++i) k.send(Ping{i, i * 2654435761u, 0, 0});
    for (std::uint32_t i = 0; i < n; ++i) {
      std::optional<Pong> r = k.receive<Pong>(5s);
      REQUIRE(r.has_value());
      cpu_out.push_back(r->value);
    }
  }
  {
    rk::Runtime rt = vulkan_runtime();
    rk::KernelHandle k = vk::launch<Ping, Pong>(rt, "mix", vk::Program::from_spirv(kMix, sizeof kMix / 4, "mix"),
                                                rk::LaunchOptions{}.with_queue_capacity(8192),
                                                vk::KernelOptions{}.with_iteration_budget(1000));
    for (std::uint32_t i = 0; i < n; ++i) k.send(Ping{i, i * 2654435761u, 0, 0});
    for (std::uint32_t i = 0; i < n; ++i) {
      std::optional<Pong> r = k.receive<Pong>(5s);
      REQUIRE(r.has_value());
      gpu_out.push_back(r->value);
    }
  }
  CHECK(cpu_out == gpu_out);
}

TEST_CASE("K2K between two Vulkan kernels through a device-side ring") {
  rk::Runtime rt = vulkan_runtime();
  vk::Link link = vk::Link::create(rt, 64, sizeof(Ping));  // small: the sender must wait for room
  rk::KernelHandle b = vk::launch<Ping, Pong>(rt, "stage2", vk::Program::from_spirv(kStage2, sizeof kStage2 / 4, "stage2"),
                                              rk::LaunchOptions{}, vk::KernelOptions{}.with_link_in(link));
  rk::KernelHandle a = vk::launch<Ping, Pong>(rt, "stage1", vk::Program::from_spirv(kStage1, sizeof kStage1 / 4, "stage1"),
                                              rk::LaunchOptions{}, vk::KernelOptions{}.with_link_out(link));
  // A second sender on the same link is refused.
  CHECK(rk_test::error_code_of([&] {
          (void)vk::launch<Ping, Pong>(rt, "stage1b", vk::Program::from_spirv(kStage1, sizeof kStage1 / 4, "stage1"),
                                       rk::LaunchOptions{}, vk::KernelOptions{}.with_link_out(link));
        }) == rk::ErrorCode::InvalidArgument);
  const std::uint32_t n = 2000;
  for (std::uint32_t i = 0; i < n; ++i) a.send(Ping{i, i, 0, 0});
  for (std::uint32_t i = 0; i < n; ++i) {
    std::optional<Pong> r = b.receive<Pong>(10s);
    REQUIRE(r.has_value());
    CHECK(r->seq == i);
    CHECK(r->value == i * 3 + 1);
    CHECK(r->dispatch == 1);  // ring 1: came over the link
    CHECK(r->count == i + 1);
  }
  // stage1's supervisor publishes its completions on its own schedule: maybe after stage2's
  // replies arrived.
  CHECK(eventually([&] { return a.status().messages_processed == n; }));
  CHECK(!a.receive<Pong>(1ms).has_value());  // stage1 answers nobody on the host
  CHECK(link.pending() == 0);
  // The receiver still takes host messages too.
  const Pong h = b.call<Pong>(Ping{99, 5, 0, 0}, 5s);
  CHECK(h.value == 6);
  CHECK(h.dispatch == 0);
}

TEST_CASE("a device-reported error faults the kernel on that message; others keep running") {
  rk::Runtime rt = vulkan_runtime();
  rk::KernelHandle k = vk::launch<Ping, Pong>(rt, "faulty", echo_program());
  rk::KernelHandle other = vk::launch<Ping, Pong>(rt, "other", echo_program());
  CHECK(k.call<Pong>(Ping{1, 1, 0, 0}, 5s).value == 3);
  k.send(Ping{2, 2, 1, 0});  // flags 1: rk_fail(42)
  REQUIRE(eventually([&] { return k.state() == rk::KernelState::Faulted; }));
  const std::optional<rk::KernelFault> f = k.fault();
  REQUIRE(f.has_value());
  CHECK(f->what.find("error code 42") != std::string::npos);
  CHECK(f->message.payload().size() == sizeof(Ping));
  CHECK(k.status().errors == 1);
  CHECK(other.call<Pong>(Ping{3, 3, 0, 0}, 5s).value == 7);
  k.terminate();
}

TEST_CASE("zero validation-layer messages") {
  // Last in the file (doctest runs a file's cases in order): everything above ran under the layer.
  CHECK(vk::validation_active());
  for (const std::string& m : vk::validation_messages()) MESSAGE(m);
  CHECK(vk::validation_message_count() == 0);
}
}  // TEST_SUITE

int main(int argc, char** argv) {
  vk::enable_validation(true);
  std::string why;
  try {
    const std::vector<vk::DeviceInfo> devices = vk::enumerate_devices();
    if (devices.empty()) why = "no Vulkan physical device";
    else if (!devices[0].unsupported.empty()) why = devices[0].name + ": " + devices[0].unsupported;
    else std::printf("vulkan_tests: device 0 is %s (%s)\n", devices[0].name.c_str(), vk::to_string(devices[0].type));
  } catch (const std::exception& e) {
    why = e.what();
  }
  if (!why.empty()) {
    std::printf("vulkan_tests: SKIP: %s\n", why.c_str());
    return 77;
  }
  doctest::Context context(argc, argv);
  const int rc = context.run();
  if (rc != 0 || context.shouldExit()) return rc;
  if (vk::validation_message_count() != 0) {
    std::printf("vulkan_tests: %llu validation message(s)\n", static_cast<unsigned long long>(vk::validation_message_count()));
    return 1;
  }
  return 0;
}
