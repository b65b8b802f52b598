// solver.cpp — WaveSim's scheme helpers, the reference solver, the CPU tile kernel, the tile
// actor (a ring kernel exchanging halos over K2K) and the tiled solver. See solver.hpp.
// SPDX-License-Identifier: MIT
#include "solver.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace wavesim {

namespace {
constexpr double kPi = 3.14159265358979323846;
/// Damping coefficient g at the outer edge of the absorbing sponge (quadratic ramp inwards).
constexpr double kSpongeMax = 0.3;
}  // namespace

float source_value(const Source& source, std::uint64_t step, double dt) {
  const double t = static_cast<double>(step) * dt;
  switch (source.kind) {
    case SourceKind::Point: {
      const double t0 = 1.5 / source.frequency_hz;  // the Ricker wavelet's centre
      const double arg = kPi * source.frequency_hz * (t - t0);
      const double a2 = arg * arg;
      if (a2 > 50.0) return 0.0f;  // below 1e-20 of the peak: exactly nothing, not denormals
      return static_cast<float>(source.amplitude * (1.0 - 2.0 * a2) * std::exp(-a2));
    }
    case SourceKind::Sine: {
      const double ramp_time = 2.0 / source.frequency_hz;  // two periods: no step onset, less ringing
      const double ramp = t < ramp_time ? 0.5 * (1.0 - std::cos(kPi * t / ramp_time)) : 1.0;
      return static_cast<float>(source.amplitude * ramp * std::sin(2.0 * kPi * source.frequency_hz * t));
    }
    case SourceKind::Impulse: return 0.0f;
  }
  return 0.0f;
}

std::vector<float> build_coefficients(const Scene& scene) {
  const int w = scene.width, h = scene.height;
  std::vector<float> a(static_cast<std::size_t>(scene.cells()), 1.0f);
  if (scene.boundary == Boundary::Absorbing) {
    const int s = scene.sponge_cells;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const int d = std::min(std::min(x, y), std::min(w - 1 - x, h - 1 - y));
        if (d >= s) continue;
        const double r = static_cast<double>(s - d) / s;
        a[static_cast<std::size_t>(y) * w + x] = static_cast<float>(1.0 / (1.0 + kSpongeMax * r * r));
      }
  }
  for (const Absorber& ab : scene.absorbers) {
    const float damped = static_cast<float>(1.0 / (1.0 + ab.strength));
    for (int y = ab.area.y0; y < ab.area.y1; ++y)
      for (int x = ab.area.x0; x < ab.area.x1; ++x) {
        float& c = a[static_cast<std::size_t>(y) * w + x];
        c = std::min(c, damped);
      }
  }
  for (const Rect& r : scene.walls)
    for (int y = r.y0; y < r.y1; ++y)
      std::fill(a.begin() + static_cast<std::ptrdiff_t>(y) * w + r.x0, a.begin() + static_cast<std::ptrdiff_t>(y) * w + r.x1, 0.0f);
  return a;
}

Field initial_field(const Scene& scene) {
  Field f;
  f.width = scene.width;
  f.height = scene.height;
  f.cur.assign(static_cast<std::size_t>(scene.cells()), 0.0f);
  for (const Source& s : scene.sources) {
    if (s.kind != SourceKind::Impulse) continue;
    const int reach = static_cast<int>(std::ceil(4.0 * s.radius));
    for (int y = std::max(0, s.y - reach); y <= std::min(scene.height - 1, s.y + reach); ++y)
      for (int x = std::max(0, s.x - reach); x <= std::min(scene.width - 1, s.x + reach); ++x) {
        const double r2 = static_cast<double>((x - s.x) * (x - s.x) + (y - s.y) * (y - s.y));
        f.cur[static_cast<std::size_t>(y) * scene.width + x] +=
            static_cast<float>(s.amplitude * std::exp(-r2 / (2.0 * s.radius * s.radius)));
      }
  }
  for (const Rect& r : scene.walls)  // walls are held at 0 from the start
    for (int y = r.y0; y < r.y1; ++y)
      for (int x = r.x0; x < r.x1; ++x) f.cur[static_cast<std::size_t>(y) * scene.width + x] = 0.0f;
  f.prev = f.cur;  // at rest
  return f;
}

