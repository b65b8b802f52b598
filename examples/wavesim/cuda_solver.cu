// cuda_solver.cu — WaveSim's CUDA backend (see cuda_solver.hpp and README.md): tiles in device
// memory, halos pushed device to device by the threads that compute the tiles' edges, one
// persistent cooperative kernel per batch of steps (a grid barrier between steps) or one launch
// per step, plus the plain-loop and roofline peers of wavesim_bench. The one nvcc TU of WaveSim.
// SPDX-License-Identifier: MIT
//
// Arithmetic: wave_cell (solver.hpp) term for term with __fadd_rn / __fsub_rn / __fmul_rn, which
// nvcc never contracts into FMAs whatever --fmad says, so the result is the CPU's
// -ffp-contract=off expression. Denormals are kept (this TU is not built with --use_fast_math /
// -ftz=true). Hence the CPU and the GPU agree bit for bit; tests/test_wavesim_cuda.cpp requires it.
//
// Memory ordering in the persistent kernel: the fields change between steps inside one launch,
// so they are never read through the non-coherent read-only path (no __ldg, no const __restrict__
// on them); cooperative_groups' grid.sync() orders every write of a step before every read of
// the next at device scope. Only the coefficients, written once before the launch, use __ldg.
#define RINGKERNEL_CUDA_IMPLEMENTATION  // the core's implementation is in the program's own TU
#include "ringkernel_cuda.hpp"

#include "cuda_solver.hpp"

#include <cooperative_groups.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace wavesim {

namespace {

namespace cg = cooperative_groups;
namespace rkc = ringkernel::cuda;
using ringkernel::Error;
using ringkernel::ErrorCode;

constexpr int kBlockThreads = kCudaItemWidth * kCudaItemHeight;  // 256
constexpr std::uint64_t kMaxBatch = 65536;                       // steps per launch (persistent) or per wait
constexpr std::size_t kMaxSourceTable = std::size_t{4} << 20;    // floats of source values per batch at most
constexpr double kBatchSeconds = 0.1;                            // aim: a batch (and a progress report) this often
constexpr auto kBatchTimeout = std::chrono::seconds(120);

// ---- device side ------------------------------------------------------------------------------

/// A tile in device memory: its padded block and where its edges go in its neighbours' halos.
struct TileDesc {
  int base;    // index of the block's (-1, -1) cell in a field buffer
  int stride;  // width + 2
  int width;
  int height;
  // Index in the field buffer of the neighbour's halo cell that receives this tile's edge cell
  // 0 on each side (Side order: North, South, West, East), -1 at the grid's edge. Along a
  // North/South edge the next cell is +1; along a West/East edge it is +push_stride[side - 2].
  int push[4];
  int push_stride[2];
};

/// A 32 x 8 rectangle of one tile (one block's work for a step) and its point/sine sources.
struct WorkItem {
  int tile;
  int x0, y0;                  // first cell, tile coordinates
  int source_begin, source_end;  // range in StepParams::sources
};

/// A point or sine source in a work item: its cell (index in a field buffer) and its number in
/// scene order (its column in the values table).
struct SourceRef {
  int cell;
  int source;
};

struct StepParams {
  float* field0;  // u[n] is field0 for even n, field1 for odd n
  float* field1;
  const float* coef;  // a, same padded layout (border 0)
  const TileDesc* tiles;
  const WorkItem* items;
  int item_count;
  const SourceRef* sources;
  const float* values;  // [r * source_count + source]: the value added at step step0 + r + 1
  int source_count;
  float k2;
  unsigned long long step0;
  int steps;
};

/// wave_cell (solver.hpp), term for term, rounded to nearest after every operation, never fused.
/// On the host (cuda_emulate_on_host) the same expression in plain float operations: this TU's
/// host code is compiled without contraction into FMAs (x86-64 baseline has none; see README).
__host__ __device__ __forceinline__ float add_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
__host__ __device__ __forceinline__ float sub_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}
__host__ __device__ __forceinline__ float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
__host__ __device__ __forceinline__ float wave_cell_rn(float u, float prev, float west, float east, float north, float south,
                                                       float a, float k2) {
  const float lap = sub_rn(add_rn(add_rn(west, east), add_rn(north, south)), mul_rn(4.0f, u));
  return sub_rn(mul_rn(a, add_rn(mul_rn(2.0f, u), mul_rn(k2, lap))), mul_rn(sub_rn(mul_rn(2.0f, a), 1.0f), prev));
}

__host__ __device__ __forceinline__ float load_coef(const float* coef, int i) {
#if defined(__CUDA_ARCH__)
  return __ldg(&coef[i]);  // written once before any launch: the read-only path is safe
#else
  return coef[i];
#endif
}

