"""``GET /api/v2/workspaceagents/me/rpc``: the agent RPC channel (agent-rpc.md), server side.

WebSocket -> yamux -> dRPC -> protobuf, as coderd serves it (agent-rpc.md sections 2-8):

* before the upgrade: route missing before v2.9 (404), agent-token auth (coder-api.md §1.3), the ``version``
  check (400), then the websocket library's own checks (426/400/403 plain text, with coderd's JSON appended);
* after it, the handler thread takes the socket over from ``BaseHTTPRequestHandler`` and serves one yamux
  session: WebSocket payloads are one byte stream, SYN is answered with WINDOW_UPDATE ACK, PING SYN with PING
  ACK, FIN with FIN; each dRPC packet is checked for id order; replies are written the Go way (a 12-byte
  yamux header message, then the body message);
* only ``UpdateStats`` is served: with ``connection_count > 0`` it applies the activity bump
  (``workspaces.activity_bump``) and sets ``last_used_at``; without ``stats`` it only answers the interval.
  Any other RPC gets the dRPC error ``unknown rpc: "<name>"``;
* connection monitoring (emulated versions below v2.31.1, or ``role`` empty or ``agent``): the agent gets
  ``first/last_connected_at`` on connect and ``disconnected_at`` on close, so it then shows disconnected.

Left out: the 15 s yamux keep-alive pings of the monitor, workspace events, the stats rows and metrics,
InvokeMetadata contents, per-version agent API minors (every emulated version accepts 2.0-2.10, HEAD's).
Test hooks: ``/__emulator/agent-rpc`` (routes_testing) shows connections and calls and schedules faults.
"""

import base64
import hashlib
import json
import re
import struct

from . import workspaces as wsm
from .server import Resp, json_resp
from .util import ApiError, fmt_time

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
DATA, WINDOW_UPDATE, YPING, GO_AWAY = 0, 1, 2, 3
SYN, ACK, FIN, RST = 1, 2, 4, 8
INVOKE, MESSAGE, ERROR, CANCEL, CLOSE_KIND, CLOSE_SEND, INVOKE_METADATA = 1, 2, 3, 4, 5, 6, 7
UPDATE_STATS = "/coder.agent.v2.Agent/UpdateStats"
REPORT_INTERVAL = b"\x0a\x02\x08\x1e"  # Duration{seconds: 30}: AgentStatsRefreshInterval's default
API_MAJOR, API_MINOR = 2, 10
FIRST_VERSION = (2, 9, 0)  # agent API v2.0 over dRPC
ROLE_VERSION = (2, 31, 1)  # first release that reads ?role=
IDLE_TIMEOUT = 60.0  # an emulator thread never waits forever on a silent client
FAULT_KINDS = ("ping", "ws_ping", "split", "error", "goaway", "rst", "close_1011")
_INT = re.compile(r"[+-]?[0-9]+")
_TEXT = "text/plain; charset=utf-8"


class _End(Exception):
    """The session is over (closed, EOF or a protocol error already answered)."""


# ---------------------------------------------------------------------- before the upgrade
def version_problem(text):
    """apiversion.Validate against the agent API (HEAD: 2.10); None when accepted."""
    parts = text.split(".")
    if len(parts) != 2:
        return f"invalid version string: {text}"
    if not _INT.fullmatch(parts[0]):
        return f"invalid major version: {text}"
    if not _INT.fullmatch(parts[1]):
        return f"invalid minor version: {text}"
    major, minor = int(parts[0]), int(parts[1])
    if major > API_MAJOR or (major == API_MAJOR and minor > API_MINOR):
        kind = "major" if major > API_MAJOR else "minor"
        return f"server is at version {API_MAJOR}.{API_MINOR}, behind requested {kind} version {text}"
    if major < API_MAJOR:
        return f"version {text} is no longer supported"
    return None


def _has_token(value, token):
    return token in [part.strip().lower() for part in (value or "").split(",")]