double discrete_energy(const Field& f, double k2) {
  const int w = f.width, h = f.height;
  auto at = [&](const std::vector<float>& v, int x, int y) -> double {
    return x < 0 || y < 0 || x >= w || y >= h ? 0.0 : static_cast<double>(v[static_cast<std::size_t>(y) * w + x]);
  };
  double kinetic = 0, potential = 0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const double d = at(f.cur, x, y) - at(f.prev, x, y);
      kinetic += d * d;
    }
  // Every edge once: (x-1, y)-(x, y) for x in 0..w, and (x, y-1)-(x, y) for y in 0..h.
  for (int y = 0; y < h; ++y)
    for (int x = 0; x <= w; ++x)
      potential += (at(f.cur, x, y) - at(f.cur, x - 1, y)) * (at(f.prev, x, y) - at(f.prev, x - 1, y));
  for (int y = 0; y <= h; ++y)
    for (int x = 0; x < w; ++x)
      potential += (at(f.cur, x, y) - at(f.cur, x, y - 1)) * (at(f.prev, x, y) - at(f.prev, x, y - 1));
  return kinetic + k2 * potential;
}

namespace {

std::vector<Source> stepped_sources(const std::vector<Source>& all) {
  std::vector<Source> out;
  for (const Source& s : all)
    if (s.kind != SourceKind::Impulse) out.push_back(s);
  return out;
}

// ---- the reference solver -------------------------------------------------------------------

class ReferenceSolver final : public Solver {
 public:
  explicit ReferenceSolver(const Scene& scene) : scene_((scene.validate(), scene)) {
    coef_ = build_coefficients(scene_);
    field_ = initial_field(scene_);
    sources_ = stepped_sources(scene_.sources);
    const double k = scene_.courant_number();
    k2_ = static_cast<float>(k * k);
    dt_ = scene_.time_step();
  }
  std::string backend_name() const override { return "reference"; }
  std::string layout() const override { return "single grid"; }
  std::uint64_t step() const override { return field_.step; }
  Field field() const override { return field_; }

  void advance(std::uint64_t steps, const ProgressFn& progress) override {
    const int w = field_.width, h = field_.height;
    const std::uint64_t every = std::max<std::uint64_t>(1, steps / 64);
    for (std::uint64_t s = 0; s < steps; ++s) {
      const std::vector<float>& u = field_.cur;
      std::vector<float>& p = field_.prev;  // u[n-1] in, u[n+1] out
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
          const std::size_t i = static_cast<std::size_t>(y) * w + x;
          const float west = x > 0 ? u[i - 1] : 0.0f;
          const float east = x + 1 < w ? u[i + 1] : 0.0f;
          const float north = y > 0 ? u[i - w] : 0.0f;
          const float south = y + 1 < h ? u[i + w] : 0.0f;
          p[i] = wave_cell(u[i], p[i], west, east, north, south, coef_[i], k2_);
        }
      for (const Source& src : sources_)
        p[static_cast<std::size_t>(src.y) * w + src.x] += source_value(src, field_.step + 1, dt_);
      std::swap(field_.cur, field_.prev);
      ++field_.step;
      if (progress && ((s + 1) % every == 0 || s + 1 == steps)) progress(field_.step);
    }
  }

 private:
  Scene scene_;
  std::vector<float> coef_;
  Field field_;
  std::vector<Source> sources_;
  float k2_ = 0;
  double dt_ = 0;
};

// ---- the CPU tile kernel --------------------------------------------------------------------

