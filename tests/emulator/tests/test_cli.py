"""The command line entry point, run as a real subprocess."""

import json
import os
import signal
import subprocess
import sys
import urllib.request

from conftest import OWNER_TOKEN

EMU_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _spawn(*args):
    env = dict(os.environ, PYTHONPATH=EMU_DIR)
    return subprocess.Popen([sys.executable, "-m", "coder_emulator", "--host", "127.0.0.1", "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _get(url, token=OWNER_TOKEN):
    req = urllib.request.Request(url, headers={"Coder-Session-Token": token})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


def test_start_print_url_and_sigterm(tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({
        "organizations": [{"name": "eng", "display_name": "Engineering"}],
        "users": [{"username": "sam", "email": "sam@example.com", "roles": ["auditor"],
                   "organizations": ["coder", {"name": "eng", "roles": ["organization-admin"]}],
                   "password": "SomeSecurePassword!1"}],
    }))
    proc = _spawn("--token", OWNER_TOKEN, "--seed", str(seed), "--version", "v2.30.0")
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("Coder emulator listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1]
        assert _get(url + "/api/v2/buildinfo")["version"] == "v2.30.0"
        sam = _get(url + "/api/v2/users/sam")
        assert sam["roles"] == [{"name": "auditor", "display_name": "Auditor"}] and len(sam["organization_ids"]) == 2
        member = _get(url + "/api/v2/organizations/eng/members/sam")
        assert [r["name"] for r in member["roles"]] == ["organization-admin"]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert OWNER_TOKEN not in out + err


def test_sigint_exit_zero():
    proc = _spawn("--token", OWNER_TOKEN)
    assert proc.stdout.readline().startswith("Coder emulator listening on")
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=10)
    assert proc.returncode == 0


def test_bad_token_exit_2():
    proc = _spawn("--token", "definitely-not-valid")
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 2
    assert "API key format" in err and out == ""


def test_token_from_environment_variable_keeps_it_out_of_argv():
    env = dict(os.environ, PYTHONPATH=EMU_DIR, EMULATOR_TEST_TOKEN=OWNER_TOKEN)
    process = subprocess.Popen([sys.executable, "-m", "coder_emulator", "--port", "0", "--token-env",
                                "EMULATOR_TEST_TOKEN"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        url = process.stdout.readline().strip().rsplit(" ", 1)[-1]
        assert _get(url + "/api/v2/users/me")["username"] == "admin"
        with open(f"/proc/{process.pid}/cmdline", "rb") as handle:
            assert OWNER_TOKEN.encode() not in handle.read()
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
