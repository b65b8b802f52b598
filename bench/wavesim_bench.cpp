// wavesim_bench — WaveSim's tiled actor solver on the CPU backend against two peers measured in
// the same run, at 256^2, 512^2, 1024^2, 2048^2 and 4096^2 cells:
//   (a) actor: wavesim::make_solver on the CPU backend (one ring kernel per tile, halos over
//       K2K, tiles chosen from the core count as the example does);
//   (b) plain: the same wave_row stencil over the same grid on the same number of threads,
//       one band of rows per std::thread and a barrier per step: no actors, no messages. The
//       ratio actor/plain is the cost of the actor model;
//   (c) roofline: a streaming loop with the scheme's memory traffic (kBytesPerCell = 16 bytes
//       per cell: read u[n], u[n-1], a; write u[n-1]) over arrays of the same size, same
//       threads, same barrier: the bandwidth the machine gives this access pattern. "% roof"
//       is (cells/s x 16 B) / that bandwidth.
// The actor and plain results are compared bit for bit after every run (exit 1 on a mismatch).
// Where the build has WaveSim's Vulkan backend and a Vulkan device is present (lavapipe in CI),
// each size also gets a `vulkan` row: the Vulkan solver (tiles in device buffers, halos
// exchanged on the device, the example's default split) and its own roofline, wave_stream.comp
// (the same passes and buffers, the scheme's 16 B/cell without the stencil), on the device named
// in the header; its steps are sized to about a second of device time, and its field is
// compared bit for bit with the single-grid reference at the same step.
// Where the build has WaveSim's CUDA backend and a CUDA device is present, each size also gets a
// `cuda` row: the CUDA solver (auto mode: persistent cooperative kernel where the grid fits, else
// per-step launches; the example's default split), the same solver forced to per-step launches,
// the plain loop (cuda_plain_loop: one padded grid, no tiles or halos, a launch per step) and the
// roofline (cuda_roofline: a streaming kernel at the scheme's 16 B/cell over arrays of the same
// size), all on the device named in the header; steps sized to about half a second of device
// time; the solver's field is compared bit for bit with the plain loop's. In full mode a sweep
// of the persistent kernel's blocks per SM at 512^2 follows the table.
// Prints a table and writes JSON (--json PATH). --quick: 256^2 and 512^2 only, a few steps,
// for the test suite (it checks the agreement, not the figures). --sizes N,N,...: these grid
// sides instead of the default list.
#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel.hpp"
#if defined(WAVESIM_HAVE_VULKAN)
#include "ringkernel_vulkan.hpp"
#include "vulkan_solver.hpp"
#endif
#if defined(WAVESIM_HAVE_CUDA)
#include "cuda_solver.hpp"
#endif

#include "scene.hpp"
#include "solver.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

double load_average() {
  std::ifstream f("/proc/loadavg");
  double l = -1;
  f >> l;
  return l;
}

/// A sense-reversing barrier for `n` threads that spins briefly, then yields.
class Barrier {
 public:
  explicit Barrier(int n) : n_(n) {}
  void wait() {
    const bool sense = !sense_.load(std::memory_order_relaxed);
    if (count_.fetch_add(1, std::memory_order_acq_rel) + 1 == n_) {
      count_.store(0, std::memory_order_relaxed);
      sense_.store(sense, std::memory_order_release);
      return;
    }
    for (int spins = 0; sense_.load(std::memory_order_acquire) != sense; ++spins)
      if (spins > 200) std::this_thread::yield();
  }

 private:
  const int n_;
  std::atomic<int> count_{0};
  std::atomic<bool> sense_{false};
};

/// The grid on padded storage (one halo cell around it, always 0), as the tiles keep it.
struct PlainGrid {
  int w = 0, h = 0;
  std::ptrdiff_t stride = 0;
  std::vector<float> cur, prev, coef;
  explicit PlainGrid(const wavesim::Scene& scene) : w(scene.width), h(scene.height), stride(scene.width + 2) {
    const wavesim::Field f = wavesim::initial_field(scene);
    coef = wavesim::build_coefficients(scene);
    cur.assign(static_cast<std::size_t>(stride) * (h + 2), 0.0f);
    prev = cur;
    for (int y = 0; y < h; ++y) {
      std::memcpy(&cur[static_cast<std::size_t>(y + 1) * stride + 1], &f.cur[static_cast<std::size_t>(y) * w], sizeof(float) * w);
      std::memcpy(&prev[static_cast<std::size_t>(y + 1) * stride + 1], &f.prev[static_cast<std::size_t>(y) * w], sizeof(float) * w);
    }
  }
};