class CpuTileKernel final : public TileKernel {
 public:
  explicit CpuTileKernel(TileSetup setup) : g_(setup.geometry), k2_(setup.k2), dt_(setup.dt) {
    const std::size_t n = static_cast<std::size_t>(g_.width) * g_.height;
    if (g_.width < 1 || g_.height < 1 || setup.coef.size() != n || setup.cur.size() != n || setup.prev.size() != n)
      throw ringkernel::Error(ringkernel::ErrorCode::InvalidArgument,
                              "wavesim: tile " + std::to_string(g_.index) + ": setup arrays do not match its " +
                                  std::to_string(g_.width) + " x " + std::to_string(g_.height) + " cells");
    stride_ = g_.width + 2;
    const std::size_t padded = static_cast<std::size_t>(stride_) * (g_.height + 2);
    cur_.assign(padded, 0.0f);
    prev_.assign(padded, 0.0f);
    for (int y = 0; y < g_.height; ++y) {
      std::memcpy(&cur_[at(0, y)], &setup.cur[static_cast<std::size_t>(y) * g_.width], sizeof(float) * g_.width);
      std::memcpy(&prev_[at(0, y)], &setup.prev[static_cast<std::size_t>(y) * g_.width], sizeof(float) * g_.width);
    }
    coef_ = std::move(setup.coef);
    for (const Source& s : setup.sources) {
      if (s.kind == SourceKind::Impulse) continue;
      if (s.x < 0 || s.y < 0 || s.x >= g_.width || s.y >= g_.height)
        throw ringkernel::Error(ringkernel::ErrorCode::InvalidArgument, "wavesim: a tile source lies outside its tile");
      sources_.push_back(s);
    }
  }
  const char* backend_name() const noexcept override { return "cpu"; }

  void read_edge(Side side, int offset, int count, float* out) const override {
    check_span(side, offset, count);
    for (int i = 0; i < count; ++i) out[i] = cur_[edge_index(side, offset + i, false)];
  }
  void write_halo(Side side, int offset, int count, const float* in) override {
    check_span(side, offset, count);
    for (int i = 0; i < count; ++i) cur_[edge_index(side, offset + i, true)] = in[i];
  }
  void step(std::uint64_t step) override {
    for (int y = 0; y < g_.height; ++y)
      wave_row(&prev_[at(0, y)], &cur_[at(0, y)], &coef_[static_cast<std::size_t>(y) * g_.width], g_.width, stride_, k2_);
    for (const Source& s : sources_) prev_[at(s.x, s.y)] += source_value(s, step + 1, dt_);
    std::swap(cur_, prev_);
  }
  void read_fields(float* cur, float* prev, std::ptrdiff_t stride) const override {
    for (int y = 0; y < g_.height; ++y) {
      std::memcpy(cur + y * stride, &cur_[at(0, y)], sizeof(float) * g_.width);
      std::memcpy(prev + y * stride, &prev_[at(0, y)], sizeof(float) * g_.width);
    }
  }

 private:
  std::size_t at(int x, int y) const noexcept { return static_cast<std::size_t>(y + 1) * stride_ + (x + 1); }
  // The cell `i` along `side`: the tile's own edge cell, or (halo) the padding cell beyond it.
  std::size_t edge_index(Side side, int i, bool halo) const noexcept {
    switch (side) {
      case Side::North: return at(i, halo ? -1 : 0);
      case Side::South: return at(i, halo ? g_.height : g_.height - 1);
      case Side::West: return at(halo ? -1 : 0, i);
      case Side::East: return at(halo ? g_.width : g_.width - 1, i);
    }
    return 0;
  }
  void check_span(Side side, int offset, int count) const {
    if (offset < 0 || count < 0 || offset + count > g_.edge_length(side))
      throw ringkernel::Error(ringkernel::ErrorCode::InvalidArgument,
                              "wavesim: edge span " + std::to_string(offset) + "+" + std::to_string(count) +
                                  " is outside tile " + std::to_string(g_.index) + "'s edge of " +
                                  std::to_string(g_.edge_length(side)));
  }

  TileGeometry g_;
  int stride_ = 0;
  std::vector<float> cur_, prev_, coef_;
  std::vector<Source> sources_;
  float k2_;
  double dt_;
};

}  // namespace

std::unique_ptr<TileKernel> make_cpu_tile_kernel(TileSetup setup) {
  return std::unique_ptr<TileKernel>(new CpuTileKernel(std::move(setup)));
}

std::unique_ptr<Solver> make_reference_solver(const Scene& scene) {
  return std::unique_ptr<Solver>(new ReferenceSolver(scene));
}

// ---- messages between tiles and the host ----------------------------------------------------