/// Thread (tx, ty)'s cell of work item `index` for step step0 + r: u[n+1] over u[n-1], the
/// sources of the cell in scene order, and (for an edge cell) the copy into the neighbour's halo.
__host__ __device__ __forceinline__ void step_item(const StepParams& p, int index, int r, const float* cur, float* next, int tx,
                                                   int ty) {
  const WorkItem it = p.items[index];
  const TileDesc& t = p.tiles[it.tile];
  const int x = it.x0 + tx;
  const int y = it.y0 + ty;
  const int width = t.width, height = t.height, stride = t.stride;
  if (x >= width || y >= height) return;
  const int i = t.base + (y + 1) * stride + x + 1;
  float v = wave_cell_rn(cur[i], next[i], cur[i - 1], cur[i + 1], cur[i - stride], cur[i + stride], load_coef(p.coef, i), p.k2);
  for (int k = it.source_begin; k < it.source_end; ++k) {
    const SourceRef s = p.sources[k];
    if (s.cell == i) v = add_rn(v, p.values[static_cast<std::size_t>(r) * static_cast<std::size_t>(p.source_count) + s.source]);
  }
  next[i] = v;
  if (y == 0 && t.push[0] >= 0) next[t.push[0] + x] = v;
  if (y == height - 1 && t.push[1] >= 0) next[t.push[1] + x] = v;
  if (x == 0 && t.push[2] >= 0) next[t.push[2] + y * t.push_stride[0]] = v;
  if (x == width - 1 && t.push[3] >= 0) next[t.push[3] + y * t.push_stride[1]] = v;
}

__host__ __device__ __forceinline__ void fields_of(const StepParams& p, unsigned long long n, const float*& cur, float*& next) {
  cur = (n & 1ull) ? p.field1 : p.field0;
  next = (n & 1ull) ? p.field0 : p.field1;
}

/// The persistent kernel: every step of a batch in one cooperative launch. Each block takes work
/// items blockIdx.x, blockIdx.x + gridDim.x, ...; the grid barrier ends a step (every tile then
/// has every halo of the new field).
__global__ void __launch_bounds__(kBlockThreads) wave_persistent(StepParams p) {
  cg::grid_group grid = cg::this_grid();
  for (int r = 0; r < p.steps; ++r) {
    const float* cur;
    float* next;
    fields_of(p, p.step0 + static_cast<unsigned long long>(r), cur, next);
    for (int item = static_cast<int>(blockIdx.x); item < p.item_count; item += static_cast<int>(gridDim.x))
      step_item(p, item, r, cur, next, static_cast<int>(threadIdx.x), static_cast<int>(threadIdx.y));
    if (r + 1 < p.steps) grid.sync();
  }
}

/// One step, one block per work item (the per-step mode; stream order separates the steps).
__global__ void __launch_bounds__(kBlockThreads) wave_per_step(StepParams p, int r) {
  const float* cur;
  float* next;
  fields_of(p, p.step0 + static_cast<unsigned long long>(r), cur, next);
  step_item(p, static_cast<int>(blockIdx.x), r, cur, next, static_cast<int>(threadIdx.x), static_cast<int>(threadIdx.y));
}

/// The plain loop's step: one padded grid (border 0), coefficients row-major without border.
__global__ void __launch_bounds__(kBlockThreads) plain_step(const float* __restrict__ cur, float* __restrict__ next,
                                                            const float* __restrict__ coef, int w, int h, float k2) {
  const int x = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  const int y = static_cast<int>(blockIdx.y * blockDim.y + threadIdx.y);
  if (x >= w || y >= h) return;
  const int stride = w + 2;
  const int i = (y + 1) * stride + x + 1;
  next[i] = wave_cell_rn(cur[i], next[i], cur[i - 1], cur[i + 1], cur[i - stride], cur[i + stride], coef[y * w + x], k2);
}

/// The roofline: the scheme's 16 bytes per cell (three streams in, one out), no stencil.
__global__ void __launch_bounds__(kBlockThreads) stream_step(const float* __restrict__ cur, float* __restrict__ next,
                                                             const float* __restrict__ coef, long long n) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) next[i] = __fsub_rn(__fmul_rn(coef[i], cur[i]), next[i]);
}

// ---- host side --------------------------------------------------------------------------------

std::string describe(const rkc::DeviceInfo& d) {
  return d.name + " (sm_" + std::to_string(d.compute_major) + std::to_string(d.compute_minor) + ", " +
         std::to_string(d.sm_count) + " SMs)";
}

/// Why device `ordinal` (which exists) cannot run this program's kernels, or "".
std::string kernel_reason(int ordinal) {
  cudaError_t e = cudaSetDevice(ordinal);
  const char* call = "cudaSetDevice";
  if (e == cudaSuccess) {
    cudaFuncAttributes attrs{};
    e = cudaFuncGetAttributes(&attrs, reinterpret_cast<const void*>(&wave_persistent));
    call = "cudaFuncGetAttributes (is this program built for the device's architecture? see -Dnvcc_arch)";
  }
  if (e == cudaSuccess) return {};
  (void)cudaGetLastError();
  return rkc::describe(e, call);
}