/// Runs `steps` steps of `row_fn(next_prev, cur, coef, n, stride)` over the grid on `threads`
/// threads (bands of rows), a barrier after each step; returns seconds. Leaves u[steps] in
/// g.cur (pointers swapped per step like the solvers do).
template <class RowFn>
double run_bands(PlainGrid& g, int threads, std::uint64_t steps, RowFn row_fn) {
  Barrier barrier(threads);
  const double t0 = now_s();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      const int y0 = static_cast<int>(static_cast<std::int64_t>(t) * g.h / threads);
      const int y1 = static_cast<int>(static_cast<std::int64_t>(t + 1) * g.h / threads);
      float* cur = g.cur.data();
      float* prev = g.prev.data();
      for (std::uint64_t s = 0; s < steps; ++s) {
        for (int y = y0; y < y1; ++y) {
          const std::size_t row = static_cast<std::size_t>(y + 1) * g.stride + 1;
          row_fn(prev + row, cur + row, g.coef.data() + static_cast<std::size_t>(y) * g.w, g.w, g.stride);
        }
        std::swap(cur, prev);
        barrier.wait();
      }
    });
  for (auto& th : pool) th.join();
  const double secs = now_s() - t0;
  if (steps % 2 == 1) std::swap(g.cur, g.prev);
  return secs;
}

// The roofline's loop: the scheme's traffic (3 streams in, 1 out), no stencil.
void stream_row(float* WAVESIM_RESTRICT next_prev, const float* WAVESIM_RESTRICT cur, const float* WAVESIM_RESTRICT coef,
                int n, std::ptrdiff_t) {
  for (int x = 0; x < n; ++x) next_prev[x] = coef[x] * cur[x] - next_prev[x];
}

struct Row {
  int n = 0;
  std::uint64_t steps = 0;
  std::string layout;
  double actor_s = 0, plain_s = 0, roof_s = 0;  // medians
  bool equal = true;
  double cells() const { return static_cast<double>(n) * n; }
  double actor_cps() const { return cells() * static_cast<double>(steps) / actor_s; }
  double plain_cps() const { return cells() * static_cast<double>(steps) / plain_s; }
  double roof_bps() const { return cells() * static_cast<double>(steps) * wavesim::kBytesPerCell / roof_s; }
  // The Vulkan solver, if measured (vk_steps > 0).
  std::uint64_t vk_steps = 0;
  std::string vk_layout;
  double vk_s = 0, vk_roof_s = 0;
  bool vk_equal = true;
  double vk_cps() const { return cells() * static_cast<double>(vk_steps) / vk_s; }
  double vk_roof_bps() const { return cells() * static_cast<double>(vk_steps) * wavesim::kBytesPerCell / vk_roof_s; }
  // The CUDA solver, if measured (cu_steps > 0).
  std::uint64_t cu_steps = 0;
  std::string cu_layout, cu_mode;
  double cu_s = 0, cu_per_step_s = 0, cu_plain_s = 0, cu_roof_s = 0;
  bool cu_equal = true;
  double cu_cps() const { return cells() * static_cast<double>(cu_steps) / cu_s; }
  double cu_per_step_cps() const { return cells() * static_cast<double>(cu_steps) / cu_per_step_s; }
  double cu_plain_cps() const { return cells() * static_cast<double>(cu_steps) / cu_plain_s; }
  double cu_roof_bps() const { return cells() * static_cast<double>(cu_steps) * wavesim::kBytesPerCell / cu_roof_s; }
};

/// The CUDA device the bench runs on, or "" (and why in `why`) when there is none.
std::string cuda_device(std::string& why) {
#if defined(WAVESIM_HAVE_CUDA)
  why = wavesim::cuda_unavailable_reason();
  if (!why.empty()) return "";
  wavesim::register_cuda_backend();
  return wavesim::cuda_device_name();
#else
  why = "this build has no CUDA backend for WaveSim";
  return "";
#endif
}

