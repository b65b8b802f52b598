// Must NOT compile: a message type has to be trivially copyable (it is copied into ring slots
// and GPU memory as bytes). Run by expect_fail.sh, which also checks that the compiler says
// "must be trivially copyable".
#include <string>

#include "ringkernel.hpp"

namespace compile_fail {
struct NotTrivial {
  std::string text;  // a non-trivial copy constructor and destructor
};
RINGKERNEL_MESSAGE(NotTrivial, 1)
}  // namespace compile_fail

int main() { return 0; }
