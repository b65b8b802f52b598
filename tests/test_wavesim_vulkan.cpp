// wavesim_vulkan_tests — WaveSim's Vulkan backend (examples/wavesim/vulkan_solver.cpp) on the
// Vulkan device present (lavapipe in CI), under VK_LAYER_KHRONOS_validation when it is
// installed (every message it reports fails the run): the Vulkan solver's fields against the
// single-grid reference and the CPU tile actors after N steps, bit for bit, for several grid
// sizes and tile splits with walls, an absorber, the sponge and every source kind; backend
// selection (auto stays on the CPU when the only device is a CPU implementation); errors.
// Exits 77 (Meson: skipped) with the reason when there is no usable Vulkan device.
//
// Tolerance: none. The shader evaluates wave_cell term for term with `precise` (no fused or
// reordered arithmetic) and the CPU builds with -ffp-contract=off, so a device that rounds
// binary32 as IEEE 754 and keeps denormals gives the same bits; lavapipe does, and this test
// requires it. A GPU that flushes float32 denormals to zero would differ in cells whose values
// are below 1.2e-38 (the far tail of a wavefront); see examples/wavesim/README.md.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel_vulkan.hpp"

#include "scene.hpp"
#include "solver.hpp"
#include "vulkan_solver.hpp"
#include "wavesim_scenes.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace vk = ringkernel::vulkan;

