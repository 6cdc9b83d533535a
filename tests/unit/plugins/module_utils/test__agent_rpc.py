# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The agent RPC client against the byte transcripts of agent-rpc.md section 9 (no server is started)."""

from __future__ import annotations

import base64
import hashlib
import socket
import struct

import pytest

from ansible_collections.coder.automation.plugins.module_utils import _agent_rpc as rpc
from ansible_collections.coder.automation.plugins.module_utils._agent_rpc import AgentRPCError
from ansible_collections.coder.automation.plugins.module_utils._errors import CoderError

TOKEN = "0f4a5b6c-7d8e-4f90-a1b2-c3d4e5f60718"
NAME = "2f636f6465722e6167656e742e76322e4167656e742f5570646174655374617473"  # "/coder.agent.v2.Agent/UpdateStats"
DRPC_REQUEST = "030101" + "21" + NAME + "05010204" + "0a021001" + "0d010300"
COMPACT = "000100010000000100000000" + "000000000000000100000031" + DRPC_REQUEST
SERVER_MESSAGES = ["000100020000000100000000", "000000000000000100000008", "050101040a02081e",
                   "000000000000000100000004", "0d010200"]
SYN_ACK, REPLY = SERVER_MESSAGES[0], "".join(SERVER_MESSAGES[1:])
FIN = "000100040000000100000000"
MASK = b"\x11\x22\x33\x44"
KEY = bytes(range(16))


def h(text):
    return bytes.fromhex(text.replace(" ", ""))


def server_frame(opcode, payload):
    """An unmasked server frame."""
    size = len(payload)
    if size < 126:
        return bytes([0x80 | opcode, size]) + payload
    return bytes([0x80 | opcode, 126]) + struct.pack(">H", size) + payload


def binary(*hex_messages):
    return b"".join(server_frame(rpc.WS_BINARY, h(x)) for x in hex_messages)


