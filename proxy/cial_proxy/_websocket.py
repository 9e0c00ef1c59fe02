"""The WebSocket tunnel's one job besides moving bytes: bound the size of each message.

After the upstream's 101 the proxy relays bytes both ways as they come, never assembling a
message (Autobahn's 16 MiB cases cost it nothing). It still reads every frame header going past
(RFC 6455 §5.2) so that a message growing past the cap is stopped before its over-size frame is
forwarded: the sender gets close 1009 (Message Too Big, §7.4.1), the receiver a close too, and
both connections end. Close frames and their codes otherwise pass through untouched.
"""

from __future__ import annotations

import os
import struct

CLOSE_TOO_BIG = 1009
_CONTINUATION = 0x0
_CONTROL = 0x8  # opcodes 0x8 and up are control frames: never part of a message (§5.5)


class MessageMeter:
    """Follows the frame headers of one direction's byte stream and sums each message's size."""

    __slots__ = ("_head", "_limit", "_message", "_skip")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._skip = 0  # payload bytes of the current frame still to pass
        self._head = b""  # a frame header split across reads
        self._message = 0  # payload bytes of the current data message so far

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """What of ``data`` may pass now, and whether a frame takes its message past the limit.

        Passing stops at the header of that frame. A header split across reads is held back (at
        most 13 bytes) until it is whole, so a refused frame never leaves half its header behind.
        """
        if self._head:
            data, self._head = self._head + data, b""
        position, end = 0, len(data)
        while position < end:
            if self._skip:
                step = min(self._skip, end - position)
                self._skip -= step
                position += step
                continue
            parsed = _frame_header(data[position : position + 14])
            if parsed is None:  # the header is not complete yet
                self._head = data[position:]
                return data[:position], False
            header_size, opcode, length = parsed
            if opcode < _CONTROL:
                self._message = length if opcode != _CONTINUATION else self._message + length
                if self._message > self._limit:
                    return data[:position], True
            position += header_size
            self._skip = length
        return data, False


def _frame_header(head: bytes) -> tuple[int, int, int] | None:
    """(header size, opcode, payload length) of the frame ``head`` starts with, if it is complete."""
    if len(head) < 2:
        return None
    opcode, masked, length = head[0] & 0x0F, head[1] & 0x80, head[1] & 0x7F
    size = 2 + (4 if masked else 0)
    if length == 126:
        size += 2
        if len(head) < size:
            return None
        (length,) = struct.unpack_from("!H", head, 2)
    elif length == 127:
        size += 8
        if len(head) < size:
            return None
        (length,) = struct.unpack_from("!Q", head, 2)
    if len(head) < size:
        return None
    return size, opcode, length


def close_frame(code: int, *, masked: bool) -> bytes:
    """A close frame with ``code`` and no reason; frames a client sends are masked (§5.3)."""
    payload = struct.pack("!H", code)
    if not masked:
        return b"\x88" + bytes([len(payload)]) + payload
    key = os.urandom(4)
    return b"\x88" + bytes([0x80 | len(payload)]) + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))
