// vulkan_solver.cpp — WaveSim's Vulkan backend (see vulkan_solver.hpp and README.md): tiles in
// device buffers, halo exchange, stencil and sources as compute passes, many steps per
// submission. Uses ringkernel's Vulkan device layer (enumerate_devices, device_access,
// queue_submit) so it shares the VkDevice and queue with any ringkernel Vulkan kernels.
// SPDX-License-Identifier: MIT
#include "vulkan_solver.hpp"

#include "ringkernel_vulkan.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace wavesim {

namespace {

namespace vk = ringkernel::vulkan;
using ringkernel::Error;
using ringkernel::ErrorCode;

// SPIR-V from vulkan/*.comp, compiled by glslc at build time (ringkernel_glsl in Meson).
const std::uint32_t kStepSpv[] = {
#include "wave_step.spv.inc"
};
const std::uint32_t kHaloSpv[] = {
#include "wave_halo.spv.inc"
};
const std::uint32_t kSourcesSpv[] = {
#include "wave_sources.spv.inc"
};
const std::uint32_t kStreamSpv[] = {
#include "wave_stream.spv.inc"
};

constexpr std::uint32_t kBindings = 7;           // wavesim_common.glsl's descriptor set
constexpr std::uint32_t kStepGroupX = 64;        // wave_step.comp's local size
constexpr std::uint32_t kStepGroupY = 4;
constexpr std::uint32_t kHaloGroup = 256;        // wave_halo.comp's local size
constexpr std::uint64_t kMaxBatch = 256;         // steps per submission at most
constexpr double kBatchSeconds = 0.1;            // aim: a submission (and a progress report) this often
constexpr auto kBatchTimeout = std::chrono::seconds(120);

/// wavesim_common.glsl's push constants.
struct PushConstants {
  std::uint32_t width;
  std::uint32_t height;
  std::uint32_t tiles_x;
  std::uint32_t count;
  float k2;
  std::uint32_t row;
  std::uint32_t pad0;
  std::uint32_t pad1;
};
static_assert(sizeof(PushConstants) == 32, "the layout wavesim_common.glsl declares");

void check(VkResult r, const char* call) {
  if (r != VK_SUCCESS)
    throw Error(ErrorCode::VulkanFailure, std::string("wavesim vulkan: ") + call + " failed with " + vk::result_name(r));
}

std::string describe(const vk::DeviceInfo& d) { return d.name + " (" + vk::to_string(d.type) + ")"; }

/// The device for `requested` (-1: the first usable one), or Error(BackendUnavailable) saying why none.
vk::DeviceInfo pick_device(int requested) {
  std::vector<vk::DeviceInfo> devices;
  try {
    devices = vk::enumerate_devices();
  } catch (const Error& e) {
    throw Error(ErrorCode::BackendUnavailable, std::string("wavesim: the vulkan backend cannot start: ") + e.what());
  }
  std::string list;
  for (const vk::DeviceInfo& d : devices)
    list += (list.empty() ? "" : "; ") + std::to_string(d.ordinal) + ": " + describe(d) +
            (d.unsupported.empty() ? "" : " unusable: " + d.unsupported);
  if (list.empty()) list = "none";
  if (requested >= 0) {
    if (static_cast<std::size_t>(requested) >= devices.size())
      throw Error(ErrorCode::BackendUnavailable,
                  "wavesim: Vulkan device " + std::to_string(requested) + " does not exist (devices: " + list + ")");
    const vk::DeviceInfo& d = devices[static_cast<std::size_t>(requested)];
    if (!d.unsupported.empty())
      throw Error(ErrorCode::BackendUnavailable,
                  "wavesim: Vulkan device " + std::to_string(requested) + " (" + d.name + ") cannot be used: " + d.unsupported);
    return d;
  }
  for (const vk::DeviceInfo& d : devices)
    if (d.unsupported.empty()) return d;
  throw Error(ErrorCode::BackendUnavailable, "wavesim: no usable Vulkan device (devices: " + list + ")");
}

/// A buffer and its memory: device-local (the fields, the tables) or host-visible, coherent
/// and mapped (staging, the sources' values). Owns both; not copyable.
class Buffer {
 public:
  Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { reset(); }

