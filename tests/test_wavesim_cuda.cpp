// wavesim_cuda_tests — WaveSim's CUDA backend (examples/wavesim/cuda_solver.cu). One program,
// two Meson tests:
//   `wavesim_cuda_tests host`    runs everywhere: backend registration, `auto` falls back to the
//                                CPU without a device, and errors that need no GPU (no device,
//                                a bad device ordinal, CFL, a bad split) are clear.
//   `wavesim_cuda_tests device`  on a CUDA device: the CUDA solver's fields against the CPU's
//                                single-grid reference and tile actors after N steps, bit for bit,
//                                for several grids and tile splits (walls, an absorber, the sponge,
//                                every source kind), in persistent and per-step mode; energy on a
//                                closed box; bad configs on the device. Without a usable device it
//                                prints why and exits 77 (Meson: SKIP).
// Tolerance: none. cuda_solver.cu evaluates wave_cell with round-to-nearest intrinsics that are
// never fused and keeps denormals; the CPU builds with -ffp-contract=off; both are IEEE 754
// binary32, so the bits must agree.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel.hpp"

#include "cuda_solver.hpp"
#include "scene.hpp"
#include "solver.hpp"
#include "wavesim_scenes.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace {

using wavesim_test::busy_scene;
using wavesim_test::differing;
using wavesim_test::peak;
using wavesim_test::same_bits;

std::unique_ptr<wavesim::Solver> cuda_solver(const wavesim::Scene& scene, int tx, int ty,
                                             wavesim::CudaMode mode = wavesim::CudaMode::Auto, int blocks_per_sm = 0) {
  wavesim::SolverOptions o;
  o.backend = ringkernel::Backend::Cuda;
  o.tiles_x = tx;
  o.tiles_y = ty;
  wavesim::CudaTuning t;
  t.mode = mode;
  t.blocks_per_sm = blocks_per_sm;
  return wavesim::make_cuda_solver(scene, o, t);
}

std::string error_text(const std::function<void()>& f, ringkernel::ErrorCode& code) {
  try {
    f();
  } catch (const ringkernel::Error& e) {
    code = e.code();
    return e.what();
  }
  return "";
}

