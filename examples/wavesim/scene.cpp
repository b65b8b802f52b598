// scene.cpp — WaveSim's scene parser and validation (grammar in scene.hpp).
// SPDX-License-Identifier: MIT
#include "scene.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>
#include <system_error>
#include <vector>

namespace wavesim {

const char* to_string(SourceKind kind) noexcept {
  switch (kind) {
    case SourceKind::Point: return "point";
    case SourceKind::Sine: return "sine";
    case SourceKind::Impulse: return "impulse";
  }
  return "unknown";
}

namespace {

constexpr std::size_t kMaxSceneBytes = 1024 * 1024;
constexpr std::size_t kMaxLineBytes = 1024;

// Quotes a token for an error message, cut short and with unprintable bytes escaped, so a
// hostile scene cannot make messages huge or garble a terminal.
std::string quote(std::string_view s) {
  std::string out = "'";
  const std::size_t n = s.size() < 40 ? s.size() : 40;
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (s.size() > n) out += "...";
  return out + "'";
}

class LineParser {
 public:
  LineParser(std::string_view origin, int line, std::vector<std::string_view> tokens)
      : origin_(origin), line_(line), tokens_(std::move(tokens)) {}

  [[noreturn]] void fail(const std::string& message) const {
    throw SceneError(line_, std::string(origin_) + ":" + std::to_string(line_) + ": " + message);
  }
  std::size_t size() const noexcept { return tokens_.size(); }
  std::string_view token(std::size_t i) const { return tokens_.at(i); }

  // Requires exactly `n` arguments after the `consumed` leading keyword tokens.
  void expect_args(std::size_t consumed, std::size_t n, const char* what) const {
    const std::size_t got = tokens_.size() - consumed;
    if (got != n)
      fail(std::string(what) + ", got " + std::to_string(got) + " argument" + (got == 1 ? "" : "s"));
  }
  int integer(std::size_t i, const char* name, long long lo, long long hi) const {
    const std::string_view t = tokens_.at(i);
    long long v = 0;
    const auto r = std::from_chars(t.data(), t.data() + t.size(), v, 10);
    if (r.ec != std::errc{} || r.ptr != t.data() + t.size())
      fail(std::string(name) + " must be an integer, got " + quote(t));
    if (v < lo || v > hi)
      fail(std::string(name) + " must be in " + std::to_string(lo) + ".." + std::to_string(hi) + ", got " + quote(t));
    return static_cast<int>(v);
  }
  // A finite number in (lo, hi] when `open_low`, else [lo, hi].
  double number(std::size_t i, const char* name, double lo, double hi, bool open_low) const {
    const std::string_view t = tokens_.at(i);
    double v = 0;
    const auto r = std::from_chars(t.data(), t.data() + t.size(), v, std::chars_format::general);
    if (r.ec != std::errc{} || r.ptr != t.data() + t.size() || !std::isfinite(v))
      fail(std::string(name) + " must be a finite number, got " + quote(t));
    if ((open_low ? !(v > lo) : !(v >= lo)) || !(v <= hi)) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "%s must be in %s%g, %g], got ", name, open_low ? "(" : "[", lo, hi);
      fail(buf + quote(t));
    }
    return v;
  }
  Rect rect(std::size_t first) const {
    Rect r;
    r.x0 = integer(first, "X0", 0, kMaxGridSide);
    r.y0 = integer(first + 1, "Y0", 0, kMaxGridSide);
    r.x1 = integer(first + 2, "X1", 0, kMaxGridSide);
    r.y1 = integer(first + 3, "Y1", 0, kMaxGridSide);
    if (r.x1 <= r.x0 || r.y1 <= r.y0)
      fail("the rectangle " + std::to_string(r.x0) + " " + std::to_string(r.y0) + " " + std::to_string(r.x1) + " " +
           std::to_string(r.y1) + " is empty: need X0 < X1 and Y0 < Y1 (half-open, cells X0 <= x < X1)");
    return r;
  }

 private:
  std::string_view origin_;
  int line_;
  std::vector<std::string_view> tokens_;
};

std::vector<std::string_view> split_tokens(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

std::size_t item_count(const Scene& s) { return s.walls.size() + s.absorbers.size() + s.sources.size(); }

}  // namespace

