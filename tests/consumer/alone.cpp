// "Compile alone": ringkernel.hpp is the first and only include, so it must bring every
// standard header it needs itself.
#include "ringkernel.hpp"

namespace consumer {
int alone_tu_answer();
int alone_tu_answer() {
  ringkernel::SpscRing<int> ring(2);
  ring.try_push(42);
  int out = 0;
  ring.try_pop(out);
  return out + static_cast<int>(sizeof(ringkernel::MessageHeader)) - 256;  // 42
}
}  // namespace consumer
