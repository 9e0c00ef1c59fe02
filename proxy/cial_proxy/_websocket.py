"""The WebSocket tunnel's one job besides moving bytes: bound the size of each message.

After the upstream's 101 the proxy relays bytes both ways as they come, never assembling a
message (Autobahn's 16 MiB cases cost it nothing). It still reads every frame header going past
(RFC 6455 §5.2) so that a message growing past the cap is stopped before its over-size frame is
forwarded: the sender gets close 1009 (Message Too Big, §7.4.1), the receiver a close too, and
both connections end. Close frames and their codes otherwise pass through untouched.

The same frame headers tell the proxy where frames end, which is the only place it may put a frame
of its own into a stream (a ping, a close; §5.4 lets control frames sit between the fragments of a
message, never inside a frame). On the client's side they also let it take out the pongs that
answer its own pings, which the upstream never asked for.
"""

from __future__ import annotations

import os
import struct

CLOSE_GOING_AWAY = 1001
CLOSE_TOO_BIG = 1009
_CONTINUATION = 0x0
_CONTROL = 0x8  # opcodes 0x8 and up are control frames: never part of a message (§5.5)
_CLOSE = 0x8
_PONG = 0xA


class MessageMeter:
    """Follows the frame headers of one direction's byte stream and sums each message's size."""

    __slots__ = ("_head", "_limit", "_message", "_pong", "_skip", "boundary", "closed")

    def __init__(self, limit: int, *, drop_pong: bytes | None = None) -> None:
        self._limit = limit
        self._pong = drop_pong  # pongs carrying exactly this are taken out of the stream
        self._skip = 0  # payload bytes of the current frame still to pass
        self._head = b""  # a frame header split across reads (or a whole pong to drop)
        self._message = 0  # payload bytes of the current data message so far
        # Where in what the last feed passed the last frame ended (-1: nowhere; it was all inside
        # one frame): the place to put a frame of the proxy's own.
        self.boundary = 0
        self.closed = False  # a close frame has gone past: its sender sends nothing more (§5.5.1)

    @property
    def between_frames(self) -> bool:
        """Whether everything passed so far ends with a whole frame."""
        return not self._skip

    @property
    def remaining(self) -> int:
        """Payload bytes of the frame in progress still to come (it moves while the frame flows)."""
        return self._skip

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """What of ``data`` may pass now, and whether a frame takes its message past the limit.

        Passing stops at the header of that frame. A header split across reads is held back (at
        most 13 bytes) until it is whole, so a refused frame never leaves half its header behind;
        so is a pong that may be one to drop, until its payload shows whether it is.
        """
        if self._head:
            data, self._head = self._head + data, b""
        position, end = 0, len(data)
        skip = self._skip  # kept in a local while the loop runs: this loop runs for every frame
        boundary = -1 if skip else 0
        kept: list[bytes] | None = None  # the pieces around dropped pongs, if any
        start = 0  # where the piece after the last dropped pong begins
        while position < end:
            if skip:
                if skip > end - position:
                    skip -= end - position
                    break
                position += skip
                skip = 0
                boundary = position
                continue
            parsed = _frame_header(data[position : position + 14])
            if parsed is None:  # the header is not complete yet
                self._head = data[position:]
                return self._passed(data, kept, start, position, boundary), False
            header_size, opcode, length = parsed
            if opcode < _CONTROL:
                self._message = length if opcode != _CONTINUATION else self._message + length
                if self._message > self._limit:
                    return self._passed(data, kept, start, position, boundary), True
            elif opcode == _CLOSE:
                self.closed = True
            elif opcode == _PONG and self._pong is not None and length == len(self._pong):
                frame_end = position + header_size + length
                if frame_end > end:  # the payload is not all here: wait for it before deciding
                    self._head = data[position:]
                    return self._passed(data, kept, start, position, boundary), False
                if _unmasked(data[position:frame_end], header_size) == self._pong:
                    kept = [*(kept or ()), data[start:position]]
                    position = start = frame_end
                    continue
            position += header_size
            skip = length
            if not length:
                boundary = position
        if kept is None:
            self._skip, self.boundary = skip, boundary
            return data, False
        passed = self._passed(data, kept, start, end, boundary)
        self._skip = skip
        return passed, False

    def _passed(self, data: bytes, kept: list[bytes] | None, start: int, stop: int, boundary: int) -> bytes:
        """What passes of ``data`` up to ``stop``, where the loop stopped between two frames."""
        self._skip = 0
        if kept is None:
            self.boundary = boundary
            return data[:stop]
        # Only the client's side drops pongs and only the upstream's side uses the boundary.
        self.boundary = -1
        kept.append(data[start:stop])
        return b"".join(kept)


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


def _unmasked(frame: bytes, header_size: int) -> bytes:
    payload = frame[header_size:]
    if not frame[1] & 0x80:
        return payload
    key = frame[header_size - 4 : header_size]
    return bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def ping_payload() -> bytes:
    """What one proxy's pings carry, so that their pongs (which echo it, §5.5.3) can be told apart.

    Each proxy has its own: behind the router, the edge may ping the same client, and a pong to
    the edge's ping must pass the router to reach it.
    """
    return b"cial-ping-" + os.urandom(4).hex().encode()


def ping_frame(payload: bytes) -> bytes:
    """A ping to a client: unmasked, as every frame a server sends (§5.1)."""
    return b"\x89" + bytes([len(payload)]) + payload


def close_frame(code: int, *, masked: bool) -> bytes:
    """A close frame with ``code`` and no reason; frames a client sends are masked (§5.3)."""
    payload = struct.pack("!H", code)
    if not masked:
        return b"\x88" + bytes([len(payload)]) + payload
    key = os.urandom(4)
    return b"\x88" + bytes([0x80 | len(payload)]) + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))
