# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Report workspace activity with an agent token over Coder's agent RPC channel (v2.13+).

``GET /api/v2/workspaceagents/me/rpc`` is a WebSocket carrying yamux, carrying dRPC, carrying protobuf. This
is the subset one unary ``UpdateStats`` call needs, standard library only so it runs in any workspace image:
a WebSocket client (masked binary frames, ping/pong, close; no compression offered, since v2.13-v2.18 would
negotiate it, and no Origin header, which Coder checks against Host), one yamux stream (ping answers, GoAway;
our bytes stay far below the 256 KiB window), a unary dRPC call and the two protobuf messages.

The token travels only in the ``Coder-Session-Token`` header, and no ``AgentRPCError`` message contains it.
Proxies: ``http_proxy``/``https_proxy``/``no_proxy`` are honoured with an HTTP CONNECT tunnel (Basic
credentials from the proxy URL); ``https://`` and SOCKS proxy URLs are not supported and raise.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import ssl
import struct
import time
from urllib.parse import unquote, urlencode, urlsplit
from urllib.request import getproxies_environment, proxy_bypass_environment

from ._errors import CoderError, redact

UPDATE_STATS = "/coder.agent.v2.Agent/UpdateStats"
RPC_PATH = "/workspaceagents/me/rpc"
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
WS_CONT, WS_TEXT, WS_BINARY, WS_CLOSE, WS_PING, WS_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
YAMUX_DATA, YAMUX_WINDOW_UPDATE, YAMUX_PING, YAMUX_GO_AWAY = 0, 1, 2, 3
FLAG_SYN, FLAG_ACK, FLAG_FIN, FLAG_RST = 1, 2, 4, 8
YAMUX_WINDOW = 256 * 1024
GO_AWAY_REASONS = {0: "normal", 1: "protocol error", 2: "internal error"}
KIND_INVOKE, KIND_MESSAGE, KIND_ERROR, KIND_CANCEL, KIND_CLOSE, KIND_CLOSE_SEND = 1, 2, 3, 4, 5, 6
MAX_HTTP_BYTES = 64 * 1024  # bound on a response head or an error body
# The answer is in hand when teardown starts: a server slow to close must not turn success into a hang.
TEARDOWN_SECONDS = 5.0
CLIENT_STREAM = 1  # yamux clients use odd ids; we open exactly one stream

_random = os.urandom  # replaced by tests for deterministic keys and masks