/// The device for `requested` (-1: the first usable one), or Error(BackendUnavailable) saying why none.
rkc::DeviceInfo pick_device(int requested) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    throw Error(ErrorCode::BackendUnavailable, "wavesim: no usable CUDA device: " + rkc::describe(e, "cudaGetDeviceCount") +
                                                   " (no CUDA driver or no device)");
  }
  if (n == 0) throw Error(ErrorCode::BackendUnavailable, "wavesim: no usable CUDA device: cudaGetDeviceCount found none");
  const std::vector<rkc::DeviceInfo> devices = rkc::enumerate_devices();
  std::string list;
  for (const rkc::DeviceInfo& d : devices) list += (list.empty() ? "" : "; ") + std::to_string(d.ordinal) + ": " + describe(d);
  if (requested >= 0) {
    if (requested >= n)
      throw Error(ErrorCode::BackendUnavailable,
                  "wavesim: CUDA device " + std::to_string(requested) + " does not exist (devices: " + list + ")");
    const std::string why = kernel_reason(requested);
    if (!why.empty())
      throw Error(ErrorCode::BackendUnavailable, "wavesim: CUDA device " + std::to_string(requested) + " (" +
                                                     devices[static_cast<std::size_t>(requested)].name + ") cannot be used: " + why);
    return devices[static_cast<std::size_t>(requested)];
  }
  std::string reasons;
  for (const rkc::DeviceInfo& d : devices) {
    const std::string why = kernel_reason(d.ordinal);
    if (why.empty()) return d;
    reasons += (reasons.empty() ? "" : "; ") + std::to_string(d.ordinal) + ": " + why;
  }
  throw Error(ErrorCode::BackendUnavailable, "wavesim: no usable CUDA device (" + reasons + ")");
}

/// Device memory on one device; freed through ringkernel (deferred while a persistent ringkernel
/// kernel of this process is resident, since cudaFree may wait for the whole device).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { reset(); }
  void create(int ordinal, std::size_t bytes, const char* what) {
    reset();
    bytes = std::max<std::size_t>(bytes, 16);
    const cudaError_t e = cudaMalloc(&ptr_, bytes);
    if (e != cudaSuccess) {
      ptr_ = nullptr;
      rkc::raise_cuda(e, (std::string("cudaMalloc of ") + std::to_string(bytes) + " bytes for the " + what + " buffer").c_str());
    }
    ordinal_ = ordinal;
  }
  void reset() noexcept {
    if (ptr_ != nullptr) rkc::detail::free_device(ordinal_, ptr_);
    ptr_ = nullptr;
  }
  template <class T>
  T* as() const noexcept {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_ = nullptr;
  int ordinal_ = 0;
};

template <class T>
void upload(DeviceBuffer& dst, const std::vector<T>& src, cudaStream_t stream, const char* what) {
  if (src.empty()) return;
  rkc::check(cudaMemcpyAsync(dst.as<void>(), src.data(), sizeof(T) * src.size(), cudaMemcpyHostToDevice, stream), what);
}

void wait_for(const rkc::Stream& stream, const std::string& what, const std::string& device) {
  if (!stream.wait(kBatchTimeout, what.c_str()))
    throw Error(ErrorCode::Timeout, "wavesim cuda: " + what + " did not finish within " +
                                        std::to_string(kBatchTimeout.count()) + " s on " + device);
}

/// Everything the solver puts in device memory, built on the host: the tiles (the CPU backend's
/// split), the host images of the field and coefficient buffers, the work items and their
/// sources. Value type.
struct Plan {
  std::vector<Source> sources;  // point and sine, scene order
  float k2 = 0;
  double dt = 0;
  std::vector<TileDesc> tiles;
  std::vector<int> origin_x, origin_y;  // each tile's first cell in the grid
  std::size_t padded_cells = 0;
  std::vector<float> cur, prev, coef;  // u[0], u[-1], a
  std::vector<WorkItem> items;
  std::vector<SourceRef> refs;
};

