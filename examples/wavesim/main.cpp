// wavesim — 2-D acoustic waves computed by tile actors: the grid is cut into tiles, each tile is
// a ring kernel on a ringkernel Runtime keeping its fields as state, and neighbouring tiles
// trade halos as K2K messages every step. Writes a PNG of the pressure field and prints a
// summary line; `--check` also runs the single-grid reference solver and requires the tiled
// result to equal it bit for bit (the example's test). See README.md next to this file.
//
// Exit status: 0 ok; 1 the run or its check failed; 2 bad command line or scene;
// 3 the requested backend is not in this build.
#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel.hpp"
#if defined(WAVESIM_HAVE_VULKAN)
#include "ringkernel_vulkan.hpp"  // its implementation too (this TU defines RINGKERNEL_IMPLEMENTATION)
#include "vulkan_solver.hpp"
#endif
#if defined(WAVESIM_HAVE_CUDA)
#include "cuda_solver.hpp"  // cuda_solver.cu carries ringkernel_cuda.hpp's implementation
#endif

#include "render.hpp"
#include "scene.hpp"
#include "solver.hpp"

#include <stb_image.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

const char* const kUsage =
    "usage: wavesim [options]\n"
    "  --scene FILE        scene file (default: the built-in double slit; format in examples/wavesim/README.md)\n"
    "  --add LINE          one more scene line, after the file (repeatable): --add 'wall 10 10 20 20'\n"
    "  --grid WxH          grid size in cells (overrides the scene)\n"
    "  --courant K         Courant number c*dt/dx (overrides the scene; at most 1/sqrt(2))\n"
    "  --steps N           time steps (default 400)\n"
    "  --tiles TXxTY|auto  tile split (default auto: one tile per core)\n"
    "  --backend B         auto, cpu, cuda or vulkan (default auto: the best in this build with a usable device:\n"
    "                      CUDA, then a Vulkan GPU (not lavapipe), then the CPU)\n"
    "  --device N          GPU backends: the device ordinal (default: the first usable)\n"
    "  --png FILE          final snapshot (default wavesim.png; 'none' writes no file)\n"
    "  --frames DIR        also write DIR/frame_NNNNN.png (0, 1, ...) every --every steps: an animation\n"
    "  --every K           steps between frames (default: steps / 50)\n"
    "  --check             also run the single-grid reference; require a bit-exact match\n"
    "  --help              this text\n";

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Options {
  std::string scene_file;
  std::vector<std::string> extra_lines;
  int grid_w = 0, grid_h = 0;
  double courant = 0;
  std::uint64_t steps = 400;
  int tiles_x = 0, tiles_y = 0;
  std::string backend = "auto";
  int device = -1;
  std::string png = "wavesim.png";
  std::string frames_dir;
  std::uint64_t every = 0;
  bool check = false;
};

std::uint64_t parse_count(const std::string& flag, const std::string& v, std::uint64_t lo, std::uint64_t hi) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
  if (v.empty() || v[0] == '-' || *end != '\0' || errno != 0 || n < lo || n > hi)
    throw UsageError(flag + " needs an integer in " + std::to_string(lo) + ".." + std::to_string(hi) + ", got '" + v + "'");
  return n;
}
void parse_pair(const std::string& flag, const std::string& v, int& a, int& b, int hi) {
  const std::size_t x = v.find('x');
  if (x == std::string::npos) throw UsageError(flag + " needs AxB (e.g. 4x2), got '" + v + "'");
  a = static_cast<int>(parse_count(flag, v.substr(0, x), 1, static_cast<std::uint64_t>(hi)));
  b = static_cast<int>(parse_count(flag, v.substr(x + 1), 1, static_cast<std::uint64_t>(hi)));
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw UsageError(a + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (a == "--scene") {
      o.scene_file = value();
    } else if (a == "--add") {
      o.extra_lines.push_back(value());
    } else if (a == "--grid") {
      parse_pair(a, value(), o.grid_w, o.grid_h, wavesim::kMaxGridSide);
    } else if (a == "--courant") {
      const std::string v = value();
      char* end = nullptr;
      o.courant = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || !std::isfinite(o.courant) || !(o.courant > 0))
        throw UsageError("--courant needs a positive number, got '" + v + "'");
    } else if (a == "--steps") {
      o.steps = parse_count(a, value(), 1, 100000000);
    } else if (a == "--tiles") {
      const std::string v = value();
      if (v != "auto") parse_pair(a, v, o.tiles_x, o.tiles_y, 256);
    } else if (a == "--backend") {
      o.backend = value();
    } else if (a == "--device") {
      o.device = static_cast<int>(parse_count(a, value(), 0, 1024));
    } else if (a == "--png") {
      o.png = value();
    } else if (a == "--frames") {
      o.frames_dir = value();
    } else if (a == "--every") {
      o.every = parse_count(a, value(), 1, 100000000);
    } else if (a == "--check") {
      o.check = true;
    } else {
      throw UsageError("unknown option '" + a + "'");
    }
  }
  return o;
}