bool has(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_SUITE("wavesim_cuda_host") {
  TEST_CASE("cuda is registered; auto picks it exactly when a device is usable, else the CPU") {
    const auto have = wavesim::available_backends();
    REQUIRE(!have.empty());
    CHECK(have.front() == ringkernel::Backend::Cuda);  // best first
    CHECK(wavesim::resolve_backend(ringkernel::Backend::Cuda) == ringkernel::Backend::Cuda);
    const std::string why = wavesim::cuda_unavailable_reason();
    const wavesim::Scene scene = wavesim::parse_scene("grid 32 24\nboundary reflecting\nsource impulse 10 10 1 2\n");
    if (why.empty()) {
      CHECK(wavesim::resolve_backend(ringkernel::Backend::Auto) == ringkernel::Backend::Cuda);
      CHECK(wavesim::make_solver(scene)->backend_name().rfind("cuda: ", 0) == 0);
    } else {
      MESSAGE("no CUDA device here: " << why);
      CHECK(wavesim::resolve_backend(ringkernel::Backend::Auto) == ringkernel::Backend::Cpu);
      auto s = wavesim::make_solver(scene);
      CHECK(s->backend_name() == "cpu");
      s->advance(5);
      CHECK(s->step() == 5);
    }
  }

  TEST_CASE("the CUDA solver's tables and step code, run on the host, equal the reference bit for bit") {
    struct Case {
      int w, h, tx, ty;
      std::uint64_t steps;
    };
    // Uneven splits, one cell column per tile, tiles spanning several work items both ways.
    const Case cases[] = {{61, 47, 1, 1, 40}, {61, 47, 3, 5, 40}, {61, 47, 7, 2, 41}, {61, 47, 61, 1, 20},
                          {48, 120, 1, 8, 45}, {257, 131, 2, 3, 60}};
    for (const Case& c : cases) {
      CAPTURE(c.w);
      CAPTURE(c.h);
      CAPTURE(c.tx);
      CAPTURE(c.ty);
      const wavesim::Scene scene = busy_scene(c.w, c.h);
      auto ref = wavesim::make_reference_solver(scene);
      ref->advance(c.steps);
      const wavesim::Field expect = ref->field();
      CHECK(peak(expect) > 0.01);
      wavesim::SolverOptions o;
      o.tiles_x = c.tx;
      o.tiles_y = c.ty;
      const wavesim::Field got = wavesim::cuda_emulate_on_host(scene, o, c.steps);
      CHECK(differing(got, expect) == 0);
      CHECK(same_bits(got, expect));
    }
    // Two sources in one cell add in scene order; walls stay 0.
    const wavesim::Scene scene = wavesim::parse_scene(
        "grid 64 48\ncourant 0.7\nboundary reflecting\nwall 30 10 34 40\n"
        "source sine 12 20 2000 1\nsource sine 12 20 3100 0.37\nsource point 50 30 2500 3\nsource impulse 20 30 2 3\n");
    auto ref = wavesim::make_reference_solver(scene);
    ref->advance(120);
    wavesim::SolverOptions o;
    o.tiles_x = 3;
    o.tiles_y = 2;
    CHECK(same_bits(wavesim::cuda_emulate_on_host(scene, o, 120), ref->field()));
    CHECK(same_bits(wavesim::cuda_emulate_on_host(scene, o, 0), wavesim::make_reference_solver(scene)->field()));
  }

  TEST_CASE("errors that need no GPU are clear") {
    ringkernel::ErrorCode code{};
    // The CFL bound and the split are checked before any device is touched.
    wavesim::Scene fast = wavesim::parse_scene("grid 32 32");
    fast.courant = 0.8;
    CHECK_THROWS_AS(cuda_solver(fast, 1, 1), wavesim::CflError);
    std::string e = error_text([] { (void)cuda_solver(wavesim::parse_scene("grid 64 64"), 65, 1); }, code);
    CHECK(code == ringkernel::ErrorCode::InvalidArgument);
    CHECK(has(e, "cannot split"));
    // A device ordinal that does not exist: BackendUnavailable, naming it (or saying there is no driver/device).
    e = error_text(
        [] {
          wavesim::SolverOptions o;
          o.backend = ringkernel::Backend::Cuda;
          o.device = 99;
          (void)wavesim::make_solver(wavesim::default_scene(), o);
        },
        code);
    CHECK(code == ringkernel::ErrorCode::BackendUnavailable);
    CHECK((has(e, "CUDA device 99 does not exist") || has(e, "no usable CUDA device")));
    CHECK(!wavesim::cuda_unavailable_reason(99).empty());
    CHECK_THROWS_AS(wavesim::cuda_device_name(99), ringkernel::Error);
    CHECK(std::string(wavesim::to_string(wavesim::CudaMode::PerStep)) == "per-step");
    CHECK(std::string(wavesim::to_string(wavesim::CudaMode::Persistent)) == "persistent");
  }

  TEST_CASE("without a device, --backend cuda says why") {
    const std::string why = wavesim::cuda_unavailable_reason();
    if (!why.empty()) {
      ringkernel::ErrorCode code{};
      const std::string e = error_text([] { (void)cuda_solver(wavesim::default_scene(), 1, 1); }, code);
      CHECK(code == ringkernel::ErrorCode::BackendUnavailable);
      CHECK(has(e, "no usable CUDA device"));
      CHECK(e == why);
      CHECK_THROWS_AS(wavesim::cuda_device_name(), ringkernel::Error);
    } else {
      CHECK(!wavesim::cuda_device_name().empty());
    }
  }
}  // TEST_SUITE wavesim_cuda_host

TEST_SUITE("wavesim_cuda_device") {
  TEST_CASE("cuda equals the single-grid reference and the CPU tiles bit for bit: several grids and splits, both modes") {
    struct Case {
      int w, h, tx, ty;
      std::uint64_t steps;
    };
    // 61 x 47 (primes: every split uneven), a wide and a tall grid, one tile per cell column,
    // and a grid with several work items per tile in both directions.
    const Case cases[] = {{61, 47, 1, 1, 60}, {61, 47, 2, 2, 60}, {61, 47, 3, 5, 60}, {61, 47, 7, 2, 60},
                          {61, 47, 1, 6, 60}, {130, 70, 4, 3, 150}, {200, 48, 8, 1, 90}, {48, 120, 1, 8, 90},
                          {61, 47, 61, 1, 40}, {257, 131, 2, 3, 120}};
    for (const Case& c : cases) {
      CAPTURE(c.w);
      CAPTURE(c.h);
      CAPTURE(c.tx);
      CAPTURE(c.ty);
      const wavesim::Scene scene = busy_scene(c.w, c.h);
      auto ref = wavesim::make_reference_solver(scene);
      ref->advance(c.steps);
      const wavesim::Field expect = ref->field();
      CHECK(peak(expect) > 0.01);  // something happened

      wavesim::SolverOptions cpu_options;
      cpu_options.backend = ringkernel::Backend::Cpu;
      cpu_options.tiles_x = c.tx;
      cpu_options.tiles_y = c.ty;
      auto cpu = wavesim::make_solver(scene, cpu_options);
      cpu->advance(c.steps);
      const wavesim::Field cpu_field = cpu->field();
      REQUIRE(same_bits(cpu_field, expect));

      for (wavesim::CudaMode mode : {wavesim::CudaMode::Persistent, wavesim::CudaMode::PerStep}) {
        CAPTURE(wavesim::to_string(mode));
        auto gpu = cuda_solver(scene, c.tx, c.ty, mode);
        CHECK(gpu->backend_name().rfind("cuda: ", 0) == 0);
        CHECK(has(gpu->backend_name(), mode == wavesim::CudaMode::Persistent ? "persistent" : "per-step"));
        CHECK(gpu->layout() == std::to_string(c.tx) + " x " + std::to_string(c.ty) + " tiles");
        // In three calls of different lengths (odd, so u[n] changes buffers between calls),
        // with progress reported: resuming must change nothing.
        std::uint64_t last = 0;
        gpu->advance(1);
        gpu->advance(24, [&](std::uint64_t s) {
          CHECK(s > last);
          last = s;
        });
        CHECK(last == 25);
        gpu->advance(c.steps - 25);
        CHECK(gpu->step() == c.steps);
        const wavesim::Field got = gpu->field();
        CHECK(differing(got, expect) == 0);
        CHECK(same_bits(got, cpu_field));
      }
    }
  }

  TEST_CASE("cuda persistent with one block per SM: each block loops over many work items, still bit-exact") {
    const wavesim::Scene scene = busy_scene(300, 200);
    auto ref = wavesim::make_reference_solver(scene);
    ref->advance(100);
    auto gpu = cuda_solver(scene, 3, 2, wavesim::CudaMode::Persistent, 1);
    gpu->advance(100);
    CHECK(has(gpu->backend_name(), "persistent"));
    CHECK(same_bits(gpu->field(), ref->field()));
  }

  TEST_CASE("cuda: walls stay exactly 0, sources sharing a cell add in scene order, a closed box keeps its energy") {
    const wavesim::Scene scene = wavesim::parse_scene(
        "grid 64 48\ncourant 0.7\nboundary reflecting\nwall 30 10 34 40\n"
        "source sine 12 20 2000 1\nsource sine 12 20 3100 0.37\nsource point 50 30 2500 3\nsource impulse 20 30 2 3\n");
    auto ref = wavesim::make_reference_solver(scene);
    auto gpu = cuda_solver(scene, 3, 2);
    ref->advance(300);
    gpu->advance(300);
    const wavesim::Field f = gpu->field();
    CHECK(same_bits(f, ref->field()));
    for (int y = 10; y < 40; ++y)
      for (int x = 30; x < 34; ++x) {
        CHECK(f.cur[static_cast<std::size_t>(y) * 64 + x] == 0.0f);
        CHECK(f.prev[static_cast<std::size_t>(y) * 64 + x] == 0.0f);
      }
    CHECK(peak(f) > 0.01);
    // A closed box with only an initial impulse: the scheme's discrete energy is constant up to
    // float32 rounding, on the GPU as on the CPU.
    const wavesim::Scene box = wavesim::parse_scene("grid 64 48\ncourant 0.7\nboundary reflecting\nwall 30 10 34 40\n"
                                                    "source impulse 20 30 2 3\n");
    const double k2 = box.courant_number() * box.courant_number();
    for (wavesim::CudaMode mode : {wavesim::CudaMode::Persistent, wavesim::CudaMode::PerStep}) {
      auto b = cuda_solver(box, 2, 2, mode);
      b->advance(1);
      const double e0 = wavesim::discrete_energy(b->field(), k2);
      b->advance(400);
      const double e1 = wavesim::discrete_energy(b->field(), k2);
      CHECK(e0 > 0);
      CHECK(std::fabs(e1 - e0) / e0 < 1e-5);
    }
  }

  TEST_CASE("cuda: an edge of 2100 cells and a long run in many batches, still bit-exact") {
    const wavesim::Scene scene =
        wavesim::parse_scene("grid 2100 12\nboundary reflecting\nsource impulse 1030 6 1 2\nsource sine 400 5 4000 1\n");
    auto ref = wavesim::make_reference_solver(scene);
    auto gpu = cuda_solver(scene, 1, 2);
    ref->advance(700);
    for (int i = 0; i < 7; ++i) gpu->advance(100);
    CHECK(same_bits(gpu->field(), ref->field()));
  }

  TEST_CASE("cuda: field() before any step is the initial field; advance(0) does nothing") {
    const wavesim::Scene scene = busy_scene(61, 47);
    auto gpu = cuda_solver(scene, 2, 3);
    const wavesim::Field init = wavesim::initial_field(scene);
    wavesim::Field f = gpu->field();
    CHECK(f.step == 0);
    CHECK(f.cur == init.cur);
    CHECK(f.prev == init.prev);
    gpu->advance(0);
    CHECK(gpu->step() == 0);
    CHECK(gpu->field().cur == init.cur);
  }

  TEST_CASE("cuda: auto mode is persistent on a small grid; the peers agree with the solver") {
    const wavesim::Scene scene = wavesim::parse_scene("grid 128 96\nboundary reflecting\nsource impulse 40 50 1 3\n");
    auto gpu = cuda_solver(scene, 1, 1);
    CHECK(has(gpu->backend_name(), "persistent"));
    gpu->advance(2 + 50);
    const wavesim::CudaTiming plain = wavesim::cuda_plain_loop(scene, 2, 50);
    CHECK(plain.steps == 50);
    CHECK(plain.seconds > 0);
    CHECK(same_bits(plain.field, gpu->field()));
    const wavesim::CudaTiming roof = wavesim::cuda_roofline(scene.cells(), 2, 20);
    CHECK(roof.seconds > 0);
  }

  TEST_CASE("cuda: bad configs on the device are refused with a clear error") {
    ringkernel::ErrorCode code{};
    std::string e = error_text([] { (void)cuda_solver(wavesim::parse_scene("grid 64 64"), 1, 1, wavesim::CudaMode::Auto, -1); }, code);
    CHECK(code == ringkernel::ErrorCode::InvalidArgument);
    CHECK(has(e, "blocks_per_sm"));
    e = error_text([] { (void)wavesim::cuda_plain_loop(wavesim::default_scene(), 0, 1); }, code);
    CHECK(code == ringkernel::ErrorCode::InvalidArgument);
    CHECK(has(e, "impulse sources only"));
    e = error_text([] { (void)wavesim::cuda_roofline(0, 0, 1); }, code);
    CHECK(code == ringkernel::ErrorCode::InvalidArgument);
  }

  TEST_CASE("cuda: solvers share the device; one outliving another is fine") {
    const wavesim::Scene scene = busy_scene(61, 47);
    auto ref = wavesim::make_reference_solver(scene);
    ref->advance(30);
    auto a = cuda_solver(scene, 2, 2);
    {
      auto b = cuda_solver(scene, 1, 3, wavesim::CudaMode::PerStep);
      a->advance(15);
      b->advance(30);
      a->advance(15);
      CHECK(same_bits(b->field(), ref->field()));
    }
    CHECK(same_bits(a->field(), ref->field()));
  }
}  // TEST_SUITE wavesim_cuda_device

int main(int argc, char** argv) {
  const std::string part = argc > 1 ? argv[1] : "";
  if (part != "host" && part != "device") {
    std::fprintf(stderr, "usage: %s host|device [doctest options]\n", argv[0]);
    return 2;
  }
  if (part == "device") {
    const std::string why = wavesim::cuda_unavailable_reason();
    if (!why.empty()) {
      std::printf("wavesim_cuda_tests: SKIP: %s\n", why.c_str());
      return 77;
    }
    std::printf("wavesim_cuda_tests: on %s\n", wavesim::cuda_device_name().c_str());
  }
  wavesim::register_cuda_backend();
  doctest::Context context(argc - 1, argv + 1);
  context.addFilter("test-suite", part == "host" ? "wavesim_cuda_host" : "wavesim_cuda_device");
  const int rc = context.run();
  return rc;
}