  void create(const vk::DeviceAccess& dev, VkDeviceSize size, bool host_visible, const char* what) {
    reset();
    device_ = dev.device;
    size_ = std::max<VkDeviceSize>(size, 16);  // Vulkan has no empty buffers
    VkBufferCreateInfo bi{};
    bi.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
    bi.size = size_;
    bi.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    bi.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    check(vkCreateBuffer(device_, &bi, nullptr, &handle_), "vkCreateBuffer");
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(device_, handle_, &req);
    const VkMemoryPropertyFlags host = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    // Host buffers: coherent, cached if offered (read back). Device buffers: device-local if offered.
    const VkMemoryPropertyFlags prefer[2] = {host_visible ? host | VK_MEMORY_PROPERTY_HOST_CACHED_BIT
                                                          : VkMemoryPropertyFlags{VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT},
                                             host_visible ? host : VkMemoryPropertyFlags{0}};
    std::uint32_t chosen = UINT32_MAX;
    for (int pass = 0; pass < 2 && chosen == UINT32_MAX; ++pass)
      for (std::uint32_t i = 0; i < dev.memory.memoryTypeCount; ++i)
        if ((req.memoryTypeBits & (1u << i)) && (dev.memory.memoryTypes[i].propertyFlags & prefer[pass]) == prefer[pass]) {
          chosen = i;
          break;
        }
    if (chosen == UINT32_MAX)
      throw Error(ErrorCode::VulkanFailure, std::string("wavesim vulkan: no memory type fits the ") + what + " buffer");
    VkMemoryAllocateInfo ai{};
    ai.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO;
    ai.allocationSize = req.size;
    ai.memoryTypeIndex = chosen;
    const VkResult r = vkAllocateMemory(device_, &ai, nullptr, &memory_);
    if (r != VK_SUCCESS)
      throw Error(ErrorCode::VulkanFailure, std::string("wavesim vulkan: vkAllocateMemory of ") + std::to_string(req.size) +
                                                " bytes for the " + what + " buffer failed with " + vk::result_name(r));
    check(vkBindBufferMemory(device_, handle_, memory_, 0), "vkBindBufferMemory");
    if (host_visible) check(vkMapMemory(device_, memory_, 0, VK_WHOLE_SIZE, 0, &mapped_), "vkMapMemory");
  }
  void reset() noexcept {
    if (device_ == VK_NULL_HANDLE) return;
    if (mapped_ != nullptr) vkUnmapMemory(device_, memory_);
    if (handle_ != VK_NULL_HANDLE) vkDestroyBuffer(device_, handle_, nullptr);
    if (memory_ != VK_NULL_HANDLE) vkFreeMemory(device_, memory_, nullptr);
    device_ = VK_NULL_HANDLE;
    handle_ = VK_NULL_HANDLE;
    memory_ = VK_NULL_HANDLE;
    mapped_ = nullptr;
    size_ = 0;
  }
  VkBuffer handle() const noexcept { return handle_; }
  VkDeviceSize size() const noexcept { return size_; }
  void* mapped() const noexcept { return mapped_; }

 private:
  VkDevice device_ = VK_NULL_HANDLE;
  VkBuffer handle_ = VK_NULL_HANDLE;
  VkDeviceMemory memory_ = VK_NULL_HANDLE;
  VkDeviceSize size_ = 0;
  void* mapped_ = nullptr;
};

class VulkanSolver final : public Solver {
 public:
  /// `roofline`: wave_stream.comp instead of wave_step.comp (make_vulkan_roofline_solver).
  VulkanSolver(const Scene& scene, const SolverOptions& options, int tiles_x, int tiles_y, bool roofline = false)
      : scene_((scene.validate(), scene)), tx_(tiles_x), ty_(tiles_y), roofline_(roofline) {
    const vk::DeviceInfo info = pick_device(options.device);
    dev_ = vk::device_access(info.ordinal);
    const double k = scene_.courant_number();
    k2_ = static_cast<float>(k * k);
    dt_ = scene_.time_step();
    for (const Source& s : scene_.sources)
      if (s.kind != SourceKind::Impulse) sources_.push_back(s);
    try {
      build();
    } catch (...) {
      destroy();
      throw;
    }
  }
  ~VulkanSolver() override { destroy(); }
  VulkanSolver(const VulkanSolver&) = delete;
  VulkanSolver& operator=(const VulkanSolver&) = delete;

