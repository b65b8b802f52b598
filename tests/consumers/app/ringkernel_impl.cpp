// The one translation unit that compiles ringkernel's implementation.
#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel.hpp"

#include "messages.hpp"

const char* app::implementation_tu_version() { return RINGKERNEL_VERSION_STRING; }
