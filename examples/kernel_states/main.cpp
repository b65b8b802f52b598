// kernel_states — a kernel's lifecycle, step by step:
//   1. two-phase launch: without_auto_activate() leaves the kernel Launched; messages sent now wait,
//   2. activate(): Launched -> Active, and the waiting messages are processed,
//   3. deactivate()/suspend(): Active -> Deactivated; messages queue up, nothing is processed,
//   4. activate()/resume(): the queued messages are processed, in order,
//   5. an illegal transition throws ringkernel::KernelError (code InvalidState),
//   6. terminate(): queued messages are not processed; drain_unprocessed() hands them back.
// The state is printed after each step. Exits non-zero if a check fails.
#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel.hpp"

#include <chrono>
#include <cstdio>
#include <thread>

namespace app {
struct Job {
  std::uint32_t seq;
};
RINGKERNEL_MESSAGE(Job, 0x4A4F42)
struct Done {
  std::uint32_t seq;
  std::uint32_t handled;  // the kernel's running count, this job included
};
RINGKERNEL_MESSAGE(Done, 0x444F4E45)

struct Worker {
  using input_type = Job;
  using output_type = Done;
  std::uint32_t handled = 0;
  RINGKERNEL_HD Done operator()(const Job& j) { return Done{j.seq, ++handled}; }
};
}  // namespace app

namespace {
int failures = 0;
void check(bool ok, const char* what) {
  std::printf("  [%s] %s\n", ok ? " ok " : "FAIL", what);
  if (!ok) ++failures;
}
void show(const ringkernel::KernelHandle& k) {
  const ringkernel::KernelStatus s = k.status();
  std::printf("  state %-11s queued %llu\n", ringkernel::to_string(s.state), static_cast<unsigned long long>(s.queue_depth));
}
// Receives `n` replies; true if they carry sequence numbers first, first+1, ... in order.
bool receive_in_order(ringkernel::KernelHandle& k, std::uint32_t first, std::uint32_t n) {
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::optional<app::Done> d = k.receive<app::Done>(std::chrono::seconds(1));
    if (!d || d->seq != first + i) return false;
  }
  return true;
}
}  // namespace

int main() {
  using namespace ringkernel;
  using namespace std::chrono_literals;
  std::printf("ringkernel %s kernel_states\n\n", RINGKERNEL_VERSION_STRING);
  Runtime rt = Runtime::builder().backend(Backend::Cpu).build();

  // 1. Two-phase launch: resources are ready, the handler does not run yet.
  std::printf("1. Launch without auto-activation\n");
  KernelHandle k = rt.launch("worker", app::Worker{}, LaunchOptions{}.with_queue_capacity(64).without_auto_activate());
  for (std::uint32_t i = 1; i <= 3; ++i) k.send(app::Job{i});
  std::this_thread::sleep_for(50ms);  // give a (wrongly) running kernel every chance to process
  show(k);
  check(k.state() == KernelState::Launched, "state is Launched");
  check(k.status().queue_depth == 3 && k.status().messages_processed == 0, "3 messages wait, none processed");

  // 2. Activate: the waiting messages are processed.
  std::printf("2. activate()\n");
  k.activate();
  const bool first_three = receive_in_order(k, 1, 3);
  show(k);
  check(k.is_active() && first_three, "Active; replies for jobs 1..3 arrived in order");

  // 3. Deactivate (alias suspend): returns once the worker holds no message; new ones queue up.
  std::printf("3. deactivate()\n");
  k.deactivate();
  for (std::uint32_t i = 4; i <= 6; ++i) k.send(app::Job{i});
  std::this_thread::sleep_for(50ms);
  show(k);
  check(k.state() == KernelState::Deactivated, "state is Deactivated");
  check(k.status().queue_depth == 3 && k.status().messages_processed == 3, "jobs 4..6 wait, still 3 processed");
  check(!k.receive<app::Done>(20ms), "no reply while deactivated");

  // 4. Resume (alias activate): the queued messages are processed, in order.
  std::printf("4. resume()\n");
  k.resume();
  const bool next_three = receive_in_order(k, 4, 3);
  show(k);
  check(k.is_active() && next_three, "Active; replies for jobs 4..6 arrived in order");

  // 5. An illegal transition: activating an Active kernel.
  std::printf("5. activate() on an Active kernel\n");
  bool caught = false;
  try {
    k.activate();
  } catch (const KernelError& e) {
    std::printf("  KernelError (%s): %s\n", to_string(e.code()), e.what());
    caught = e.code() == ErrorCode::InvalidState;
  }
  show(k);
  check(caught && k.is_active(), "KernelError(InvalidState) thrown, kernel still Active");

  // 6. Terminate while messages are queued: they are not processed, and not lost either.
  std::printf("6. deactivate(), send 2 more, terminate()\n");
  k.deactivate();
  k.send(app::Job{7});
  k.send(app::Job{8});
  k.terminate();
  show(k);
  const std::vector<MessageEnvelope> left = k.drain_unprocessed();
  std::printf("  drain_unprocessed(): %zu message(s):", left.size());
  for (const MessageEnvelope& e : left) std::printf(" job %u", e.as<app::Job>().seq);
  std::printf("\n");
  check(k.state() == KernelState::Terminated && k.status().messages_processed == 6, "Terminated, 6 jobs processed");
  check(left.size() == 2 && left[0].as<app::Job>().seq == 7 && left[1].as<app::Job>().seq == 8,
        "jobs 7 and 8 handed back unprocessed");
  bool refused = false;
  try {
    k.resume();
  } catch (const KernelError& e) {
    std::printf("  resume() after terminate: %s\n", e.what());
    refused = e.code() == ErrorCode::InvalidState;
  }
  check(refused, "Terminated is final: resume() throws KernelError(InvalidState)");

  rt.shutdown();
  std::printf("\n%s\n", failures == 0 ? "kernel_states: all checks passed" : "kernel_states: FAILED");
  return failures == 0 ? 0 : 1;
}