void json_string(std::FILE* f, const std::string& s) {
  std::fputc('"', f);
  for (char c : s) std::fputc(c == '"' || c == '\\' ? '\'' : c, f);
  std::fputc('"', f);
}

/// The Vulkan device the bench runs on, or "" (and why in `why`) when there is none.
std::string vulkan_device(std::string& why) {
#if defined(WAVESIM_HAVE_VULKAN)
  try {
    wavesim::register_vulkan_backend();
    return wavesim::vulkan_device_name();
  } catch (const std::exception& e) {
    why = e.what();
    return "";
  }
#else
  why = "this build has no Vulkan backend for WaveSim";
  return "";
#endif
}

/// Untimed steps before each measurement (the same for actor and plain, so their fields still
/// agree after the timed steps).
constexpr std::uint64_t kWarmup = 2;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string json = "wavesim_bench.json";
  std::vector<int> sizes_arg;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
      json = argv[++i];
    } else if (std::strcmp(argv[i], "--sizes") == 0 && i + 1 < argc) {
      const std::string list = argv[++i];
      std::size_t at = 0;
      while (at <= list.size()) {
        const std::size_t comma = std::min(list.find(',', at), list.size());
        const int n = std::atoi(list.substr(at, comma - at).c_str());
        if (n < 16 || n > wavesim::kMaxGridSide) {
          std::fprintf(stderr, "--sizes: each size must be in 16..%d, got '%s'\n", wavesim::kMaxGridSide,
                       list.substr(at, comma - at).c_str());
          return 2;
        }
        sizes_arg.push_back(n);
        at = comma + 1;
      }
    } else {
      std::fprintf(stderr, "usage: %s [--quick] [--sizes N,N,...] [--json PATH]\n", argv[0]);
      return 2;
    }
  }
  const int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const std::vector<int> sizes =
      !sizes_arg.empty() ? sizes_arg : quick ? std::vector<int>{256, 512} : std::vector<int>{256, 512, 1024, 2048, 4096};
  const int reps = quick ? 1 : 3;
  std::printf("ringkernel %s wavesim_bench (%s)  cpu: %s  nproc: %d  load average: %.2f\n", RINGKERNEL_VERSION_STRING,
              quick ? "quick" : "full", cpu_model().c_str(), threads, load_average());
  std::printf("scheme traffic %zu B/cell; plain and roofline on %d threads; actor tiles chosen as by the example\n",
              wavesim::kBytesPerCell, threads);
  std::string vk_why;
  const std::string vk_device = vulkan_device(vk_why);
  if (vk_device.empty()) std::printf("vulkan: not measured (%s)\n\n", vk_why.c_str());
  else std::printf("vulkan: %s; rows 'vulkan': the Vulkan solver, roof = wave_stream.comp on the device, equal = vs reference\n\n", vk_device.c_str());
  std::string cu_why;
  const std::string cu_device = cuda_device(cu_why);
  if (cu_device.empty()) std::printf("cuda: not measured (%s)\n\n", cu_why.c_str());
  else
    std::printf("cuda: %s; rows 'cuda': the CUDA solver (auto mode), plain = cuda_plain_loop, roof = cuda_roofline "
                "(16 B/cell streaming kernel), equal = vs the plain loop; a 'cuda mode' line follows each\n\n",
                cu_device.c_str());
  std::printf("%-7s %6s %6s %-11s %12s %12s %12s %12s %10s %8s %8s %8s\n", "backend", "grid", "steps", "tiles", "actor st/s",
              "actor Mc/s", "plain Mc/s", "roof GB/s", "actor/pl", "act%roof", "pl%roof", "equal");

  std::vector<Row> rows;
  int failures = 0;
  for (int n : sizes) {
    wavesim::Scene scene = wavesim::parse_scene("boundary reflecting\ncourant 0.5\n");
    scene.width = scene.height = n;
    scene.sources.push_back(wavesim::Source{wavesim::SourceKind::Impulse, n / 3, n / 2, 0, 1.0, n / 32.0 + 1});
    scene.validate();
    Row r;
    r.n = n;
    const double cells = static_cast<double>(n) * n;
    r.steps = quick ? 30 : static_cast<std::uint64_t>(std::min(4000.0, std::max(10.0, 3e8 / cells)));
    std::vector<double> at, pt, rt;
    for (int rep = 0; rep < reps; ++rep) {
      wavesim::SolverOptions o;
      o.backend = ringkernel::Backend::Cpu;
      wavesim::Field actor_field;
      {
        auto solver = wavesim::make_solver(scene, o);
        r.layout = solver->layout();
        solver->advance(kWarmup);  // threads started, pages touched
        const double t0 = now_s();
        solver->advance(r.steps);
        at.push_back(now_s() - t0);
        actor_field = solver->field();
      }
      {
        PlainGrid g(scene);
        const float k2 = static_cast<float>(scene.courant_number() * scene.courant_number());
        auto stencil = [k2](float* np, const float* c, const float* a, int w, std::ptrdiff_t s) { wavesim::wave_row(np, c, a, w, s, k2); };
        run_bands(g, threads, kWarmup, stencil);
        pt.push_back(run_bands(g, threads, r.steps, stencil));
        for (int y = 0; y < n && r.equal; ++y)
          r.equal = std::memcmp(&g.cur[static_cast<std::size_t>(y + 1) * g.stride + 1],
                                &actor_field.cur[static_cast<std::size_t>(y) * n], sizeof(float) * n) == 0;
      }
      {
        PlainGrid g(scene);
        run_bands(g, threads, kWarmup, stream_row);
        rt.push_back(run_bands(g, threads, r.steps, stream_row));
      }
    }
    r.actor_s = median(at);
    r.plain_s = median(pt);
    r.roof_s = median(rt);
    if (!r.equal) ++failures;
    const double roof = r.roof_bps();
    std::printf("%-7s %5d^2 %6llu %-11s %12.0f %12.1f %12.1f %12.2f %9.2fx %7.0f%% %7.0f%% %8s\n", "cpu", n,
                static_cast<unsigned long long>(r.steps), r.layout.c_str(), static_cast<double>(r.steps) / r.actor_s,
                r.actor_cps() / 1e6, r.plain_cps() / 1e6, roof / 1e9, r.actor_cps() / r.plain_cps(),
                100.0 * r.actor_cps() * wavesim::kBytesPerCell / roof, 100.0 * r.plain_cps() * wavesim::kBytesPerCell / roof,
                r.equal ? "yes" : "NO");
    std::fflush(stdout);
#if defined(WAVESIM_HAVE_VULKAN)
    if (!vk_device.empty()) {
      // Steps for about a second of device time (a device may be far slower than the CPU).
      wavesim::SolverOptions o;
      o.backend = ringkernel::Backend::Vulkan;
      std::vector<double> vt, vrt;
      {
        auto probe = wavesim::make_solver(scene, o);
        probe->advance(kWarmup);
        const double t0 = now_s();
        probe->advance(8);
        const double per_step = std::max(1e-7, (now_s() - t0) / 8);
        r.vk_steps = quick ? 30 : static_cast<std::uint64_t>(std::min<double>(static_cast<double>(r.steps), std::max(10.0, 1.0 / per_step)));
      }
      for (int rep = 0; rep < reps; ++rep) {
        {
          auto solver = wavesim::make_solver(scene, o);
          r.vk_layout = solver->layout();
          solver->advance(kWarmup);
          const double t0 = now_s();
          solver->advance(r.vk_steps);
          vt.push_back(now_s() - t0);
          if (rep == 0) {
            auto ref = wavesim::make_reference_solver(scene);
            ref->advance(kWarmup + r.vk_steps);
            const wavesim::Field a = solver->field(), b = ref->field();
            r.vk_equal = std::memcmp(a.cur.data(), b.cur.data(), sizeof(float) * a.cur.size()) == 0 &&
                         std::memcmp(a.prev.data(), b.prev.data(), sizeof(float) * a.prev.size()) == 0;
          }
        }
        {
          auto roof = wavesim::make_vulkan_roofline_solver(scene, o);
          roof->advance(kWarmup);
          const double t0 = now_s();
          roof->advance(r.vk_steps);
          vrt.push_back(now_s() - t0);
        }
      }
      r.vk_s = median(vt);
      r.vk_roof_s = median(vrt);
      if (!r.vk_equal) ++failures;
      std::printf("%-7s %5d^2 %6llu %-11s %12.0f %12.1f %12s %12.2f %10s %7.0f%% %8s %8s\n", "vulkan", n,
                  static_cast<unsigned long long>(r.vk_steps), r.vk_layout.c_str(), static_cast<double>(r.vk_steps) / r.vk_s,
                  r.vk_cps() / 1e6, "-", r.vk_roof_bps() / 1e9, "-", 100.0 * r.vk_cps() * wavesim::kBytesPerCell / r.vk_roof_bps(),
                  "-", r.vk_equal ? "yes" : "NO");
      std::fflush(stdout);
    }
#endif
#if defined(WAVESIM_HAVE_CUDA)
    if (!cu_device.empty()) {
      wavesim::SolverOptions o;
      o.backend = ringkernel::Backend::Cuda;
      wavesim::CudaTuning per_step;
      per_step.mode = wavesim::CudaMode::PerStep;
      {
        // Steps for about half a second of device time.
        auto probe = wavesim::make_cuda_solver(scene, o);
        probe->advance(kWarmup + 64);
        const double t0 = now_s();
        probe->advance(256);
        const double per_step_s = std::max(1e-8, (now_s() - t0) / 256);
        r.cu_steps = quick ? 200 : static_cast<std::uint64_t>(std::min(200000.0, std::max(100.0, 0.5 / per_step_s)));
      }
      std::vector<double> ct, cpt, cpl, crt;
      for (int rep = 0; rep < reps; ++rep) {
        wavesim::Field solver_field;
        {
          auto solver = wavesim::make_cuda_solver(scene, o);
          r.cu_layout = solver->layout();
          r.cu_mode = solver->backend_name();
          solver->advance(kWarmup);
          const double t0 = now_s();
          solver->advance(r.cu_steps);
          ct.push_back(now_s() - t0);
          if (rep == 0) solver_field = solver->field();
        }
        {
          auto solver = wavesim::make_cuda_solver(scene, o, per_step);
          solver->advance(kWarmup);
          const double t0 = now_s();
          solver->advance(r.cu_steps);
          cpt.push_back(now_s() - t0);
        }
        const wavesim::CudaTiming plain = wavesim::cuda_plain_loop(scene, kWarmup, r.cu_steps);
        cpl.push_back(plain.seconds);
        if (rep == 0)
          r.cu_equal = std::memcmp(plain.field.cur.data(), solver_field.cur.data(), sizeof(float) * solver_field.cur.size()) == 0 &&
                       std::memcmp(plain.field.prev.data(), solver_field.prev.data(), sizeof(float) * solver_field.prev.size()) == 0;
        crt.push_back(wavesim::cuda_roofline(scene.cells(), kWarmup, r.cu_steps).seconds);
      }
      r.cu_s = median(ct);
      r.cu_per_step_s = median(cpt);
      r.cu_plain_s = median(cpl);
      r.cu_roof_s = median(crt);
      if (!r.cu_equal) ++failures;
      const double roof = r.cu_roof_bps();
      std::printf("%-7s %5d^2 %6llu %-11s %12.0f %12.1f %12.1f %12.2f %9.2fx %7.0f%% %7.0f%% %8s\n", "cuda", n,
                  static_cast<unsigned long long>(r.cu_steps), r.cu_layout.c_str(), static_cast<double>(r.cu_steps) / r.cu_s,
                  r.cu_cps() / 1e6, r.cu_plain_cps() / 1e6, roof / 1e9, r.cu_cps() / r.cu_plain_cps(),
                  100.0 * r.cu_cps() * wavesim::kBytesPerCell / roof, 100.0 * r.cu_plain_cps() * wavesim::kBytesPerCell / roof,
                  r.cu_equal ? "yes" : "NO");
      std::printf("  cuda mode: %s; per-step launches %.0f steps/s (%.1f Mcells/s), persistent/per-step %.2fx\n",
                  r.cu_mode.c_str(), static_cast<double>(r.cu_steps) / r.cu_per_step_s, r.cu_per_step_cps() / 1e6,
                  r.cu_cps() / r.cu_per_step_cps());
      std::fflush(stdout);
    }
#endif
    rows.push_back(r);
  }

  // The persistent kernel's grid size at 512^2: fewer blocks make the grid barrier cheaper, more
  // hide memory latency better. Auto uses the occupancy limit (blocks_per_sm 0).
  struct Sweep {
    int blocks_per_sm;
    std::string mode;
    double steps_per_s;
  };
  std::vector<Sweep> sweep;
