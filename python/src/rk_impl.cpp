// The one translation unit of the Python extension that holds ringkernel's implementation.
// Kept apart from the binding TUs so that editing a binding does not recompile the core.
#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel.hpp"