/// Floats per halo message; longer edges travel as several chunks (a message is 4 KiB).
constexpr int kHaloChunk = 1020;

/// Into a tile's inbox: a halo chunk from a neighbour (K2K), or the host's Run command.
struct TileMsg {
  std::uint64_t step;    ///< Halo: the neighbour's u[step]; Run: the step to reach
  std::uint32_t offset;  ///< Halo: first cell along the edge; Run: report every `offset` steps
  std::uint16_t count;   ///< Halo: values in this chunk
  std::uint8_t kind;     ///< kHalo or kRun
  std::uint8_t side;     ///< Halo: the receiver's side this fills (a Side)
  float values[kHaloChunk];
  static constexpr std::uint8_t kHalo = 1;
  static constexpr std::uint8_t kRun = 2;
};
RINGKERNEL_MESSAGE(TileMsg, 0x57A5E001)
static_assert(sizeof(TileMsg) == 4096, "a halo message is one 4 KiB page");

/// From a tile to the host: it has computed u[step].
struct TileReport {
  std::uint32_t tile;
  std::uint32_t reserved;
  std::uint64_t step;
};
RINGKERNEL_MESSAGE(TileReport, 0x57A5E002)

namespace {

Side opposite(Side s) {
  switch (s) {
    case Side::North: return Side::South;
    case Side::South: return Side::North;
    case Side::West: return Side::East;
    case Side::East: return Side::West;
  }
  return Side::North;
}

/// A tile's persistent state, kept by its kernel. The host touches `kernel` only to read the
/// fields while the tile is idle at the step it was told to reach.
struct TileState {
  TileGeometry geometry;
  std::unique_ptr<TileKernel> kernel;
  std::string neighbour[kSides];  // kernel ids; empty: the grid's edge
  // Halos arrive for step n (the one being waited for) or n+1 (a neighbour can be one step
  // ahead, never more: it needs this tile's edge of n+1 to go further): two slots by parity.
  std::vector<float> staging[kSides][2];
  int received[kSides][2] = {};
  std::uint64_t step = 0;
  std::uint64_t target = 0;
  std::uint64_t report_every = 1;
  bool sent_initial = false;
  std::vector<float> edge;  // scratch for sending
};

/// The ring kernel of one tile: a message handler whose state is the tile (fields, halos,
/// step). Each halo chunk or Run command may complete the halos of the current step; then it
/// computes as many steps as it can, sending its new edges to its neighbours after each.
struct TileActor {
  using input_type = TileMsg;
  using output_type = void;
  std::shared_ptr<TileState> s;

  void operator()(ringkernel::HandlerContext& ctx, const TileMsg& m) {
    TileState& t = *s;
    if (m.kind == TileMsg::kRun) {
      if (m.step < t.step) throw std::runtime_error("wavesim tile: told to reach a step already passed");
      t.target = m.step;
      t.report_every = m.offset == 0 ? 1 : m.offset;
      if (!t.sent_initial) {
        send_edges(ctx, t);
        t.sent_initial = true;
      }
    } else if (m.kind == TileMsg::kHalo) {
      store_halo(t, m);
    } else {
      throw std::runtime_error("wavesim tile: unknown message kind " + std::to_string(m.kind));
    }
    while (t.step < t.target && halos_complete(t, t.step)) {
      const int slot = static_cast<int>(t.step & 1);
      for (int side = 0; side < kSides; ++side) {
        if (t.neighbour[side].empty()) continue;
        t.kernel->write_halo(static_cast<Side>(side), 0, t.geometry.edge_length(static_cast<Side>(side)),
                             t.staging[side][slot].data());
        t.received[side][slot] = 0;
      }
      t.kernel->step(t.step);
      ++t.step;
      send_edges(ctx, t);
      if (t.step == t.target || t.step % t.report_every == 0)
        ctx.emit(TileReport{static_cast<std::uint32_t>(t.geometry.index), 0, t.step});
    }
  }

  static bool halos_complete(const TileState& t, std::uint64_t step) {
    const int slot = static_cast<int>(step & 1);
    for (int side = 0; side < kSides; ++side)
      if (!t.neighbour[side].empty() && t.received[side][slot] != t.geometry.edge_length(static_cast<Side>(side)))
        return false;
    return true;
  }