Plan make_plan(const Scene& scene, int tx, int ty) {
  Plan pl;
  const double k = scene.courant_number();
  pl.k2 = static_cast<float>(k * k);
  pl.dt = scene.time_step();
  for (const Source& s : scene.sources)
    if (s.kind != SourceKind::Impulse) pl.sources.push_back(s);
  const int w = scene.width, h = scene.height;
  // The CPU backend's split (TiledSolver in solver.cpp; the Vulkan solver uses the same).
  std::vector<int> xs(static_cast<std::size_t>(tx) + 1), ys(static_cast<std::size_t>(ty) + 1);
  for (int i = 0; i <= tx; ++i) xs[static_cast<std::size_t>(i)] = static_cast<int>(static_cast<std::int64_t>(i) * w / tx);
  for (int j = 0; j <= ty; ++j) ys[static_cast<std::size_t>(j)] = static_cast<int>(static_cast<std::int64_t>(j) * h / ty);
  std::size_t cells = 0;
  for (int j = 0; j < ty; ++j)
    for (int i = 0; i < tx; ++i) {
      TileDesc d{};
      d.width = xs[static_cast<std::size_t>(i) + 1] - xs[static_cast<std::size_t>(i)];
      d.height = ys[static_cast<std::size_t>(j) + 1] - ys[static_cast<std::size_t>(j)];
      d.stride = d.width + 2;
      d.base = static_cast<int>(cells);
      cells += static_cast<std::size_t>(d.stride) * static_cast<std::size_t>(d.height + 2);
      if (cells > static_cast<std::size_t>(0x7FFFFFFF))
        throw Error(ErrorCode::InvalidArgument, "wavesim cuda: the padded grid exceeds 2^31 cells");
      pl.tiles.push_back(d);
      pl.origin_x.push_back(xs[static_cast<std::size_t>(i)]);
      pl.origin_y.push_back(ys[static_cast<std::size_t>(j)]);
    }
  pl.padded_cells = cells;
  auto tile_at = [&](int i, int j) -> TileDesc* {
    return i < 0 || j < 0 || i >= tx || j >= ty ? nullptr : &pl.tiles[static_cast<std::size_t>(j * tx + i)];
  };
  for (int j = 0; j < ty; ++j)
    for (int i = 0; i < tx; ++i) {
      TileDesc& d = *tile_at(i, j);
      const TileDesc* n = tile_at(i, j - 1);
      const TileDesc* s = tile_at(i, j + 1);
      const TileDesc* we = tile_at(i - 1, j);
      const TileDesc* ea = tile_at(i + 1, j);
      // Row 0 of this tile fills the north neighbour's south halo row (its row height + 1),
      // the last row the south neighbour's north halo row (row -1), column 0 the west
      // neighbour's east halo column (its column width), the last column the east neighbour's
      // west halo column (column -1).
      d.push[0] = n ? n->base + (n->height + 1) * n->stride + 1 : -1;
      d.push[1] = s ? s->base + 1 : -1;
      d.push[2] = we ? we->base + we->stride + we->width + 1 : -1;
      d.push[3] = ea ? ea->base + ea->stride : -1;
      d.push_stride[0] = we ? we->stride : 0;
      d.push_stride[1] = ea ? ea->stride : 0;
    }

  // Host images of the buffers: interiors from the scene, halos from the neighbouring cells of
  // the whole grid (0 beyond its edge), coefficients with a zero border.
  const Field init = initial_field(scene);
  const std::vector<float> a = build_coefficients(scene);
  pl.cur.assign(pl.padded_cells, 0.0f);
  pl.prev.assign(pl.padded_cells, 0.0f);
  pl.coef.assign(pl.padded_cells, 0.0f);
  for (std::size_t t = 0; t < pl.tiles.size(); ++t) {
    const TileDesc& d = pl.tiles[t];
    for (int y = -1; y <= d.height; ++y)
      for (int x = -1; x <= d.width; ++x) {
        const int gx = pl.origin_x[t] + x, gy = pl.origin_y[t] + y;
        const bool corner = (x < 0 || x >= d.width) && (y < 0 || y >= d.height);
        if (corner || gx < 0 || gy < 0 || gx >= w || gy >= h) continue;
        const std::size_t i = static_cast<std::size_t>(d.base) + static_cast<std::size_t>(y + 1) * d.stride + (x + 1);
        const std::size_t g = static_cast<std::size_t>(gy) * w + gx;
        pl.cur[i] = init.cur[g];
        pl.prev[i] = init.prev[g];
        if (x >= 0 && y >= 0 && x < d.width && y < d.height) pl.coef[i] = a[g];
      }
  }

  // Work items, tile by tile, and each one's sources in scene order.
  std::vector<std::size_t> first_item(pl.tiles.size());
  for (std::size_t t = 0; t < pl.tiles.size(); ++t) {
    first_item[t] = pl.items.size();
    const TileDesc& d = pl.tiles[t];
    for (int y0 = 0; y0 < d.height; y0 += kCudaItemHeight)
      for (int x0 = 0; x0 < d.width; x0 += kCudaItemWidth) pl.items.push_back(WorkItem{static_cast<int>(t), x0, y0, 0, 0});
  }
  std::vector<std::vector<SourceRef>> item_sources(pl.items.size());
  for (std::size_t s = 0; s < pl.sources.size(); ++s) {
    const Source& src = pl.sources[s];
    std::size_t t = 0;
    while (!(src.x >= pl.origin_x[t] && src.x < pl.origin_x[t] + pl.tiles[t].width && src.y >= pl.origin_y[t] &&
             src.y < pl.origin_y[t] + pl.tiles[t].height))
      ++t;  // validate() put every source inside the grid, so some tile holds it
    const int x = src.x - pl.origin_x[t], y = src.y - pl.origin_y[t];
    const int per_row = (pl.tiles[t].width + kCudaItemWidth - 1) / kCudaItemWidth;
    const std::size_t item = first_item[t] + static_cast<std::size_t>((y / kCudaItemHeight) * per_row + x / kCudaItemWidth);
    const int cell = pl.tiles[t].base + (y + 1) * pl.tiles[t].stride + x + 1;
    item_sources[item].push_back(SourceRef{cell, static_cast<int>(s)});
  }
  for (std::size_t k = 0; k < pl.items.size(); ++k) {
    pl.items[k].source_begin = static_cast<int>(pl.refs.size());
    pl.refs.insert(pl.refs.end(), item_sources[k].begin(), item_sources[k].end());
    pl.items[k].source_end = static_cast<int>(pl.refs.size());
  }
  return pl;
}

