// Compiled (not run) by tests/compile_matrix.sh with g++ and clang++ in C++17 and C++20, with
// -Wall -Wextra -Wpedantic -Werror: the implementation and every public template instantiated.
#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel.hpp"

namespace matrix {
struct In { int v; };
RINGKERNEL_MESSAGE(In, 901)
struct Out { long v; };
RINGKERNEL_MESSAGE(Out, 902)
struct Plain {
  using input_type = In;
  using output_type = Out;
  RINGKERNEL_HD Out operator()(const In& in) { return Out{in.v}; }
};
struct WithContext {
  using input_type = In;
  using output_type = void;
  void operator()(ringkernel::HandlerContext& ctx, const In& in) {
    ctx.emit(Out{in.v});
    (void)ctx.send_to_kernel("matrix_loop", Out{in.v}).is_success();
    (void)ctx.publish(ringkernel::Topic("matrix/out"), Out{in.v});
  }
};
}  // namespace matrix

RINGKERNEL_KERNEL(matrix_loop) {
  while (!ctx.should_terminate()) {
    if (auto m = ctx.receive<matrix::In>(std::chrono::milliseconds(1))) ctx.send(matrix::Out{m->v});
    if (auto o = ctx.try_receive_from_kernel<matrix::Out>("b")) (void)ctx.send_to_kernel("a", matrix::In{int(o->v)});
    if (auto o = ctx.try_receive_from_kernel<matrix::Out>()) (void)ctx.publish(ringkernel::Topic("matrix/x"), *o);
  }
}
RINGKERNEL_HANDLER_KERNEL(matrix_plain, matrix::Plain);

int main() {
  using namespace ringkernel;
  SpscRing<int> spsc(8);
  MpscRing<int> mpsc(8);
  MpmcRing<int> mpmc(8);
  PriorityInbox<int> inbox(8, BackpressureStrategy::Block);
  int x = 0;
  (void)(spsc.try_push(1) && spsc.try_pop(x) && mpsc.try_push(1) && mpsc.try_pop(x) && mpmc.try_push(1) && mpmc.try_pop(x));
  inbox.push(1);
  auto rt = Runtime::builder().backend(Backend::Cpu).build();
  auto a = rt.launch("a", matrix::Plain{});
  auto b = rt.launch("b", matrix::WithContext{});
  auto c = rt.launch("matrix_loop");
  (void)a.try_send(matrix::In{1});
  (void)b.call<matrix::Out>(matrix::In{2});
  (void)c.receive<matrix::Out>(std::chrono::milliseconds(1));
  auto env = MessageEnvelope::from_message(matrix::In{3}, 0, 1, rt.clock().tick());
  (void)env.as<matrix::In>();
  (void)rt.k2k_broker().send_message("host", "a", matrix::In{4}).is_pending();
  (void)rt.pubsub().subscribe(Topic("matrix/#"), "matrix_loop");
  (void)rt.pubsub().publish_message(Topic("matrix/in"), "host", matrix::In{5});
  rt.shutdown();
  return x;
}
