#!/usr/bin/env python3
"""A strict RFC 6455 / RFC 7692 client conformance run for `callrelay ws echo`.

Autobahn|Testsuite's fuzzingserver is the usual tool, but it runs only on Python 2, which this
project's machines do not have. This server plays the same kinds of cases on raw sockets, so it can
send what a well-behaved library never would: reserved bits and opcodes, oversized and fragmented
control frames, broken UTF-8 cut at every point, bad close codes, bad handshakes, bombs.

For every case it starts the client under test (`CLIENT ws echo URL ...`), plays the case on the
connection, and checks both what the client sent back and its exit status. A case passes only if
the client behaves exactly as the RFCs ask (the close code included), which is Autobahn's "OK";
its "NON-STRICT" counts as a failure here.

    conformance.py --client .build/debug/callrelay [--tls] [--only PREFIX] [--verbose]

Exit status 0 when every case passed. The last line is "N passed, M failed".
"""
import argparse
import asyncio
import base64
import hashlib
import os
import ssl
import struct
import sys
import tempfile
import time
import zlib

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TRAILER = b"\x00\x00\xff\xff"
CASES = []


class Fail(Exception):
    pass


def case(cid, title, args=(), exit_code=0, handshake=None):
    """Registers a case. `handshake` shapes the server's 101 answer (see Session.handshake)."""
    def register(fn):
        CASES.append(dict(id=cid, title=title, fn=fn, args=list(args), exit=exit_code,
                          handshake=handshake or {}))
        return fn
    return register


def unmask(data, key):
    """XORs the client's mask over the payload as one big integer: a loop per byte would hold the
    event loop for seconds on a 16 MiB message, and every other case's handshake with it."""
    n = len(data)
    mask = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(mask, "little")).to_bytes(n, "little")