def accept_problem(req):
    """websocket.Accept's request checks: (status, text, extra headers) or None."""
    headers = req.headers
    if not _has_token(headers.get("Connection"), "upgrade"):
        return 426, (f'WebSocket protocol violation: Connection header "{headers.get("Connection", "")}" does not '
                     "contain Upgrade"), {"Connection": "Upgrade", "Upgrade": "websocket"}
    if not _has_token(headers.get("Upgrade"), "websocket"):
        return 426, (f'WebSocket protocol violation: Upgrade header "{headers.get("Upgrade", "")}" does not '
                     "contain websocket"), {"Connection": "Upgrade", "Upgrade": "websocket"}
    if headers.get("Sec-WebSocket-Version") != "13":
        return 400, ("unsupported WebSocket protocol version (only 13 is supported): "
                     f'"{headers.get("Sec-WebSocket-Version", "")}"'), {"Sec-WebSocket-Version": "13"}
    keys = headers.get_all("Sec-WebSocket-Key") or []
    if len(keys) != 1:
        what = "missing Sec-WebSocket-Key" if not keys else "multiple Sec-WebSocket-Key headers"
        return 400, f"WebSocket protocol violation: {what}", {}
    try:
        valid = len(base64.b64decode(keys[0].strip(), validate=True)) == 16
    except ValueError:
        valid = False
    if not valid:
        return 400, (f'WebSocket protocol violation: invalid Sec-WebSocket-Key "{keys[0].strip()}", must be a 16 '
                     "byte base64 encoded string"), {}
    origin = headers.get("Origin")
    if origin:
        origin_host = origin.split("://", 1)[-1].split("/", 1)[0]
        if origin_host.lower() != (headers.get("Host") or "").lower():
            return 403, f'request Origin "{origin}" is not authorized for Host "{headers.get("Host", "")}"', {}
    return None