  std::string backend_name() const override { return (roofline_ ? "vulkan roofline: " : "vulkan: ") + dev_.info.name; }
  std::string layout() const override { return std::to_string(tx_) + " x " + std::to_string(ty_) + " tiles"; }
  std::uint64_t step() const override { return step_; }

  void advance(std::uint64_t steps, const ProgressFn& progress) override {
    std::uint64_t done = 0;
    while (done < steps) {
      const std::uint64_t n = std::min<std::uint64_t>(batch_, steps - done);
      const auto t0 = std::chrono::steady_clock::now();
      // The sources' values for steps step_+1 .. step_+n, one row per step: host memory the
      // device reads (the only per-step data that crosses; the fields stay on the device).
      float* values = static_cast<float*>(source_values_.mapped());
      for (std::uint64_t r = 0; r < n; ++r)
        for (std::size_t s = 0; s < sources_.size(); ++s)
          values[r * sources_.size() + s] = source_value(sources_[s], step_ + r + 1, dt_);
      record_steps(n);
      submit_and_wait("a batch of " + std::to_string(n) + " steps");
      step_ += n;
      done += n;
      // Adapt the batch so a submission takes about kBatchSeconds: progress stays live on slow
      // devices, and fast ones pay the submission cost once per many steps.
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const double per_step = secs / static_cast<double>(n);
      const double want = per_step > 0 ? kBatchSeconds / per_step : static_cast<double>(kMaxBatch);
      batch_ = static_cast<std::uint64_t>(std::max(1.0, std::min(static_cast<double>(kMaxBatch), want)));
      if (progress) progress(step_);
    }
  }

  Field field() const override {
    Field f;
    f.width = scene_.width;
    f.height = scene_.height;
    f.step = step_;
    f.cur.assign(static_cast<std::size_t>(scene_.cells()), 0.0f);
    f.prev.assign(f.cur.size(), 0.0f);
    std::vector<float> cur(padded_cells_), prev(padded_cells_);
    download(field_[step_ & 1], cur.data());
    download(field_[(step_ + 1) & 1], prev.data());
    for (std::size_t t = 0; t < tiles_.size(); ++t) {
      const TileGeometry& g = tiles_[t];
      for (int y = 0; y < g.height; ++y) {
        const std::size_t src = index(t, 0, y), dst = static_cast<std::size_t>(g.y0 + y) * f.width + g.x0;
        std::memcpy(&f.cur[dst], &cur[src], sizeof(float) * g.width);
        std::memcpy(&f.prev[dst], &prev[src], sizeof(float) * g.width);
      }
    }
    return f;
  }

 private:
  // Index of cell (x, y) of tile t in a field buffer; x, y in [-1, width] x [-1, height] (the border).
  std::size_t index(std::size_t t, int x, int y) const noexcept {
    return tile_base_[t] + static_cast<std::size_t>(y + 1) * static_cast<std::size_t>(tiles_[t].width + 2) +
           static_cast<std::size_t>(x + 1);
  }