class Session:
    """The server end of one connection, on raw bytes."""

    def __init__(self, reader, writer, spec):
        self.reader, self.writer, self.spec = reader, writer, spec
        self.request_headers = {}
        self.deflate = None          # dict of negotiated parameters, server's view
        self.inflater = None
        self.deflater = None

    # ---- opening handshake ------------------------------------------------------------
    async def read_request(self):
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 10)
        lines = head.decode("latin-1").split("\r\n")
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                self.request_headers[name.strip().lower()] = value.strip()
        return lines[0]

    async def handshake(self):
        await self.read_request()
        h = self.spec["handshake"]
        key = self.request_headers.get("sec-websocket-key", "")
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        if h.get("bad_accept"):
            accept = base64.b64encode(b"x" * 20).decode()
        status = h.get("status", "101 Switching Protocols")
        lines = [f"HTTP/1.1 {status}"]
        if not h.get("no_upgrade"):
            lines.append("Upgrade: websocket")
        if not h.get("no_connection"):
            lines.append("Connection: Upgrade")
        lines.append(f"Sec-WebSocket-Accept: {accept}")
        offer = self.request_headers.get("sec-websocket-extensions", "")
        if "extension" in h:
            if h["extension"]:
                lines.append(f"Sec-WebSocket-Extensions: {h['extension']}")
            self.deflate = h.get("deflate")
        elif "permessage-deflate" in offer and h.get("deflate") is not None:
            params = h["deflate"]
            answer = ["permessage-deflate"]
            if params.get("server_no_context_takeover"):
                answer.append("server_no_context_takeover")
            if params.get("client_no_context_takeover"):
                answer.append("client_no_context_takeover")
            if params.get("server_max_window_bits"):
                answer.append(f"server_max_window_bits={params['server_max_window_bits']}")
            if params.get("client_max_window_bits"):
                answer.append(f"client_max_window_bits={params['client_max_window_bits']}")
            lines.append("Sec-WebSocket-Extensions: " + "; ".join(answer))
            self.deflate = params
        if "protocol" in h:
            lines.append(f"Sec-WebSocket-Protocol: {h['protocol']}")
        payload = ("\r\n".join(lines) + "\r\n\r\n").encode()
        payload += h.get("trailing", b"")
        self.writer.write(payload)
        await self.writer.drain()

    # ---- frames ---------------------------------------------------------------------------
    def frame(self, opcode, payload=b"", fin=True, rsv=0, length_bytes=None):
        first = (0x80 if fin else 0) | (rsv << 4) | opcode
        n = len(payload)
        if length_bytes == 8 or (length_bytes is None and n > 0xFFFF):
            header = struct.pack("!BBQ", first, 127, n)
        elif length_bytes == 2 or (length_bytes is None and n > 125):
            header = struct.pack("!BBH", first, 126, n)
        else:
            header = struct.pack("!BB", first, n)
        return header + payload

    async def send(self, data, chop=None, pause=0.005):
        if chop:
            for i in range(0, len(data), chop):
                self.writer.write(data[i:i + chop])
                await self.writer.drain()
                await asyncio.sleep(pause)
        else:
            self.writer.write(data)
            await self.writer.drain()

    async def send_frame(self, opcode, payload=b"", **kw):
        chop = kw.pop("chop", None)
        await self.send(self.frame(opcode, payload, **kw), chop=chop)

    def compress(self, data, no_context=None):
        params = self.deflate or {}
        bits = params.get("server_max_window_bits") or 15
        takeover = not params.get("server_no_context_takeover")
        if self.deflater is None or not takeover or no_context:
            self.deflater = zlib.compressobj(6, zlib.DEFLATED, -max(bits, 9))
        out = self.deflater.compress(data) + self.deflater.flush(zlib.Z_SYNC_FLUSH)
        assert out.endswith(TRAILER)
        return out[:-4]

    async def send_message(self, data, compressed=False, fragments=1):
        opcode = 1 if isinstance(data, str) else 2
        raw = data.encode() if isinstance(data, str) else data
        body = self.compress(raw) if compressed else raw
        if fragments <= 1:
            await self.send_frame(opcode, body, rsv=4 if compressed else 0)
            return
        size = max(1, -(-len(body) // fragments))
        pieces = [body[i:i + size] for i in range(0, len(body), size)] or [b""]
        for index, piece in enumerate(pieces):
            await self.send_frame(opcode if index == 0 else 0, piece, fin=index == len(pieces) - 1,
                                  rsv=4 if compressed and index == 0 else 0)

    async def recv_frame(self, timeout=5):
        """One frame from the client, unmasked; None on EOF. Every client frame must be masked."""
        try:
            head = await asyncio.wait_for(self.reader.readexactly(2), timeout)
        except asyncio.IncompleteReadError:
            return None
        except (ConnectionResetError, BrokenPipeError):
            return None
        fin, rsv, opcode = head[0] >> 7, (head[0] >> 4) & 7, head[0] & 0xF
        if not head[1] & 0x80:
            raise Fail("the client sent an unmasked frame")
        n = head[1] & 0x7F
        if n == 126:
            n = struct.unpack("!H", await self.reader.readexactly(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", await self.reader.readexactly(8))[0]
        key = await self.reader.readexactly(4)
        data = await self.reader.readexactly(n)
        return fin, rsv, opcode, unmask(data, key)

    async def recv_message(self, timeout=5):
        """A whole data message (opcode, bytes); ('close', code, reason) for a close; None on EOF."""
        parts, opcode, compressed = [], None, False
        while True:
            frame = await self.recv_frame(timeout)
            if frame is None:
                return None
            fin, rsv, op, data = frame
            if op == 8:
                code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
                return ("close", code, data[2:])
            if op in (9, 10):
                if op == 9:
                    await self.send_frame(10, data)
                continue
            if op in (1, 2):
                opcode, compressed = op, bool(rsv & 4)
            elif op != 0 or opcode is None:
                raise Fail(f"unexpected opcode {op} from the client")
            if rsv & 3 or (rsv & 4 and op == 0):
                raise Fail("the client set reserved bits")
            if rsv & 4 and self.deflate is None:
                raise Fail("the client compressed without permessage-deflate")
            parts.append(data)
            if fin:
                body = b"".join(parts)
                if compressed:
                    params = self.deflate or {}
                    bits = params.get("client_max_window_bits") or 15
                    if self.inflater is None or params.get("client_no_context_takeover"):
                        # Exactly the window the client was allowed: a larger one fails here.
                        self.inflater = zlib.decompressobj(-bits)
                    try:
                        body = self.inflater.decompress(body + TRAILER)
                    except zlib.error as error:
                        raise Fail(f"the client's compressed message does not inflate with a "
                                   f"{bits}-bit window: {error}")
                return (opcode, body)

    # ---- expectations -----------------------------------------------------------------------
    async def expect_echo(self, message, timeout=10):
        raw = message.encode() if isinstance(message, str) else message
        got = await self.recv_message(timeout)
        want = 1 if isinstance(message, str) else 2
        if got is None:
            raise Fail("the client closed instead of echoing")
        if got[0] == "close":
            raise Fail(f"the client closed with {got[1]} instead of echoing")
        if got[0] != want or got[1] != raw:
            raise Fail(f"echo differs: opcode {got[0]} / {len(got[1])} bytes, wanted opcode {want} / {len(raw)}")

    async def expect_close(self, codes, timeout=5):
        """The client must fail the connection with one of `codes` (a close frame, then no more)."""
        codes = codes if isinstance(codes, (list, tuple, set)) else [codes]
        deadline = time.monotonic() + timeout
        while True:
            left = max(0.1, deadline - time.monotonic())
            got = await self.recv_message(left)
            if got is None:
                raise Fail(f"the client dropped TCP without a close frame (wanted {codes})")
            if got[0] == "close":
                if got[1] not in codes:
                    raise Fail(f"the client closed with {got[1]}, wanted {codes}")
                break
            raise Fail(f"the client echoed a message instead of failing with {codes}")
        # Complete the handshake from our side and end TCP, as a server does.
        await self.close_tcp()

    async def finish(self, code=1000, reason=b"bye"):
        """Server-initiated clean close: the client must answer with the same code."""
        await self.send_frame(8, struct.pack("!H", code) + reason)
        got = await self.recv_message(5)
        if got is None or got[0] != "close":
            raise Fail(f"the client did not answer our close (got {got and got[0]})")
        if got[1] != code:
            raise Fail(f"the client answered close {code} with {got[1]}")
        await self.close_tcp()

    async def close_tcp(self):
        try:
            self.writer.close()
            await self.writer.wait_closed()
        except (ConnectionError, ssl.SSLError):
            pass

    async def expect_eof(self, within):
        """Nothing more from the client, and TCP ended by it within `within` seconds."""
        started = time.monotonic()
        try:
            extra = await asyncio.wait_for(self.reader.read(1), within)
        except (ConnectionError, ssl.SSLError):
            extra = b""
        except asyncio.TimeoutError:
            raise Fail(f"the client kept TCP open for more than {within} s")
        if extra:
            raise Fail("the client sent bytes after the closing handshake")
        return time.monotonic() - started


def text_cases():
    for cid, n in (("1.1.1", 0), ("1.1.2", 125), ("1.1.3", 126), ("1.1.4", 127), ("1.1.5", 128),
                   ("1.1.6", 65535), ("1.1.7", 65536)):
        @case(cid, f"text message of {n} bytes")
        async def run(s, n=n):
            await s.send_message("*" * n)
            await s.expect_echo("*" * n)
            await s.finish()

    @case("1.1.8", "text message of 65536 bytes, delivered in 997-byte chops")
    async def chopped(s):
        await s.send(s.frame(1, b"*" * 65536), chop=997, pause=0.0005)
        await s.expect_echo("*" * 65536)
        await s.finish()

    for cid, n in (("1.2.1", 0), ("1.2.2", 125), ("1.2.3", 126), ("1.2.4", 127), ("1.2.6", 65535),
                   ("1.2.7", 65536)):
        @case(cid, f"binary message of {n} bytes")
        async def run(s, n=n):
            data = bytes((i * 7) % 256 for i in range(n))
            await s.send_message(data)
            await s.expect_echo(data)
            await s.finish()

    @case("1.3.1", "lengths sent with a non-minimal encoding are still decoded")
    async def nonminimal(s):
        await s.send(s.frame(1, b"hello", length_bytes=8))
        await s.expect_echo("hello")
        await s.finish()


def ping_cases():
    @case("2.1", "ping without payload is answered by an empty pong")
    async def empty(s):
        await s.send_frame(9, b"")
        frame = await s.recv_frame()
        if not frame or frame[2] != 10 or frame[3] != b"":
            raise Fail(f"wanted an empty pong, got {frame}")
        await s.finish()

    @case("2.2", "ping with 125 bytes of binary payload gets the same payload back")
    async def full(s):
        payload = bytes(range(125))
        await s.send_frame(9, payload)
        frame = await s.recv_frame()
        if not frame or frame[2] != 10 or frame[3] != payload:
            raise Fail("the pong does not carry the ping's payload")
        await s.finish()

    @case("2.3", "ping with 126 bytes is a protocol error", exit_code=1)
    async def long(s):
        await s.send_frame(9, b"x" * 126)
        await s.expect_close(1002)

    @case("2.4", "ten pings, ten pongs in order")
    async def many(s):
        for i in range(10):
            await s.send_frame(9, b"ping %d" % i)
        for i in range(10):
            frame = await s.recv_frame()
            if not frame or frame[2] != 10 or frame[3] != b"ping %d" % i:
                raise Fail(f"pong {i} missing or out of order")
        await s.finish()

    @case("2.5", "a ping delivered byte by byte is answered")
    async def chopped(s):
        await s.send(s.frame(9, b"chopped ping"), chop=1)
        frame = await s.recv_frame()
        if not frame or frame[3] != b"chopped ping":
            raise Fail("no pong for the chopped ping")
        await s.finish()

    @case("2.6", "an unsolicited pong is ignored")
    async def unsolicited(s):
        await s.send_frame(10, b"unasked")
        await s.send_message("after the pong")
        await s.expect_echo("after the pong")
        await s.finish()


def reserved_cases():
    for rsv in range(1, 8):
        @case(f"3.{rsv}", f"reserved bits {rsv:03b} on a text frame", exit_code=1)
        async def run(s, rsv=rsv):
            await s.send_message("valid first")
            await s.expect_echo("valid first")
            await s.send_frame(1, b"bad", rsv=rsv)
            await s.expect_close(1002)

    @case("3.8", "reserved bits on a ping", exit_code=1)
    async def ping(s):
        await s.send_frame(9, b"x", rsv=2)
        await s.expect_close(1002)

    for opcode in (3, 4, 5, 6, 7, 11, 12, 13, 14, 15):
        @case(f"4.{opcode}", f"reserved opcode {opcode}", exit_code=1)
        async def run(s, opcode=opcode):
            await s.send_message("valid first")
            await s.expect_echo("valid first")
            await s.send_frame(opcode, b"payload")
            await s.expect_close(1002)


def fragmentation_cases():
    @case("5.1", "a fragmented ping is a protocol error", exit_code=1)
    async def frag_ping(s):
        await s.send_frame(9, b"frag", fin=False)
        await s.send_frame(0, b"ment")
        await s.expect_close(1002)

    @case("5.2", "a fragmented pong is a protocol error", exit_code=1)
    async def frag_pong(s):
        await s.send_frame(10, b"frag", fin=False)
        await s.expect_close(1002)

    @case("5.3", "text in two fragments")
    async def two(s):
        await s.send_frame(1, b"frag", fin=False)
        await s.send_frame(0, b"ment")
        await s.expect_echo("fragment")
        await s.finish()

    @case("5.4", "text in fragments with a ping between them")
    async def with_ping(s):
        await s.send_frame(1, b"frag", fin=False)
        await s.send_frame(9, b"between")
        await s.send_frame(0, b"ment")
        frame = await s.recv_frame()
        if not frame or frame[2] != 10 or frame[3] != b"between":
            raise Fail("the ping between fragments was not answered first")
        await s.expect_echo("fragment")
        await s.finish()

    @case("5.5", "text in 100 one-byte fragments, each in its own write")
    async def many(s):
        text = "abcdefghij" * 10
        for i, ch in enumerate(text):
            await s.send_frame(1 if i == 0 else 0, ch.encode(), fin=i == len(text) - 1)
            await asyncio.sleep(0.001)
        await s.expect_echo(text)
        await s.finish()

    @case("5.6", "binary in fragments with pings and pongs between")
    async def binary(s):
        await s.send_frame(2, b"\x00\x01", fin=False)
        await s.send_frame(10, b"")
        await s.send_frame(0, b"\x02", fin=False)
        await s.send_frame(9, b"p")
        await s.send_frame(0, b"\x03")
        await s.expect_echo(b"\x00\x01\x02\x03")
        await s.finish()

    @case("5.7", "a continuation with nothing to continue", exit_code=1)
    async def orphan(s):
        await s.send_frame(0, b"orphan")
        await s.expect_close(1002)

    @case("5.8", "a final continuation with nothing to continue, after a whole message", exit_code=1)
    async def orphan_after(s):
        await s.send_message("whole")
        await s.expect_echo("whole")
        await s.send_frame(0, b"orphan")
        await s.expect_close(1002)

    @case("5.9", "a new text frame while a message is fragmented", exit_code=1)
    async def interleave(s):
        await s.send_frame(1, b"first", fin=False)
        await s.send_frame(1, b"second")
        await s.expect_close(1002)

    @case("5.10", "fragments of an empty text message")
    async def empty(s):
        await s.send_frame(1, b"", fin=False)
        await s.send_frame(0, b"", fin=False)
        await s.send_frame(0, b"")
        await s.expect_echo("")
        await s.finish()


INVALID_UTF8 = [
    b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64",
    b"\xc0\x80", b"\xc1\xbf", b"\xe0\x80\xaf", b"\xf0\x80\x80\xaf", b"\xf8\x88\x80\x80\xaf",
    b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xf4\x90\x80\x80", b"\xfe", b"\xff", b"\x80", b"\xbf",
    b"\xc0", b"\xe0\x80", b"\xf0\x80\x80", b"\xce\xba\xe1\xbd",
]
VALID_UTF8 = ["κόσμε", "\u0080", "\u07ff", "\u0800", "\uffff", "\U00010000", "\U0010ffff",
              "\ud7ff", "\ue000", "\ufffd", "", "emoji 😀 and € and ascii"]


def utf8_cases():
    for index, text in enumerate(VALID_UTF8):
        @case(f"6.1.{index + 1}", f"valid UTF-8 {text.encode()!r}, whole and in one-byte fragments")
        async def valid(s, text=text):
            await s.send_message(text)
            await s.expect_echo(text)
            raw = text.encode()
            if raw:
                for i in range(len(raw)):
                    await s.send_frame(1 if i == 0 else 0, raw[i:i + 1], fin=i == len(raw) - 1)
                await s.expect_echo(text)
            await s.finish()

    for index, raw in enumerate(INVALID_UTF8):
        @case(f"6.2.{index + 1}", f"invalid UTF-8 {raw!r} in one frame", exit_code=1)
        async def whole(s, raw=raw):
            await s.send_frame(1, raw)
            await s.expect_close(1007)

        @case(f"6.3.{index + 1}", f"invalid UTF-8 {raw!r} in one-byte fragments", exit_code=1)
        async def fragments(s, raw=raw):
            for i in range(len(raw)):
                await s.send_frame(1 if i == 0 else 0, raw[i:i + 1], fin=i == len(raw) - 1)
            await s.expect_close(1007)

    @case("6.4.1", "fail fast: invalid bytes in the middle of a frame, the rest never sent", exit_code=1)
    async def fast_frame(s):
        payload = "κόσμε".encode() + b"\xf4\x90\x80\x80" + b"edited" * 20
        frame = s.frame(1, payload)
        # The header and the text up to just past the bad bytes; the frame stays incomplete.
        await s.send(frame[:2 + len("κόσμε".encode()) + 4])
        await s.expect_close(1007, timeout=3)

    @case("6.4.2", "fail fast: invalid fragment of a message whose end never comes", exit_code=1)
    async def fast_fragment(s):
        await s.send_frame(1, "κόσμε".encode(), fin=False)
        await s.send_frame(0, b"\xf4\x90\x80\x80", fin=False)
        await s.expect_close(1007, timeout=3)

    @case("6.4.3", "fail fast: invalid bytes in a frame delivered in chops", exit_code=1)
    async def fast_chops(s):
        payload = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5" + b"\xf4\x90\x80\x80" + b"\x65\x64"
        frame = s.frame(1, payload)
        # Up to and including 0x90, the first byte that cannot follow 0xF4; the frame stays incomplete.
        await s.send(frame[:2 + 11 + 2])
        await s.expect_close(1007, timeout=3)


def close_cases():
    for code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999):
        @case(f"7.1.{code}", f"server closes with {code}: the client answers {code}")
        async def valid(s, code=code):
            await s.finish(code, b"reason")

    for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535):
        @case(f"7.2.{code}", f"close code {code} is not allowed on the wire", exit_code=1)
        async def invalid(s, code=code):
            await s.send_frame(8, struct.pack("!H", code))
            await s.expect_close(1002)

    @case("7.3.1", "an empty close is answered with a close")
    async def empty(s):
        await s.send_frame(8, b"")
        got = await s.recv_message()
        if not got or got[0] != "close" or got[1] not in (None, 1000):
            raise Fail(f"wanted an empty or 1000 close, got {got}")
        await s.close_tcp()

    @case("7.3.2", "a one-byte close payload is a protocol error", exit_code=1)
    async def one_byte(s):
        await s.send_frame(8, b"\x03")
        await s.expect_close(1002)

    @case("7.3.3", "a close reason of 123 bytes is fine")
    async def long_reason(s):
        await s.finish(1000, b"r" * 123)

    @case("7.3.4", "a close reason with invalid UTF-8", exit_code=1)
    async def bad_reason(s):
        await s.send_frame(8, struct.pack("!H", 1000) + b"\xce\xba\xe1\xbd\xed\xa0\x80")
        await s.expect_close(1007)

    @case("7.3.5", "a close payload of 126 bytes is a protocol error", exit_code=1)
    async def long_close(s):
        await s.send_frame(8, struct.pack("!H", 1000) + b"r" * 124)
        await s.expect_close(1002)

    @case("7.4.1", "nothing is sent after the client's close answer")
    async def nothing_after(s):
        await s.send_frame(8, struct.pack("!H", 1000))
        await s.send_message("sent after our close")
        await s.send_frame(9, b"ping after close")
        got = await s.recv_message()
        if not got or got[0] != "close":
            raise Fail(f"wanted the close answer first, got {got}")
        try:
            frame = await s.recv_frame(timeout=1)
        except asyncio.TimeoutError:
            frame = None  # silence is what we want
        if frame is not None:
            raise Fail("the client sent a frame after its close")
        await s.close_tcp()

    @case("7.4.2", "the client ends TCP itself when the server does not, after the handshake")
    async def client_ends_tcp(s):
        await s.send_frame(8, struct.pack("!H", 1000))
        got = await s.recv_message()
        if not got or got[0] != "close":
            raise Fail("no close answer")
        # We deliberately keep TCP open: the client must give up on us within its close timeout.
        await s.expect_eof(within=8)

    @case("7.4.3", "the client ends TCP itself after failing the connection, if the server does not",
          exit_code=1)
    async def client_ends_after_fail(s):
        await s.send_frame(1, b"\xff")
        got = await s.recv_message()
        if not got or got[0] != "close" or got[1] != 1007:
            raise Fail(f"wanted close 1007, got {got}")
        await s.expect_eof(within=8)

    @case("7.5.1", "the server drops TCP without a close frame", exit_code=1)
    async def dropped(s):
        await s.send_message("hello")
        await s.expect_echo("hello")
        s.writer.transport.abort()


def limit_cases():
    for cid, size in (("9.1.1", 1 << 20), ("9.1.2", 4 << 20), ("9.1.3", 16 << 20)):
        @case(cid, f"text message of {size >> 20} MiB")
        async def big(s, size=size):
            text = "*" * size
            await s.send_message(text)
            await s.expect_echo(text, timeout=60)
            await s.finish()

    @case("9.2.1", "a message over the client's limit closes with 1009", args=["--max-message-size", "65536"],
          exit_code=1)
    async def too_big(s):
        await s.send_message("*" * 65537)
        await s.expect_close(1009)

    @case("9.2.2", "a frame header announcing more than the limit closes with 1009 at once",
          args=["--max-message-size", "65536"], exit_code=1)
    async def header_too_big(s):
        await s.send(struct.pack("!BBQ", 0x82, 127, 1 << 40))
        await s.expect_close(1009)

    @case("9.2.3", "fragments adding up to more than the limit close with 1009",
          args=["--max-message-size", "65536"], exit_code=1)
    async def fragments_too_big(s):
        await s.send_frame(2, b"\x00" * 40000, fin=False)
        await s.send_frame(0, b"\x00" * 40000)
        await s.expect_close(1009)

    @case("9.3.1", "a silent server is given up on", args=["--ping-interval", "0.5", "--ping-timeout", "0.5"],
          exit_code=1)
    async def silent(s):
        # Read nothing, answer nothing: the client's pings go unanswered.
        s.writer.transport.pause_reading()
        await asyncio.sleep(4)


DEFLATE_CASES = [
    ("12.1", "default parameters", {}),
    ("12.2", "server_no_context_takeover", {"server_no_context_takeover": True}),
    ("12.3", "client_no_context_takeover", {"client_no_context_takeover": True}),
    ("12.4", "server_max_window_bits=9", {"server_max_window_bits": 9}),
    ("12.5", "server_max_window_bits=12", {"server_max_window_bits": 12}),
    ("12.6", "client_max_window_bits=9", {"client_max_window_bits": 9}),
    ("12.7", "client_max_window_bits=11", {"client_max_window_bits": 11}),
    ("12.8", "all four", {"server_no_context_takeover": True, "client_no_context_takeover": True,
                          "server_max_window_bits": 10, "client_max_window_bits": 10}),
]


def compression_cases():
    messages = ['{"notificationType":"callHungUpEvent","notification":{"callId":"%d","pad":"%s"}}'
                % (i, "abcabc" * (i * 30)) for i in range(12)] + [bytes(range(256)) * 40, "short"]
    for cid, title, params in DEFLATE_CASES:
        @case(cid, f"permessage-deflate, {title}: compressed echo both ways",
              handshake={"deflate": params})
        async def echo(s, params=params):
            if "permessage-deflate" not in s.request_headers.get("sec-websocket-extensions", ""):
                raise Fail("the client did not offer permessage-deflate")
            for message in messages:
                await s.send_message(message, compressed=True)
                await s.expect_echo(message)
            await s.finish()

        @case(cid + ".f", f"permessage-deflate, {title}: fragmented compressed messages",
              handshake={"deflate": params})
        async def fragmented(s, params=params):
            for message in messages[:6]:
                await s.send_message(message, compressed=True, fragments=3)
                await s.expect_echo(message)
            await s.finish()

    @case("12.9", "compressed and uncompressed messages mixed", handshake={"deflate": {}})
    async def mixed(s):
        for i in range(10):
            text = "mixed %d " % i * 50
            await s.send_message(text, compressed=i % 2 == 0)
            await s.expect_echo(text)
        await s.finish()

    @case("13.1", "a compression bomb closes with 1009", handshake={"deflate": {}},
          args=["--max-message-size", "1048576"], exit_code=1)
    async def bomb(s):
        await s.send_message(bytes(64 << 20), compressed=True)
        await s.expect_close(1009)

    @case("13.2", "RSV1 on a continuation frame", handshake={"deflate": {}}, exit_code=1)
    async def rsv1_continuation(s):
        await s.send_frame(1, s.compress(b"abc"), fin=False, rsv=4)
        await s.send_frame(0, b"", rsv=4)
        await s.expect_close(1002)

    @case("13.3", "RSV1 without the extension negotiated", exit_code=1)
    async def rsv1_without(s):
        await s.send_frame(1, zlib.compress(b"abc")[2:-4], rsv=4)
        await s.expect_close(1002)

    @case("13.4", "a compressed message that is not valid deflate data", handshake={"deflate": {}}, exit_code=1)
    async def corrupt(s):
        await s.send_frame(1, b"\xff\xff\xff\xff\xff\x00", rsv=4)
        await s.expect_close(1002)

    @case("13.5", "compressed text that inflates to invalid UTF-8", handshake={"deflate": {}}, exit_code=1)
    async def bad_text(s):
        await s.send_frame(1, s.compress(b"ok \xed\xa0\x80"), rsv=4)
        await s.expect_close(1007)

    @case("13.6", "compressed control frame", handshake={"deflate": {}}, exit_code=1)
    async def compressed_ping(s):
        await s.send_frame(9, b"", rsv=4)
        await s.expect_close(1002)

    @case("13.7", "no compression offered when told not to", args=["--no-compression"])
    async def not_offered(s):
        if "sec-websocket-extensions" in s.request_headers:
            raise Fail("the client offered an extension despite --no-compression")
        await s.send_message("plain")
        await s.expect_echo("plain")
        await s.finish()


def handshake_cases():
    async def refused(s):
        # The client must not send a single frame after a bad 101.
        frame = await s.recv_frame(timeout=3)
        if frame is not None:
            raise Fail("the client sent a frame after an invalid handshake")

    failures = [
        ("14.1", "status 200 instead of 101", {"status": "200 OK"}),
        ("14.2", "status 403", {"status": "403 Forbidden"}),
        ("14.3", "wrong Sec-WebSocket-Accept", {"bad_accept": True}),
        ("14.4", "no Upgrade header", {"no_upgrade": True}),
        ("14.5", "no Connection header", {"no_connection": True}),
        ("14.6", "an extension that was not offered", {"extension": "x-webkit-deflate-frame"}),
        ("14.7", "a subprotocol that was not offered", {"protocol": "chat"}),
        ("14.8", "server_max_window_bits=16", {"extension": "permessage-deflate; server_max_window_bits=16"}),
        ("14.9", "server_max_window_bits=7", {"extension": "permessage-deflate; server_max_window_bits=7"}),
        ("14.10", "an unknown permessage-deflate parameter", {"extension": "permessage-deflate; foo=1"}),
        ("14.11", "a parameter given twice",
         {"extension": "permessage-deflate; server_no_context_takeover; server_no_context_takeover"}),
        ("14.12", "a value on server_no_context_takeover",
         {"extension": "permessage-deflate; server_no_context_takeover=1"}),
        ("14.13", "permessage-deflate twice", {"extension": "permessage-deflate, permessage-deflate"}),
    ]
    for cid, title, spec in failures:
        case(cid, f"handshake failure: {title}", exit_code=1, handshake=spec)(refused)

    @case("14.20", "permessage-deflate accepted although --no-compression", args=["--no-compression"],
          exit_code=1, handshake={"extension": "permessage-deflate"})
    async def unoffered_deflate(s):
        await refused(s)

    @case("14.21", "frames in the same segment as the 101 response are not lost",
          handshake={"trailing": b"\x81\x05hello"})
    async def same_segment(s):
        await s.expect_echo("hello")
        await s.finish()


for register in (text_cases, ping_cases, reserved_cases, fragmentation_cases, utf8_cases, close_cases,
                 limit_cases, compression_cases, handshake_cases):
    register()


async def run_case(spec, client, tls, ca, verbose):
    result = {"error": None}
    done = asyncio.Event()

    async def handle(reader, writer):
        session = Session(reader, writer, spec)
        try:
            await session.handshake()
            await spec["fn"](session)
        except Fail as failure:
            result["error"] = str(failure)
        except (asyncio.TimeoutError, asyncio.IncompleteReadError):
            result["error"] = result["error"] or "timed out waiting for the client"
        except (ConnectionError, ssl.SSLError) as error:
            result["error"] = result["error"] or f"connection error: {error}"
        finally:
            await session.close_tcp()
            done.set()

    context = None
    if tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.configure_cert(context)
    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context, limit=1 << 26)
    port = server.sockets[0].getsockname()[1]
    url = f"{'wss://localhost' if tls else 'ws://127.0.0.1'}:{port}/{spec['id']}"
    args = [client, "ws", "echo", url] + spec["args"] + (["--ca-file", ca] if tls else [])
    process = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.DEVNULL,
                                                   stderr=asyncio.subprocess.PIPE)
    try:
        status = await asyncio.wait_for(process.wait(), 90)
    except asyncio.TimeoutError:
        process.kill()
        status = "hung"
    try:
        await asyncio.wait_for(done.wait(), 10)
    except asyncio.TimeoutError:
        result["error"] = result["error"] or "the client never connected"
    server.close()
    stderr = (await process.stderr.read()).decode(errors="replace").strip()
    if result["error"] is None and status != spec["exit"]:
        result["error"] = f"exit status {status}, wanted {spec['exit']} ({stderr})"
    if verbose and stderr:
        result["stderr"] = stderr
    return result


