"""HLC, message headers and envelopes: seed 003's "Working with Messages" and "HLC" examples as tests."""
import threading

import pytest

import ringkernel
from ringkernel import ErrorCode, HlcClock, HlcTimestamp, MessageEnvelope, MessageHeader, RingKernelError


def test_tick_strictly_increasing_and_now_does_not_advance():
    clock = HlcClock(node_id=1)
    ts1 = clock.tick()
    ts2 = clock.tick()
    assert ts2 > ts1 and ts1 < ts2 and ts1 != ts2
    current = clock.now()
    assert current >= ts2
    assert clock.tick() > current
    assert clock.node_id == 1


def test_tick_unique_across_threads():
    clock = HlcClock(node_id=7)
    out = [[] for _ in range(4)]

    def work(i):
        for _ in range(2000):
            out[i].append(clock.tick().pack())

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    allv = [v for o in out for v in o]
    assert len(set(allv)) == len(allv)
    for o in out:
        assert o == sorted(o)


def test_timestamp_fields_now_zero():
    ts = HlcTimestamp(physical=1000000, logical=5, node_id=1)
    assert (ts.physical, ts.logical, ts.node_id) == (1000000, 5, 1)
    assert HlcTimestamp.zero() == HlcTimestamp(0, 0, 0)
    now = HlcTimestamp.now(node_id=42)
    assert now.node_id == 42 and now.logical == 0
    assert now > HlcTimestamp.zero()
    assert hash(HlcTimestamp(1, 2, 3)) == hash(HlcTimestamp(1, 2, 3))
    assert sorted([HlcTimestamp(2, 0, 0), HlcTimestamp(1, 9, 9), HlcTimestamp(1, 9, 1)]) == [
        HlcTimestamp(1, 9, 1), HlcTimestamp(1, 9, 9), HlcTimestamp(2, 0, 0)]


def test_update_merges_causality():
    clock = HlcClock(node_id=1)
    received = HlcTimestamp(physical=2000000, logical=0, node_id=2)
    merged = clock.update(received)
    assert merged > received
    assert clock.tick() > merged


def test_update_refuses_clock_drift():
    clock = HlcClock(node_id=1, max_drift_ms=1000)
    far = HlcTimestamp(physical=HlcTimestamp.now().physical + 3_600_000_000, logical=0, node_id=2)
    with pytest.raises(RingKernelError) as e:
        clock.update(far)
    assert e.value.code == ErrorCode.ClockDrift
    assert "drift" in str(e.value).lower()


def test_pack_unpack_is_128_bit_int_and_orders():
    ts = HlcTimestamp(physical=123456789, logical=77, node_id=3)
    packed = ts.pack()
    assert isinstance(packed, int)
    assert packed == (123456789 << 64) | (77 << 32) | 3
    assert HlcTimestamp.unpack(packed) == ts
    big = HlcTimestamp(physical=2**64 - 1, logical=2**32 - 1, node_id=2**32 - 1)
    assert big.pack() == 2**128 - 1 and HlcTimestamp.unpack(2**128 - 1) == big
    assert HlcTimestamp(1, 0, 5).pack() < HlcTimestamp(1, 1, 0).pack()
    with pytest.raises(ValueError):
        HlcTimestamp.unpack(-1)
    with pytest.raises(ValueError):
        HlcTimestamp.unpack(2**128)


def test_time_conversions():
    ts = HlcTimestamp(physical=1_234_567, logical=0, node_id=0)
    assert ts.as_micros() == 1_234_567
    assert ts.as_millis() == 1_234


def test_header_and_envelope_round_trip():
    clock = HlcClock(node_id=1)
    timestamp = clock.tick()
    header = MessageHeader.new(type_id=1, source_kernel=0, dest_kernel=1000, payload_size=4, timestamp=timestamp)
    assert header.type_id == 1 and header.dest_kernel == 1000 and header.payload_size == 4
    assert header.timestamp == timestamp
    assert header.message_id != 0
    assert len(header.to_bytes()) == 256
    payload = b"\x01\x02\x03\x04"
    envelope = MessageEnvelope.from_bytes(header, payload)
    assert envelope.payload == payload
    assert envelope.total_size == 256 + 4
    assert envelope.header.checksum != 0
    raw = envelope.to_bytes()
    assert len(raw) == envelope.total_size
    restored = MessageEnvelope.from_raw_bytes(raw)
    assert restored.payload == payload
    assert restored.header.message_id == header.message_id
    assert restored.header.timestamp == timestamp


def test_envelope_accepts_buffers():
    h = MessageHeader.new(type_id=9, payload_size=3)
    for buf in (bytearray(b"abc"), memoryview(b"abc")):
        assert MessageEnvelope.from_bytes(h, buf).payload == b"abc"
    with pytest.raises(TypeError):
        MessageEnvelope.from_bytes(h, "abc")


def test_envelope_rejects_size_mismatch():
    h = MessageHeader.new(type_id=1, payload_size=10)
    with pytest.raises(RingKernelError) as e:
        MessageEnvelope.from_bytes(h, b"abc")
    assert e.value.code == ErrorCode.InvalidMessage


@pytest.mark.parametrize("mutate", ["flip_payload", "flip_header", "truncate", "extend", "empty", "magic"])
def test_from_raw_bytes_rejects_corruption(mutate):
    env = MessageEnvelope.from_bytes(MessageHeader.new(type_id=5, payload_size=8), b"12345678")
    raw = bytearray(env.to_bytes())
    if mutate == "flip_payload":
        raw[-1] ^= 0x01
    elif mutate == "flip_header":
        raw[20] ^= 0x80
    elif mutate == "truncate":
        raw = raw[:-1]
    elif mutate == "extend":
        raw += b"x"
    elif mutate == "empty":
        raw = bytearray()
    elif mutate == "magic":
        raw[0] ^= 0xFF
    with pytest.raises(RingKernelError) as e:
        MessageEnvelope.from_raw_bytes(bytes(raw))
    assert e.value.code == ErrorCode.InvalidMessage


def test_priority_values():
    assert int(ringkernel.Priority.Low) == 64 and int(ringkernel.Priority.Critical) == 255
    h = MessageHeader.new(type_id=1)
    h.priority = 200
    assert h.priority == 200
    with pytest.raises(ValueError):
        h.priority = 256


def test_exception_hierarchy():
    assert issubclass(ringkernel.KernelError, ringkernel.RingKernelError)
    assert issubclass(ringkernel.MemoryLimitError, ringkernel.RingKernelError)
    assert issubclass(ringkernel.CudaError, ringkernel.RingKernelError)
    assert issubclass(ringkernel.RingKernelError, Exception)