  static void store_halo(TileState& t, const TileMsg& m) {
    if (m.side >= kSides || t.neighbour[m.side].empty())
      throw std::runtime_error("wavesim tile " + std::to_string(t.geometry.index) + ": halo for a side without a neighbour");
    if (m.step != t.step && m.step != t.step + 1)
      throw std::runtime_error("wavesim tile " + std::to_string(t.geometry.index) + ": halo of step " + std::to_string(m.step) +
                               " while at step " + std::to_string(t.step) + " (a neighbour is out of step)");
    const int len = t.geometry.edge_length(static_cast<Side>(m.side));
    if (m.count == 0 || m.count > kHaloChunk || m.offset > static_cast<std::uint32_t>(len) ||
        m.count > len - static_cast<int>(m.offset))
      throw std::runtime_error("wavesim tile " + std::to_string(t.geometry.index) + ": halo chunk out of range");
    const int slot = static_cast<int>(m.step & 1);
    std::vector<float>& buf = t.staging[m.side][slot];
    std::memcpy(&buf[m.offset], m.values, sizeof(float) * m.count);
    t.received[m.side][slot] += m.count;
    if (t.received[m.side][slot] > len)
      throw std::runtime_error("wavesim tile " + std::to_string(t.geometry.index) + ": more halo values than the edge holds");
  }

