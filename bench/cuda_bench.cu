// cuda_bench — the CUDA backend on one GPU, each figure beside its peer in the same run:
//   (a) round trip of one small message, host -> device -> host, p50/p99:
//       persistent kernel (pinned mapped rings) vs launch-per-message (cudaLaunchKernel + wait)
//       vs a CUDA graph launch (cudaGraphLaunch + wait) of the same kernel, and the runtime's
//       CUDA bridge (KernelHandle::call) for what the full API costs;
//   (b) throughput of batched small messages (16, 32 and 64-byte payloads) through a persistent
//       kernel with a parallel handler, msgs/s;
//   (c) on-device K2K one-hop latency: kernel A stamps %globaltimer, kernel B reads it from a
//       device-memory ring (device clock only, no host on the path);
//   (d) H2D / D2H copy bandwidth from pinned memory.
// These figures are the measurement behind the transport choice documented in
// ringkernel_cuda.hpp. Prints a table and writes JSON (--json PATH). --quick: a short run that
// checks every answer arrived. Without a GPU it prints why and exits 77 (Meson: SKIP).
#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel_cuda.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace cb {
namespace rkc = ringkernel::cuda;

struct Msg16 {
  std::uint64_t a, b;
};
RINGKERNEL_MESSAGE(Msg16, 0xCB16)
struct Msg32 {
  std::uint64_t v[4];
};
RINGKERNEL_MESSAGE(Msg32, 0xCB32)
struct Msg64 {
  std::uint64_t v[8];
};
RINGKERNEL_MESSAGE(Msg64, 0xCB64)
struct Stamp {
  std::uint64_t seq, t_ns;
};
RINGKERNEL_MESSAGE(Stamp, 0xCB01)

__device__ inline std::uint64_t device_clock() {
  std::uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

struct Echo16 {  // the round-trip handler
  using input_type = Msg16;
  using output_type = Msg16;
  RINGKERNEL_HD Msg16 operator()(const Msg16& m) const { return Msg16{m.a + 1, m.b}; }
};
template <class M>
struct Bump {  // the throughput handler: every thread its own message
  using input_type = M;
  using output_type = M;
  static constexpr bool ringkernel_parallel = true;
  RINGKERNEL_HD M operator()(const M& m) const {
    M out = m;
    out.v[0] += 1;
    return out;
  }
};
struct Bump16 {
  using input_type = Msg16;
  using output_type = Msg16;
  static constexpr bool ringkernel_parallel = true;
  RINGKERNEL_HD Msg16 operator()(const Msg16& m) const { return Msg16{m.a + 1, m.b}; }
};
struct StampA {  // K2K sender: stamps the device clock as it emits
  using input_type = Msg16;
  using output_type = Stamp;
  __host__ __device__ Stamp operator()(const Msg16& m) const {
#if defined(__CUDA_ARCH__)
    return Stamp{m.a, device_clock()};
#else
    return Stamp{m.a, 0};
#endif
  }
};
struct StampB {  // K2K receiver: device time since A's stamp
  using input_type = Stamp;
  using output_type = Stamp;
  __host__ __device__ Stamp operator()(const Stamp& s) const {
#if defined(__CUDA_ARCH__)
    return Stamp{s.seq, device_clock() - s.t_ns};
#else
    return s;
#endif
  }
};

// The launch-per-message peer: the same work on one message in mapped memory.
__global__ void echo_once(const rkc::Slot<Msg16>* in, rkc::Slot<Msg16>* out) {
  out->value = Echo16{}(in->value);
  out->tag = in->tag;
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = p / 100.0 * static_cast<double>(v.size() - 1);
  const std::size_t lo = static_cast<std::size_t>(pos);
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}
std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}
int failures = 0;
void check(bool ok, const std::string& what) {
  if (!ok) {
    std::printf("CHECK FAILED: %s\n", what.c_str());
    ++failures;
  }
}
struct Lat {
  double p50 = 0, p99 = 0;
  std::size_t n = 0;
};
Lat summarize(const std::vector<double>& v) { return Lat{percentile(v, 50), percentile(v, 99), v.size()}; }

// Spins until `done()` or 5 s; false on timeout (counted as a failure by the caller).
template <class F>
bool spin_until(F done) {
  const std::int64_t end = now_ns() + 5000000000ll;
  while (!done())
    if (now_ns() > end) return false;
  return true;
}

