"""The WebSocket tunnel's frame meter, byte by byte (RFC 6455 §5.2)."""

from __future__ import annotations

import random
import struct

from cial_proxy._websocket import MessageMeter, close_frame


def frame(opcode: int, payload: bytes, *, fin: bool = True, masked: bool = True) -> bytes:
    first = (0x80 if fin else 0) | opcode
    size = len(payload)
    mask_bit = 0x80 if masked else 0
    if size < 126:
        head = bytes([first, mask_bit | size])
    elif size < 65536:
        head = bytes([first, mask_bit | 126]) + struct.pack("!H", size)
    else:
        head = bytes([first, mask_bit | 127]) + struct.pack("!Q", size)
    return head + (b"\x00\x00\x00\x00" if masked else b"") + payload


def feed_in_pieces(meter: MessageMeter, data: bytes, piece: int) -> tuple[bytes, bool]:
    """Everything that passed, and whether the meter stopped the stream."""
    passed = b""
    for offset in range(0, len(data), piece):
        passing, too_big = meter.feed(data[offset : offset + piece])
        passed += passing
        if too_big:
            return passed, True
    return passed, False


class TestMessageMeter:
    def test_messages_up_to_the_limit_pass_whatever_the_read_sizes(self) -> None:
        stream = frame(0x1, b"a" * 100) + frame(0x2, b"b" * 70000, masked=False) + frame(0x9, b"ping")
        for piece in (1, 3, 7, 1000, len(stream)):
            assert feed_in_pieces(MessageMeter(70000), stream, piece) == (stream, False)

    def test_the_frame_that_takes_a_message_over_the_limit_is_found_at_its_header(self) -> None:
        first = frame(0x1, b"a" * 600, fin=False)
        ping = frame(0x9, b"p" * 125)  # control frames between fragments count for nothing
        stream = first + ping + frame(0x0, b"b" * 600)
        for piece in (1, 5, len(stream)):
            assert feed_in_pieces(MessageMeter(1024), stream, piece) == (first + ping, True)

    def test_a_new_message_starts_counting_from_zero(self) -> None:
        stream = frame(0x1, b"a" * 1000) + frame(0x1, b"b" * 1000)
        assert MessageMeter(1000).feed(stream) == (stream, False)

    def test_close_frames_from_a_client_are_masked_and_carry_the_code(self) -> None:
        assert close_frame(1009, masked=False) == b"\x88\x02\x03\xf1"
        masked = close_frame(1009, masked=True)
        key, payload = masked[2:6], masked[6:]
        assert masked[:2] == b"\x88\x82"
        assert bytes(b ^ key[i % 4] for i, b in enumerate(payload)) == b"\x03\xf1"


def masked_frame(opcode: int, payload: bytes, key: bytes = b"\x11\x22\x33\x44") -> bytes:
    """A client's frame as a browser sends it: masked with a key that is not all zeros."""
    assert len(payload) < 126
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + key + body


class TestFrameBoundaries:
    def test_the_boundary_is_where_the_last_whole_frame_of_a_read_ends(self) -> None:
        first, second = frame(0x2, b"a" * 300, masked=False), frame(0x2, b"b" * 300, masked=False)
        meter = MessageMeter(1024)
        assert meter.feed(first[:100]) == (first[:100], False)
        assert (meter.boundary, meter.between_frames) == (0, False)  # before the frame began
        assert meter.feed(first[100:150]) == (first[100:150], False)
        assert (meter.boundary, meter.between_frames, meter.remaining) == (-1, False, len(first) - 150)
        rest = first[150:] + second[:10]
        assert meter.feed(rest) == (rest, False)
        assert (meter.boundary, meter.between_frames) == (len(first) - 150, False)
        meter.feed(second[10:])
        assert (meter.boundary, meter.between_frames) == (len(second) - 10, True)

    def test_a_read_that_starts_between_frames_has_a_boundary_at_its_start(self) -> None:
        data = frame(0x2, b"x" * 200, masked=False)
        meter = MessageMeter(1024)
        meter.feed(data[:50])
        meter.feed(data[50:])
        meter.feed(data[:3])  # a new frame begins: the place before it is a boundary
        assert meter.boundary == 0


class TestDroppingOurPongs:
    def test_a_pong_with_our_payload_is_taken_out_whatever_the_read_sizes(self) -> None:
        text, ours = masked_frame(0x1, b"hello"), masked_frame(0xA, b"cial-ping")
        for piece in (1, 2, 5, 13, 100):
            assert feed_in_pieces(MessageMeter(1024, drop_pong=b"cial-ping"), text + ours + text, piece) == (
                text + text,
                False,
            )

    def test_other_pongs_and_pings_pass(self) -> None:
        theirs = (
            masked_frame(0xA, b"cial-pinx") + masked_frame(0xA, b"short") + masked_frame(0x9, b"cial-ping")
        )
        assert feed_in_pieces(MessageMeter(1024, drop_pong=b"cial-ping"), theirs, 3) == (theirs, False)


class TestAnyStream:
    def test_random_streams_in_random_reads_pass_whole_and_every_boundary_is_a_frame_edge(self) -> None:
        chooser = random.Random(6455)
        for _ in range(50):
            sizes, opcodes = (0, 1, 125, 126, 300, 70000), (0x1, 0x2, 0x9, 0xA)
            frames = [
                frame(chooser.choice(opcodes), b"p" * chooser.choice(sizes))
                for _ in range(chooser.randint(1, 12))
            ]
            stream = b"".join(frames)
            edges = {0}
            for one in frames:
                edges.add(max(edges) + len(one))
            meter, passed = MessageMeter(1 << 20, drop_pong=b"cial-ping"), b""
            position = 0
            while position < len(stream):
                read = stream[position : position + chooser.randint(1, 5000)]
                position += len(read)
                passing, too_big = meter.feed(read)
                assert not too_big
                if meter.boundary >= 0:
                    assert len(passed) + meter.boundary in edges
                passed += passing
                assert meter.between_frames == (len(passed) in edges)
            assert passed == stream
