# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The keep-alive service of the agent_keepalive role, installed the way the role installs it (the service
beside a lib/coder_keepalive_lib package holding the collection's agent channel), without a server."""

from __future__ import annotations

import importlib.util
import io
import os
import shutil
import sys
import urllib.error

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


@pytest.fixture()
def service(tmp_path, monkeypatch):
    library = tmp_path / "lib" / "coder_keepalive_lib"
    library.mkdir(parents=True)
    for name in ("_agent_rpc.py", "_errors.py"):
        shutil.copy(os.path.join(ROOT, "plugins", "module_utils", name), library / name)
    (library / "__init__.py").write_text("")
    shutil.copy(os.path.join(ROOT, "roles", "agent_keepalive", "files", "coder_keepalive.py"), tmp_path)
    spec = importlib.util.spec_from_file_location("coder_keepalive_under_test", tmp_path / "coder_keepalive.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    for name in [n for n in sys.modules if n.startswith("coder_keepalive_lib")]:
        del sys.modules[name]


def make(service, tmp_path, **config):
    token = tmp_path / "token"
    token.write_text("11111111-2222-4333-8444-555555555555\n")
    settings = {"url": "http://127.0.0.1:1/", "token_file": str(token), "patterns": ["train\\.py"], "interval": 60}
    settings.update(config)
    return service.Keepalive(settings, out=io.StringIO())


def test_token_comes_from_the_file_and_is_trimmed(service, tmp_path):
    keepalive = make(service, tmp_path)
    assert keepalive.token == "11111111-2222-4333-8444-555555555555"


@pytest.mark.parametrize("version, app_slug, allow, route", [
    ((2, 12, 4), "", False, "report_stats"), ((2, 31, 1), "", False, "rpc"), ((2, 34, 3), "code", False, "rpc"),
    ((2, 30, 2), "code", False, "app_status"), ((2, 20, 0), "", True, "rpc"),
])
def test_route_by_server_version(service, tmp_path, monkeypatch, version, app_slug, allow, route):
    keepalive = make(service, tmp_path, app_slug=app_slug, allow_agent_disconnect_side_effect=allow)
    keepalive.version = version
    calls = []
    monkeypatch.setattr(keepalive, "call", lambda method, path, body=None, auth=True: calls.append(path))
    monkeypatch.setattr(service, "update_stats", lambda *args, **kwargs: calls.append("rpc") or 30.0)
    assert keepalive.report_activity() == route


def test_no_route_without_side_effects_is_said(service, tmp_path):
    keepalive = make(service, tmp_path)
    keepalive.version = (2, 20, 0)
    with pytest.raises(RuntimeError) as error:
        keepalive.report_activity()
    assert "app_slug" in str(error.value)


def test_a_401_rereads_the_token_then_stops_after_bounded_attempts(service, tmp_path):
    keepalive = make(service, tmp_path)
    seen = []

    def refused():
        seen.append(keepalive.token)
        raise service.Unauthorized()

    (tmp_path / "token").write_text("new-token-after-rebuild\n")
    for _attempt in range(service.MAX_AUTH_FAILURES - 1):
        assert keepalive.authorized(refused) is None
    assert "new-token-after-rebuild" in seen
    with pytest.raises(SystemExit):
        keepalive.authorized(refused)
    assert "stopping" in keepalive.out.getvalue()


def test_an_outage_backs_off_and_keeps_the_job(service, tmp_path, monkeypatch):
    now = [0.0]
    keepalive = make(service, tmp_path)
    keepalive.clock = lambda: now[0]
    reports, logs = [], []

    def outage():
        reports.append(now[0])
        raise urllib.error.URLError("connection refused")

    monkeypatch.setattr(keepalive, "report_activity", outage)
    monkeypatch.setattr(keepalive, "log", lambda message, level="info": logs.append(message))

    def advance(seconds):
        now[0] += seconds

    keepalive.sleep = advance
    running = iter([True] * 400 + [False])
    monkeypatch.setattr(keepalive, "job_running", lambda child=None: next(running))
    keepalive.keep_alive("python train.py")
    gaps = [later - earlier for earlier, later in zip(reports, reports[1:])]
    assert gaps[:3] == [15, 30, 60] and max(gaps) <= 60  # backs off, never waits longer than the interval
    assert logs[0] == "started: python train.py" and logs[-1] == "ended: python train.py"


def test_matching_processes_like_pgrep(service, tmp_path):
    proc = tmp_path / "proc"
    for pid, command in ((10, b"python\0train.py\0--epochs\x0030"), (11, b"bash\0"), (12, b"")):
        (proc / str(pid)).mkdir(parents=True)
        (proc / str(pid) / "cmdline").write_bytes(command)
    (proc / "self").mkdir()
    found = service.matching_processes([__import__("re").compile(r"train\.py")], proc=str(proc))
    assert found == [(10, "python train.py --epochs 30")]


def test_a_401_on_the_agent_channel_is_a_token_problem_too(service, tmp_path, monkeypatch):
    keepalive = make(service, tmp_path)
    keepalive.version = (2, 34, 3)

    def refused(*args, **kwargs):
        raise service.AgentRPCError("Workspace agent not authorized.", status=401)

    monkeypatch.setattr(service, "update_stats", refused)
    with pytest.raises(service.Unauthorized):
        keepalive.report_activity()


@pytest.mark.parametrize("interval, bump, seconds", [
    ("", 3_600_000, 900), ("", "1h", 900), ("", "", 900), ("", 120_000, 60), (5, 3_600_000, 5), ("0", "", 1),
])
def test_interval_from_the_activity_bump_in_milliseconds_or_a_duration(service, interval, bump, seconds):
    assert service.report_interval(interval, bump) == seconds


def test_a_bad_activity_bump_is_refused(service):
    with pytest.raises(ValueError):
        service.report_interval("", "one hour")


def test_the_wrapper_exits_with_the_jobs_status(service, tmp_path, monkeypatch):
    config = tmp_path / "config.json"
    config.write_text('{"url": "http://127.0.0.1:1", "patterns": [], "interval": 3600, "poll_seconds": 0.5}')
    monkeypatch.setattr(service.Keepalive, "report_activity", lambda self: "rpc")
    monkeypatch.setattr(service.Keepalive, "log", lambda self, message, level="info": None)
    assert service.main(["--config", str(config), "run", "--", sys.executable, "-c", "raise SystemExit(3)"]) == 3
