// vulkan_bench — the Vulkan backend on the device present (lavapipe on a CI machine), one echo
// kernel (tests/vulkan/echo.comp) in three ways of running it, same run:
//   persistent        bounded-persistent: one dispatch loops on the rings for its iteration
//                     budget and is relaunched by the host supervisor (KernelMode::Persistent)
//   dispatch/message  one dispatch per message (EventDriven, max batch 1)
//   dispatch/batch    one dispatch per batch of queued messages (EventDriven, batch <= capacity)
// For each: round-trip latency of KernelHandle::call (p50, p99) and streaming throughput (a
// sender thread and the receiving host thread, every reply checked for order and value).
// Prints a table and writes JSON (--json PATH). --quick: a short run for the test suite, which
// checks the counts (every message arrived), not the figures. Exit 1 if a check failed, 77 if
// there is no usable Vulkan device.
#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel_vulkan.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace vb {
namespace rk = ringkernel;
namespace vk = ringkernel::vulkan;

const std::uint32_t kEcho[] = {
#include "echo.spv.inc"
};
struct Ping {
  std::uint32_t seq, value, flags, pad;
};
struct Pong {
  std::uint32_t seq, value, dispatch, count;
};
RINGKERNEL_MESSAGE(Ping, 0x56'4B'50'49'4E'47ull)
RINGKERNEL_MESSAGE(Pong, 0x56'4B'50'4F'4E'47ull)

double percentile(std::vector<double> v, double p) {  // linear interpolation between closest ranks
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = p / 100.0 * static_cast<double>(v.size() - 1);
  const std::size_t lo = static_cast<std::size_t>(pos);
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}
std::string load_average() {  // the machine is shared: spinning dispatches feel its load
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return f ? a + " " + b + " " + c : std::string("unknown");
}
std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}
int failures = 0;
std::uint32_t idle_iterations = 4096;  // --idle N: persistent dispatches return after N idle iterations
void check(bool ok, const std::string& what) {
  if (!ok) {
    std::printf("CHECK FAILED: %s\n", what.c_str());
    ++failures;
  }
}

struct Way {
  const char* name;
  rk::KernelMode mode;
  std::size_t max_batch;  // EventDriven only; 0: the capacity
};
struct Figures {
  double rtt_p50_ns = 0, rtt_p99_ns = 0;
  double msgs_per_s = 0;
  std::size_t rounds = 0, messages = 0;
  std::uint32_t dispatches = 0;
};

Figures measure(rk::Runtime& rt, const Way& way, std::size_t rounds, std::uint32_t messages) {
  Figures fig;
  fig.rounds = rounds;
  fig.messages = messages;
  rk::KernelHandle k = vk::launch<Ping, Pong>(rt, way.name, vk::Program::from_spirv(kEcho, sizeof kEcho / 4, "echo"),
                                              rk::LaunchOptions{}.with_queue_capacity(4096).with_mode(way.mode),
                                              vk::KernelOptions{}.with_max_batch(way.max_batch).with_idle_iterations(idle_iterations));
  for (int i = 0; i < 50; ++i) (void)k.call<Pong>(Ping{0, 0, 0, 0}, std::chrono::seconds(10));  // warm up
  std::vector<double> rtt;
  rtt.reserve(rounds);
  for (std::size_t i = 0; i < rounds; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const Pong r = k.call<Pong>(Ping{static_cast<std::uint32_t>(i), 7, 0, 0}, std::chrono::seconds(10));
    rtt.push_back(static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count()));
    if (r.seq != i || r.value != 15) {
      check(false, std::string(way.name) + ": wrong call reply");
      break;
    }
  }
  fig.rtt_p50_ns = percentile(rtt, 50);
  fig.rtt_p99_ns = percentile(rtt, 99);

  const auto t0 = std::chrono::steady_clock::now();
  std::thread sender([&] {
    for (std::uint32_t i = 0; i < messages; ++i) k.send(Ping{i, i, 0, 0});
  });
  std::uint32_t next = 0;
  for (std::uint32_t n = 0; n < messages; ++n) {
    std::optional<Pong> r = k.receive<Pong>(std::chrono::seconds(10));
    if (!r || r->seq != next || r->value != 2 * r->seq + 1) break;
    fig.dispatches = std::max(fig.dispatches, r->dispatch + 1);
    ++next;
  }
  sender.join();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  check(next == messages, std::string(way.name) + ": " + std::to_string(next) + " of " + std::to_string(messages) +
                              " streamed replies arrived in order");
  fig.msgs_per_s = static_cast<double>(next) / secs;
  k.terminate();
  return fig;
}
}  // namespace vb