#if defined(WAVESIM_HAVE_CUDA)
  if (!cu_device.empty() && !quick) {
    wavesim::Scene scene = wavesim::parse_scene("boundary reflecting\ncourant 0.5\n");
    scene.width = scene.height = 512;
    scene.sources.push_back(wavesim::Source{wavesim::SourceKind::Impulse, 512 / 3, 512 / 2, 0, 1.0, 512 / 32.0 + 1});
    wavesim::SolverOptions o;
    o.tiles_x = o.tiles_y = 1;
    std::printf("\ncuda persistent kernel at 512^2, 1 x 1 tile, by blocks per SM (0: the occupancy limit):\n");
    for (int bps : {1, 2, 4, 8, 0}) {
      wavesim::CudaTuning t;
      t.mode = wavesim::CudaMode::Persistent;
      t.blocks_per_sm = bps;
      auto solver = wavesim::make_cuda_solver(scene, o, t);
      solver->advance(1000);
      const std::uint64_t steps = 20000;
      const double t0 = now_s();
      solver->advance(steps);
      const double sps = static_cast<double>(steps) / (now_s() - t0);
      sweep.push_back(Sweep{bps, solver->backend_name(), sps});
      std::printf("  blocks/SM %d: %.0f steps/s, %.1f Mcells/s  (%s)\n", bps, sps, sps * 512.0 * 512.0 / 1e6,
                  solver->backend_name().c_str());
    }
    std::fflush(stdout);
  }