  void build() {
    const int w = scene_.width, h = scene_.height;
    // The same split as the CPU backend's tiles (TiledSolver in solver.cpp).
    std::vector<std::uint32_t> words(static_cast<std::size_t>(w + h), 0);
    for (int j = 0; j < ty_; ++j)
      for (int i = 0; i < tx_; ++i) {
        TileGeometry g;
        g.index = j * tx_ + i;
        g.tx = i;
        g.ty = j;
        g.x0 = static_cast<int>(static_cast<std::int64_t>(i) * w / tx_);
        g.y0 = static_cast<int>(static_cast<std::int64_t>(j) * h / ty_);
        g.width = static_cast<int>(static_cast<std::int64_t>(i + 1) * w / tx_) - g.x0;
        g.height = static_cast<int>(static_cast<std::int64_t>(j + 1) * h / ty_) - g.y0;
        tile_base_.push_back(padded_cells_);
        padded_cells_ += static_cast<std::size_t>(g.width + 2) * static_cast<std::size_t>(g.height + 2);
        tiles_.push_back(g);
        if (j == 0)
          for (int x = 0; x < g.width; ++x) words[static_cast<std::size_t>(g.x0 + x)] = static_cast<std::uint32_t>(i) << 16 | static_cast<std::uint32_t>(x);
        if (i == 0)
          for (int y = 0; y < g.height; ++y)
            words[static_cast<std::size_t>(w + g.y0 + y)] = static_cast<std::uint32_t>(j) << 16 | static_cast<std::uint32_t>(y);
      }
    for (std::size_t t = 0; t < tiles_.size(); ++t) {
      words.push_back(static_cast<std::uint32_t>(tile_base_[t]));
      words.push_back(static_cast<std::uint32_t>(tiles_[t].width + 2));
    }
    const VkDeviceSize field_bytes = sizeof(float) * static_cast<VkDeviceSize>(padded_cells_);
    if (padded_cells_ > 0xFFFFFFFFull || field_bytes > dev_.info.max_storage_buffer_range)
      throw Error(ErrorCode::InvalidArgument,
                  "wavesim: a " + std::to_string(w) + " x " + std::to_string(h) + " grid needs " + std::to_string(field_bytes) +
                      "-byte field buffers, more than " + dev_.info.name + "'s storage buffer limit of " +
                      std::to_string(dev_.info.max_storage_buffer_range) + " bytes");

    // Halo pairs: each border cell that faces a neighbour, and the neighbour's edge cell it copies.
    std::vector<std::uint32_t> pairs;
    auto pair = [&](std::size_t dst, std::size_t src) {
      pairs.push_back(static_cast<std::uint32_t>(dst));
      pairs.push_back(static_cast<std::uint32_t>(src));
    };
    for (std::size_t t = 0; t < tiles_.size(); ++t) {
      const TileGeometry& g = tiles_[t];
      const std::size_t north = t - static_cast<std::size_t>(tx_), south = t + static_cast<std::size_t>(tx_);
      if (g.ty > 0)
        for (int x = 0; x < g.width; ++x) pair(index(t, x, -1), index(north, x, tiles_[north].height - 1));
      if (g.ty + 1 < ty_)
        for (int x = 0; x < g.width; ++x) pair(index(t, x, g.height), index(south, x, 0));
      if (g.tx > 0)
        for (int y = 0; y < g.height; ++y) pair(index(t, -1, y), index(t - 1, tiles_[t - 1].width - 1, y));
      if (g.tx + 1 < tx_)
        for (int y = 0; y < g.height; ++y) pair(index(t, g.width, y), index(t + 1, 0, y));
    }
    halo_count_ = static_cast<std::uint32_t>(pairs.size() / 2);

    // Initial fields on padded storage (borders 0), the sources' cells in that storage.
    const Field init = initial_field(scene_);
    std::vector<float> cur(padded_cells_, 0.0f), prev(padded_cells_, 0.0f);
    for (std::size_t t = 0; t < tiles_.size(); ++t) {
      const TileGeometry& g = tiles_[t];
      for (int y = 0; y < g.height; ++y) {
        const std::size_t src = static_cast<std::size_t>(g.y0 + y) * w + g.x0;
        std::memcpy(&cur[index(t, 0, y)], &init.cur[src], sizeof(float) * g.width);
        std::memcpy(&prev[index(t, 0, y)], &init.prev[src], sizeof(float) * g.width);
      }
    }
    std::vector<std::uint32_t> cells;
    for (const Source& s : sources_) {
      std::size_t t = 0;
      while (!(s.x >= tiles_[t].x0 && s.x < tiles_[t].x0 + tiles_[t].width && s.y >= tiles_[t].y0 &&
               s.y < tiles_[t].y0 + tiles_[t].height))
        ++t;  // validate() put every source inside the grid, so some tile holds it
      cells.push_back(static_cast<std::uint32_t>(index(t, s.x - tiles_[t].x0, s.y - tiles_[t].y0)));
    }
    const std::vector<float> coef = build_coefficients(scene_);

    // Command buffer and fence first: the uploads use them.
    VkCommandPoolCreateInfo cpi{};
    cpi.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO;
    cpi.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    cpi.queueFamilyIndex = dev_.queue_family;
    check(vkCreateCommandPool(dev_.device, &cpi, nullptr, &cmd_pool_), "vkCreateCommandPool");
    VkCommandBufferAllocateInfo cai{};
    cai.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO;
    cai.commandPool = cmd_pool_;
    cai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    cai.commandBufferCount = 1;
    check(vkAllocateCommandBuffers(dev_.device, &cai, &cmd_), "vkAllocateCommandBuffers");
    VkFenceCreateInfo fi{};
    fi.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO;
    check(vkCreateFence(dev_.device, &fi, nullptr, &fence_), "vkCreateFence");

    field_[0].create(dev_, field_bytes, false, "u[n]");
    field_[1].create(dev_, field_bytes, false, "u[n-1]");
    coef_.create(dev_, sizeof(float) * coef.size(), false, "coefficient");
    layout_.create(dev_, sizeof(std::uint32_t) * words.size(), false, "tile layout");
    halo_.create(dev_, sizeof(std::uint32_t) * pairs.size(), false, "halo pair");
    source_cells_.create(dev_, sizeof(std::uint32_t) * cells.size(), false, "source cell");
    source_values_.create(dev_, sizeof(float) * kMaxBatch * sources_.size(), true, "source value");
    upload(field_[0], cur.data(), sizeof(float) * cur.size());
    upload(field_[1], prev.data(), sizeof(float) * prev.size());
    upload(coef_, coef.data(), sizeof(float) * coef.size());
    upload(layout_, words.data(), sizeof(std::uint32_t) * words.size());
    if (!pairs.empty()) upload(halo_, pairs.data(), sizeof(std::uint32_t) * pairs.size());
    if (!cells.empty()) upload(source_cells_, cells.data(), sizeof(std::uint32_t) * cells.size());

    // One descriptor set layout and pipeline layout for the three passes; two sets, one per
    // parity of n (which field buffer is u[n]).
    VkDescriptorSetLayoutBinding bindings[kBindings];
    for (std::uint32_t i = 0; i < kBindings; ++i) {
      bindings[i] = VkDescriptorSetLayoutBinding{};
      bindings[i].binding = i;
      bindings[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
      bindings[i].descriptorCount = 1;
      bindings[i].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
    }
    VkDescriptorSetLayoutCreateInfo li{};
    li.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO;
    li.bindingCount = kBindings;
    li.pBindings = bindings;
    check(vkCreateDescriptorSetLayout(dev_.device, &li, nullptr, &set_layout_), "vkCreateDescriptorSetLayout");
    VkPushConstantRange pr{};
    pr.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
    pr.size = sizeof(PushConstants);
    VkPipelineLayoutCreateInfo pli{};
    pli.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO;
    pli.setLayoutCount = 1;
    pli.pSetLayouts = &set_layout_;
    pli.pushConstantRangeCount = 1;
    pli.pPushConstantRanges = &pr;
    check(vkCreatePipelineLayout(dev_.device, &pli, nullptr, &pipeline_layout_), "vkCreatePipelineLayout");
    if (roofline_) make_pipeline(kStreamSpv, sizeof kStreamSpv, "wave_stream", step_module_, step_pipeline_);
    else make_pipeline(kStepSpv, sizeof kStepSpv, "wave_step", step_module_, step_pipeline_);
    make_pipeline(kHaloSpv, sizeof kHaloSpv, "wave_halo", halo_module_, halo_pipeline_);
    make_pipeline(kSourcesSpv, sizeof kSourcesSpv, "wave_sources", sources_module_, sources_pipeline_);

    VkDescriptorPoolSize ps{};
    ps.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    ps.descriptorCount = 2 * kBindings;
    VkDescriptorPoolCreateInfo dpi{};
    dpi.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO;
    dpi.maxSets = 2;
    dpi.poolSizeCount = 1;
    dpi.pPoolSizes = &ps;
    check(vkCreateDescriptorPool(dev_.device, &dpi, nullptr, &pool_), "vkCreateDescriptorPool");
    const VkDescriptorSetLayout layouts[2] = {set_layout_, set_layout_};
    VkDescriptorSetAllocateInfo dai{};
    dai.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO;
    dai.descriptorPool = pool_;
    dai.descriptorSetCount = 2;
    dai.pSetLayouts = layouts;
    check(vkAllocateDescriptorSets(dev_.device, &dai, sets_), "vkAllocateDescriptorSets");
    for (int parity = 0; parity < 2; ++parity) {
      const Buffer* bufs[kBindings] = {&field_[parity], &field_[1 - parity], &coef_, &layout_, &halo_, &source_cells_, &source_values_};
      VkDescriptorBufferInfo infos[kBindings];
      VkWriteDescriptorSet writes[kBindings];
      for (std::uint32_t i = 0; i < kBindings; ++i) {
        infos[i] = VkDescriptorBufferInfo{bufs[i]->handle(), 0, VK_WHOLE_SIZE};
        writes[i] = VkWriteDescriptorSet{};
        writes[i].sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET;
        writes[i].dstSet = sets_[parity];
        writes[i].dstBinding = i;
        writes[i].descriptorCount = 1;
        writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        writes[i].pBufferInfo = &infos[i];
      }
      vkUpdateDescriptorSets(dev_.device, kBindings, writes, 0, nullptr);
    }
  }

  void make_pipeline(const std::uint32_t* words, std::size_t bytes, const char* name, VkShaderModule& module,
                     VkPipeline& pipeline) {
    // Checked for structure by ringkernel before the driver sees it.
    const vk::Program program = vk::Program::from_spirv(words, bytes / sizeof(std::uint32_t), name);
    VkShaderModuleCreateInfo si{};
    si.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO;
    si.codeSize = program.words().size() * sizeof(std::uint32_t);
    si.pCode = program.words().data();
    check(vkCreateShaderModule(dev_.device, &si, nullptr, &module), "vkCreateShaderModule");
    VkComputePipelineCreateInfo ci{};
    ci.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO;
    ci.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
    ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    ci.stage.module = module;
    ci.stage.pName = "main";
    ci.layout = pipeline_layout_;
    check(vkCreateComputePipelines(dev_.device, VK_NULL_HANDLE, 1, &ci, nullptr, &pipeline), "vkCreateComputePipelines");
  }

  void destroy() noexcept {
    VkDevice d = dev_.device;
    if (d == VK_NULL_HANDLE) return;
    if (fence_ != VK_NULL_HANDLE) vkDestroyFence(d, fence_, nullptr);
    if (cmd_pool_ != VK_NULL_HANDLE) vkDestroyCommandPool(d, cmd_pool_, nullptr);
    if (pool_ != VK_NULL_HANDLE) vkDestroyDescriptorPool(d, pool_, nullptr);
    for (VkPipeline p : {step_pipeline_, halo_pipeline_, sources_pipeline_})
      if (p != VK_NULL_HANDLE) vkDestroyPipeline(d, p, nullptr);
    for (VkShaderModule m : {step_module_, halo_module_, sources_module_})
      if (m != VK_NULL_HANDLE) vkDestroyShaderModule(d, m, nullptr);
    if (pipeline_layout_ != VK_NULL_HANDLE) vkDestroyPipelineLayout(d, pipeline_layout_, nullptr);
    if (set_layout_ != VK_NULL_HANDLE) vkDestroyDescriptorSetLayout(d, set_layout_, nullptr);
    fence_ = VK_NULL_HANDLE;
    cmd_pool_ = VK_NULL_HANDLE;
    pool_ = VK_NULL_HANDLE;
    step_pipeline_ = halo_pipeline_ = sources_pipeline_ = VK_NULL_HANDLE;
    step_module_ = halo_module_ = sources_module_ = VK_NULL_HANDLE;
    pipeline_layout_ = VK_NULL_HANDLE;
    set_layout_ = VK_NULL_HANDLE;
  }

  void begin() const {
    check(vkResetCommandBuffer(cmd_, 0), "vkResetCommandBuffer");
    VkCommandBufferBeginInfo bi{};
    bi.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO;
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    check(vkBeginCommandBuffer(cmd_, &bi), "vkBeginCommandBuffer");
  }
  void barrier(VkPipelineStageFlags src_stage, VkAccessFlags src, VkPipelineStageFlags dst_stage, VkAccessFlags dst) const {
    VkMemoryBarrier mb{};
    mb.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER;
    mb.srcAccessMask = src;
    mb.dstAccessMask = dst;
    vkCmdPipelineBarrier(cmd_, src_stage, dst_stage, 0, 1, &mb, 0, nullptr, 0, nullptr);
  }
  void compute_barrier() const {
    barrier(VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
            VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
  }

  // Records n steps: per step the halo exchange, the stencil and the sources, each waiting for
  // the one before (a compute-to-compute barrier).
  void record_steps(std::uint64_t n) {
    begin();
    // Earlier submissions' shader writes and transfers before this one's reads.
    barrier(VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
            VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
            VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
    PushConstants pc{};
    pc.width = static_cast<std::uint32_t>(scene_.width);
    pc.height = static_cast<std::uint32_t>(scene_.height);
    pc.tiles_x = static_cast<std::uint32_t>(tx_);
    pc.k2 = k2_;
    const std::uint32_t groups_x = (pc.width + kStepGroupX - 1) / kStepGroupX;
    const std::uint32_t groups_y = (pc.height + kStepGroupY - 1) / kStepGroupY;
    for (std::uint64_t r = 0; r < n; ++r) {
      vkCmdBindDescriptorSets(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline_layout_, 0, 1, &sets_[(step_ + r) & 1], 0, nullptr);
      if (halo_count_ > 0) {
        pc.count = halo_count_;
        vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, halo_pipeline_);
        vkCmdPushConstants(cmd_, pipeline_layout_, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof pc, &pc);
        vkCmdDispatch(cmd_, (halo_count_ + kHaloGroup - 1) / kHaloGroup, 1, 1);
        compute_barrier();
      }
      pc.count = 0;
      vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, step_pipeline_);
      vkCmdPushConstants(cmd_, pipeline_layout_, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof pc, &pc);
      vkCmdDispatch(cmd_, groups_x, groups_y, 1);
      compute_barrier();
      if (!sources_.empty()) {
        pc.count = static_cast<std::uint32_t>(sources_.size());
        pc.row = static_cast<std::uint32_t>(r);
        vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, sources_pipeline_);
        vkCmdPushConstants(cmd_, pipeline_layout_, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof pc, &pc);
        vkCmdDispatch(cmd_, 1, 1, 1);
        compute_barrier();
      }
    }
    check(vkEndCommandBuffer(cmd_), "vkEndCommandBuffer");
  }