Scene parse_scene(std::string_view text, const Scene& base, std::string_view origin) {
  Scene scene = base;
  if (text.size() > kMaxSceneBytes)
    throw SceneError(0, std::string(origin) + ": scene text is " + std::to_string(text.size()) +
                            " bytes, more than the limit of " + std::to_string(kMaxSceneBytes));
  bool saw_courant = false, saw_dt = false;
  int line_no = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // CRLF files
    const std::size_t hash = line.find('#');
    if (hash != std::string_view::npos) line = line.substr(0, hash);
    if (line.size() > kMaxLineBytes) {
      throw SceneError(line_no, std::string(origin) + ":" + std::to_string(line_no) + ": line is longer than " +
                                    std::to_string(kMaxLineBytes) + " bytes");
    }
    for (char c : line) {
      const unsigned char u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u >= 0x7f) {
        char buf[96];
        std::snprintf(buf, sizeof buf, ": unexpected byte 0x%02x (scene files are printable ASCII)", u);
        throw SceneError(line_no, std::string(origin) + ":" + std::to_string(line_no) + buf);
      }
    }
    const LineParser p(origin, line_no, split_tokens(line));
    if (p.size() == 0) {
      if (end == text.size()) break;
      continue;
    }
    const std::string_view key = p.token(0);
    if (key == "grid") {
      p.expect_args(1, 2, "grid needs 2 integers W H");
      const int w = p.integer(1, "W", 4, kMaxGridSide);
      const int h = p.integer(2, "H", 4, kMaxGridSide);
      if (std::int64_t{w} * h > kMaxCells)
        p.fail("grid " + std::to_string(w) + " x " + std::to_string(h) + " has more than " + std::to_string(kMaxCells) +
               " cells");
      scene.width = w;
      scene.height = h;
    } else if (key == "spacing") {
      p.expect_args(1, 1, "spacing needs 1 number DX (metres per cell)");
      scene.spacing_m = p.number(1, "DX", 0, 1e6, true);
    } else if (key == "speed") {
      p.expect_args(1, 1, "speed needs 1 number C (m/s)");
      scene.speed_m_s = p.number(1, "C", 0, 1e9, true);
    } else if (key == "courant") {
      p.expect_args(1, 1, "courant needs 1 number K (c*dt/dx)");
      if (saw_dt) p.fail("courant and dt both given; give one");
      scene.courant = p.number(1, "K", 0, 1e3, true);
      scene.dt_s = 0;
      saw_courant = true;
    } else if (key == "dt") {
      p.expect_args(1, 1, "dt needs 1 number SECONDS");
      if (saw_courant) p.fail("courant and dt both given; give one");
      scene.dt_s = p.number(1, "SECONDS", 0, 1e6, true);
      saw_dt = true;
    } else if (key == "boundary") {
      if (p.size() < 2) p.fail("boundary needs 'absorbing [CELLS]' or 'reflecting'");
      const std::string_view kind = p.token(1);
      if (kind == "absorbing") {
        if (p.size() > 3) p.expect_args(2, 1, "boundary absorbing takes at most 1 integer CELLS");
        scene.boundary = Boundary::Absorbing;
        if (p.size() == 3) scene.sponge_cells = p.integer(2, "CELLS", 1, kMaxGridSide);
      } else if (kind == "reflecting") {
        p.expect_args(2, 0, "boundary reflecting takes no argument");
        scene.boundary = Boundary::Reflecting;
      } else {
        p.fail("boundary must be 'absorbing' or 'reflecting', got " + quote(kind));
      }
    } else if (key == "wall" || key == "absorber") {
      if (item_count(scene) >= kMaxSceneItems) p.fail("more than " + std::to_string(kMaxSceneItems) + " scene items");
      if (key == "wall") {
        p.expect_args(1, 4, "wall needs 4 integers X0 Y0 X1 Y1");
        scene.walls.push_back(p.rect(1));
      } else {
        p.expect_args(1, 5, "absorber needs 4 integers X0 Y0 X1 Y1 and a strength G");
        Absorber a;
        a.area = p.rect(1);
        a.strength = p.number(5, "G", 0, 1, true);
        scene.absorbers.push_back(a);
      }
    } else if (key == "source") {
      if (item_count(scene) >= kMaxSceneItems) p.fail("more than " + std::to_string(kMaxSceneItems) + " scene items");
      if (p.size() < 2) p.fail("source needs a kind: point, sine or impulse");
      const std::string_view kind = p.token(1);
      Source s;
      if (kind == "point" || kind == "sine") {
        p.expect_args(2, 4, kind == "point" ? "source point needs X Y FREQ AMP" : "source sine needs X Y FREQ AMP");
        s.kind = kind == "point" ? SourceKind::Point : SourceKind::Sine;
        s.frequency_hz = p.number(4, "FREQ", 0, 1e12, true);
        s.amplitude = p.number(5, "AMP", -1e6, 1e6, false);
      } else if (kind == "impulse") {
        p.expect_args(2, 4, "source impulse needs X Y AMP R");
        s.kind = SourceKind::Impulse;
        s.amplitude = p.number(4, "AMP", -1e6, 1e6, false);
        s.radius = p.number(5, "R", 0, 1024, true);
      } else {
        p.fail("source kind must be point, sine or impulse, got " + quote(kind));
      }
      s.x = p.integer(2, "X", 0, kMaxGridSide - 1);
      s.y = p.integer(3, "Y", 0, kMaxGridSide - 1);
      scene.sources.push_back(s);
    } else {
      p.fail("unknown keyword " + quote(key) +
             " (expected grid, spacing, speed, courant, dt, boundary, wall, absorber or source)");
    }
    if (end == text.size()) break;
  }
  return scene;
}