/// The grid's u[n] and u[n-1] from padded buffer images laid out as `pl` says.
Field unpack(const Plan& pl, const Scene& scene, std::uint64_t step, const std::vector<float>& cur, const std::vector<float>& prev) {
  Field f;
  f.width = scene.width;
  f.height = scene.height;
  f.step = step;
  f.cur.assign(static_cast<std::size_t>(scene.cells()), 0.0f);
  f.prev.assign(f.cur.size(), 0.0f);
  for (std::size_t t = 0; t < pl.tiles.size(); ++t) {
    const TileDesc& d = pl.tiles[t];
    for (int y = 0; y < d.height; ++y) {
      const std::size_t src = static_cast<std::size_t>(d.base) + static_cast<std::size_t>(y + 1) * d.stride + 1;
      const std::size_t dst = static_cast<std::size_t>(pl.origin_y[t] + y) * f.width + pl.origin_x[t];
      std::memcpy(&f.cur[dst], &cur[src], sizeof(float) * d.width);
      std::memcpy(&f.prev[dst], &prev[src], sizeof(float) * d.width);
    }
  }
  return f;
}

class CudaSolver final : public Solver {
 public:
  CudaSolver(const Scene& scene, const SolverOptions& options, int tiles_x, int tiles_y, const CudaTuning& tuning)
      : scene_((scene.validate(), scene)), tx_(tiles_x), ty_(tiles_y), tuning_(tuning),
        info_(pick_device(options.device)), device_(info_.ordinal), stream_(device_, rkc::StreamConfig::for_simulation()),
        plan_(make_plan(scene_, tx_, ty_)) {
    build();
  }
  CudaSolver(const CudaSolver&) = delete;
  CudaSolver& operator=(const CudaSolver&) = delete;

  std::string backend_name() const override {
    return "cuda: " + info_.name +
           (persistent_ ? " (persistent, " + std::to_string(grid_blocks_) + " blocks)" : std::string(" (per-step launches)"));
  }
  std::string layout() const override { return std::to_string(tx_) + " x " + std::to_string(ty_) + " tiles"; }
  std::uint64_t step() const override { return step_; }

  void advance(std::uint64_t steps, const ProgressFn& progress) override {
    device_.make_current();
    std::uint64_t done = 0;
    while (done < steps) {
      const std::uint64_t n = std::min<std::uint64_t>(batch_, steps - done);
      const auto t0 = std::chrono::steady_clock::now();
      // The sources' values for steps step_+1 .. step_+n (the only per-step data that crosses).
      const std::vector<Source>& sources = plan_.sources;
      if (!sources.empty()) {
        values_host_.resize(static_cast<std::size_t>(n) * sources.size());
        for (std::uint64_t r = 0; r < n; ++r)
          for (std::size_t s = 0; s < sources.size(); ++s)
            values_host_[r * sources.size() + s] = source_value(sources[s], step_ + r + 1, plan_.dt);
        upload(values_, values_host_, stream_.get(), "cudaMemcpyAsync (source values)");
      }
      StepParams p = params_;
      p.step0 = step_;
      p.steps = static_cast<int>(n);
      launch(p);
      wait_for(stream_, "a batch of " + std::to_string(n) + " steps", info_.name);
      step_ += n;
      done += n;
      // A batch of about kBatchSeconds: progress stays live, fast devices wait rarely.
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const double per_step = secs / static_cast<double>(n);
      const double want = per_step > 0 ? kBatchSeconds / per_step : static_cast<double>(max_batch_);
      batch_ = static_cast<std::uint64_t>(std::max(1.0, std::min(static_cast<double>(max_batch_), want)));
      if (progress) progress(step_);
    }
  }

  Field field() const override {
    device_.make_current();
    const std::size_t cells = plan_.padded_cells;
    std::vector<float> cur(cells), prev(cells);
    rkc::check(cudaMemcpyAsync(cur.data(), field_[step_ & 1].as<void>(), sizeof(float) * cells, cudaMemcpyDeviceToHost,
                               stream_.get()),
               "cudaMemcpyAsync (u[n] to the host)");
    rkc::check(cudaMemcpyAsync(prev.data(), field_[(step_ + 1) & 1].as<void>(), sizeof(float) * cells, cudaMemcpyDeviceToHost,
                               stream_.get()),
               "cudaMemcpyAsync (u[n-1] to the host)");
    wait_for(stream_, "reading the field", info_.name);
    return unpack(plan_, scene_, step_, cur, prev);
  }