  void submit_and_wait(const std::string& what) const {
    VkSubmitInfo si{};
    si.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO;
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cmd_;
    check(vk::queue_submit(dev_.ordinal, 1, &si, fence_), "vkQueueSubmit");
    const VkResult r = vkWaitForFences(dev_.device, 1, &fence_, VK_TRUE,
                                       static_cast<std::uint64_t>(std::chrono::nanoseconds(kBatchTimeout).count()));
    if (r == VK_TIMEOUT)
      throw Error(ErrorCode::Timeout, "wavesim vulkan: " + what + " did not finish within " +
                                          std::to_string(kBatchTimeout.count()) + " s on " + dev_.info.name);
    check(r, "vkWaitForFences");
    check(vkResetFences(dev_.device, 1, &fence_), "vkResetFences");
  }

  void upload(Buffer& dst, const void* data, std::size_t bytes) {
    Buffer staging;
    staging.create(dev_, bytes, true, "staging");
    std::memcpy(staging.mapped(), data, bytes);
    begin();
    const VkBufferCopy region{0, 0, bytes};
    vkCmdCopyBuffer(cmd_, staging.handle(), dst.handle(), 1, &region);
    check(vkEndCommandBuffer(cmd_), "vkEndCommandBuffer");
    submit_and_wait("an upload");
  }