  static void send_edges(ringkernel::HandlerContext& ctx, TileState& t) {
    TileMsg msg{};
    msg.step = t.step;
    msg.kind = TileMsg::kHalo;
    for (int side = 0; side < kSides; ++side) {
      if (t.neighbour[side].empty()) continue;
      const Side sd = static_cast<Side>(side);
      const int len = t.geometry.edge_length(sd);
      msg.side = static_cast<std::uint8_t>(opposite(sd));
      for (int off = 0; off < len; off += kHaloChunk) {
        const int n = std::min(kHaloChunk, len - off);
        t.kernel->read_edge(sd, off, n, msg.values);
        msg.offset = static_cast<std::uint32_t>(off);
        msg.count = static_cast<std::uint16_t>(n);
        const ringkernel::DeliveryReceipt r = ctx.send_to_kernel(t.neighbour[side], msg);
        if (!r.is_success())
          throw std::runtime_error("wavesim tile " + std::to_string(t.geometry.index) + ": halo to '" + t.neighbour[side] +
                                   "' failed: " + ringkernel::to_string(r.status));
      }
    }
  }
};

std::size_t pow2_at_least(std::size_t n) {
  std::size_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

// ---- the tiled solver -----------------------------------------------------------------------

class TiledSolver final : public Solver {
 public:
  TiledSolver(const Scene& scene, const TileBackend& backend, int tiles_x, int tiles_y)
      : scene_(scene), backend_(backend), tx_(tiles_x), ty_(tiles_y) {
    const std::vector<float> coef = build_coefficients(scene_);
    const Field init = initial_field(scene_);
    const double k = scene_.courant_number();
    const int w = scene_.width, h = scene_.height;
    const int n_tiles = tx_ * ty_;

    ringkernel::RuntimeConfig cfg;
    // One worker per tile: spinning only pays while every tile (and the host) has a core.
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    cfg.spin_before_park = static_cast<unsigned>(n_tiles) < cores ? std::chrono::microseconds(20) : std::chrono::microseconds(0);
    cfg.k2k.delivery_timeout_ms = 60000;  // never reached: a tile has at most two steps of halos queued
    rt_ = std::make_unique<ringkernel::Runtime>(ringkernel::Runtime::builder().backend(backend_.runtime_backend).config(cfg).build());

    auto id_of = [](int x, int y) { return "tile_" + std::to_string(x) + "_" + std::to_string(y); };
    std::size_t longest = 1;
    for (int j = 0; j < ty_; ++j)
      for (int i = 0; i < tx_; ++i) {
        auto t = std::make_shared<TileState>();
        TileGeometry& g = t->geometry;
        g.index = j * tx_ + i;
        g.tx = i;
        g.ty = j;
        g.x0 = static_cast<int>(static_cast<std::int64_t>(i) * w / tx_);
        g.y0 = static_cast<int>(static_cast<std::int64_t>(j) * h / ty_);
        g.width = static_cast<int>(static_cast<std::int64_t>(i + 1) * w / tx_) - g.x0;
        g.height = static_cast<int>(static_cast<std::int64_t>(j + 1) * h / ty_) - g.y0;
        longest = std::max<std::size_t>(longest, static_cast<std::size_t>(std::max(g.width, g.height)));
        if (j > 0) t->neighbour[static_cast<int>(Side::North)] = id_of(i, j - 1);
        if (j + 1 < ty_) t->neighbour[static_cast<int>(Side::South)] = id_of(i, j + 1);
        if (i > 0) t->neighbour[static_cast<int>(Side::West)] = id_of(i - 1, j);
        if (i + 1 < tx_) t->neighbour[static_cast<int>(Side::East)] = id_of(i + 1, j);
        for (int side = 0; side < kSides; ++side)
          for (auto& slot : t->staging[side]) slot.assign(static_cast<std::size_t>(g.edge_length(static_cast<Side>(side))), 0.0f);

        TileSetup setup;
        setup.geometry = g;
        setup.k2 = static_cast<float>(k * k);
        setup.dt = scene_.time_step();
        const std::size_t cells = static_cast<std::size_t>(g.width) * g.height;
        setup.coef.resize(cells);
        setup.cur.resize(cells);
        setup.prev.resize(cells);
        for (int y = 0; y < g.height; ++y) {
          const std::size_t src = static_cast<std::size_t>(g.y0 + y) * w + g.x0, dst = static_cast<std::size_t>(y) * g.width;
          std::memcpy(&setup.coef[dst], &coef[src], sizeof(float) * g.width);
          std::memcpy(&setup.cur[dst], &init.cur[src], sizeof(float) * g.width);
          std::memcpy(&setup.prev[dst], &init.prev[src], sizeof(float) * g.width);
        }
        for (const Source& s : scene_.sources)
          if (s.kind != SourceKind::Impulse && s.x >= g.x0 && s.x < g.x0 + g.width && s.y >= g.y0 && s.y < g.y0 + g.height) {
            Source local = s;
            local.x -= g.x0;
            local.y -= g.y0;
            setup.sources.push_back(local);
          }
        t->kernel = backend_.make_kernel(std::move(setup));
        tiles_.push_back(std::move(t));
      }
    // Inbox: at most two steps of halo chunks from four sides, plus Run commands; outputs: the reports.
    const std::size_t chunks_per_step = 4 * ((longest + kHaloChunk - 1) / kHaloChunk);
    const auto opts = ringkernel::LaunchOptions{}.with_queue_capacity(pow2_at_least(std::max<std::size_t>(256, 4 * chunks_per_step + 16)));
    for (int j = 0; j < ty_; ++j)
      for (int i = 0; i < tx_; ++i)
        handles_.push_back(rt_->launch(id_of(i, j), TileActor{tiles_[static_cast<std::size_t>(j * tx_ + i)]}, opts));
  }
  ~TiledSolver() override {
    if (rt_) rt_->shutdown();
  }

  std::string backend_name() const override { return backend_.name; }
  std::string layout() const override { return std::to_string(tx_) + " x " + std::to_string(ty_) + " tiles"; }
  std::uint64_t step() const override { return step_; }

  void advance(std::uint64_t steps, const ProgressFn& progress) override {
    if (steps == 0) return;
    const std::uint64_t target = step_ + steps;
    const std::uint64_t every = std::max<std::uint64_t>(1, steps / 64);
    TileMsg run{};
    run.kind = TileMsg::kRun;
    run.step = target;
    run.offset = static_cast<std::uint32_t>(std::min<std::uint64_t>(every, 0xFFFFFFFFu));
    for (auto& h : handles_) h.send(run);

    std::vector<std::uint64_t> reached(handles_.size(), step_);
    std::uint64_t low = step_;
    auto last_progress = std::chrono::steady_clock::now();
    while (low < target) {
      // Drain what is there, then block on the slowest tile (its report wakes us).
      for (std::size_t i = 0; i < handles_.size(); ++i)
        while (reached[i] < target) {
          auto r = handles_[i].receive<TileReport>(std::chrono::nanoseconds(0));
          if (!r) break;
          reached[i] = r->step;
        }
      const std::size_t slowest = static_cast<std::size_t>(std::min_element(reached.begin(), reached.end()) - reached.begin());
      if (reached[slowest] >= target) break;
      const std::uint64_t now_low = reached[slowest];
      if (now_low > low) {
        low = now_low;
        last_progress = std::chrono::steady_clock::now();
        if (progress) progress(low);
      }
      if (auto r = handles_[slowest].receive<TileReport>(std::chrono::milliseconds(50))) {
        reached[slowest] = r->step;
        continue;
      }
      check_tiles(last_progress);
    }
    step_ = target;
    if (progress) progress(step_);
  }

  Field field() const override {
    Field f;
    f.width = scene_.width;
    f.height = scene_.height;
    f.step = step_;
    f.cur.assign(static_cast<std::size_t>(scene_.cells()), 0.0f);
    f.prev.assign(f.cur.size(), 0.0f);
    for (const auto& t : tiles_) {
      const std::size_t origin = static_cast<std::size_t>(t->geometry.y0) * f.width + t->geometry.x0;
      t->kernel->read_fields(&f.cur[origin], &f.prev[origin], f.width);
    }
    return f;
  }

 private:
  // A faulted tile ends the run with its error; a run without progress for a minute is stuck.
  void check_tiles(std::chrono::steady_clock::time_point last_progress) const {
    for (auto& h : handles_) {
      if (h.state() == ringkernel::KernelState::Faulted) {
        const auto f = h.fault();
        throw ringkernel::KernelError(ringkernel::ErrorCode::KernelFault,
                                      "wavesim: " + h.id() + " faulted: " + (f ? f->what : std::string("unknown error")));
      }
      if (h.state() != ringkernel::KernelState::Active)
        throw ringkernel::KernelError(ringkernel::ErrorCode::NotActive,
                                      "wavesim: " + h.id() + " stopped (" + ringkernel::to_string(h.state()) + ")");
    }
    if (std::chrono::steady_clock::now() - last_progress > std::chrono::seconds(120))
      throw ringkernel::Error(ringkernel::ErrorCode::Timeout, "wavesim: no tile progress for 120 s at step " + std::to_string(step_));
  }

  Scene scene_;
  TileBackend backend_;
  int tx_, ty_;
  std::unique_ptr<ringkernel::Runtime> rt_;
  std::vector<std::shared_ptr<TileState>> tiles_;
  std::vector<ringkernel::KernelHandle> handles_;
  std::uint64_t step_ = 0;
};

// ---- backend registry -----------------------------------------------------------------------

struct Registry {
  std::mutex mu;
  std::vector<std::pair<ringkernel::Backend, TileBackend>> entries;
  Registry() { entries.emplace_back(ringkernel::Backend::Cpu, TileBackend{"cpu", ringkernel::Backend::Cpu, &make_cpu_tile_kernel}); }
};
Registry& registry() {
  static Registry r;
  return r;
}
bool find_backend(ringkernel::Backend kind, TileBackend& out) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lk(r.mu);
  for (auto& e : r.entries)
    if (e.first == kind) {
      out = e.second;
      return true;
    }
  return false;
}

}  // namespace