 private:
  void build() {
    item_count_ = static_cast<int>(plan_.items.size());
    max_batch_ = plan_.sources.empty()
                     ? kMaxBatch
                     : std::max<std::uint64_t>(1, std::min<std::uint64_t>(kMaxBatch, kMaxSourceTable / plan_.sources.size()));
    choose_mode();

    device_.make_current();
    const int ord = info_.ordinal;
    const std::size_t cells = plan_.padded_cells;
    field_[0].create(ord, sizeof(float) * cells, "u[n]");
    field_[1].create(ord, sizeof(float) * cells, "u[n-1]");
    coef_.create(ord, sizeof(float) * cells, "coefficient");
    tiles_dev_.create(ord, sizeof(TileDesc) * plan_.tiles.size(), "tile table");
    items_dev_.create(ord, sizeof(WorkItem) * plan_.items.size(), "work item table");
    sources_dev_.create(ord, sizeof(SourceRef) * plan_.refs.size(), "source table");
    values_.create(ord, sizeof(float) * static_cast<std::size_t>(max_batch_) * std::max<std::size_t>(1, plan_.sources.size()),
                   "source value");
    upload(field_[0], plan_.cur, stream_.get(), "cudaMemcpyAsync (u[0])");
    upload(field_[1], plan_.prev, stream_.get(), "cudaMemcpyAsync (u[-1])");
    upload(coef_, plan_.coef, stream_.get(), "cudaMemcpyAsync (coefficients)");
    upload(tiles_dev_, plan_.tiles, stream_.get(), "cudaMemcpyAsync (tile table)");
    upload(items_dev_, plan_.items, stream_.get(), "cudaMemcpyAsync (work items)");
    upload(sources_dev_, plan_.refs, stream_.get(), "cudaMemcpyAsync (sources)");
    wait_for(stream_, "the initial upload", info_.name);
    // The host images are on the device now; keep only the tables field() needs.
    std::vector<float>().swap(plan_.cur);
    std::vector<float>().swap(plan_.prev);
    std::vector<float>().swap(plan_.coef);

    params_.field0 = field_[0].as<float>();
    params_.field1 = field_[1].as<float>();
    params_.coef = coef_.as<float>();
    params_.tiles = tiles_dev_.as<TileDesc>();
    params_.items = items_dev_.as<WorkItem>();
    params_.item_count = item_count_;
    params_.sources = sources_dev_.as<SourceRef>();
    params_.values = values_.as<float>();
    params_.source_count = static_cast<int>(plan_.sources.size());
    params_.k2 = plan_.k2;
  }

  // Persistent or per-step (see CudaMode), and the persistent grid's size.
  void choose_mode() {
    device_.make_current();
    int per_sm = 0;
    rkc::check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, reinterpret_cast<const void*>(&wave_persistent),
                                                             kBlockThreads, 0),
               "cudaOccupancyMaxActiveBlocksPerMultiprocessor (wave_persistent)");
    if (tuning_.blocks_per_sm < 0)
      throw Error(ErrorCode::InvalidArgument, "wavesim cuda: blocks_per_sm must be >= 0 (0: the occupancy limit)");
    if (tuning_.blocks_per_sm > 0) per_sm = std::min(per_sm, tuning_.blocks_per_sm);
    const long long capacity = static_cast<long long>(per_sm) * info_.sm_count;
    if (tuning_.mode == CudaMode::Persistent) {
      if (!info_.supports_cooperative)
        throw Error(ErrorCode::InvalidArgument, "wavesim cuda: persistent mode needs cooperative launch, which " + info_.name +
                                                    " does not support; use per-step or auto");
      if (capacity < 1)
        throw Error(ErrorCode::InvalidArgument, "wavesim cuda: no block of wave_persistent fits on an SM of " + info_.name);
      persistent_ = true;
    } else if (tuning_.mode == CudaMode::PerStep) {
      persistent_ = false;
    } else {
      persistent_ = info_.supports_cooperative && capacity >= 1 &&
                    static_cast<long long>(item_count_) <= capacity * kCudaItemsPerBlock;
    }
    if (persistent_) {
      grid_blocks_ = static_cast<int>(std::min<long long>(item_count_, capacity));
      // A grid barrier over blocks that cannot all be resident would deadlock: ringkernel checks.
      rkc::detail::check_cooperative_fit(device_, reinterpret_cast<const void*>(&wave_persistent),
                                         static_cast<std::uint32_t>(grid_blocks_), kBlockThreads);
    }
  }

  void launch(StepParams& p) {
    const dim3 block(kCudaItemWidth, kCudaItemHeight);
    if (persistent_) {
      void* args[] = {&p};
      const cudaError_t e = cudaLaunchCooperativeKernel(reinterpret_cast<const void*>(&wave_persistent), dim3(grid_blocks_), block,
                                                        args, 0, stream_.get());
      if (e == cudaSuccess) return;
      // Another program's (or this one's persistent ringkernel) kernels may hold SMs: in auto
      // mode, carry on with per-step launches; asked for persistent, report it.
      (void)cudaGetLastError();
      if (e != cudaErrorCooperativeLaunchTooLarge || tuning_.mode == CudaMode::Persistent)
        rkc::raise_cuda(e, "cudaLaunchCooperativeKernel (wave_persistent)");
      ringkernel::detail::log(ringkernel::LogLevel::Warn,
                              "wavesim cuda: " + rkc::describe(e, "cudaLaunchCooperativeKernel") + "; using per-step launches");
      persistent_ = false;
    }
    for (int r = 0; r < p.steps; ++r) {
      wave_per_step<<<dim3(static_cast<unsigned>(item_count_)), block, 0, stream_.get()>>>(p, r);
      if ((r & 1023) == 0) rkc::check(cudaGetLastError(), "wave_per_step launch");
    }
    rkc::check(cudaGetLastError(), "wave_per_step launch");
  }

  Scene scene_;
  int tx_, ty_;
  CudaTuning tuning_;
  rkc::DeviceInfo info_;
  rkc::CudaDevice device_;
  rkc::Stream stream_;
  Plan plan_;
  int item_count_ = 0;
  bool persistent_ = false;
  int grid_blocks_ = 0;
  std::uint64_t step_ = 0;
  std::uint64_t batch_ = 16;  // the first batch measures the device
  std::uint64_t max_batch_ = kMaxBatch;
  std::vector<float> values_host_;
  StepParams params_{};
  DeviceBuffer field_[2];  // u[n] is field_[n & 1]
  DeviceBuffer coef_, tiles_dev_, items_dev_, sources_dev_, values_;
};