def upgrade_answer():
    accept = base64.b64encode(hashlib.sha1(base64.b64encode(KEY) + rpc.WS_GUID).digest()).decode()
    return (f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode()


CLOSE_1000 = server_frame(rpc.WS_CLOSE, b"\x03\xe8")
GOLDEN_SERVER = upgrade_answer() + binary(*SERVER_MESSAGES) + binary(FIN) + CLOSE_1000


class FakeSocket:
    """Plays a scripted byte stream (cut into the given chunks) and records what the client sends."""

    def __init__(self, *chunks, fail=None):
        self.chunks = [c for c in chunks if c]
        self.sent = bytearray()
        self.fail = fail

    def settimeout(self, value):
        assert value > 0

    def sendall(self, data):
        self.sent += data

    def recv(self, size):
        if not self.chunks:
            if self.fail:
                raise self.fail
            return b""
        chunk = self.chunks.pop(0)
        if len(chunk) > size:
            self.chunks.insert(0, chunk[size:])
        return chunk[:size]

    def close(self):
        pass


@pytest.fixture(autouse=True)
def fixed_random(monkeypatch):
    """Sec-WebSocket-Key is KEY and every mask is MASK, so the client's bytes are reproducible."""
    monkeypatch.setattr(rpc, "_random", lambda n: KEY if n == 16 else MASK)


def run(sock, connection_count=1, role="ansible", api_version="2.0"):
    conn = rpc.Connection(sock, rpc.time.monotonic() + 30)
    target = rpc.rpc_target(rpc.urlsplit("http://127.0.0.1:7080/api/v2"), role, api_version)
    return rpc.call(conn, "127.0.0.1:7080", target, TOKEN, connection_count, api_version)


def split_sent(sent):
    """(request head, [(opcode, unmasked payload)]) of what the client wrote; checks every frame is masked."""
    head, rest = bytes(sent).split(b"\r\n\r\n", 1)
    frames, buf = [], bytearray(rest)
    while buf:
        assert buf[1] & 0x80, "client frames must be masked"
        (fin, opcode, payload), size = rpc.parse_ws_frame(buf)
        assert fin == 1
        frames.append((opcode, payload))
        del buf[:size]
    return head.decode(), frames


# ---------------------------------------------------------------------- protobuf (section 6)
@pytest.mark.parametrize("count, expected", [(1, "0a021001"), (0, "0a00"), (300, "0a0310ac02"), (None, "")])
def test_encode_request(count, expected):
    assert rpc.encode_update_stats_request(count).hex() == expected


@pytest.mark.parametrize("data, seconds", [
    ("0a02081e", 30.0),
    ("", 0.0),
    ("0a00", 0.0),
    ("0a05080210f403", 2.0000005),  # 2 s + 500 ns
    ("0a04081e1801" + "1205" + "6578747261", 30.0),  # unknown fields inside and outside are skipped
])
def test_decode_response(data, seconds):
    assert rpc.decode_update_stats_response(h(data)) == pytest.approx(seconds)


def test_decode_truncated_response():
    with pytest.raises(AgentRPCError, match="truncated"):
        rpc.decode_update_stats_response(h("0a05081e"))


def test_varints():
    assert rpc.encode_varint(300) == h("ac02")
    assert rpc.decode_varint(h("ac02"), 0) == (300, 2)
    assert rpc.encode_varint(-1) == h("ffffffffffffffffff01")
    with pytest.raises(AgentRPCError, match="64 bits"):
        rpc.decode_varint(b"\xff" * 11, 0)


# ---------------------------------------------------------------------- dRPC and yamux (sections 4, 5, 9)
def test_drpc_request_bytes():
    body = rpc.drpc_unary_request(rpc.UPDATE_STATS, rpc.encode_update_stats_request(1))
    assert body.hex() == DRPC_REQUEST and len(body) == 49


def test_compact_call_bytes():
    data = rpc.build_call(1, rpc.UPDATE_STATS, rpc.encode_update_stats_request(1))
    assert data.hex() == COMPACT and len(data) == 73


def test_probe_call_bytes():
    data = rpc.build_call(1, rpc.UPDATE_STATS, rpc.encode_update_stats_request(None))
    assert h("05010200") in data and data[12:24] == h("000000000000000100000031")[:8] + struct.pack(">I", 45)


def test_drpc_reply_decoding():
    reply = rpc.DrpcReply()
    assert reply.feed(h("050101040a02081e")) is False
    assert reply.feed(h("0d0102")) is False  # incomplete frame waits for more bytes
    assert reply.feed(h("00")) is True
    assert reply.message == h("0a02081e")


def test_drpc_error_reply():
    payload = bytes(8) + b"report agent stats: boom"
    frame = rpc.drpc_frame(rpc.KIND_ERROR, 1, payload)
    assert frame.hex() == "07010120" + "00" * 8 + b"report agent stats: boom".hex()
    with pytest.raises(AgentRPCError, match=r"report agent stats: boom$"):
        rpc.DrpcReply().feed(frame)


def test_drpc_ids_and_control_bit():
    reply = rpc.DrpcReply()
    reply.feed(bytes([0x80 | (9 << 1) | 1]) + h("010100"))  # unknown kind with the control bit: ignored
    reply.feed(h("04010102") + h("0a02"))  # a packet split over two frames: the first is not done
    assert reply.message is None
    reply.feed(h("05010102") + h("081e"))
    assert reply.message == h("0a02081e")
    with pytest.raises(AgentRPCError, match="frame ids"):
        reply.feed(h("05010000"))  # lower message id


def test_ws_frame_masking():
    frame = rpc.ws_frame(rpc.WS_BINARY, h(COMPACT), MASK)
    assert frame[:6] == h("82c9") + MASK  # FIN + binary, masked, 73 bytes
    assert frame[6:] == rpc.mask_payload(h(COMPACT), MASK) and frame[6:10] != h(COMPACT)[:4]
    assert rpc.parse_ws_frame(frame) == ((1, rpc.WS_BINARY, h(COMPACT)), len(frame))
    assert rpc.ws_frame(rpc.WS_BINARY, bytes(300), MASK)[:4] == h("82fe012c")
    assert rpc.ws_frame(rpc.WS_BINARY, bytes(70000), MASK)[:10] == h("82ff0000000000011170")
    assert rpc.parse_ws_frame(frame[:20]) is None


# ---------------------------------------------------------------------- whole exchange (section 9)
def test_golden_exchange():
    sock = FakeSocket(GOLDEN_SERVER)
    assert run(sock) == 30.0
    head, frames = split_sent(sock.sent)
    lines = head.split("\r\n")
    assert lines[0] == "GET /api/v2/workspaceagents/me/rpc?version=2.0&role=ansible HTTP/1.1"
    assert f"Coder-Session-Token: {TOKEN}" in lines
    assert f"Sec-WebSocket-Key: {base64.b64encode(KEY).decode()}" in lines
    assert "Sec-WebSocket-Version: 13" in lines and "Upgrade: websocket" in lines
    assert not [x for x in lines if x.lower().startswith(("origin", "sec-websocket-extensions",
                                                          "sec-websocket-protocol"))]
    assert TOKEN not in lines[0]
    assert frames == [(rpc.WS_BINARY, h(COMPACT)), (rpc.WS_BINARY, h(FIN)), (rpc.WS_CLOSE, h("03e8"))]


def test_server_bytes_one_at_a_time():
    """Boundaries carry no meaning: one byte per recv, and each yamux byte in its own WS message."""
    stream = h("".join(SERVER_MESSAGES) + FIN)
    per_byte = b"".join(server_frame(rpc.WS_BINARY, stream[i:i + 1]) for i in range(len(stream)))
    data = upgrade_answer() + per_byte + CLOSE_1000
    sock = FakeSocket(*[data[i:i + 1] for i in range(len(data))])
    assert run(sock) == 30.0


def test_fragmented_message_and_packed_frames():
    stream = h("".join(SERVER_MESSAGES) + FIN)
    fragments = bytes([0x02, 10]) + stream[:10] + bytes([0x00, 20]) + stream[10:30] + server_frame(0, stream[30:])
    assert run(FakeSocket(upgrade_answer() + fragments + CLOSE_1000)) == 30.0


def test_probe_and_no_role():
    sock = FakeSocket(GOLDEN_SERVER)
    assert run(sock, connection_count=None, role=None) == 30.0
    head, frames = split_sent(sock.sent)
    assert head.startswith("GET /api/v2/workspaceagents/me/rpc?version=2.0 HTTP/1.1")
    assert h("05010200") in frames[0][1]


def test_pings_are_answered():
    yamux_ping = "000200010000000000000000"
    data = (upgrade_answer() + server_frame(rpc.WS_PING, b"hi") + binary(SYN_ACK, yamux_ping, REPLY, FIN)
            + CLOSE_1000)
    sock = FakeSocket(data)
    assert run(sock) == 30.0
    _head, frames = split_sent(sock.sent)
    assert (rpc.WS_PONG, b"hi") in frames
    assert (rpc.WS_BINARY, h("000200020000000000000000")) in frames
    assert frames[-1] == (rpc.WS_CLOSE, h("03e8"))


def test_error_reply():
    error = rpc.drpc_frame(rpc.KIND_ERROR, 1, bytes(8) + b"report agent stats: boom")
    data = upgrade_answer() + binary(SYN_ACK, f"00000000000000010000{len(error):04x}") \
        + server_frame(rpc.WS_BINARY, error)
    with pytest.raises(AgentRPCError) as info:
        run(FakeSocket(data))
    assert info.value.message == "Coder answered UpdateStats with an error: report agent stats: boom"
    assert isinstance(info.value, CoderError) and info.value.status is None


@pytest.mark.parametrize("frames, match", [
    (binary(SYN_ACK, "000300000000000000000002"), r"GoAway: internal error"),
    (binary(SYN_ACK, "000100080000000100000000"), "reset the yamux stream"),
    (binary(SYN_ACK, "000100040000000100000000"), "closed the yamux stream before answering"),
    (server_frame(rpc.WS_CLOSE, b"\x03\xf3boom"), r"closed the WebSocket \(status 1011: boom\)"),
    (server_frame(rpc.WS_TEXT, b"{}"), "unexpected WebSocket opcode 1"),
    (binary("010000000000000000000000"), "not a yamux frame"),
    (b"", "closed the connection unexpectedly"),
])
def test_protocol_failures(frames, match):
    sock = FakeSocket(upgrade_answer() + frames)
    with pytest.raises(AgentRPCError, match=match):
        run(sock)
    if b"\x03\xf3" in frames:
        assert split_sent(sock.sent)[1][-1] == (rpc.WS_CLOSE, h("03f3"))  # the close is echoed


def test_timeout():
    with pytest.raises(AgentRPCError, match="timed out waiting for Coder"):
        run(FakeSocket(upgrade_answer(), fail=socket.timeout("timed out")))


def test_teardown_problems_do_not_fail_the_call():
    assert run(FakeSocket(upgrade_answer() + binary(*SERVER_MESSAGES), fail=socket.timeout())) == 30.0
    assert run(FakeSocket(upgrade_answer() + binary(*SERVER_MESSAGES))) == 30.0


def http_answer(status, reason, content_type, body, length=True):
    head = f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
    if length:
        head += f"Content-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + body.encode()


@pytest.mark.parametrize("answer, status, expected", [
    (http_answer(401, "Unauthorized", "application/json", '{"message":"Workspace agent not authorized.",'
                 '"detail":"The agent cannot authenticate until the workspace provision job has been completed."}'),
     401, "HTTP 401: Workspace agent not authorized. (The agent cannot authenticate until the workspace"),
    (http_answer(401, "Unauthorized", "application/json", '{"message":"Cookie \\"coder_session_token\\" must be '
                 'provided."}'), 401, 'HTTP 401: Cookie "coder_session_token" must be provided.'),
    (http_answer(404, "Not Found", "application/json", '{"message":"Route not found."}'), 404,
     "HTTP 404: Route not found. (this server has no agent RPC route"),
    (http_answer(400, "Bad Request", "application/json", '{"message":"Unknown or unsupported API version",'
                 '"validations":[{"field":"version","detail":"invalid version string: 3"}]}'), 400,
     "Unknown or unsupported API version [version: invalid version string: 3] (agent API version 2.0 is not"),
    (http_answer(426, "Upgrade Required", "text/plain", "WebSocket protocol violation: Connection header \"\" does"
                 " not contain Upgrade\n{\"message\":\"Failed to accept websocket.\"}\n", length=False), 426,
     'HTTP 426: WebSocket protocol violation: Connection header "" does not contain Upgrade'),
])
def test_refused_upgrade(answer, status, expected):
    with pytest.raises(AgentRPCError) as info:
        run(FakeSocket(answer))
    assert info.value.status == status
    assert expected in info.value.message


def test_bad_accept_header():
    bad = upgrade_answer().replace(b"Sec-WebSocket-Accept: ", b"Sec-WebSocket-Accept: x")
    with pytest.raises(AgentRPCError, match="not a valid WebSocket upgrade"):
        run(FakeSocket(bad))


def test_token_never_in_messages(monkeypatch):
    """Even when a server echoes the token, the public function redacts it."""
    echo = http_answer(401, "Unauthorized", "application/json", f'{{"message":"bad token {TOKEN}"}}')

    def fake_open(parts, timeout, verify, ca_path):
        return rpc.Connection(FakeSocket(echo), rpc.time.monotonic() + timeout)

    monkeypatch.setattr(rpc, "open_connection", fake_open)
    with pytest.raises(AgentRPCError) as info:
        rpc.update_stats("http://127.0.0.1:1/api/v2", TOKEN)
    assert TOKEN not in str(info.value) and "********" in str(info.value)
    with pytest.raises(AgentRPCError, match="cannot be sent in an HTTP header"):
        rpc.update_stats("http://127.0.0.1:1/api/v2", "x\r\nX-Evil: 1")


@pytest.mark.parametrize("url", ["", "ftp://host/api/v2", "127.0.0.1:7080/api/v2", "http://host:port/api/v2"])
def test_bad_urls(url):
    with pytest.raises(AgentRPCError, match="must start with http"):
        rpc.update_stats(url, TOKEN)


def test_rpc_target():
    split = rpc.urlsplit
    assert rpc.rpc_target(split("https://c.example/prefix/api/v2/"), "ansible", "2.0") == \
        "/prefix/api/v2/workspaceagents/me/rpc?version=2.0&role=ansible"
    assert rpc.rpc_target(split("https://c.example"), "", "2.3") == "/api/v2/workspaceagents/me/rpc?version=2.3"


def test_proxy_selection(monkeypatch):
    for name in ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "all_proxy",
                 "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert rpc.proxy_for("https", "coder.example") is None
    monkeypatch.setenv("https_proxy", "http://user:p%40ss@proxy.example:3128")
    proxy = rpc.proxy_for("https", "coder.example")
    assert (proxy.hostname, proxy.port, proxy.username) == ("proxy.example", 3128, "user")
    monkeypatch.setenv("no_proxy", "coder.example")
    assert rpc.proxy_for("https", "coder.example") is None
    monkeypatch.setenv("https_proxy", "socks5://proxy.example:1080")
    with pytest.raises(AgentRPCError, match="not supported"):
        rpc.proxy_for("https", "other.example")


def test_tunnel_request():
    sock = FakeSocket(b"HTTP/1.1 200 Connection established\r\n\r\n")
    conn = rpc.Connection(sock, rpc.time.monotonic() + 5)
    rpc.tunnel(conn, rpc.urlsplit("http://user:p%40ss@proxy.example:3128"), "coder.example:443")
    assert bytes(sock.sent) == (b"CONNECT coder.example:443 HTTP/1.1\r\nHost: coder.example:443\r\n"
                                b"Proxy-Authorization: Basic " + base64.b64encode(b"user:p@ss") + b"\r\n\r\n")
    refused = rpc.Connection(FakeSocket(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n"), conn.deadline)
    with pytest.raises(AgentRPCError, match="HTTP 407"):
        rpc.tunnel(refused, rpc.urlsplit("http://proxy.example:3128"), "coder.example:443")