wavesim::Scene load_scene(const Options& o) {
  wavesim::Scene scene;
  if (o.scene_file.empty()) {
    scene = wavesim::default_scene();
  } else {
    std::ifstream in(o.scene_file, std::ios::binary);
    if (!in) throw UsageError("cannot read scene file '" + o.scene_file + "'");
    std::ostringstream text;
    text << in.rdbuf();
    scene = wavesim::parse_scene(text.str(), wavesim::Scene{}, o.scene_file);
  }
  for (std::size_t i = 0; i < o.extra_lines.size(); ++i)
    scene = wavesim::parse_scene(o.extra_lines[i], scene, "--add #" + std::to_string(i + 1));
  if (o.grid_w > 0) {
    scene.width = o.grid_w;
    scene.height = o.grid_h;
  }
  if (o.courant > 0) {
    scene.courant = o.courant;
    scene.dt_s = 0;
  }
  scene.validate();
  return scene;
}

/// Progress: a redrawn bar on a terminal, a few plain lines otherwise.
class Progress {
 public:
  Progress(std::uint64_t total, std::int64_t cells) : total_(total), cells_(cells), tty_(isatty(STDOUT_FILENO) == 1) {
    start_ = last_ = std::chrono::steady_clock::now();
  }
  void operator()(std::uint64_t step) {
    const auto now = std::chrono::steady_clock::now();
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double sps = secs > 0 ? static_cast<double>(step) / secs : 0;
    if (tty_) {
      if (step < total_ && now - last_ < std::chrono::milliseconds(100)) return;
      last_ = now;
      const int width = 30, filled = static_cast<int>(width * step / std::max<std::uint64_t>(1, total_));
      std::string bar(static_cast<std::size_t>(filled), '#');
      bar.resize(width, '.');
      std::printf("\r  [%s] %3d%%  step %llu/%llu  %.0f steps/s  %.1f Mcells/s ", bar.c_str(),
                  static_cast<int>(100 * step / std::max<std::uint64_t>(1, total_)), static_cast<unsigned long long>(step),
                  static_cast<unsigned long long>(total_), sps, sps * static_cast<double>(cells_) / 1e6);
      if (step >= total_) std::printf("\n");
      std::fflush(stdout);
    } else {
      const std::uint64_t quarter = 4 * step / std::max<std::uint64_t>(1, total_);
      if (quarter <= printed_) return;
      printed_ = quarter;
      std::printf("progress: step %llu/%llu (%d%%), %.0f steps/s, %.1f Mcells/s\n", static_cast<unsigned long long>(step),
                  static_cast<unsigned long long>(total_), static_cast<int>(100 * step / std::max<std::uint64_t>(1, total_)),
                  sps, sps * static_cast<double>(cells_) / 1e6);
      std::fflush(stdout);
    }
  }

 private:
  std::uint64_t total_;
  std::int64_t cells_;
  bool tty_;
  std::uint64_t printed_ = 0;
  std::chrono::steady_clock::time_point start_, last_;
};

// Frames are numbered 0, 1, 2, ... (not by step), as video tools expect.
std::string frame_path(const std::string& dir, std::size_t index) {
  char name[32];
  std::snprintf(name, sizeof name, "frame_%05zu.png", index);
  return (std::filesystem::path(dir) / name).string();
}

