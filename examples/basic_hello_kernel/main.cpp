// basic_hello_kernel — the smallest useful ringkernel program:
//   1. build a runtime on the CPU backend,
//   2. launch a persistent kernel whose handler is a plain functor; the functor's data members
//      are the kernel's state and live as long as the kernel does,
//   3. send it names and receive greetings (each numbered by the kernel's own counter),
//   4. terminate it: its counters account for every message, and it accepts no more.
// It checks every result and exits non-zero if one is wrong.
#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel.hpp"

#include <chrono>
#include <cstdio>
#include <cstring>

namespace hello {
/// Host -> kernel. Messages are trivially copyable structs: fixed-size text, no std::string.
struct Name {
  char text[32];
};
RINGKERNEL_MESSAGE(Name, 0x4E414D45)

/// Kernel -> host.
struct Greeting {
  char text[64];
  std::uint32_t number;  // how many greetings the kernel had made, this one included
};
RINGKERNEL_MESSAGE(Greeting, 0x47524545)

/// The kernel: one Name in, one Greeting out. `greeted` persists between messages.
struct Greeter {
  using input_type = Name;
  using output_type = Greeting;
  std::uint32_t greeted = 0;

  RINGKERNEL_HD Greeting operator()(const Name& in) {
    Greeting out{};
    const char prefix[] = "Hello, ";
    std::size_t n = 0;
    for (std::size_t i = 0; prefix[i] != '\0'; ++i) out.text[n++] = prefix[i];
    for (std::size_t i = 0; i < sizeof(in.text) && in.text[i] != '\0'; ++i) out.text[n++] = in.text[i];
    out.text[n] = '!';
    out.number = ++greeted;
    return out;
  }
};

Name make_name(const char* s) {
  Name n{};
  for (std::size_t i = 0; i + 1 < sizeof(n.text) && s[i] != '\0'; ++i) n.text[i] = s[i];
  return n;
}
}  // namespace hello

namespace {
int failures = 0;
void check(bool ok, const char* what) {
  std::printf("  [%s] %s\n", ok ? " ok " : "FAIL", what);
  if (!ok) ++failures;
}
}  // namespace

int main() {
  using namespace ringkernel;
  using namespace std::chrono_literals;
  std::printf("ringkernel %s basic_hello_kernel\n\n", RINGKERNEL_VERSION_STRING);

  // 1. A runtime owns the kernels; Backend::Cpu runs each kernel on its own worker thread.
  std::printf("1. Runtime\n");
  Runtime rt = Runtime::builder().backend(Backend::Cpu).build();
  std::printf("  backend: %s\n", to_string(rt.backend()));
  check(rt.backend() == Backend::Cpu, "runtime built on the CPU backend");

  // 2. Launch once; the kernel stays alive, waiting for messages (auto-activated by default).
  std::printf("2. Launch\n");
  KernelHandle greeter = rt.launch("greeter", hello::Greeter{}, LaunchOptions{}.with_queue_capacity(64));
  std::printf("  kernel '%s' is %s\n", greeter.id().c_str(), to_string(greeter.state()));
  check(greeter.is_active(), "the kernel is Active right after launch");

  // 3. Send a name, receive its greeting. The kernel's counter numbers the greetings.
  std::printf("3. Send and receive\n");
  const char* names[] = {"Ada", "Grace", "Linus"};
  bool all_right = true;
  std::uint32_t expected_number = 0;
  for (const char* name : names) {
    greeter.send(hello::make_name(name));
    const std::optional<hello::Greeting> g = greeter.receive<hello::Greeting>(1s);
    if (!g) {
      std::printf("  no greeting for %s within 1 s\n", name);
      all_right = false;
      continue;
    }
    std::printf("  #%u  %s\n", g->number, g->text);
    char want[64];
    std::snprintf(want, sizeof(want), "Hello, %s!", name);
    all_right = all_right && std::strcmp(g->text, want) == 0 && g->number == ++expected_number;
  }
  check(all_right, "three greetings, right text, numbered 1, 2, 3 by the kernel's state");
  check(!greeter.receive<hello::Greeting>(20ms), "one message in, exactly one greeting out");

  // 4. Terminate: the worker stops; the counters account for every message.
  std::printf("4. Terminate\n");
  greeter.terminate();
  const KernelStatus st = greeter.status();
  std::printf("  state %s, received %llu, processed %llu, errors %llu\n", to_string(st.state),
              static_cast<unsigned long long>(st.messages_received),
              static_cast<unsigned long long>(st.messages_processed), static_cast<unsigned long long>(st.errors));
  check(st.state == KernelState::Terminated && st.messages_received == 3 && st.messages_processed == 3,
        "Terminated, 3 received, 3 processed");
  const SendStatus late = greeter.try_send(hello::make_name("Nobody"));
  std::printf("  try_send after terminate: %s\n", to_string(late));
  check(late == SendStatus::NotActive, "a terminated kernel refuses messages (NotActive)");

  rt.shutdown();
  std::printf("\n%s\n", failures == 0 ? "basic_hello_kernel: all checks passed" : "basic_hello_kernel: FAILED");
  return failures == 0 ? 0 : 1;
}