  void download(const Buffer& src, float* out) const {
    const std::size_t bytes = sizeof(float) * padded_cells_;
    Buffer staging;
    staging.create(dev_, bytes, true, "staging");
    begin();
    barrier(VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
            VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_READ_BIT);
    const VkBufferCopy region{0, 0, bytes};
    vkCmdCopyBuffer(cmd_, src.handle(), staging.handle(), 1, &region);
    barrier(VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
    check(vkEndCommandBuffer(cmd_), "vkEndCommandBuffer");
    submit_and_wait("a download");
    std::memcpy(out, staging.mapped(), bytes);
  }

  Scene scene_;
  int tx_, ty_;
  bool roofline_;
  vk::DeviceAccess dev_;
  float k2_ = 0;
  double dt_ = 0;
  std::vector<Source> sources_;  // point and sine, scene order
  std::vector<TileGeometry> tiles_;
  std::vector<std::size_t> tile_base_;
  std::size_t padded_cells_ = 0;
  std::uint32_t halo_count_ = 0;
  std::uint64_t step_ = 0;
  std::uint64_t batch_ = 8;  // the first submission measures the device

  Buffer field_[2];  // u[n] is field_[n & 1]
  Buffer coef_, layout_, halo_, source_cells_, source_values_;
  VkCommandPool cmd_pool_ = VK_NULL_HANDLE;
  VkCommandBuffer cmd_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
  VkDescriptorSetLayout set_layout_ = VK_NULL_HANDLE;
  VkPipelineLayout pipeline_layout_ = VK_NULL_HANDLE;
  VkShaderModule step_module_ = VK_NULL_HANDLE, halo_module_ = VK_NULL_HANDLE, sources_module_ = VK_NULL_HANDLE;
  VkPipeline step_pipeline_ = VK_NULL_HANDLE, halo_pipeline_ = VK_NULL_HANDLE, sources_pipeline_ = VK_NULL_HANDLE;
  VkDescriptorPool pool_ = VK_NULL_HANDLE;
  VkDescriptorSet sets_[2] = {VK_NULL_HANDLE, VK_NULL_HANDLE};
};

std::unique_ptr<Solver> make_registered(const Scene& scene, const SolverOptions& options, int tiles_x, int tiles_y) {
  return std::unique_ptr<Solver>(new VulkanSolver(scene, options, tiles_x, tiles_y));
}

std::string auto_refusal_fn() { return vulkan_auto_refusal(); }

std::unique_ptr<Solver> make_checked(const Scene& scene, const SolverOptions& options, bool roofline) {
  scene.validate();
  int tx = 0, ty = 0;
  choose_tiles(scene, options, tx, ty);
  return std::unique_ptr<Solver>(new VulkanSolver(scene, options, tx, ty, roofline));
}

}  // namespace

std::unique_ptr<Solver> make_vulkan_solver(const Scene& scene, const SolverOptions& options) {
  return make_checked(scene, options, false);
}

std::unique_ptr<Solver> make_vulkan_roofline_solver(const Scene& scene, const SolverOptions& options) {
  return make_checked(scene, options, true);
}

void register_vulkan_backend() {
  TileBackend b;
  b.name = "vulkan";
  b.runtime_backend = ringkernel::Backend::Vulkan;
  b.make_solver = &make_registered;
  b.auto_refusal = &auto_refusal_fn;
  register_tile_backend(ringkernel::Backend::Vulkan, b);
}

std::string vulkan_auto_refusal() {
  std::vector<vk::DeviceInfo> devices;
  try {
    devices = vk::enumerate_devices();
  } catch (const std::exception& e) {
    return std::string("no Vulkan: ") + e.what();
  }
  std::string cpu_devices;
  for (const vk::DeviceInfo& d : devices) {
    if (!d.unsupported.empty()) continue;
    if (d.type != vk::DeviceType::Cpu) return std::string();
    cpu_devices += (cpu_devices.empty() ? "" : ", ") + d.name;
  }
  if (cpu_devices.empty()) return "no usable Vulkan device";
  return "the only usable Vulkan device is a CPU implementation (" + cpu_devices + "); the cpu backend is faster";
}

std::string vulkan_device_name(int device) { return describe(pick_device(device)); }

}  // namespace wavesim
