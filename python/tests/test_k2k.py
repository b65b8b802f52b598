"""K2K broker: seed 003's "K2K Messaging" example as tests, plus deliveries between Python kernels."""
import pytest

import ringkernel as rk
from ringkernel import DeliveryStatus, K2KBroker, K2KConfig, MessageEnvelope, MessageHeader


def test_config_and_standalone_broker():
    config = K2KConfig(max_pending_messages=2048, delivery_timeout_ms=10000, enable_tracing=True, max_hops=16)
    assert (config.max_pending_messages, config.delivery_timeout_ms, config.enable_tracing, config.max_hops) == (
        2048, 10000, True, 16)
    d = K2KConfig.default()
    assert d.max_hops == 8 and d.max_pending_messages == 4096
    broker = K2KBroker(config)
    broker.add_route(destination="kernel_b", next_hop="kernel_a")
    assert broker.routes() == [("kernel_b", "kernel_a")]
    assert broker.registered_kernels() == []
    stats = broker.stats()
    assert stats.registered_endpoints == 0 and stats.messages_delivered == 0 and stats.routes_configured == 1
    r = broker.send("host", "kernel_b", b"x")  # the route leads to no kernel
    assert r.status == DeliveryStatus.NoRoute and r.is_failure()
    assert broker.stats().delivery_failures == 1
    with pytest.raises(rk.RingKernelError):
        broker.add_route("a", "a")
    with pytest.raises(ValueError):
        K2KConfig(max_hops=0)


def test_delivery_status_predicates():
    assert DeliveryStatus.Delivered.is_success() and not DeliveryStatus.Delivered.is_failure()
    assert DeliveryStatus.Pending.is_pending() and not DeliveryStatus.Pending.is_success()
    for s in (DeliveryStatus.NoRoute, DeliveryStatus.HopLimitExceeded, DeliveryStatus.Timeout,
              DeliveryStatus.QueueFull, DeliveryStatus.NotActive, DeliveryStatus.Rejected):
        assert s.is_failure() and not s.is_success() and not s.is_pending()


def test_runtime_broker_routes_and_delivers():
    cfg = K2KConfig(enable_tracing=True)
    with rk.RingKernel.create_sync(backend="cpu", k2k_config=cfg) as rt:
        a = rt.launch_sync("kernel_a", lambda b: b"a:" + b)
        rt.launch_sync("hidden", lambda b: b, rk.LaunchOptions().with_k2k(False))
        broker = rt.k2k_broker()
        assert broker.registered_kernels() == ["kernel_a"]
        assert broker.is_registered("kernel_a") and not broker.is_registered("hidden")
        broker.add_route(destination="kernel_b", next_hop="kernel_a")
        r = broker.send("host", "kernel_b", b"routed")
        assert r.is_success() and r.delivered_to == "kernel_a" and r.hops == 2
        assert r.trace[0] == "host" and r.trace[-1] == "kernel_a"
        assert a.receive_sync(2.0) == b"a:routed"
        env = MessageEnvelope.from_bytes(MessageHeader.new(type_id=3, payload_size=2), b"hi")
        assert broker.send("host", "kernel_a", env).is_success()
        assert a.receive_sync(2.0) == b"a:hi"
        s = broker.stats()
        assert s.messages_delivered == 2 and s.routes_configured == 1 and s.registered_endpoints == 1
        broker.add_route("loop1", "loop2")
        broker.add_route("loop2", "loop1")
        assert broker.send("host", "loop1", b"x").status == DeliveryStatus.HopLimitExceeded
        assert broker.remove_route("loop1") and not broker.remove_route("loop1")


def test_kernel_to_kernel_from_python_loop():
    with rk.RingKernel.create_sync(backend="cpu") as rt:
        async def forwarder(ctx):
            while not ctx.should_terminate:
                m = await ctx.receive(timeout=0.05)
                if m is not None:
                    r = await ctx.send_to_kernel("sink", m * 2)
                    await ctx.send(r.status.name.encode())
                    miss = await ctx.send_to_kernel("nobody", m)
                    await ctx.send(miss.status.name.encode())

        sink = rt.launch_sync("sink", lambda b: b)
        fwd = rt.launch_sync("forwarder", forwarder)
        fwd.send_sync(b"ab")
        assert fwd.receive_sync(2.0) == b"Delivered"
        assert fwd.receive_sync(2.0) == b"NoRoute"
        assert sink.receive_sync(2.0) == b"abab"