#endif

  std::FILE* f = std::fopen(json.c_str(), "w");
  if (f == nullptr) {
    std::fprintf(stderr, "cannot write %s\n", json.c_str());
    return 2;
  }
  std::fprintf(f, "{\n  \"benchmark\": \"wavesim_bench\",\n  \"ringkernel_version\": \"%s\",\n  \"mode\": \"%s\",\n",
               RINGKERNEL_VERSION_STRING, quick ? "quick" : "full");
  std::fprintf(f, "  \"machine\": {\"cpu_model\": \"%s\", \"nproc\": %d, \"load_average\": %.2f},\n", cpu_model().c_str(), threads,
               load_average());
  std::fprintf(f, "  \"backend\": \"cpu\",\n  \"bytes_per_cell\": %zu,\n  \"repetitions\": %d,\n  \"sizes\": [", wavesim::kBytesPerCell,
               reps);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    std::fprintf(f,
                 "%s\n    {\"n\": %d, \"steps\": %llu, \"tiles\": \"%s\", \"actor_steps_per_s\": %.1f, \"actor_cells_per_s\": %.0f, "
                 "\"plain_steps_per_s\": %.1f, \"plain_cells_per_s\": %.0f, \"roofline_bytes_per_s\": %.0f, "
                 "\"actor_over_plain\": %.4f, \"actor_fraction_of_roofline\": %.4f, \"plain_fraction_of_roofline\": %.4f, "
                 "\"bit_exact\": %s}",
                 i ? "," : "", r.n, static_cast<unsigned long long>(r.steps), r.layout.c_str(), static_cast<double>(r.steps) / r.actor_s,
                 r.actor_cps(), static_cast<double>(r.steps) / r.plain_s, r.plain_cps(), r.roof_bps(), r.actor_cps() / r.plain_cps(),
                 r.actor_cps() * wavesim::kBytesPerCell / r.roof_bps(), r.plain_cps() * wavesim::kBytesPerCell / r.roof_bps(),
                 r.equal ? "true" : "false");
  }
  std::fprintf(f, "\n  ],\n");
  // The Vulkan rows: the same sizes, on the named device (absent: why not).
  if (vk_device.empty()) {
    std::fprintf(f, "  \"vulkan\": {\"device\": null, \"why_not\": \"");
    for (char c : vk_why) std::fputc(c == '"' || c == '\\' ? '\'' : c, f);
    std::fprintf(f, "\", \"sizes\": []},\n");
  } else {
    std::fprintf(f, "  \"vulkan\": {\"device\": \"%s\", \"sizes\": [", vk_device.c_str());
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      std::fprintf(f,
                   "%s\n    {\"n\": %d, \"steps\": %llu, \"tiles\": \"%s\", \"steps_per_s\": %.1f, \"cells_per_s\": %.0f, "
                   "\"roofline_bytes_per_s\": %.0f, \"fraction_of_roofline\": %.4f, \"over_cpu_actor\": %.4f, \"bit_exact\": %s}",
                   i ? "," : "", r.n, static_cast<unsigned long long>(r.vk_steps), r.vk_layout.c_str(),
                   static_cast<double>(r.vk_steps) / r.vk_s, r.vk_cps(), r.vk_roof_bps(),
                   r.vk_cps() * wavesim::kBytesPerCell / r.vk_roof_bps(), r.vk_cps() / r.actor_cps(), r.vk_equal ? "true" : "false");
    }
    std::fprintf(f, "\n  ]},\n");
  }
  // The CUDA rows (absent: why not) and the blocks-per-SM sweep.
  if (cu_device.empty()) {
    std::fprintf(f, "  \"cuda\": {\"device\": null, \"why_not\": ");
    json_string(f, cu_why);
    std::fprintf(f, ", \"sizes\": []},\n");
  } else {
    std::fprintf(f, "  \"cuda\": {\"device\": ");
    json_string(f, cu_device);
    std::fprintf(f, ", \"sizes\": [");
    bool first = true;
    for (const Row& r : rows) {
      if (r.cu_steps == 0) continue;
      std::fprintf(f, "%s\n    {\"n\": %d, \"steps\": %llu, \"tiles\": \"%s\", \"solver\": ", first ? "" : ",", r.n,
                   static_cast<unsigned long long>(r.cu_steps), r.cu_layout.c_str());
      first = false;
      json_string(f, r.cu_mode);
      std::fprintf(f,
                   ", \"steps_per_s\": %.1f, \"cells_per_s\": %.0f, \"per_step_launch_steps_per_s\": %.1f, "
                   "\"plain_steps_per_s\": %.1f, \"plain_cells_per_s\": %.0f, \"roofline_bytes_per_s\": %.0f, "
                   "\"over_plain\": %.4f, \"fraction_of_roofline\": %.4f, \"plain_fraction_of_roofline\": %.4f, "
                   "\"bit_exact_vs_plain\": %s}",
                   static_cast<double>(r.cu_steps) / r.cu_s, r.cu_cps(), static_cast<double>(r.cu_steps) / r.cu_per_step_s,
                   static_cast<double>(r.cu_steps) / r.cu_plain_s, r.cu_plain_cps(), r.cu_roof_bps(), r.cu_cps() / r.cu_plain_cps(),
                   r.cu_cps() * wavesim::kBytesPerCell / r.cu_roof_bps(), r.cu_plain_cps() * wavesim::kBytesPerCell / r.cu_roof_bps(),
                   r.cu_equal ? "true" : "false");
    }
    std::fprintf(f, "\n  ], \"persistent_512_by_blocks_per_sm\": [");
    for (std::size_t i = 0; i < sweep.size(); ++i) {
      std::fprintf(f, "%s{\"blocks_per_sm\": %d, \"steps_per_s\": %.1f, \"solver\": ", i ? ", " : "", sweep[i].blocks_per_sm,
                   sweep[i].steps_per_s);
      json_string(f, sweep[i].mode);
      std::fprintf(f, "}");
    }
    std::fprintf(f, "]},\n");
  }
  std::fprintf(f, "  \"ok\": %s\n}\n", failures == 0 ? "true" : "false");
  std::fclose(f);
  std::printf("\nchecks: %s\njson: %s\n",
              failures == 0 ? (vk_device.empty() ? (cu_device.empty() ? "actor and plain fields equal bit for bit: ok"
                                                                      : "actor and plain fields equal bit for bit, cuda equals its plain loop: ok")
                                                 : (cu_device.empty() ? "actor and plain fields equal bit for bit, vulkan equals the reference: ok"
                                                                      : "actor and plain fields equal bit for bit, vulkan equals the reference, cuda equals its plain loop: ok"))
                            : "FAILED",
              json.c_str());
  return failures == 0 ? 0 : 1;
}