int run(const Options& o) {
  const wavesim::Scene scene = load_scene(o);
#if defined(WAVESIM_HAVE_VULKAN)
  wavesim::register_vulkan_backend();
#endif
#if defined(WAVESIM_HAVE_CUDA)
  wavesim::register_cuda_backend();  // auto prefers it when a CUDA device is usable
#endif
  wavesim::SolverOptions so;
  so.device = o.device;
  so.backend = wavesim::parse_backend(o.backend);
  so.tiles_x = o.tiles_x;
  so.tiles_y = o.tiles_y;
  std::unique_ptr<wavesim::Solver> solver = wavesim::make_solver(scene, so);
  const double k = scene.courant_number();
  std::printf("wavesim %s: %d x %d cells, %s on %s, Courant %.3f (limit %.4f), dt %.3g s, %zu source%s, %zu wall%s\n",
              RINGKERNEL_VERSION_STRING, scene.width, scene.height, solver->layout().c_str(), solver->backend_name().c_str(), k,
              wavesim::kCflLimit, scene.time_step(), scene.sources.size(), scene.sources.size() == 1 ? "" : "s",
              scene.walls.size(), scene.walls.size() == 1 ? "" : "s");
  std::fflush(stdout);

  const bool frames = !o.frames_dir.empty();
  const std::uint64_t every = frames ? (o.every > 0 ? o.every : std::max<std::uint64_t>(1, o.steps / 50)) : o.steps;
  if (frames) std::filesystem::create_directories(o.frames_dir);
  std::size_t frames_written = 0;
  Progress progress(o.steps, scene.cells());
  double compute_s = 0;
  if (frames) {
    wavesim::write_png(frame_path(o.frames_dir, frames_written), wavesim::render_field(scene, solver->field()));
    ++frames_written;
  }
  while (solver->step() < o.steps) {
    const std::uint64_t n = std::min(every, o.steps - solver->step());
    const auto t0 = std::chrono::steady_clock::now();
    solver->advance(n, [&](std::uint64_t s) { progress(s); });
    compute_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (frames) {
      wavesim::write_png(frame_path(o.frames_dir, frames_written), wavesim::render_field(scene, solver->field()));
      ++frames_written;
    }
  }
  const wavesim::Field field = solver->field();
  const double energy = wavesim::discrete_energy(field, k * k);
  if (o.png != "none") wavesim::write_png(o.png, wavesim::render_field(scene, field));

  int status = 0;
  if (o.check) {
    std::unique_ptr<wavesim::Solver> ref = wavesim::make_reference_solver(scene);
    ref->advance(o.steps);
    const wavesim::Field rf = ref->field();
    const bool same = rf.cur.size() == field.cur.size() &&
                      std::memcmp(rf.cur.data(), field.cur.data(), sizeof(float) * field.cur.size()) == 0 &&
                      std::memcmp(rf.prev.data(), field.prev.data(), sizeof(float) * field.prev.size()) == 0;
    std::size_t differing = 0;
    for (std::size_t i = 0; i < field.cur.size(); ++i) differing += rf.cur[i] != field.cur[i];
    std::printf("check: tiled (%s) vs single-grid reference after %llu steps: %s (%zu of %zu cells differ)\n",
                solver->layout().c_str(), static_cast<unsigned long long>(o.steps), same ? "bit-exact" : "MISMATCH",
                differing, field.cur.size());
    double peak = 0;
    for (float v : field.cur) peak = std::max(peak, static_cast<double>(std::fabs(v)));
    const bool alive = std::isfinite(energy) && energy > 0 && peak > 0;
    std::printf("check: field finite and non-zero (peak |p| %.4g, energy %.6g): %s\n", peak, energy, alive ? "ok" : "FAILED");
    bool png_ok = true;
    if (o.png != "none") {
      int w = 0, h = 0, comp = 0;
      png_ok = stbi_info(o.png.c_str(), &w, &h, &comp) == 1 && w == scene.width && h == scene.height && comp == 3;
      std::printf("check: %s is a %d x %d RGB PNG: %s\n", o.png.c_str(), w, h, png_ok ? "ok" : "FAILED");
    }
    bool frames_ok = true;
    for (std::size_t i = 0; frames && i < frames_written; ++i) {
      int w = 0, h = 0, comp = 0;
      frames_ok = frames_ok && stbi_info(frame_path(o.frames_dir, i).c_str(), &w, &h, &comp) == 1 && w == scene.width &&
                  h == scene.height;
    }
    if (frames)
      std::printf("check: %zu frames in %s, each a %d x %d PNG: %s\n", frames_written, o.frames_dir.c_str(), scene.width,
                  scene.height, frames_ok ? "ok" : "FAILED");
    if (!same || !alive || !png_ok || !frames_ok) status = 1;
  }

  const double sps = compute_s > 0 ? static_cast<double>(o.steps) / compute_s : 0;
  std::printf("wavesim: %d x %d cells, %s on %s, %llu steps in %.3f s: %.0f steps/s, %.1f Mcells/s; energy %.6g",
              scene.width, scene.height, solver->layout().c_str(), solver->backend_name().c_str(),
              static_cast<unsigned long long>(o.steps), compute_s, sps, sps * static_cast<double>(scene.cells()) / 1e6, energy);
  if (o.png != "none") std::printf("; wrote %s", o.png.c_str());
  if (frames) std::printf("; %zu frames in %s", frames_written, o.frames_dir.c_str());
  std::printf("\n");
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse_args(argc, argv));
  } catch (const UsageError& e) {
    std::fprintf(stderr, "wavesim: %s\n%s", e.what(), kUsage);
    return 2;
  } catch (const wavesim::SceneError& e) {
    std::fprintf(stderr, "wavesim: %s\n", e.what());
    return 2;
  } catch (const ringkernel::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    if (e.code() == ringkernel::ErrorCode::BackendUnavailable) return 3;
    return e.code() == ringkernel::ErrorCode::InvalidArgument ? 2 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "wavesim: %s\n", e.what());
    return 1;
  }
}
