// The one translation unit of consumer_link that compiles ringkernel's implementation, as a
// user would write it. Included twice on purpose: the second inclusion must add nothing
// (neither declarations, guarded by the include guard, nor definitions).
#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel.hpp"
#include "ringkernel.hpp"

#include "consumer.hpp"

namespace consumer {
std::uint32_t checksum_in_impl_tu(const void* data, std::size_t size) { return ringkernel::crc32c(data, size); }
}  // namespace consumer