Lat persistent_rtt(const rkc::CudaDevice& dev, std::size_t rounds) {
  rkc::PersistentConfig cfg;
  cfg.capacity = 64;
  cfg.block_size = 32;
  rkc::PersistentKernel<Echo16> k(dev, Echo16{}, cfg);
  std::vector<double> v;
  rkc::Slot<Msg16> out{};
  for (std::size_t i = 0; i < rounds + 100; ++i) {
    const std::int64_t t0 = now_ns();
    k.try_push(Msg16{i, 0}, i);
    const bool ok = spin_until([&] { return k.pop_batch(&out, 1) == 1; });
    const std::int64_t t1 = now_ns();
    if (!ok || out.tag != i || out.value.a != i + 1) {
      check(false, "persistent round trip " + std::to_string(i));
      break;
    }
    if (i >= 100) v.push_back(static_cast<double>(t1 - t0));  // first 100: warm-up
  }
  check(k.stop(), "persistent kernel stops");
  return summarize(v);
}

// kind 0: cudaLaunchKernel + wait; kind 1: the same kernel captured in a CUDA graph.
Lat launch_rtt(const rkc::CudaDevice& dev, std::size_t rounds, int kind) {
  rkc::Stream stream(dev, rkc::StreamConfig::performance());
  rkc::PinnedBuffer buf(2 * sizeof(rkc::Slot<Msg16>));
  auto* in_h = reinterpret_cast<rkc::Slot<Msg16>*>(buf.host());
  auto* out_h = in_h + 1;
  auto* in_d = reinterpret_cast<rkc::Slot<Msg16>*>(buf.device());
  auto* out_d = in_d + 1;
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  if (kind == 1) {
    rkc::check(cudaStreamBeginCapture(stream.get(), cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
    echo_once<<<1, 1, 0, stream.get()>>>(in_d, out_d);
    rkc::check(cudaStreamEndCapture(stream.get(), &graph), "cudaStreamEndCapture");
    rkc::check(cudaGraphInstantiate(&exec, graph, 0), "cudaGraphInstantiate");
  }
  std::vector<double> v;
  for (std::size_t i = 0; i < rounds + 100; ++i) {
    const std::int64_t t0 = now_ns();
    in_h->tag = i;
    in_h->value = Msg16{i, 0};
    if (kind == 0) {
      echo_once<<<1, 1, 0, stream.get()>>>(in_d, out_d);
      rkc::check(cudaGetLastError(), "echo_once launch");
    } else {
      rkc::check(cudaGraphLaunch(exec, stream.get()), "cudaGraphLaunch");
    }
    const bool ok = stream.wait(std::chrono::seconds(5), "launch round trip");
    const std::int64_t t1 = now_ns();
    if (!ok || out_h->tag != i || out_h->value.a != i + 1) {
      check(false, std::string(kind == 0 ? "launch" : "graph") + " round trip " + std::to_string(i));
      break;
    }
    if (i >= 100) v.push_back(static_cast<double>(t1 - t0));
  }
  if (exec != nullptr) (void)cudaGraphExecDestroy(exec);
  if (graph != nullptr) (void)cudaGraphDestroy(graph);
  return summarize(v);
}

Lat runtime_rtt(std::size_t rounds) {
  ringkernel::Runtime rt = ringkernel::Runtime::builder().backend(ringkernel::Backend::Cuda).build();
  rkc::CudaKernel k = rkc::launch(rt, "echo", Echo16{});
  std::vector<double> v;
  for (std::size_t i = 0; i < rounds + 100; ++i) {
    const std::int64_t t0 = now_ns();
    const Msg16 r = k.call<Msg16>(Msg16{i, 0}, std::chrono::seconds(5));
    const std::int64_t t1 = now_ns();
    if (r.a != i + 1) {
      check(false, "runtime call " + std::to_string(i));
      break;
    }
    if (i >= 100) v.push_back(static_cast<double>(t1 - t0));
  }
  return summarize(v);
}

template <class H, class M>
double throughput(const rkc::CudaDevice& dev, std::size_t total, std::uint32_t block, std::uint32_t grid, M seed) {
  rkc::PersistentConfig cfg;
  cfg.capacity = 1u << 18;
  cfg.block_size = block;
  cfg.grid_size = grid;
  cfg.max_batch = 1u << 14;
  rkc::PersistentKernel<H> k(dev, H{}, cfg);
  const std::size_t chunk = 1u << 14;
  std::vector<M> in(chunk, seed);
  std::vector<rkc::Slot<M>> out(chunk);
  std::size_t pushed = 0, popped = 0, wrong = 0;
  const std::int64_t t0 = now_ns();
  const std::int64_t end = t0 + 60000000000ll;
  while (popped < total && now_ns() < end) {
    if (pushed < total) pushed += k.push_batch(in.data(), std::min(chunk, total - pushed), pushed);
    const std::size_t n = k.pop_batch(out.data(), out.size());
    for (std::size_t i = 0; i < n; ++i)
      if (out[i].tag != popped + i) ++wrong;
    popped += n;
  }
  const double secs = static_cast<double>(now_ns() - t0) / 1e9;
  check(popped == total && wrong == 0, "throughput " + std::to_string(sizeof(M)) + " B: every message once, in order");
  check(k.stop(), "throughput kernel stops");
  return static_cast<double>(popped) / secs;
}

Lat k2k_hop(const rkc::CudaDevice& dev, std::size_t rounds) {
  rkc::PersistentConfig a_cfg;
  a_cfg.capacity = 64;
  a_cfg.block_size = 32;
  a_cfg.output_to_device = true;
  rkc::PersistentKernel<StampA> a(dev, StampA{}, a_cfg);
  rkc::PersistentConfig b_cfg;
  b_cfg.capacity = 64;
  b_cfg.block_size = 32;
  rkc::PersistentKernel<StampB> b(dev, StampB{}, b_cfg, a.device_output());
  std::vector<double> v;
  rkc::Slot<Stamp> out{};
  for (std::size_t i = 0; i < rounds + 100; ++i) {
    a.try_push(Msg16{i, 0}, i);
    if (!spin_until([&] { return b.pop_batch(&out, 1) == 1; }) || out.tag != i || out.value.seq != i) {
      check(false, "k2k hop " + std::to_string(i));
      break;
    }
    if (i >= 100) v.push_back(static_cast<double>(out.value.t_ns));
  }
  check(b.stop() && a.stop(), "k2k kernels stop");
  return summarize(v);
}

struct Bandwidth {
  double h2d_gbps = 0, d2h_gbps = 0;
};
Bandwidth bandwidth(const rkc::CudaDevice& dev, std::size_t bytes, int reps) {
  rkc::Stream stream(dev, rkc::StreamConfig::performance());
  void* host = nullptr;
  void* devp = nullptr;
  rkc::check(cudaMallocHost(&host, bytes), "cudaMallocHost");
  rkc::check(cudaMalloc(&devp, bytes), "cudaMalloc");
  std::memset(host, 1, bytes);
  Bandwidth b;
  for (int dir = 0; dir < 2; ++dir) {
    const std::int64_t t0 = now_ns();
    for (int r = 0; r < reps; ++r)
      rkc::check(cudaMemcpyAsync(dir == 0 ? devp : host, dir == 0 ? host : devp, bytes,
                                 dir == 0 ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToHost, stream.get()),
                 "cudaMemcpyAsync");
    check(stream.wait(std::chrono::seconds(30), "bandwidth copies"), "copies finish");
    const double secs = static_cast<double>(now_ns() - t0) / 1e9;
    (dir == 0 ? b.h2d_gbps : b.d2h_gbps) = static_cast<double>(bytes) * reps / secs / 1e9;
  }
  (void)cudaFree(devp);
  (void)cudaFreeHost(host);
  return b;
}
}  // namespace cb

int main(int argc, char** argv) {
  bool quick = false;
  std::string json = "cuda_bench.json";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
      json = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--quick] [--json PATH]\n", argv[0]);
      return 2;
    }
  }
  namespace rkc = ringkernel::cuda;
  if (rkc::cuda_device_count() == 0) {
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    std::printf("SKIP cuda_bench: no CUDA device (%s)\n",
                e == cudaSuccess ? "cudaGetDeviceCount returned 0" : rkc::describe(e, "cudaGetDeviceCount").c_str());
    return 77;
  }
  const rkc::CudaDevice dev(0);
  const rkc::DeviceInfo& d = dev.info();
  const std::size_t rounds = quick ? 2000 : 20000;
  const std::size_t total = quick ? 2000000 : 50000000;
  std::printf("ringkernel %s cuda_bench (%s)  device: %s (cc %d.%d, %d SMs)  cpu: %s\n\n", RINGKERNEL_VERSION_STRING,
              quick ? "quick" : "full", d.name.c_str(), d.compute_major, d.compute_minor, d.sm_count, cb::cpu_model().c_str());

  const cb::Lat pers = cb::persistent_rtt(dev, rounds);
  const cb::Lat launch = cb::launch_rtt(dev, rounds, 0);
  const cb::Lat graph = cb::launch_rtt(dev, rounds, 1);
  const cb::Lat bridge = cb::runtime_rtt(rounds / 4);
  std::printf("(a) round trip, one 16-byte message, ns (%zu samples each)\n", pers.n);
  std::printf("    persistent kernel (mapped rings)   p50 %8.0f   p99 %8.0f\n", pers.p50, pers.p99);
  std::printf("    launch per message + wait          p50 %8.0f   p99 %8.0f   (%.1fx persistent p50)\n", launch.p50, launch.p99,
              pers.p50 > 0 ? launch.p50 / pers.p50 : 0.0);
  std::printf("    CUDA graph launch + wait           p50 %8.0f   p99 %8.0f   (%.1fx persistent p50)\n", graph.p50, graph.p99,
              pers.p50 > 0 ? graph.p50 / pers.p50 : 0.0);
  std::printf("    runtime bridge KernelHandle::call  p50 %8.0f   p99 %8.0f\n\n", bridge.p50, bridge.p99);

  const std::uint32_t grid = d.supports_cooperative ? static_cast<std::uint32_t>(d.sm_count) : 1u;
  const double t16 = cb::throughput<cb::Bump16>(dev, total, 256, 1, cb::Msg16{0, 0});
  const double t16g = cb::throughput<cb::Bump16>(dev, total, 256, grid, cb::Msg16{0, 0});
  const double t32 = cb::throughput<cb::Bump<cb::Msg32>>(dev, total, 256, grid, cb::Msg32{});
  const double t64 = cb::throughput<cb::Bump<cb::Msg64>>(dev, total, 256, grid, cb::Msg64{});
  std::printf("(b) batched throughput through a persistent kernel, %zu messages, M msgs/s\n", total);
  std::printf("    16 B, 1 block x 256              %10.2f\n", t16 / 1e6);
  std::printf("    16 B, %3u blocks x 256 (coop)    %10.2f\n", grid, t16g / 1e6);
  std::printf("    32 B, %3u blocks x 256 (coop)    %10.2f\n", grid, t32 / 1e6);
  std::printf("    64 B, %3u blocks x 256 (coop)    %10.2f\n\n", grid, t64 / 1e6);

  const cb::Lat hop = cb::k2k_hop(dev, rounds);
  std::printf("(c) on-device K2K one hop (device ring, device clock), ns: p50 %8.0f   p99 %8.0f   (%zu samples)\n\n", hop.p50,
              hop.p99, hop.n);

  const cb::Bandwidth bw = cb::bandwidth(dev, std::size_t{64} << 20, quick ? 4 : 32);
  std::printf("(d) pinned copy bandwidth, 64 MiB: H2D %.2f GB/s   D2H %.2f GB/s\n", bw.h2d_gbps, bw.d2h_gbps);

  std::FILE* f = std::fopen(json.c_str(), "w");
  if (f == nullptr) {
    std::fprintf(stderr, "cannot write %s\n", json.c_str());
    return 2;
  }
  std::fprintf(f, "{\n  \"benchmark\": \"cuda_bench\",\n  \"ringkernel_version\": \"%s\",\n  \"mode\": \"%s\",\n",
               RINGKERNEL_VERSION_STRING, quick ? "quick" : "full");
  std::fprintf(f, "  \"machine\": {\"device\": \"%s\", \"compute\": \"%d.%d\", \"sm_count\": %d, \"cpu_model\": \"%s\"},\n",
               d.name.c_str(), d.compute_major, d.compute_minor, d.sm_count, cb::cpu_model().c_str());
  auto lat = [&](const char* name, const cb::Lat& l, bool last = false) {
    std::fprintf(f, "    \"%s\": {\"p50\": %.0f, \"p99\": %.0f, \"samples\": %zu}%s\n", name, l.p50, l.p99, l.n, last ? "" : ",");
  };
  std::fprintf(f, "  \"round_trip_ns\": {\n");
  lat("persistent", pers);
  lat("launch_per_message", launch);
  lat("cuda_graph", graph);
  lat("runtime_bridge_call", bridge, true);
  std::fprintf(f, "  },\n  \"throughput_msgs_per_s\": {\"16B_1block\": %.0f, \"16B_grid\": %.0f, \"32B_grid\": %.0f, \"64B_grid\": %.0f, "
                  "\"grid_blocks\": %u, \"messages\": %zu},\n",
               t16, t16g, t32, t64, grid, total);
  std::fprintf(f, "  \"k2k_one_hop_ns\": {\"p50\": %.0f, \"p99\": %.0f, \"samples\": %zu},\n", hop.p50, hop.p99, hop.n);
  std::fprintf(f, "  \"bandwidth_gb_per_s\": {\"h2d\": %.2f, \"d2h\": %.2f},\n", bw.h2d_gbps, bw.d2h_gbps);
  std::fprintf(f, "  \"ok\": %s\n}\n", cb::failures == 0 ? "true" : "false");
  std::fclose(f);
  std::printf("\nchecks: %s\njson: %s\n", cb::failures == 0 ? "every answer arrived: ok" : "FAILED", json.c_str());
  return cb::failures == 0 ? 0 : 1;
}