int main(int argc, char** argv) {
  using namespace vb;
  bool quick = false;
  std::string json = "vulkan_bench.json";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
      json = argv[++i];
    } else if (std::strcmp(argv[i], "--idle") == 0 && i + 1 < argc) {
      idle_iterations = static_cast<std::uint32_t>(std::strtoul(argv[++i], nullptr, 10));
      if (idle_iterations == 0) idle_iterations = 1;
    } else {
      std::fprintf(stderr, "usage: %s [--quick] [--idle N] [--json PATH]\n", argv[0]);
      return 2;
    }
  }
  std::string device;
  try {
    const std::vector<vk::DeviceInfo> devices = vk::enumerate_devices();
    if (devices.empty() || !devices[0].unsupported.empty()) {
      std::printf("vulkan_bench: SKIP: %s\n", devices.empty() ? "no Vulkan device" : devices[0].unsupported.c_str());
      return 77;
    }
    device = devices[0].name + " (" + vk::to_string(devices[0].type) + ")";
  } catch (const std::exception& e) {
    std::printf("vulkan_bench: SKIP: %s\n", e.what());
    return 77;
  }
  const Way ways[] = {{"persistent", rk::KernelMode::Persistent, 0},
                      {"dispatch/message", rk::KernelMode::EventDriven, 1},
                      {"dispatch/batch", rk::KernelMode::EventDriven, 0}};
  const std::string load_before = load_average();
  std::printf("ringkernel %s vulkan_bench (%s)  device: %s  cpu: %s  nproc: %u  loadavg: %s\n\n", RINGKERNEL_VERSION_STRING,
              quick ? "quick" : "full", device.c_str(), cpu_model().c_str(), std::thread::hardware_concurrency(),
              load_before.c_str());
  std::printf("  %-18s %12s %12s %14s %10s %11s\n", "way", "rtt p50 ns", "rtt p99 ns", "stream msg/s", "messages", "dispatches");
  std::vector<Figures> figs;
  rk::Runtime rt = rk::Runtime::builder().backend(rk::Backend::Vulkan).build();
  for (const Way& w : ways) {
    const bool per_message = w.max_batch == 1;
    const std::size_t rounds = quick ? 200 : (per_message ? 2000 : 5000);
    const std::uint32_t messages = quick ? 5000u : (per_message ? 20000u : 200000u);
    figs.push_back(measure(rt, w, rounds, messages));
    const Figures& f = figs.back();
    std::printf("  %-18s %12.0f %12.0f %14.0f %10zu %11u\n", w.name, f.rtt_p50_ns, f.rtt_p99_ns, f.msgs_per_s, f.messages,
                f.dispatches);
  }
  std::FILE* f = std::fopen(json.c_str(), "w");
  if (f == nullptr) {
    std::fprintf(stderr, "cannot write %s\n", json.c_str());
    return 1;
  }
  std::fprintf(f, "{\n  \"benchmark\": \"vulkan_bench\",\n  \"ringkernel_version\": \"%s\",\n  \"mode\": \"%s\",\n",
               RINGKERNEL_VERSION_STRING, quick ? "quick" : "full");
  std::fprintf(f,
               "  \"machine\": {\"device\": \"%s\", \"cpu_model\": \"%s\", \"nproc\": %u, \"loadavg_before\": \"%s\", "
               "\"loadavg_after\": \"%s\"},\n  \"idle_iterations\": %u,\n  \"ways\": [",
               device.c_str(), cpu_model().c_str(), std::thread::hardware_concurrency(), load_before.c_str(),
               load_average().c_str(), idle_iterations);
  for (std::size_t i = 0; i < figs.size(); ++i)
    std::fprintf(f,
                 "%s\n    {\"way\": \"%s\", \"round_trip_p50_ns\": %.0f, \"round_trip_p99_ns\": %.0f, \"rounds\": %zu, "
                 "\"stream_messages_per_s\": %.0f, \"messages\": %zu, \"dispatches\": %u}",
                 i == 0 ? "" : ",", ways[i].name, figs[i].rtt_p50_ns, figs[i].rtt_p99_ns, figs[i].rounds, figs[i].msgs_per_s,
                 figs[i].messages, figs[i].dispatches);
  std::fprintf(f, "\n  ],\n  \"ok\": %s\n}\n", failures == 0 ? "true" : "false");
  std::fclose(f);
  std::printf("\nchecks: %s\njson: %s\n", failures == 0 ? "every message arrived: ok" : "FAILED", json.c_str());
  return failures == 0 ? 0 : 1;
}
