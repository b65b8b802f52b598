// core_tests: doctest's main and the one translation unit of the test program that compiles
// ringkernel's implementation. The suites live in test_hlc.cpp, test_message.cpp,
// test_rings.cpp, test_inbox.cpp and test_layout.cpp (TEST_SUITE "hlc", "message", "rings",
// "inbox", "layout"); run one with `core_tests --test-suite=NAME`.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel.hpp"