class AgentRPCError(CoderError):
    """The agent RPC call failed; ``status`` is the HTTP status when Coder refused the upgrade."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.message = message
        self.status = status


class _Incomplete(AgentRPCError):
    """More bytes are needed to parse a frame (not an error while data keeps coming)."""


# ---------------------------------------------------------------------- protobuf
def encode_varint(value):
    """Unsigned LEB128; negative int64 values become their 64-bit two's complement, as protobuf does."""
    value &= (1 << 64) - 1
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def decode_varint(data, pos):
    """Return (value, next position); raise _Incomplete when the buffer ends inside the varint."""
    result = shift = 0
    while True:
        if pos >= len(data):
            raise _Incomplete("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise AgentRPCError("protocol error: varint longer than 64 bits")


def encode_update_stats_request(connection_count=1):
    """UpdateStatsRequest{stats{connection_count}}; None sends no stats. proto3 omits zero fields, so the
    session counts (kept 0 on purpose: they would invent IDE or SSH usage in insights) take no bytes."""
    if connection_count is None:
        return b""
    stats = b"\x10" + encode_varint(int(connection_count)) if connection_count else b""
    return b"\x0a" + encode_varint(len(stats)) + stats


def _fields(data):
    """(field number, wire type, value) of each field; unknown fields are skipped by the caller (proto3)."""
    pos = 0
    while pos < len(data):
        key, pos = decode_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = decode_varint(data, pos)
        elif wire in (1, 2, 5):
            size = {1: 8, 5: 4}.get(wire)
            if size is None:
                size, pos = decode_varint(data, pos)
            value = bytes(data[pos:pos + size])
            if len(value) != size:
                raise AgentRPCError("protocol error: truncated protobuf field")
            pos += size
        else:
            raise AgentRPCError(f"protocol error: unsupported protobuf wire type {wire}")
        yield number, wire, value


def decode_update_stats_response(data):
    """UpdateStatsResponse.report_interval (google.protobuf.Duration) in seconds; absent means 0."""
    seconds = nanos = 0
    try:
        for number, wire, value in _fields(data):
            if number == 1 and wire == 2:
                for inner, inner_wire, inner_value in _fields(value):
                    signed = inner_value - (1 << 64) if inner_value >= 1 << 63 else inner_value  # two's complement
                    if inner == 1 and inner_wire == 0:
                        seconds = signed
                    elif inner == 2 and inner_wire == 0:
                        nanos = signed  # int32 negatives are sign-extended to 64 bits
    except _Incomplete:
        raise AgentRPCError("protocol error: truncated UpdateStatsResponse") from None
    return seconds + nanos / 1e9


# ---------------------------------------------------------------------- dRPC
def drpc_frame(kind, message_id, payload=b"", stream_id=1, done=True):
    """control byte (done bit, kind << 1) | varint stream id | varint message id | varint length | payload."""
    return (bytes([(kind << 1) | int(done)]) + encode_varint(stream_id) + encode_varint(message_id)
            + encode_varint(len(payload)) + payload)


def drpc_unary_request(rpc, message):
    """What drpcconn.Invoke writes in one flush: Invoke (1, 1), Message (1, 2), CloseSend (1, 3)."""
    return (drpc_frame(KIND_INVOKE, 1, rpc.encode("utf-8")) + drpc_frame(KIND_MESSAGE, 2, message)
            + drpc_frame(KIND_CLOSE_SEND, 3))


def parse_drpc_frame(buf):
    """((control, stream id, message id, payload), size) from the start of ``buf``, or None if incomplete."""
    if not buf:
        return None
    try:
        stream_id, pos = decode_varint(buf, 1)
        message_id, pos = decode_varint(buf, pos)
        length, pos = decode_varint(buf, pos)
    except _Incomplete:
        return None
    if len(buf) < pos + length:
        return None
    return (buf[0], stream_id, message_id, bytes(buf[pos:pos + length])), pos + length


class DrpcReply:
    """Collects the server's packets of one unary call (dRPC stream 1) from a stream of bytes."""

    def __init__(self):
        self.buffer = bytearray()
        self.packet = bytearray()
        self.last_id = 0
        self.message = None
        self.finished = False

    def feed(self, data):
        """Add bytes; return True once the call is over (CloseSend or Close seen after the Message)."""
        self.buffer += data
        parsed = parse_drpc_frame(self.buffer)
        while parsed is not None:
            frame, size = parsed
            del self.buffer[:size]
            self._frame(*frame)
            parsed = parse_drpc_frame(self.buffer)
        return self.finished

    def _frame(self, control, stream_id, message_id, payload):
        kind = (control >> 1) & 0x3F
        if control & 0x80 and not KIND_INVOKE <= kind <= KIND_CLOSE_SEND:
            return  # the control bit marks kinds an older reader may ignore
        if stream_id != 1 or message_id < self.last_id:
            raise AgentRPCError(f"protocol error: unexpected dRPC frame ids ({stream_id}, {message_id})")
        if message_id != self.last_id:
            self.packet.clear()  # a new packet starts; an unfinished older one is dropped, as drpcwire does
            self.last_id = message_id
        self.packet += payload
        if control & 1:
            self._packet(kind, bytes(self.packet))
            self.packet.clear()

    def _packet(self, kind, payload):
        if kind == KIND_ERROR:
            code = int.from_bytes(payload[:8], "big") if len(payload) >= 8 else 0
            text = payload[8:].decode("utf-8", "replace")
            suffix = f" (dRPC error code {code})" if code else ""
            raise AgentRPCError(f"Coder answered UpdateStats with an error: {text}{suffix}")
        if kind == KIND_MESSAGE and self.message is None:
            self.message = payload
        elif kind in (KIND_CLOSE_SEND, KIND_CLOSE, KIND_CANCEL):
            if self.message is None:
                raise AgentRPCError("protocol error: Coder ended the dRPC call without a response")
            self.finished = True


# ---------------------------------------------------------------------- yamux and WebSocket frames
def yamux_header(frame_type, flags, stream_id, length):
    """version 0 | type | flags | stream id | length (body size, window delta, ping value or GoAway code)."""
    return struct.pack(">BBHII", 0, frame_type, flags, stream_id, length)


def build_call(stream_id, rpc, message):
    """Open a yamux stream (WINDOW_UPDATE SYN, delta 0) and send the whole dRPC request in one DATA frame."""
    body = drpc_unary_request(rpc, message)
    return (yamux_header(YAMUX_WINDOW_UPDATE, FLAG_SYN, stream_id, 0)
            + yamux_header(YAMUX_DATA, 0, stream_id, len(body)) + body)


def mask_payload(payload, key):
    """XOR with the repeated 4-byte key; one big-integer XOR avoids a Python loop per byte."""
    if not payload:
        return b""
    repeated = (key * (len(payload) // 4 + 1))[:len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(len(payload), "big")


def ws_frame(opcode, payload, mask_key=None):
    """One final frame as a client must send it: always masked (RFC 6455 section 5.3)."""
    key = _random(4) if mask_key is None else mask_key
    size = len(payload)
    if size < 126:
        head = struct.pack(">BB", 0x80 | opcode, 0x80 | size)
    elif size < 65536:
        head = struct.pack(">BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        head = struct.pack(">BBQ", 0x80 | opcode, 0x80 | 127, size)
    return head + key + mask_payload(payload, key)


def parse_ws_frame(buf):
    """((fin, opcode, payload), size) from the start of ``buf``, or None if incomplete."""
    if len(buf) < 2:
        return None
    fin, opcode, masked, size, pos = buf[0] >> 7, buf[0] & 0x0F, buf[1] >> 7, buf[1] & 0x7F, 2
    if size >= 126:
        extra = 2 if size == 126 else 8
        if len(buf) < pos + extra:
            return None
        size, pos = int.from_bytes(buf[pos:pos + extra], "big"), pos + extra
    key = b""
    if masked:  # servers must not mask, but unmasking costs nothing
        key, pos = bytes(buf[pos:pos + 4]), pos + 4
    if len(buf) < pos + size:
        return None
    payload = bytes(buf[pos:pos + size])
    return (fin, opcode, mask_payload(payload, key) if masked else payload), pos + size


# ---------------------------------------------------------------------- connection
class Connection:
    """The WebSocket as one byte stream (what websocket.NetConn gives Go) and the yamux frames on it."""

    def __init__(self, sock, deadline, what="Coder"):
        self.sock = sock
        self.deadline = deadline
        self.what = what
        self.ws_buffer = bytearray()
        self.stream = bytearray()
        self.close_sent = False
        self.peer_closed = False

    def remaining(self):
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise AgentRPCError(f"timed out waiting for {self.what}")
        return remaining

    def _io(self, method, argument):
        self.sock.settimeout(self.remaining())  # each wait gets what is left of the overall timeout
        try:
            return method(argument)
        except socket.timeout:
            raise AgentRPCError(f"timed out waiting for {self.what}") from None

    def send(self, data):
        self._io(self.sock.sendall, data)

    def recv(self):
        data = self._io(self.sock.recv, 65536)
        if not data:
            raise AgentRPCError(f"{self.what} closed the connection unexpectedly")
        return data

    def send_ws(self, opcode, payload):
        self.send(ws_frame(opcode, payload))

    def next_ws_frame(self):
        """The next data or close frame; pings are answered on the way (coderd sends none, proxies may)."""
        while True:
            parsed = parse_ws_frame(self.ws_buffer)
            if parsed is None:
                self.ws_buffer += self.recv()
                continue
            (_fin, opcode, payload), size = parsed
            del self.ws_buffer[:size]
            if opcode == WS_PING:
                self.send_ws(WS_PONG, payload)
            elif opcode != WS_PONG:
                return opcode, payload

    def read_stream(self):
        """Bytes of the next binary message: message boundaries carry no meaning on this channel."""
        opcode, payload = self.next_ws_frame()
        if opcode in (WS_BINARY, WS_CONT):
            return payload
        if opcode == WS_CLOSE:
            self.peer_closed = True
            code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            reason = payload[2:].decode("utf-8", "replace")
            try:
                self.close(1000 if code in (1005, 1006, 1015) else code)  # echo; those codes cannot be sent
            except (AgentRPCError, OSError):
                pass
            raise AgentRPCError(f"{self.what} closed the WebSocket (status {code}{': ' + reason if reason else ''})")
        raise AgentRPCError(f"protocol error: unexpected WebSocket opcode {opcode} (text is not used here)")

    def read_yamux(self):
        """The next yamux frame as (type, flags, stream id, length, body)."""
        while len(self.stream) < 12:
            self.stream += self.read_stream()
        version, frame_type, flags, stream_id, length = struct.unpack(">BBHII", bytes(self.stream[:12]))
        if version != 0 or frame_type > YAMUX_GO_AWAY:
            raise AgentRPCError(f"protocol error: not a yamux frame (version {version}, type {frame_type})")
        if frame_type == YAMUX_DATA and length > YAMUX_WINDOW:
            raise AgentRPCError("protocol error: yamux DATA frame larger than the receive window")
        end = 12 + (length if frame_type == YAMUX_DATA else 0)
        while len(self.stream) < end:
            self.stream += self.read_stream()
        body = bytes(self.stream[12:end])
        del self.stream[:end]
        return frame_type, flags, stream_id, length, body

    def close(self, code=1000):
        """Send our close frame once, then wait for the peer's (RFC 6455 closing handshake)."""
        if not self.close_sent:
            self.close_sent = True
            self.send_ws(WS_CLOSE, struct.pack(">H", code))
        while not self.peer_closed:
            opcode, _payload = self.next_ws_frame()
            self.peer_closed = opcode == WS_CLOSE


def await_reply(conn, stream_id):
    """Read yamux frames until the dRPC reply on our stream is complete; return the response message."""
    reply = DrpcReply()
    while True:
        frame_type, flags, frame_stream, length, body = conn.read_yamux()
        if frame_type == YAMUX_PING:
            if flags & FLAG_SYN:  # a missed answer would make the server drop the session
                conn.send_ws(WS_BINARY, yamux_header(YAMUX_PING, FLAG_ACK, 0, length))
            continue
        if frame_type == YAMUX_GO_AWAY:
            reason = GO_AWAY_REASONS.get(length, str(length))
            raise AgentRPCError(f"{conn.what} ended the yamux session (GoAway: {reason}) before answering")
        if frame_stream != stream_id:
            continue  # yamux discards frames for unknown streams
        if flags & FLAG_RST:
            raise AgentRPCError(f"{conn.what} reset the yamux stream before answering")
        if frame_type == YAMUX_DATA and reply.feed(body):
            return reply.message
        if flags & FLAG_FIN:
            raise AgentRPCError(f"{conn.what} closed the yamux stream before answering")


def teardown(conn, stream_id):
    """FIN our stream, wait for the server's FIN, close with 1000; the answer is in hand, so errors are ignored."""
    conn.deadline = min(conn.deadline, time.monotonic() + TEARDOWN_SECONDS)
    try:
        conn.send_ws(WS_BINARY, yamux_header(YAMUX_WINDOW_UPDATE, FLAG_FIN, stream_id, 0))
        while True:
            frame_type, flags, frame_stream, length, _body = conn.read_yamux()
            if frame_type == YAMUX_PING and flags & FLAG_SYN:
                conn.send_ws(WS_BINARY, yamux_header(YAMUX_PING, FLAG_ACK, 0, length))
            elif frame_type == YAMUX_GO_AWAY or (frame_stream == stream_id and flags & (FLAG_FIN | FLAG_RST)):
                break
    except (AgentRPCError, OSError):
        pass
    close_quietly(conn)


def close_quietly(conn):
    """Best-effort WebSocket close with status 1000, bounded by the teardown time."""
    if conn.peer_closed:
        return
    conn.deadline = min(conn.deadline, time.monotonic() + TEARDOWN_SECONDS)
    try:
        conn.close(1000)
    except (AgentRPCError, OSError):
        pass


# ---------------------------------------------------------------------- HTTP: proxy tunnel and handshake
def read_head(conn):
    """Read an HTTP response head; return (status, headers with lower-case names, bytes read past it)."""
    buf = bytearray()
    while b"\r\n\r\n" not in buf:
        if len(buf) > MAX_HTTP_BYTES:
            raise AgentRPCError(f"protocol error: {conn.what} sent an oversized HTTP response head")
        buf += conn.recv()
    head, rest = bytes(buf).split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise AgentRPCError(f"protocol error: {conn.what} did not answer with HTTP ({lines[0][:80]!r})")
    headers = {}
    for line in lines[1:]:
        name, _sep, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers, rest


def read_error_body(conn, headers, rest):
    """The body of a refused upgrade, bounded; without Content-Length it lasts until the server closes."""
    body = bytearray(rest)
    length = headers.get("content-length")
    want = min(int(length), MAX_HTTP_BYTES) if length and length.isdigit() else MAX_HTTP_BYTES
    try:
        while len(body) < want:
            body += conn.recv()
    except AgentRPCError:
        pass  # end of the body (or a slow server): what we have is enough for a message
    return bytes(body[:want])


def refused_error(status, headers, body, api_version):
    """AgentRPCError with Coder's JSON message (and detail, validations) or the first line of a text body."""
    text = body.decode("utf-8", "replace").strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    message = f"Coder refused the agent RPC connection: HTTP {status}"
    if isinstance(parsed, dict) and parsed.get("message"):
        message += f": {parsed['message']}"
        if parsed.get("detail"):
            message += f" ({parsed['detail']})"
        for item in parsed.get("validations") or ():
            if isinstance(item, dict):
                message += f" [{item.get('field', '?')}: {item.get('detail', '')}]"
    elif text:
        message += f": {text.splitlines()[0][:300]}"
    if status == 404:
        message += " (this server has no agent RPC route: Coder older than v2.9, or the URL is not Coder's)"
    elif status == 400 and "version" in text:
        message += f" (agent API version {api_version} is not accepted by this server)"
    elif 300 <= status < 400 and headers.get("location"):
        message += f" (redirected to {headers['location']}: use that address as the URL)"
    return AgentRPCError(message, status=status)


def handshake(conn, host, target, token, api_version):
    """GET ``target`` with the upgrade headers and the token header; check the 101 answer."""
    if any(ord(char) < 0x21 or ord(char) > 0x7E for char in token):
        raise AgentRPCError("the agent token contains characters that cannot be sent in an HTTP header")
    key = base64.b64encode(_random(16)).decode("ascii")
    request = (f"GET {target} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nCoder-Session-Token: {token}\r\n"
               "User-Agent: coder.automation agent-rpc\r\n\r\n")
    conn.send(request.encode("ascii"))
    status, headers, rest = read_head(conn)
    if status != 101:
        raise refused_error(status, headers, read_error_body(conn, headers, rest), api_version)
    expected = base64.b64encode(hashlib.sha1(key.encode("ascii") + WS_GUID).digest()).decode("ascii")
    if headers.get("upgrade", "").lower() != "websocket" or headers.get("sec-websocket-accept") != expected:
        raise AgentRPCError("protocol error: the server's 101 answer is not a valid WebSocket upgrade")
    conn.ws_buffer += rest


def tunnel(conn, proxy, authority):
    """HTTP CONNECT through an http:// proxy, with Basic credentials when the proxy URL carries them."""
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    if proxy.username:
        pair = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}".encode()
        lines.append(f"Proxy-Authorization: Basic {base64.b64encode(pair).decode('ascii')}")
    conn.send(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
    status, _headers, _rest = read_head(conn)
    if status != 200:
        raise AgentRPCError(f"the proxy {proxy.hostname} refused to tunnel to {authority}: HTTP {status}", status)


def proxy_for(scheme, host):
    """The proxy that requests would use for this URL (environment variables), or None."""
    proxies = getproxies_environment()
    url = proxies.get(scheme)
    if not url or proxy_bypass_environment(host, proxies):
        return None
    proxy = urlsplit(url if "://" in url else "http://" + url)
    if proxy.scheme != "http" or not proxy.hostname:
        raise AgentRPCError(f"the {scheme} proxy from the environment is not supported by the agent RPC "
                            "client: only http:// proxy URLs (HTTP CONNECT) are; set no_proxy for this host")
    return proxy


def open_connection(parts, timeout, verify, ca_path):
    """TCP (through a CONNECT proxy when the environment names one), then TLS for https URLs."""
    host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    deadline = time.monotonic() + timeout
    proxy = proxy_for(parts.scheme, host)
    address = (proxy.hostname, proxy.port or 80) if proxy else (host, port)
    sock = socket.create_connection(address, timeout=timeout)
    conn = Connection(sock, deadline, what=f"the proxy {proxy.hostname}" if proxy else host)
    try:
        if proxy:
            tunnel(conn, proxy, f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
            conn.what = host
        if parts.scheme == "https":
            conn.sock = tls_context(verify, ca_path).wrap_socket(sock, server_hostname=host)
    except BaseException:
        sock.close()
        raise
    return conn


def tls_context(verify, ca_path):
    if ca_path and os.path.isdir(ca_path):
        context = ssl.create_default_context(capath=ca_path)
    else:
        context = ssl.create_default_context(cafile=ca_path or None)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["http/1.1"])  # a WebSocket upgrade needs HTTP/1.1
    return context


def rpc_target(parts, role, api_version):
    """Path and query of the RPC route; the token is deliberately not part of it."""
    path = parts.path.rstrip("/")
    if not path.endswith("/api/v2"):
        path += "/api/v2"
    query = {"version": api_version}
    if role:
        query["role"] = role
    return f"{path}{RPC_PATH}?{urlencode(query)}"


def call(conn, host, target, token, connection_count, api_version):
    """Handshake, one UpdateStats call, clean teardown; returns the report interval in seconds."""
    handshake(conn, host, target, token, api_version)
    conn.what = "Coder"
    request = encode_update_stats_request(connection_count)
    conn.send_ws(WS_BINARY, build_call(CLIENT_STREAM, UPDATE_STATS, request))
    try:
        message = await_reply(conn, CLIENT_STREAM)
    except AgentRPCError:
        close_quietly(conn)  # a clean close lets the server end the session now, not at its next read error
        raise
    teardown(conn, CLIENT_STREAM)
    return decode_update_stats_response(message)


def update_stats(base_url, agent_token, connection_count=1, role="ansible", timeout=30.0, verify=True,
                 ca_path=None, api_version="2.0"):
    """One ``UpdateStats`` call; returns the report interval in seconds. Raises AgentRPCError (never with the token).

    ``base_url``: the API base (``https://coder.example.com/api/v2``). A count > 0 bumps the deadline (activity
    bump rules) and ``last_used_at``; None sends no stats and only asks the interval. ``role`` (None or "": not
    sent) is ignored before v2.31.1, where the real agent then shows disconnected briefly: check the version."""
    if not agent_token:
        raise AgentRPCError("an agent token is required (CODER_AGENT_TOKEN inside a workspace)")
    parts = urlsplit(base_url or "")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
        raise AgentRPCError(f"the URL must start with http:// or https:// and name a host, got {base_url!r}")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if port and port != (443 if parts.scheme == "https" else 80):
        host += f":{port}"
    conn = None
    try:
        conn = open_connection(parts, timeout, verify, ca_path)
        return call(conn, host, rpc_target(parts, role, api_version), agent_token, connection_count, api_version)
    except AgentRPCError as error:
        raise AgentRPCError(redact(error.message, [agent_token]), error.status) from None
    except ssl.SSLCertVerificationError as error:
        raise AgentRPCError(f"TLS certificate verification failed for {parts.hostname}: {error.verify_message}. "
                            "Set ca_path to the CA that signed Coder's certificate.") from None
    except socket.timeout:
        raise AgentRPCError(f"timed out after {timeout:g} s connecting to {parts.hostname}") from None
    except (OSError, ssl.SSLError) as error:
        raise AgentRPCError(f"cannot reach {parts.hostname} for the agent RPC: {error}") from None
    finally:
        if conn is not None:
            conn.sock.close()