void Scene::validate() const {
  auto fail = [](const std::string& m) { throw SceneError(0, "scene: " + m); };
  if (width < 4 || height < 4 || width > kMaxGridSide || height > kMaxGridSide || cells() > kMaxCells)
    fail("grid " + std::to_string(width) + " x " + std::to_string(height) + " is outside 4..8192 per side / 64 Mi cells");
  if (!(spacing_m > 0) || !std::isfinite(spacing_m)) fail("spacing must be a positive number");
  if (!(speed_m_s > 0) || !std::isfinite(speed_m_s)) fail("speed must be a positive number");
  const double k = courant_number();
  if (!(k > 0) || !std::isfinite(k)) fail("the Courant number c*dt/dx must be positive");
  if (k > kCflLimit) {
    char buf[400];
    std::snprintf(buf, sizeof buf,
                  "CFL condition violated: Courant number c*dt/dx = %.6g exceeds the 2-D limit 1/sqrt(2) = %.6f of "
                  "the leapfrog scheme, which would grow without bound; use a smaller dt or courant (<= %.4f), "
                  "or a larger spacing",
                  k, kCflLimit, kCflLimit);
    throw CflError(buf);
  }
  if (boundary == Boundary::Absorbing && (sponge_cells < 1 || 3 * sponge_cells > (width < height ? width : height)))
    fail("the absorbing border of " + std::to_string(sponge_cells) + " cells is too wide for a " +
         std::to_string(width) + " x " + std::to_string(height) + " grid (at most a third of the shorter side)");
  auto inside = [&](const Rect& r) { return r.x0 >= 0 && r.y0 >= 0 && r.x1 <= width && r.y1 <= height && r.x0 < r.x1 && r.y0 < r.y1; };
  auto rect_text = [](const Rect& r) {
    return std::to_string(r.x0) + " " + std::to_string(r.y0) + " " + std::to_string(r.x1) + " " + std::to_string(r.y1);
  };
  for (const Rect& w : walls)
    if (!inside(w)) fail("wall " + rect_text(w) + " is not inside the " + std::to_string(width) + " x " + std::to_string(height) + " grid");
  for (const Absorber& a : absorbers) {
    if (!inside(a.area)) fail("absorber " + rect_text(a.area) + " is not inside the grid");
    if (!(a.strength > 0 && a.strength <= 1)) fail("absorber strength must be in (0, 1]");
  }
  const double nyquist = 0.5 / time_step();
  for (const Source& s : sources) {
    const std::string where = std::string(to_string(s.kind)) + " source at " + std::to_string(s.x) + " " + std::to_string(s.y);
    if (s.x < 0 || s.y < 0 || s.x >= width || s.y >= height) fail(where + " is outside the grid");
    for (const Rect& w : walls)
      if (w.contains(s.x, s.y)) fail(where + " is inside wall " + rect_text(w));
    if (s.kind != SourceKind::Impulse && !(s.frequency_hz > 0 && s.frequency_hz < nyquist)) {
      char buf[200];
      std::snprintf(buf, sizeof buf, " has frequency %g Hz, not below the Nyquist frequency 1/(2 dt) = %g Hz", s.frequency_hz,
                    nyquist);
      fail(where + buf);
    }
    if (s.kind == SourceKind::Impulse && !(s.radius > 0)) fail(where + " needs a radius > 0");
    if (!std::isfinite(s.amplitude)) fail(where + " needs a finite amplitude");
  }
}

std::string format_scene(const Scene& s) {
  std::string out;
  char buf[256];
  auto line = [&](const char* fmt, auto... args) {
    std::snprintf(buf, sizeof buf, fmt, args...);
    out += buf;
  };
  line("grid %d %d\n", s.width, s.height);
  line("spacing %.17g\n", s.spacing_m);
  line("speed %.17g\n", s.speed_m_s);
  if (s.dt_s > 0) line("dt %.17g\n", s.dt_s); else line("courant %.17g\n", s.courant);
  if (s.boundary == Boundary::Absorbing) line("boundary absorbing %d\n", s.sponge_cells); else out += "boundary reflecting\n";
  for (const Rect& r : s.walls) line("wall %d %d %d %d\n", r.x0, r.y0, r.x1, r.y1);
  for (const Absorber& a : s.absorbers) line("absorber %d %d %d %d %.17g\n", a.area.x0, a.area.y0, a.area.x1, a.area.y1, a.strength);
  for (const Source& src : s.sources) {
    if (src.kind == SourceKind::Impulse)
      line("source impulse %d %d %.17g %.17g\n", src.x, src.y, src.amplitude, src.radius);
    else
      line("source %s %d %d %.17g %.17g\n", to_string(src.kind), src.x, src.y, src.frequency_hz, src.amplitude);
  }
  return out;
}

Scene default_scene() {
  // A double slit: a wall 4 cells thick at x = 96 with two 8-cell gaps, lit by a 2 kHz sine
  // (wavelength 17 cells at dx = 1 cm) from the left; the fringes fan out to the right.
  static const char* const text =
      "grid 256 256\n"
      "spacing 0.01\n"
      "speed 343\n"
      "courant 0.5\n"
      "boundary absorbing 20\n"
      "wall 96 0 100 108\n"
      "wall 96 116 100 140\n"
      "wall 96 148 100 256\n"
      "source sine 48 128 2000 1\n";
  return parse_scene(text, Scene{}, "default scene");
}

}  // namespace wavesim