std::unique_ptr<Solver> make_registered(const Scene& scene, const SolverOptions& options, int tiles_x, int tiles_y) {
  return std::unique_ptr<Solver>(new CudaSolver(scene, options, tiles_x, tiles_y, CudaTuning{}));
}

std::string auto_refusal_fn() { return cuda_unavailable_reason(-1); }

/// CUDA events around a stretch of stream work; seconds between them.
class EventTimer {
 public:
  EventTimer() {
    rkc::check(cudaEventCreate(&start_), "cudaEventCreate");
    const cudaError_t e = cudaEventCreate(&stop_);
    if (e != cudaSuccess) {
      (void)cudaEventDestroy(start_);
      rkc::raise_cuda(e, "cudaEventCreate");
    }
  }
  ~EventTimer() {
    (void)cudaEventDestroy(start_);
    (void)cudaEventDestroy(stop_);
  }
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;
  void start(cudaStream_t s) { rkc::check(cudaEventRecord(start_, s), "cudaEventRecord"); }
  void stop(cudaStream_t s) { rkc::check(cudaEventRecord(stop_, s), "cudaEventRecord"); }
  double seconds() const {
    float ms = 0;
    rkc::check(cudaEventElapsedTime(&ms, start_, stop_), "cudaEventElapsedTime");
    return static_cast<double>(ms) / 1e3;
  }

 private:
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

}  // namespace

const char* to_string(CudaMode mode) noexcept {
  switch (mode) {
    case CudaMode::Auto: return "auto";
    case CudaMode::Persistent: return "persistent";
    case CudaMode::PerStep: return "per-step";
  }
  return "unknown";
}

std::unique_ptr<Solver> make_cuda_solver(const Scene& scene, const SolverOptions& options, const CudaTuning& tuning) {
  scene.validate();
  int tx = 0, ty = 0;
  choose_tiles(scene, options, tx, ty);
  return std::unique_ptr<Solver>(new CudaSolver(scene, options, tx, ty, tuning));
}

void register_cuda_backend() {
  TileBackend b;
  b.name = "cuda";
  b.runtime_backend = ringkernel::Backend::Cuda;
  b.make_solver = &make_registered;
  b.auto_refusal = &auto_refusal_fn;
  register_tile_backend(ringkernel::Backend::Cuda, b);
}

std::string cuda_unavailable_reason(int device) {
  try {
    (void)pick_device(device);
    return {};
  } catch (const std::exception& e) {
    return e.what();
  }
}

std::string cuda_device_name(int device) { return describe(pick_device(device)); }

Field cuda_emulate_on_host(const Scene& scene, const SolverOptions& options, std::uint64_t steps) {
  scene.validate();
  int tx = 0, ty = 0;
  choose_tiles(scene, options, tx, ty);
  Plan pl = make_plan(scene, tx, ty);
  std::vector<float> values(std::max<std::size_t>(1, pl.sources.size()));
  StepParams p{};
  p.field0 = pl.cur.data();
  p.field1 = pl.prev.data();
  p.coef = pl.coef.data();
  p.tiles = pl.tiles.data();
  p.items = pl.items.data();
  p.item_count = static_cast<int>(pl.items.size());
  p.sources = pl.refs.data();
  p.values = values.data();
  p.source_count = static_cast<int>(pl.sources.size());
  p.k2 = pl.k2;
  p.steps = 1;
  for (std::uint64_t n = 0; n < steps; ++n) {
    for (std::size_t s = 0; s < pl.sources.size(); ++s) values[s] = source_value(pl.sources[s], n + 1, pl.dt);
    p.step0 = n;
    const float* cur;
    float* next;
    fields_of(p, n, cur, next);
    // Every block's threads one after another: within a step no cell reads what another writes.
    for (int item = 0; item < p.item_count; ++item)
      for (int y = 0; y < kCudaItemHeight; ++y)
        for (int x = 0; x < kCudaItemWidth; ++x) step_item(p, item, 0, cur, next, x, y);
  }
  return unpack(pl, scene, steps, steps & 1 ? pl.prev : pl.cur, steps & 1 ? pl.cur : pl.prev);
}