async def main(args):
    tls, ca = None, None
    if args.tls:
        import trustme
        authority = trustme.CA()
        tls = authority.issue_cert("localhost")
        ca = os.path.join(tempfile.mkdtemp(), "conformance-ca.pem")
        authority.cert_pem.write_to_path(ca)
    selected = [c for c in CASES if not args.only or any(c["id"].startswith(p) for p in args.only)]
    passed = failed = 0
    semaphore = asyncio.Semaphore(args.jobs)

    async def one(spec):
        async with semaphore:
            return spec, await run_case(spec, args.client, tls, ca, args.verbose)

    for spec, result in await asyncio.gather(*(one(spec) for spec in selected)):
        ok = result["error"] is None
        passed += ok
        failed += not ok
        if args.verbose or not ok:
            line = f"{'OK  ' if ok else 'FAIL'} {spec['id']:<10} {spec['title']}"
            if not ok:
                line += f"\n     -> {result['error']}"
            if args.verbose and result.get("stderr"):
                line += f"\n     client: {result['stderr'].splitlines()[-1]}"
            print(line, flush=True)
    print(f"conformance ({'wss' if args.tls else 'ws'}): {passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--client", required=True, help="the callrelay binary")
    parser.add_argument("--tls", action="store_true", help="serve every case over TLS (wss://)")
    parser.add_argument("--only", nargs="*", help="case id prefixes to run")
    parser.add_argument("--jobs", type=int, default=8, help="cases run at once")
    parser.add_argument("--verbose", action="store_true")
    sys.exit(asyncio.run(main(parser.parse_args())))