def rpc_route(req):
    state = req.state
    if state.version_tuple < FIRST_VERSION:
        return json_resp(404, {"message": "Route not found."})
    with state.lock:
        agent, ws, _build = wsm.authenticate_agent(req)
    version = req.q("version") or "2.0"
    problem = version_problem(version)
    if problem:
        raise ApiError(400, "Unknown or unsupported API version",
                       validations=[{"field": "version", "detail": problem}])
    refused = accept_problem(req)
    if refused:
        # The library writes plain text; coderd then tries its own JSON answer, which lands in the same body.
        status, text, headers = refused
        answer = {"message": "Failed to accept websocket.", "detail": text}
        body = text + "\n" + json.dumps(answer, ensure_ascii=False, separators=(",", ":")) + "\n"
        return Resp(status, body.encode(), _TEXT, dict(headers, **{"X-Content-Type-Options": "nosniff"}))
    role = req.q("role")
    session = Session(state, agent.id, ws.id, role, version,
                      monitored=state.version_tuple < ROLE_VERSION or role in ("", "agent"))
    key = req.headers["Sec-WebSocket-Key"].strip().encode()
    accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest()).decode()
    resp = Resp(101, b"", None, {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Accept": accept})
    resp.takeover = session.serve
    return resp


# ---------------------------------------------------------------------- protobuf
def _varint(data, pos):
    result = shift = 0
    while True:
        if pos >= len(data) or shift >= 70:
            raise ValueError("bad varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data):
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        wire = key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire in (1, 2, 5):
            size = 8 if wire == 1 else 4 if wire == 5 else None
            if size is None:
                size, pos = _varint(data, pos)
            if pos + size > len(data):
                raise ValueError("truncated field")
            value, pos = bytes(data[pos:pos + size]), pos + size
        else:
            raise ValueError(f"wire type {wire}")
        yield key >> 3, wire, value


def decode_update_stats(payload):
    """(stats present, Stats fields as {number: int}); proto3: unknown fields ignored, absent means 0."""
    stats = None
    for number, wire, value in _fields(payload):
        if number == 1 and wire == 2:
            stats = stats or {}
            for inner, inner_wire, inner_value in _fields(value):
                if inner_wire == 0:
                    stats[inner] = inner_value - (1 << 64) if inner_value >= 1 << 63 else inner_value
    return stats is not None, stats or {}


def _enc_varint(value):
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def drpc_frame(kind, message_id, payload=b"", stream_id=1):
    return bytes([(kind << 1) | 1]) + _enc_varint(stream_id) + _enc_varint(message_id) + \
        _enc_varint(len(payload)) + payload


def yamux(frame_type, flags, stream_id, length):
    return struct.pack(">BBHII", 0, frame_type, flags, stream_id, length)


# ---------------------------------------------------------------------- the session after the upgrade
class DrpcStream:
    """dRPC state of one yamux stream: a fresh manager per stream, so ids start at (1, 1)."""

    def __init__(self):
        self.buffer = bytearray()
        self.packet = bytearray()
        self.packet_id = None
        self.last = (1, 1)
        self.rpc = None


class Session:
    def __init__(self, state, agent_id, workspace_id, role, version, monitored):
        self.state = state
        self.agent_id = agent_id
        self.workspace_id = workspace_id
        self.monitored = monitored
        self.sock = self.rfile = None
        self.ws_buffer = bytearray()
        self.stream = bytearray()
        self.streams = {}
        self.record = {"id": None, "agent_id": agent_id, "workspace_id": workspace_id, "role": role,
                       "version": version, "monitored": monitored, "opened_at": None, "closed_at": None,
                       "close_code": None, "calls": 0, "yamux_pongs": 0, "ws_pongs": 0, "errors": []}

    # -- lifecycle
    def serve(self, handler):
        """Runs on the HTTP handler's thread once the 101 answer is out; returns when the session ends."""
        self.sock, self.rfile = handler.connection, handler.rfile
        self.sock.settimeout(IDLE_TIMEOUT)
        self._open()
        try:
            while True:
                self._read_ws()
        except (_End, OSError, ValueError):
            pass
        finally:
            self._closed(None)

    def _open(self):
        state = self.state
        with state.lock:
            t = state.clock()
            log = state.agent_rpc_connections
            self.record["id"], self.record["opened_at"] = len(log) + 1, fmt_time(t)
            log.append(self.record)
            agent = state.agents.get(self.agent_id)
            if self.monitored and agent is not None:
                agent.first_connected_at = agent.first_connected_at or t
                agent.last_connected_at = t

    def _closed(self, code):
        """Record the end before answering a close, so a client that waited for the echo sees the effects."""
        state = self.state
        with state.lock:
            if self.record["closed_at"] is not None:
                return
            t = state.clock()
            self.record["closed_at"], self.record["close_code"] = fmt_time(t), code
            agent = state.agents.get(self.agent_id)
            if self.monitored and agent is not None:
                agent.disconnected_at = t  # the agent now shows disconnected (agent-rpc.md §7)

    # -- WebSocket
    def _send_ws(self, opcode, payload):
        size = len(payload)
        if size < 126:
            head = struct.pack(">BB", 0x80 | opcode, size)
        elif size < 65536:
            head = struct.pack(">BBH", 0x80 | opcode, 126, size)
        else:
            head = struct.pack(">BBQ", 0x80 | opcode, 127, size)
        self.sock.sendall(head + payload)

    def _close(self, code, reason=""):
        self._closed(code)
        self._send_ws(CLOSE, struct.pack(">H", code) + reason.encode())
        raise _End

    def _next_ws_frame(self):
        buf = self.ws_buffer
        while True:
            if len(buf) >= 2:
                size, pos = buf[1] & 0x7F, 2 + (4 if buf[1] & 0x80 else 0)
                if size >= 126:
                    extra = 2 if size == 126 else 8
                    size = int.from_bytes(buf[2:2 + extra], "big") if len(buf) >= 2 + extra else None
                    pos += extra
                if size is not None and len(buf) >= pos + size:
                    break
            data = self.rfile.read1(65536)
            if not data:
                raise _End
            buf += data
        opcode, masked = buf[0] & 0x0F, buf[1] & 0x80
        if not masked:  # RFC 6455 5.1: a server must close on an unmasked client frame
            self._close(1002, "received unmasked frame from client")
        key = bytes(buf[pos - 4:pos])
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(buf[pos:pos + size]))
        del buf[:pos + size]
        return opcode, payload

    def _read_ws(self):
        opcode, payload = self._next_ws_frame()
        if opcode in (BINARY, CONT):
            self.stream += payload
            self._read_yamux()
        elif opcode == TEXT:
            self._close(1003, "unexpected frame type read (expected MessageBinary): MessageText")
        elif opcode == PING:
            self._send_ws(PONG, payload)
        elif opcode == PONG:
            self.record["ws_pongs"] += 1
        elif opcode == CLOSE:
            code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            self._closed(code)
            self._send_ws(CLOSE, payload[:2] or struct.pack(">H", 1000))
            raise _End

    # -- yamux
    def _read_yamux(self):
        while len(self.stream) >= 12:
            version, frame_type, flags, stream_id, length = struct.unpack(">BBHII", bytes(self.stream[:12]))
            if version != 0 or frame_type > GO_AWAY:
                self._fail(f"invalid yamux header {bytes(self.stream[:12]).hex()}")
                self._send_ws(BINARY, yamux(GO_AWAY, 0, 0, 1))
                raise _End
            end = 12 + (length if frame_type == DATA else 0)
            if len(self.stream) < end:
                return
            body = bytes(self.stream[12:end])
            del self.stream[:end]
            self._yamux_frame(frame_type, flags, stream_id, length, body)

    def _yamux_frame(self, frame_type, flags, stream_id, length, body):
        if frame_type == YPING:
            if flags & SYN:
                self._send_ws(BINARY, yamux(YPING, ACK, 0, length))
            else:
                self.record["yamux_pongs"] += 1
            return
        if frame_type == GO_AWAY:
            raise _End
        if flags & SYN and stream_id % 2 == 1 and stream_id not in self.streams:
            self.streams[stream_id] = DrpcStream()
            self._send_ws(BINARY, yamux(WINDOW_UPDATE, ACK, stream_id, 0))
        stream = self.streams.get(stream_id)
        if stream is None:
            return  # yamux logs and discards frames for unknown streams
        if flags & RST:
            del self.streams[stream_id]
            return
        if frame_type == DATA and body:
            stream.buffer += body
            self._read_drpc(stream_id, stream)
        if flags & FIN and stream_id in self.streams:
            self._finish(stream_id)

    def _finish(self, stream_id):
        del self.streams[stream_id]
        self._send_ws(BINARY, yamux(WINDOW_UPDATE, FIN, stream_id, 0))

    # -- dRPC
    def _read_drpc(self, stream_id, stream):
        buf = stream.buffer
        while buf and stream_id in self.streams:
            try:
                sid, pos = _varint(buf, 1)
                mid, pos = _varint(buf, pos)
                size, pos = _varint(buf, pos)
            except ValueError:
                return  # incomplete
            if len(buf) < pos + size:
                return
            control, payload = buf[0], bytes(buf[pos:pos + size])
            del buf[:pos + size]
            self._drpc_frame(stream_id, stream, control, (sid, mid), payload)

    def _drpc_frame(self, stream_id, stream, control, ids, payload):
        kind = (control >> 1) & 0x3F
        if control & 0x80 and kind > INVOKE_METADATA:
            return  # forward-compatible control frames are ignored
        if ids < stream.last:
            self._fail(f"dRPC protocol error: id {ids} after {stream.last}")
            self._finish(stream_id)  # the manager closes the transport, which is our yamux stream
            return
        stream.last = ids
        if ids != stream.packet_id:
            stream.packet_id, stream.packet = ids, bytearray()
        stream.packet += payload
        if not control & 1:
            return
        packet = bytes(stream.packet)
        stream.packet = bytearray()
        if kind == INVOKE:
            stream.rpc = packet.decode("utf-8", "replace")
        elif kind == MESSAGE:
            if stream.rpc is None:
                self._fail("dRPC protocol error: message before invoke")
                self._finish(stream_id)
                return
            self._dispatch(stream_id, stream.rpc, packet)

    def _fail(self, text):
        with self.state.lock:
            self.record["errors"].append(text)

    def _dispatch(self, stream_id, rpc, payload):
        fault = self._take_fault()
        kind = fault["kind"] if fault else None
        if kind == "ping":
            self._send_ws(BINARY, yamux(YPING, SYN, 0, 0))
        elif kind == "ws_ping":
            self._send_ws(PING, b"emulator")
        elif kind == "goaway":
            self._log_call(rpc, None, kind, "goaway")
            self._send_ws(BINARY, yamux(GO_AWAY, 0, 0, 2))
            return
        elif kind == "rst":
            self._log_call(rpc, None, kind, "rst")
            del self.streams[stream_id]
            self._send_ws(BINARY, yamux(WINDOW_UPDATE, RST, stream_id, 0))
            return
        elif kind == "close_1011":
            self._log_call(rpc, None, kind, "close 1011")
            self._close(1011, "internal error")
        if kind == "error":
            reply = [drpc_frame(ERROR, 1, bytes(8) + fault["message"].encode())]
            self._log_call(rpc, None, kind, fault["message"])
        else:
            reply = self._call(rpc, payload, kind)
        for frame in reply:
            self._send_data(stream_id, frame, split=kind == "split")

    def _send_data(self, stream_id, frame, split):
        """Header and body as two messages (Go's yamux writes them separately), or one byte per message."""
        data = yamux(DATA, 0, stream_id, len(frame)) + frame
        if split:
            for index in range(len(data)):
                self._send_ws(BINARY, data[index:index + 1])
        else:
            self._send_ws(BINARY, data[:12])
            self._send_ws(BINARY, data[12:])

    def _call(self, rpc, payload, fault):
        if rpc != UPDATE_STATS:
            text = f'unknown rpc: "{rpc}"'
            self._log_call(rpc, None, fault, text)
            return [drpc_frame(ERROR, 1, bytes(8) + text.encode())]
        try:
            present, stats = decode_update_stats(payload)
        except ValueError:
            text = "proto: cannot parse invalid wire-format data"
            self._log_call(rpc, None, fault, text)
            return [drpc_frame(ERROR, 1, bytes(8) + text.encode())]
        self._update_stats(present, stats, fault)
        return [drpc_frame(MESSAGE, 1, REPORT_INTERVAL), drpc_frame(CLOSE_SEND, 2)]

    def _update_stats(self, present, stats, fault):
        """agentapi.StatsAPI.UpdateStats: nil stats only answer the interval; a count > 0 bumps and marks use."""
        state = self.state
        with state.lock:
            ws = state.workspaces.get(self.workspace_id)
            bumped = False
            count = stats.get(2, 0)
            if present and count > 0 and ws is not None:
                t = state.clock()
                wsm.run_autostop(state, t)
                bumped = wsm.activity_bump(state, ws, t)
                ws.last_used_at = t
            self._log_call(UPDATE_STATS, stats if present else None, fault, None, bumped)

    def _log_call(self, rpc, stats, fault, error, bumped=False):
        state = self.state
        with state.lock:
            self.record["calls"] += 1
            state.agent_rpc_calls.append({
                "seq": len(state.agent_rpc_calls) + 1, "connection": self.record["id"], "at": fmt_time(state.clock()),
                "agent_id": self.agent_id, "workspace_id": self.workspace_id, "rpc": rpc,
                "stats": stats is not None, "connection_count": (stats or {}).get(2, 0),
                "session_counts": [(stats or {}).get(n, 0) for n in (8, 9, 10, 11)],
                "bumped": bumped, "fault": fault, "error": error})

    def _take_fault(self):
        with self.state.lock:
            for fault in self.state.agent_rpc_faults:
                if fault["count"] > 0:
                    fault["count"] -= 1
                    return dict(fault)
        return None


def add_faults(state, faults):
    """Validate and append faults for the next calls: {"kind", "count": 1, "message": for "error"}."""
    parsed = []
    for fault in faults:
        if not isinstance(fault, dict) or fault.get("kind") not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}")
        count = fault.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError("count must be a positive integer")
        parsed.append({"kind": fault["kind"], "count": count,
                       "message": str(fault.get("message") or "report agent stats: boom")})
    with state.lock:
        state.agent_rpc_faults.extend(parsed)


def register(router):
    router.add("GET", "/workspaceagents/me/rpc", rpc_route, auth=False)