namespace {

using wavesim_test::busy_scene;
using wavesim_test::differing;
using wavesim_test::peak;
using wavesim_test::same_bits;

std::unique_ptr<wavesim::Solver> vulkan_solver(const wavesim::Scene& scene, int tx, int ty) {
  wavesim::SolverOptions o;
  o.backend = ringkernel::Backend::Vulkan;
  o.tiles_x = tx;
  o.tiles_y = ty;
  return wavesim::make_solver(scene, o);
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

}  // namespace

TEST_SUITE("wavesim_vulkan") {
  TEST_CASE("vulkan equals the single-grid reference and the CPU tiles bit for bit: several grids and splits") {
    struct Case {
      int w, h, tx, ty;
      std::uint64_t steps;
    };
    // 61 x 47 (primes: every split uneven), a wide and a tall grid, one tile per cell row.
    const Case cases[] = {{61, 47, 1, 1, 60}, {61, 47, 2, 2, 60}, {61, 47, 3, 5, 60}, {61, 47, 7, 2, 60},
                          {61, 47, 1, 6, 60}, {130, 70, 4, 3, 150}, {200, 48, 8, 1, 90}, {48, 120, 1, 8, 90},
                          {61, 47, 61, 1, 40}};
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

      auto gpu = vulkan_solver(scene, c.tx, c.ty);
      CHECK(gpu->backend_name().rfind("vulkan: ", 0) == 0);
      CHECK(gpu->layout() == std::to_string(c.tx) + " x " + std::to_string(c.ty) + " tiles");
      // In three calls of different lengths (odd, so u[n] changes buffers between calls), with
      // progress reported: resuming must change nothing.
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

  TEST_CASE("vulkan: walls stay exactly 0, sources sharing a cell add in scene order, a closed box keeps its energy") {
    const wavesim::Scene scene = wavesim::parse_scene(
        "grid 64 48\ncourant 0.7\nboundary reflecting\nwall 30 10 34 40\n"
        "source sine 12 20 2000 1\nsource sine 12 20 3100 0.37\nsource point 50 30 2500 3\nsource impulse 20 30 2 3\n");
    auto ref = wavesim::make_reference_solver(scene);
    auto gpu = vulkan_solver(scene, 3, 2);
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
    // Once the sources have stopped adding (only the Ricker pulse ends), energy is constant.
    // The sines go on, so here: a box with the impulse alone.
    const wavesim::Scene box = wavesim::parse_scene("grid 64 48\ncourant 0.7\nboundary reflecting\nwall 30 10 34 40\n"
                                                    "source impulse 20 30 2 3\n");
    auto b = vulkan_solver(box, 2, 2);
    const double k2 = box.courant_number() * box.courant_number();
    b->advance(1);
    const double e0 = wavesim::discrete_energy(b->field(), k2);
    b->advance(400);
    const double e1 = wavesim::discrete_energy(b->field(), k2);
    CHECK(e0 > 0);
    CHECK(std::fabs(e1 - e0) / e0 < 1e-5);
  }

  TEST_CASE("vulkan: an edge of 2100 cells and a long run in many submissions, still bit-exact") {
    const wavesim::Scene scene =
        wavesim::parse_scene("grid 2100 12\nboundary reflecting\nsource impulse 1030 6 1 2\nsource sine 400 5 4000 1\n");
    auto ref = wavesim::make_reference_solver(scene);
    auto gpu = vulkan_solver(scene, 1, 2);
    ref->advance(700);
    gpu->advance(700);  // more than one submission's worth of steps (at most 256 each)
    CHECK(same_bits(gpu->field(), ref->field()));
  }

  TEST_CASE("vulkan: field() before any step is the initial field; advance(0) does nothing") {
    const wavesim::Scene scene = busy_scene(61, 47);
    auto gpu = vulkan_solver(scene, 2, 3);
    const wavesim::Field init = wavesim::initial_field(scene);
    wavesim::Field f = gpu->field();
    CHECK(f.step == 0);
    CHECK(f.cur == init.cur);
    CHECK(f.prev == init.prev);
    gpu->advance(0);
    CHECK(gpu->step() == 0);
    CHECK(gpu->field().cur == init.cur);
  }

  TEST_CASE("backends: vulkan is registered; auto prefers a GPU and passes a CPU implementation over") {
    const auto have = wavesim::available_backends();
    REQUIRE(std::find(have.begin(), have.end(), ringkernel::Backend::Vulkan) != have.end());
    CHECK(wavesim::resolve_backend(ringkernel::Backend::Vulkan) == ringkernel::Backend::Vulkan);
    bool gpu_present = false;
    for (const vk::DeviceInfo& d : vk::enumerate_devices()) gpu_present = gpu_present || (d.unsupported.empty() && d.type != vk::DeviceType::Cpu);
    const std::string refusal = wavesim::vulkan_auto_refusal();
    if (gpu_present) {
      CHECK(refusal.empty());
      CHECK(wavesim::resolve_backend(ringkernel::Backend::Auto) == ringkernel::Backend::Vulkan);
    } else {
      CHECK(refusal.find("CPU implementation") != std::string::npos);
      CHECK(wavesim::resolve_backend(ringkernel::Backend::Auto) == ringkernel::Backend::Cpu);
      auto s = wavesim::make_solver(wavesim::default_scene(), wavesim::SolverOptions{});
      CHECK(s->backend_name() == "cpu");
    }
    CHECK(wavesim::vulkan_device_name().find(vk::enumerate_devices()[0].name) != std::string::npos);
  }

  TEST_CASE("vulkan: bad input is refused with a clear error") {
    ringkernel::ErrorCode code{};
    // A device that does not exist: the message lists the ones that do.
    std::string e = error_text(
        [] {
          wavesim::SolverOptions o;
          o.backend = ringkernel::Backend::Vulkan;
          o.device = 99;
          (void)wavesim::make_solver(wavesim::default_scene(), o);
        },
        code);
    CHECK(code == ringkernel::ErrorCode::BackendUnavailable);
    CHECK(e.find("Vulkan device 99 does not exist") != std::string::npos);
    CHECK(e.find(vk::enumerate_devices()[0].name) != std::string::npos);
    CHECK_THROWS_AS(wavesim::vulkan_device_name(99), ringkernel::Error);
    // A split the grid cannot hold, through make_solver and make_vulkan_solver alike.
    e = error_text([] { (void)vulkan_solver(wavesim::parse_scene("grid 64 64"), 65, 1); }, code);
    CHECK(code == ringkernel::ErrorCode::InvalidArgument);
    CHECK(e.find("cannot split") != std::string::npos);
    e = error_text(
        [] {
          wavesim::SolverOptions o;
          o.tiles_x = 17;
          o.tiles_y = 16;
          (void)wavesim::make_vulkan_solver(wavesim::parse_scene("grid 64 64"), o);
        },
        code);
    CHECK(code == ringkernel::ErrorCode::InvalidArgument);
    // The CFL bound holds on every backend.
    wavesim::Scene fast = wavesim::parse_scene("grid 32 32");
    fast.courant = 0.8;
    CHECK_THROWS_AS(vulkan_solver(fast, 1, 1), wavesim::CflError);
    CHECK_THROWS_AS(wavesim::make_vulkan_solver(fast), wavesim::CflError);
  }

  TEST_CASE("vulkan: solvers share the device; one outliving another is fine") {
    const wavesim::Scene scene = busy_scene(61, 47);
    auto ref = wavesim::make_reference_solver(scene);
    ref->advance(30);
    auto a = vulkan_solver(scene, 2, 2);
    {
      auto b = vulkan_solver(scene, 1, 3);
      a->advance(15);
      b->advance(30);
      a->advance(15);
      CHECK(same_bits(b->field(), ref->field()));
    }
    CHECK(same_bits(a->field(), ref->field()));
  }
}  // TEST_SUITE

int main(int argc, char** argv) {
  vk::enable_validation(true);
  std::string why;
  try {
    const std::vector<vk::DeviceInfo> devices = vk::enumerate_devices();
    bool usable = false;
    for (const vk::DeviceInfo& d : devices) usable = usable || d.unsupported.empty();
    if (devices.empty()) why = "no Vulkan physical device";
    else if (!usable) why = devices[0].name + ": " + devices[0].unsupported;
    else std::printf("wavesim_vulkan_tests: on %s\n", wavesim::vulkan_device_name().c_str());
  } catch (const std::exception& e) {
    why = e.what();
  }
  if (!why.empty()) {
    std::printf("wavesim_vulkan_tests: SKIP: %s\n", why.c_str());
    return 77;
  }
  wavesim::register_vulkan_backend();
  doctest::Context context(argc, argv);
  const int rc = context.run();
  if (rc != 0 || context.shouldExit()) return rc;
  if (vk::validation_message_count() != 0) {
    std::printf("wavesim_vulkan_tests: %llu validation message(s):\n", static_cast<unsigned long long>(vk::validation_message_count()));
    for (const std::string& m : vk::validation_messages()) std::printf("  %s\n", m.c_str());
    return 1;
  }
  std::printf("wavesim_vulkan_tests: validation layer %s, 0 messages\n", vk::validation_active() ? "active" : "not installed");
  return 0;
}