void register_tile_backend(ringkernel::Backend kind, const TileBackend& backend) {
  if (kind == ringkernel::Backend::Auto || (backend.make_kernel == nullptr && backend.make_solver == nullptr))
    throw ringkernel::Error(ringkernel::ErrorCode::InvalidArgument,
                            "wavesim: a tile backend needs a concrete kind and a kernel or solver factory");
  Registry& r = registry();
  std::lock_guard<std::mutex> lk(r.mu);
  for (auto& e : r.entries)
    if (e.first == kind) {
      e.second = backend;
      return;
    }
  r.entries.emplace_back(kind, backend);
}

std::vector<ringkernel::Backend> available_backends() {
  std::vector<ringkernel::Backend> out;
  TileBackend unused;
  for (ringkernel::Backend b : {ringkernel::Backend::Cuda, ringkernel::Backend::Vulkan, ringkernel::Backend::Cpu})
    if (find_backend(b, unused)) out.push_back(b);
  return out;
}

const char* backend_label(ringkernel::Backend b) noexcept {
  switch (b) {
    case ringkernel::Backend::Auto: return "auto";
    case ringkernel::Backend::Cpu: return "cpu";
    case ringkernel::Backend::Cuda: return "cuda";
    case ringkernel::Backend::Vulkan: return "vulkan";
  }
  return "unknown";
}

