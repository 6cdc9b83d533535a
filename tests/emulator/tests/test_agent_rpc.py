"""The agent RPC channel (agent-rpc.md): the emulator against the §9 transcripts, then the collection's client
(plugins/module_utils/_agent_rpc.py) end to end against the emulator."""

import base64
import hashlib
import os
import select
import socket
import struct
import sys
import threading
import urllib.parse

import pytest
from conftest import NIL, create_template
from test_workspaces import HOUR_MS, advance, latest, new_build, new_ws, parse

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
RPC = "/api/v2/workspaceagents/me/rpc"
NAME = "2f636f6465722e6167656e742e76322e4167656e742f5570646174655374617473"
COMPACT = ("000100010000000100000000" + "000000000000000100000031" + "03010121" + NAME + "050102040a021001"
           + "0d010300")
SERVER_MESSAGES = ["000100020000000100000000", "000000000000000100000008", "050101040a02081e",
                   "000000000000000100000004", "0d010200"]
FIN = "000100040000000100000000"


def h(text):
    return bytes.fromhex(text)


@pytest.fixture(scope="module")
def client_module(tmp_path_factory):
    """The collection's client, imported as ansible_collections.coder.automation from a temp layout."""
    root = tmp_path_factory.mktemp("collections")
    (root / "ansible_collections" / "coder").mkdir(parents=True)
    (root / "ansible_collections" / "coder" / "automation").symlink_to(REPO)
    sys.path.insert(0, str(root))
    try:
        from ansible_collections.coder.automation.plugins.module_utils import _agent_rpc
    finally:
        sys.path.remove(str(root))
    return _agent_rpc


@pytest.fixture
def ws(emu):
    create_template(emu, "tpl")
    return new_ws(emu, ttl_ms=HOUR_MS, max_ttl_ms=10 * HOUR_MS)


def token_of(ws):
    return ws["agents"][0]["token"]


def agent_status(emu, ws):
    r = emu.get(f"/api/v2/workspaceagents/{ws['agents'][0]['id']}")
    assert r.status == 200, r
    return r.json["status"]


def rpc_log(emu):
    return emu.get("/__emulator/agent-rpc", token=None).json


def set_version(emu, version):
    assert emu.post("/__emulator/version", {"version": version}, token=None).status == 204


def add_fault(emu, kind, **extra):
    r = emu.post("/__emulator/agent-rpc/faults", {"faults": [dict(kind=kind, **extra)]}, token=None)
    assert r.status == 201, r


