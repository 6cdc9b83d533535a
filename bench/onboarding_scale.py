"""The onboarding role at the scale of a real company, against the emulator, next to a uri-loop baseline.

A roster of 1,000 users and 50 groups of about 100 members each. Prints, for the role and for the baseline
(bench/onboarding/baseline.yml, ansible.builtin.uri in a loop), the time of the first apply and of a rerun
that changes nothing, and the requests each sent (reads and writes, from the emulator's request log).
Sends traffic only to the emulator it starts on 127.0.0.1. Usage:
    .venv/bin/python bench/onboarding_scale.py [--users 1000] [--groups 50] [--skip-baseline]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import string
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def token():
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(10)) + "-" + "".join(
        secrets.choice(alphabet) for _ in range(22))


def write_roster(path, users, groups, groups_per_user=5):
    with open(path, "w") as handle:
        handle.write("username,email,name,login_type,roles,groups\n")
        for number in range(users):
            teams = sorted({f"team-{(number * 7 + k * 11) % groups:02d}" for k in range(groups_per_user)})
            handle.write(f"user-{number:04d},User.{number:04d}@Example.test,User {number},github,,{';'.join(teams)}\n")


def emulator_call(url, method, path):
    request = urllib.request.Request(url + path, method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
    return json.loads(body) if body else None


def run(playbook, url, environment, roster):
    emulator_call(url, "DELETE", "/__emulator/requests")
    started = time.perf_counter()
    completed = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), str(playbook), "-e",
                                f"roster_file={roster}"], env=environment, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        print(completed.stdout[-3000:], completed.stderr[-3000:])
        raise SystemExit(f"{playbook.name} failed")
    log = emulator_call(url, "GET", "/__emulator/requests")["requests"]
    writes = sum(entry["method"] in WRITES for entry in log)
    return elapsed, len(log) - writes, writes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--groups", type=int, default=50)
    parser.add_argument("--skip-baseline", action="store_true")
    options = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="coder-bench-"))
    roster = work / "people.csv"
    write_roster(roster, options.users, options.groups)
    collections = work / "collections" / "ansible_collections" / "coder"
    collections.mkdir(parents=True)
    (collections / "automation").symlink_to(ROOT)
    owner_token = token()
    environment = dict(os.environ, CODER_SESSION_TOKEN=owner_token, ANSIBLE_COLLECTIONS_PATH=str(work / "collections"),
                       ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    emulator = subprocess.Popen([sys.executable, "-m", "coder_emulator", "--host", "127.0.0.1", "--port", "0",
                                 "--token-env", "CODER_SESSION_TOKEN"], stdout=subprocess.PIPE, text=True,
                                env=environment)
    try:
        url = emulator.stdout.readline().strip().rsplit(" ", 1)[-1]
        environment["CODER_URL"] = url
        print(f"roster: {options.users} users, {options.groups} groups of about "
              f"{options.users * 5 // options.groups} members; emulator at {url}; {os.cpu_count()} cores")
        figures = {}
        for name, playbook in (("onboarding role", ROOT / "bench/onboarding/onboarding.yml"),
                               ("uri loop baseline", ROOT / "bench/onboarding/baseline.yml")):
            if name.startswith("uri") and options.skip_baseline:
                continue
            emulator_call(url, "POST", "/__emulator/reset")
            first = run(playbook, url, environment, roster)
            rerun = run(playbook, url, environment, roster)
            figures[name] = (first, rerun)
            for label, (seconds, reads, writes) in (("first apply", first), ("rerun", rerun)):
                print(f"{name:<18} {label:<12} {seconds:7.1f} s  {reads:6d} reads  {writes:6d} writes")
        if len(figures) == 2:
            role, baseline = figures["onboarding role"], figures["uri loop baseline"]
            print(f"baseline / role: first apply {baseline[0][0] / role[0][0]:.1f}x, "
                  f"rerun {baseline[1][0] / role[1][0]:.1f}x")
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)


if __name__ == "__main__":
    main()