def test_pubsub_between_python_kernels():
    with rk.RingKernel.create_sync(backend="cpu") as rt:
        temps = rt.launch_sync("temps", lambda b: b"temps:" + b)
        everything = rt.launch_sync("everything", lambda b: b"all:" + b)
        ps = rt.pubsub()
        a = ps.subscribe("sensors/+/temp", "temps")
        b = ps.subscribe("sensors/#", "everything")
        ps.subscribe("sensors/kitchen/#", "everything")  # a second match: still one delivery
        assert a != b
        assert sorted(ps.subscriptions()) == sorted(
            [(a, "sensors/+/temp", "temps"), (b, "sensors/#", "everything")] +
            [s for s in ps.subscriptions() if s[1] == "sensors/kitchen/#"])
        assert ps.publish("sensors/kitchen/temp", "host", b"21C") == 2
        assert temps.receive_sync(2.0) == b"temps:21C"
        assert everything.receive_sync(2.0) == b"all:21C"
        assert everything.receive_sync(0.05) is None  # once per kernel
        assert ps.publish("sensors/kitchen/humidity", "host", b"40%") == 1
        assert everything.receive_sync(2.0) == b"all:40%"
        assert temps.receive_sync(0.05) is None
        assert ps.publish("actuators/fan", "host", b"on") == 0
        s = ps.stats()
        assert (s.subscriptions, s.messages_published, s.deliveries, s.unmatched) == (3, 3, 3, 1)
        assert ps.unsubscribe(a) and not ps.unsubscribe(a)
        assert ps.publish("sensors/hall/temp", "host", b"19C") == 1
        assert ps.unsubscribe_all("everything") == 2
        assert ps.subscriptions() == []


def test_pubsub_rejects_bad_topics_and_unknown_kernels():
    with rk.RingKernel.create_sync(backend="cpu") as rt:
        rt.launch_sync("k", lambda b: None)
        ps = rt.pubsub()
        for bad in ("a//b", "/a", "a/#/b", "a+/b", ""):
            with pytest.raises(rk.RingKernelError) as e:
                ps.subscribe(bad, "k")
            assert e.value.code == rk.ErrorCode.InvalidTopic
        with pytest.raises(rk.RingKernelError) as e:
            ps.publish("sensors/+", "host", b"x")  # a filter is not a topic name
        assert e.value.code == rk.ErrorCode.InvalidTopic
        with pytest.raises(rk.KernelError) as e:
            ps.subscribe("a/b", "nobody")
        assert e.value.code == rk.ErrorCode.KernelNotFound
        assert ps.stats().subscriptions == 0


def test_pubsub_publish_from_a_python_loop_kernel():
    with rk.RingKernel.create_sync(backend="cpu") as rt:
        async def announcer(ctx):
            while not ctx.should_terminate:
                m = await ctx.receive(timeout=0.05)
                if m is not None:
                    n = await ctx.publish("news/" + m.decode(), b"from announcer: " + m)
                    await ctx.send(str(n).encode())
                    try:
                        await ctx.publish("news/#", m)
                    except rk.RingKernelError as e:
                        await ctx.send(e.code.name.encode())

        reader = rt.launch_sync("reader", lambda b: b)
        ann = rt.launch_sync("announcer", announcer)
        rt.pubsub().subscribe("news/+", "reader")
        ann.send_sync(b"sports")
        assert ann.receive_sync(2.0) == b"1"
        assert ann.receive_sync(2.0) == b"InvalidTopic"  # a filter is not a topic name
        assert reader.receive_sync(2.0) == b"from announcer: sports"
        assert rt.pubsub().stats().deliveries == 1
