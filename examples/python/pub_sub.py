#!/usr/bin/python3
"""Topic pub/sub between ring kernels: two kernels subscribe to MQTT-style filters, the host
publishes readings on topic names, and each kernel gets exactly the ones its filters match
(once, even when two of its filters match). '+' matches one level, a final '#' any number.

Run from a build tree:  PYTHONPATH=build/python /usr/bin/python3 examples/python/pub_sub.py
"""
import ringkernel as rk


def main() -> None:
    with rk.RingKernel.create_sync(backend="cpu") as runtime:
        thermostat = runtime.launch_sync("thermostat", lambda reading: b"thermostat saw " + reading)
        logger = runtime.launch_sync("logger", lambda reading: b"logged " + reading)
        broker = runtime.pubsub()
        broker.subscribe("home/+/temperature", "thermostat")
        broker.subscribe("home/#", "logger")
        broker.subscribe("home/kitchen/#", "logger")  # overlaps home/#: still one delivery

        readings = [("home/kitchen/temperature", b"21.5C"), ("home/hall/humidity", b"40%"),
                    ("garden/temperature", b"12C")]
        counts = [broker.publish(topic, "host", value) for topic, value in readings]
        for (topic, _), n in zip(readings, counts):
            print(f"published on {topic}: {n} subscriber(s)")
        assert counts == [2, 1, 0], counts

        got_thermostat = [thermostat.receive_sync(timeout=5.0)]
        got_logger = [logger.receive_sync(timeout=5.0), logger.receive_sync(timeout=5.0)]
        for r in got_thermostat + got_logger:
            print(r.decode())
        assert got_thermostat == [b"thermostat saw 21.5C"], got_thermostat
        assert got_logger == [b"logged 21.5C", b"logged 40%"], got_logger
        assert thermostat.receive_sync(timeout=0.05) is None and logger.receive_sync(timeout=0.05) is None

        stats = broker.stats()
        print(f"subscriptions {stats.subscriptions}, published {stats.messages_published}, "
              f"deliveries {stats.deliveries}, unmatched {stats.unmatched}")
        assert (stats.subscriptions, stats.messages_published, stats.deliveries, stats.unmatched) == (3, 3, 3, 1)

        try:
            broker.subscribe("home//temperature", "logger")
        except rk.RingKernelError as e:
            print(f"refused a bad filter: {e.code.name}")
            assert e.code == rk.ErrorCode.InvalidTopic
        else:
            raise AssertionError("an empty topic level was accepted")
    print("pub_sub: ok")


if __name__ == "__main__":
    main()