CudaTiming cuda_plain_loop(const Scene& scene, std::uint64_t warmup, std::uint64_t steps, int device) {
  scene.validate();
  for (const Source& s : scene.sources)
    if (s.kind != SourceKind::Impulse)
      throw Error(ErrorCode::InvalidArgument, "wavesim cuda: the plain loop takes impulse sources only");
  const rkc::DeviceInfo info = pick_device(device);
  const rkc::CudaDevice dev(info.ordinal);
  rkc::Stream stream(dev, rkc::StreamConfig::for_simulation());
  const int w = scene.width, h = scene.height;
  const std::size_t stride = static_cast<std::size_t>(w) + 2, padded = stride * (static_cast<std::size_t>(h) + 2);
  const Field init = initial_field(scene);
  std::vector<float> cur(padded, 0.0f), prev(padded, 0.0f);
  for (int y = 0; y < h; ++y) {
    std::memcpy(&cur[(y + 1) * stride + 1], &init.cur[static_cast<std::size_t>(y) * w], sizeof(float) * w);
    std::memcpy(&prev[(y + 1) * stride + 1], &init.prev[static_cast<std::size_t>(y) * w], sizeof(float) * w);
  }
  DeviceBuffer f[2], coef;
  f[0].create(info.ordinal, sizeof(float) * padded, "plain u[n]");
  f[1].create(info.ordinal, sizeof(float) * padded, "plain u[n-1]");
  coef.create(info.ordinal, sizeof(float) * scene.cells(), "plain coefficient");
  upload(f[0], cur, stream.get(), "cudaMemcpyAsync (plain u[0])");
  upload(f[1], prev, stream.get(), "cudaMemcpyAsync (plain u[-1])");
  upload(coef, build_coefficients(scene), stream.get(), "cudaMemcpyAsync (plain coefficients)");
  const double k = scene.courant_number();
  const float k2 = static_cast<float>(k * k);
  const dim3 block(kCudaItemWidth, kCudaItemHeight);
  const dim3 grid((static_cast<unsigned>(w) + kCudaItemWidth - 1) / kCudaItemWidth,
                  (static_cast<unsigned>(h) + kCudaItemHeight - 1) / kCudaItemHeight);
  std::uint64_t n = 0;
  auto run = [&](std::uint64_t count) {
    for (std::uint64_t s = 0; s < count; ++s, ++n)
      plain_step<<<grid, block, 0, stream.get()>>>(f[n & 1].as<float>(), f[(n + 1) & 1].as<float>(), coef.as<float>(), w, h, k2);
    rkc::check(cudaGetLastError(), "plain_step launch");
  };
  run(warmup);
  EventTimer timer;
  timer.start(stream.get());
  run(steps);
  timer.stop(stream.get());
  wait_for(stream, "the plain loop", info.name);
  CudaTiming out;
  out.steps = steps;
  out.seconds = timer.seconds();
  rkc::check(cudaMemcpy(cur.data(), f[n & 1].as<void>(), sizeof(float) * padded, cudaMemcpyDeviceToHost), "cudaMemcpy (plain u[n])");
  rkc::check(cudaMemcpy(prev.data(), f[(n + 1) & 1].as<void>(), sizeof(float) * padded, cudaMemcpyDeviceToHost),
             "cudaMemcpy (plain u[n-1])");
  out.field.width = w;
  out.field.height = h;
  out.field.step = n;
  out.field.cur.resize(static_cast<std::size_t>(scene.cells()));
  out.field.prev.resize(out.field.cur.size());
  for (int y = 0; y < h; ++y) {
    std::memcpy(&out.field.cur[static_cast<std::size_t>(y) * w], &cur[(y + 1) * stride + 1], sizeof(float) * w);
    std::memcpy(&out.field.prev[static_cast<std::size_t>(y) * w], &prev[(y + 1) * stride + 1], sizeof(float) * w);
  }
  return out;
}

CudaTiming cuda_roofline(std::int64_t cells, std::uint64_t warmup, std::uint64_t steps, int device) {
  if (cells < 1 || cells > kMaxCells)
    throw Error(ErrorCode::InvalidArgument, "wavesim cuda: roofline cells must be in 1.." + std::to_string(kMaxCells));
  const rkc::DeviceInfo info = pick_device(device);
  const rkc::CudaDevice dev(info.ordinal);
  rkc::Stream stream(dev, rkc::StreamConfig::for_simulation());
  const std::size_t n = static_cast<std::size_t>(cells);
  // x[k+1] = 0.5 x[k] - x[k-1] stays bounded (|roots| = 1): no overflow, no denormals.
  DeviceBuffer f[2], coef;
  f[0].create(info.ordinal, sizeof(float) * n, "roofline u[n]");
  f[1].create(info.ordinal, sizeof(float) * n, "roofline u[n-1]");
  coef.create(info.ordinal, sizeof(float) * n, "roofline coefficient");
  upload(f[0], std::vector<float>(n, 1.0f), stream.get(), "cudaMemcpyAsync (roofline)");
  upload(f[1], std::vector<float>(n, 0.0f), stream.get(), "cudaMemcpyAsync (roofline)");
  upload(coef, std::vector<float>(n, 0.5f), stream.get(), "cudaMemcpyAsync (roofline)");
  const unsigned blocks = static_cast<unsigned>((n + kBlockThreads - 1) / kBlockThreads);
  std::uint64_t k = 0;
  auto run = [&](std::uint64_t count) {
    for (std::uint64_t s = 0; s < count; ++s, ++k)
      stream_step<<<blocks, kBlockThreads, 0, stream.get()>>>(f[k & 1].as<float>(), f[(k + 1) & 1].as<float>(), coef.as<float>(),
                                                              static_cast<long long>(n));
    rkc::check(cudaGetLastError(), "stream_step launch");
  };
  run(warmup);
  EventTimer timer;
  timer.start(stream.get());
  run(steps);
  timer.stop(stream.get());
  wait_for(stream, "the roofline", info.name);
  CudaTiming out;
  out.steps = steps;
  out.seconds = timer.seconds();
  return out;
}

}  // namespace wavesim