ringkernel::Backend resolve_backend(ringkernel::Backend requested) {
  const std::vector<ringkernel::Backend> have = available_backends();
  if (requested == ringkernel::Backend::Auto) {
    for (ringkernel::Backend b : have) {
      TileBackend tb;
      if (!find_backend(b, tb)) continue;
      if (tb.auto_refusal == nullptr || tb.auto_refusal().empty()) return b;
    }
    return ringkernel::Backend::Cpu;  // always registered, never refused
  }
  if (std::find(have.begin(), have.end(), requested) != have.end()) return requested;
  std::string names;
  for (ringkernel::Backend b : have) names += (names.empty() ? "" : ", ") + std::string(backend_label(b));
  throw ringkernel::Error(ringkernel::ErrorCode::BackendUnavailable,
                          std::string("wavesim: the ") + backend_label(requested) +
                              " backend is not in this build of WaveSim (this build has: " + names +
                              "); use --backend auto or --backend cpu");
}

ringkernel::Backend parse_backend(const std::string& name) {
  if (name == "auto") return ringkernel::Backend::Auto;
  if (name == "cpu") return ringkernel::Backend::Cpu;
  if (name == "cuda") return ringkernel::Backend::Cuda;
  if (name == "vulkan") return ringkernel::Backend::Vulkan;
  throw ringkernel::Error(ringkernel::ErrorCode::InvalidArgument,
                          "wavesim: unknown backend '" + name + "' (expected auto, cpu, cuda or vulkan)");
}

void choose_tiles(const Scene& scene, const SolverOptions& options, int& tiles_x, int& tiles_y) {
  constexpr int kMaxTiles = 256;  // one worker thread each
  tiles_x = options.tiles_x;
  tiles_y = options.tiles_y;
  if (tiles_x == 0 && tiles_y == 0) {
    // As many tiles as cores, split along rows first (contiguous halos), each at least 8 cells a side.
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    int n = std::min(cores, kMaxTiles);
    tiles_x = 1;
    for (int d = 1; d * d <= n; ++d)
      if (n % d == 0) tiles_x = d;
    tiles_y = n / tiles_x;
    while (tiles_y > 1 && scene.height / tiles_y < 8) --tiles_y;
    while (tiles_x > 1 && scene.width / tiles_x < 8) --tiles_x;
  }
  if (tiles_x < 1 || tiles_y < 1 || tiles_x > scene.width || tiles_y > scene.height || tiles_x * tiles_y > kMaxTiles)
    throw ringkernel::Error(ringkernel::ErrorCode::InvalidArgument,
                            "wavesim: cannot split a " + std::to_string(scene.width) + " x " + std::to_string(scene.height) +
                                " grid into " + std::to_string(tiles_x) + " x " + std::to_string(tiles_y) +
                                " tiles (each side 1.." + "grid size, at most " + std::to_string(kMaxTiles) + " tiles)");
}

std::unique_ptr<Solver> make_solver(const Scene& scene, const SolverOptions& options) {
  scene.validate();
  TileBackend backend;
  const ringkernel::Backend kind = resolve_backend(options.backend);
  if (!find_backend(kind, backend))
    throw ringkernel::Error(ringkernel::ErrorCode::BackendUnavailable, "wavesim: backend vanished from the registry");
  int tx = 0, ty = 0;
  choose_tiles(scene, options, tx, ty);
  if (backend.make_solver != nullptr) return backend.make_solver(scene, options, tx, ty);
  return std::unique_ptr<Solver>(new TiledSolver(scene, backend, tx, ty));
}

}  // namespace wavesim