# ---------------------------------------------------------------------- a raw WebSocket test client
class RawWS:
    """Just enough of a client to put exact bytes on the wire and read the server's messages one by one."""

    def __init__(self, url, token, query="version=2.0&role=test", headers=()):
        parts = urllib.parse.urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {RPC}?{query} HTTP/1.1", f"Host: {parts.netloc}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13",
                 f"Coder-Session-Token: {token}", *headers]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(4096)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.head = head.decode()
        self.status = int(self.head.split(" ")[1])
        accept = base64.b64encode(hashlib.sha1(key.encode() + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
        assert self.status != 101 or f"Sec-WebSocket-Accept: {accept.decode()}" in self.head

    def send(self, payload, opcode=2, mask=True):
        key = os.urandom(4)
        size = len(payload)
        head = bytes([0x80 | opcode]) + (bytes([(0x80 if mask else 0) | size]) if size < 126 else
                                         bytes([(0x80 if mask else 0) | 126]) + struct.pack(">H", size))
        data = bytes(b ^ key[i % 4] for i, b in enumerate(payload)) if mask else payload
        self.sock.sendall(head + (key if mask else b"") + data)

    def _need(self, count):
        while len(self.buf) < count:
            data = self.sock.recv(4096)
            assert data, "server closed the connection"
            self.buf += data

    def message(self):
        """(opcode, payload) of the next server frame; server frames must not be masked."""
        self._need(2)
        assert not self.buf[1] & 0x80
        size, pos = self.buf[1] & 0x7F, 2
        if size == 126:
            self._need(4)
            size, pos = struct.unpack(">H", self.buf[2:4])[0], 4
        self._need(pos + size)
        opcode, payload, self.buf = self.buf[0] & 0x0F, self.buf[pos:pos + size], self.buf[pos + size:]
        return opcode, payload

    def binary(self, count):
        got = [self.message() for _index in range(count)]
        assert all(op == 2 for op, _payload in got), got
        return [payload.hex() for _op, payload in got]

    def close(self):
        self.send(b"\x03\xe8", opcode=8)
        assert self.message() == (8, b"\x03\xe8")
        self.sock.close()


# ---------------------------------------------------------------------- emulator against the transcripts
def test_golden_transcript(server, emu, ws):
    conn = RawWS(server.url, token_of(ws))
    assert conn.status == 101 and "Sec-WebSocket-Protocol" not in conn.head
    conn.send(h(COMPACT))
    assert conn.binary(5) == SERVER_MESSAGES  # Go writes each yamux header and body as its own message
    conn.send(h(FIN))
    assert conn.binary(1) == [FIN]
    conn.close()
    log = rpc_log(emu)
    assert [(c["rpc"], c["stats"], c["connection_count"], c["error"]) for c in log["calls"]] == \
        [("/coder.agent.v2.Agent/UpdateStats", True, 1, None)]
    assert log["connections"][0]["close_code"] == 1000 and log["connections"][0]["role"] == "test"


@pytest.mark.parametrize("chunks", [
    [COMPACT[:24], COMPACT[24:48], COMPACT[48:]],  # what the Go client sends: SYN, DATA header, body
    [COMPACT[i:i + 2] for i in range(0, len(COMPACT), 2)],  # one byte per message
    [COMPACT[:30], COMPACT[30:100], COMPACT[100:]],  # cut inside headers and dRPC frames
])
def test_client_frames_split_across_messages(server, emu, ws, chunks):
    conn = RawWS(server.url, token_of(ws))
    for chunk in chunks:
        conn.send(h(chunk))
    assert "".join(conn.binary(5)) == "".join(SERVER_MESSAGES)
    conn.close()


def test_pings_and_interval_probe(server, emu, ws):
    conn = RawWS(server.url, token_of(ws))
    conn.send(b"hello", opcode=9)
    assert conn.message() == (10, b"hello")
    conn.send(h("000200010000000000000000"))
    assert conn.binary(1) == ["000200020000000000000000"]
    conn.send(h(COMPACT.replace("050102040a021001", "05010200").replace("00000031", "0000002d")))
    assert conn.binary(5) == SERVER_MESSAGES
    conn.close()
    assert [(c["stats"], c["bumped"]) for c in rpc_log(emu)["calls"]] == [(False, False)]


def test_unknown_rpc_and_bad_ids(server, emu, ws):
    conn = RawWS(server.url, token_of(ws))
    name = b"/coder.agent.v2.Agent/Nope"
    body = bytes([0x03, 1, 1, len(name)]) + name + h("05010200") + h("0d010300")
    conn.send(h("000100010000000100000000") + struct.pack(">BBHII", 0, 0, 0, 1, len(body)) + body)
    text = b'unknown rpc: "/coder.agent.v2.Agent/Nope"'
    frame = bytes([0x07, 1, 1, 8 + len(text)]) + bytes(8) + text
    assert conn.binary(3) == [SERVER_MESSAGES[0], f"00000000000000010000{len(frame):04x}", frame.hex()]
    # Stream 3 with dRPC ids (1, 0): lower than the (1, 1) a reader starts with, so the stream is closed.
    conn.send(h("000100010000000300000000" + "000000000000000300000004" + "05010000"))
    assert conn.binary(2) == ["000100020000000300000000", "000100040000000300000000"]
    conn.close()
    log = rpc_log(emu)
    assert log["calls"][0]["error"] == text.decode() and "dRPC protocol error" in log["connections"][0]["errors"][0]


def test_text_and_unmasked_messages_close(server, emu, ws):
    conn = RawWS(server.url, token_of(ws))
    conn.send(b"{}", opcode=1)
    opcode, payload = conn.message()
    assert (opcode, payload[:2]) == (8, b"\x03\xeb")  # 1003
    conn = RawWS(server.url, token_of(ws))
    conn.send(h(COMPACT), mask=False)
    assert conn.message()[1][:2] == b"\x03\xea"  # 1002


def test_refusals_before_upgrade(server, emu, ws):
    missing = RawWS(server.url, "")
    expected = b'{"message":"Cookie \\"coder_session_token\\" must be provided."}\n'
    assert missing.status == 401 and missing.buf == expected
    invalid = RawWS(server.url, "not-a-uuid")
    assert invalid.status == 401 and b'"Workspace agent token invalid."' in invalid.buf
    unknown = RawWS(server.url, NIL.replace("0", "2"))
    assert unknown.status == 401 and b'"Workspace agent not authorized."' in unknown.buf
    for version in ("3.0", "2.11", "two"):
        bad = RawWS(server.url, token_of(ws), query=f"version={version}")
        assert bad.status == 400 and b'"Unknown or unsupported API version"' in bad.buf
        assert b'"field":"version"' in bad.buf
    assert RawWS(server.url, token_of(ws), query="").status == 101  # no version means 2.0
    origin = RawWS(server.url, token_of(ws), headers=["Origin: https://evil.example"])
    assert origin.status == 403 and b"is not authorized for Host" in origin.buf
    plain = emu.get(RPC, token=token_of(ws))
    assert plain.status == 426 and plain.headers["Content-Type"].startswith("text/plain")
    assert plain.text.startswith('WebSocket protocol violation: Connection header "')
    assert '"message":"Failed to accept websocket."' in plain.text
    set_version(emu, "v2.8.5")
    assert RawWS(server.url, token_of(ws)).status == 404


# ---------------------------------------------------------------------- the client end to end
def update(client_module, server, ws, **kwargs):
    return client_module.update_stats(server.url + "/api/v2", token_of(ws), timeout=10, **kwargs)


def test_client_bumps_deadline(client_module, server, emu, ws):
    deadline = parse(latest(emu, ws["id"])["deadline"])
    last_used = emu.get(f"/api/v2/workspaces/{ws['id']}").json["last_used_at"]
    advance(emu, 1200)
    assert update(client_module, server, ws) == 30.0
    assert parse(latest(emu, ws["id"])["deadline"]) > deadline
    assert emu.get(f"/api/v2/workspaces/{ws['id']}").json["last_used_at"] != last_used
    call = rpc_log(emu)["calls"][-1]
    assert (call["connection_count"], call["session_counts"], call["bumped"]) == (1, [0, 0, 0, 0], True)
    assert rpc_log(emu)["connections"][-1]["role"] == "ansible"
    assert agent_status(emu, ws) == "connecting"  # v2.31.1+ with a non-agent role: no monitor


@pytest.mark.parametrize("count", [0, None])
def test_client_without_connections_changes_nothing(client_module, server, emu, ws, count):
    deadline = latest(emu, ws["id"])["deadline"]
    last_used = emu.get(f"/api/v2/workspaces/{ws['id']}").json["last_used_at"]
    advance(emu, 1200)
    assert update(client_module, server, ws, connection_count=count) == 30.0
    assert latest(emu, ws["id"])["deadline"] == deadline
    assert emu.get(f"/api/v2/workspaces/{ws['id']}").json["last_used_at"] == last_used
    assert rpc_log(emu)["calls"][-1]["stats"] is (count is not None)


def test_client_old_build_token(client_module, server, emu, ws):
    new_build(emu, ws["id"])
    with pytest.raises(client_module.AgentRPCError) as info:
        update(client_module, server, ws)
    assert info.value.status == 401 and "HTTP 401: Workspace agent not authorized." in info.value.message
    assert token_of(ws) not in str(info.value)


@pytest.mark.parametrize("version, role, expected", [
    ("v2.34.3", "ansible", "connecting"),
    ("v2.31.1", "ansible-keepalive", "connecting"),
    ("v2.34.3", None, "disconnected"),
    ("v2.34.3", "agent", "disconnected"),
    ("v2.31.0", "ansible", "disconnected"),
    ("v2.13.0", "ansible", "disconnected"),
    ("v2.12.3", "ansible", "disconnected"),  # the route exists since v2.9 (agent-rpc.md §2)
])
def test_disconnected_side_effect(client_module, server, emu, ws, version, role, expected):
    set_version(emu, version)
    assert update(client_module, server, ws, role=role) == 30.0
    assert agent_status(emu, ws) == expected
    conn = rpc_log(emu)["connections"][-1]
    assert conn["monitored"] is (expected == "disconnected") and conn["close_code"] == 1000


def test_client_old_server_and_bad_version(client_module, server, emu, ws):
    with pytest.raises(client_module.AgentRPCError) as info:
        update(client_module, server, ws, api_version="2.11")
    assert info.value.status == 400 and "behind requested minor version 2.11" in info.value.message
    set_version(emu, "v2.8.5")
    with pytest.raises(client_module.AgentRPCError) as info:
        update(client_module, server, ws)
    assert info.value.status == 404 and "no agent RPC route" in info.value.message


@pytest.mark.parametrize("kind, counter", [("ping", "yamux_pongs"), ("ws_ping", "ws_pongs"), ("split", None)])
def test_client_survives_pings_and_split_frames(client_module, server, emu, ws, kind, counter):
    add_fault(emu, kind)
    advance(emu, 1200)
    assert update(client_module, server, ws) == 30.0
    log = rpc_log(emu)
    assert log["calls"][-1]["bumped"] is True and log["calls"][-1]["fault"] == kind
    if counter:
        assert log["connections"][-1][counter] == 1


@pytest.mark.parametrize("kind, match", [
    ("error", "Coder answered UpdateStats with an error: report agent stats: boom"),
    ("goaway", r"GoAway: internal error"),
    ("rst", "reset the yamux stream"),
    ("close_1011", r"closed the WebSocket \(status 1011: internal error\)"),
])
def test_client_reports_failures(client_module, server, emu, ws, kind, match):
    add_fault(emu, kind)
    deadline = latest(emu, ws["id"])["deadline"]
    advance(emu, 1200)
    with pytest.raises(client_module.AgentRPCError, match=match):
        update(client_module, server, ws)
    assert latest(emu, ws["id"])["deadline"] == deadline
    assert rpc_log(emu)["calls"][-1]["fault"] == kind


def test_fault_validation_and_log_reset(emu):
    bad = emu.post("/__emulator/agent-rpc/faults", {"faults": [{"kind": "nope"}]}, token=None)
    assert bad.status == 400
    add_fault(emu, "error", count=2)
    assert rpc_log(emu)["faults"][0]["count"] == 2
    assert emu.delete("/__emulator/agent-rpc", token=None).status == 204
    assert rpc_log(emu) == {"connections": [], "calls": [], "faults": []}


def _connect_proxy(listener, seen):
    """A one-connection HTTP CONNECT proxy on 127.0.0.1 that forwards to the emulator."""
    client, _addr = listener.accept()
    head = b""
    while b"\r\n\r\n" not in head:
        head += client.recv(4096)
    seen.append(head.decode())
    host, port = head.split(b" ")[1].decode().rsplit(":", 1)
    upstream = socket.create_connection((host, int(port)), timeout=10)
    client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
    pair = {client: upstream, upstream: client}
    while True:
        ready, _w, _x = select.select(list(pair), [], [], 10)
        data = ready[0].recv(65536) if ready else b""
        if not data:
            break
        pair[ready[0]].sendall(data)
    client.close()
    upstream.close()


def test_client_through_connect_proxy(client_module, server, emu, ws, monkeypatch):
    listener = socket.create_server(("127.0.0.1", 0))
    seen = []
    thread = threading.Thread(target=_connect_proxy, args=(listener, seen), daemon=True)
    thread.start()
    for name in ("no_proxy", "NO_PROXY", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{listener.getsockname()[1]}")
    assert update(client_module, server, ws) == 30.0
    thread.join(10)
    listener.close()
    assert seen and seen[0].startswith(f"CONNECT 127.0.0.1:{server.port} HTTP/1.1")
    assert token_of(ws) not in seen[0]
