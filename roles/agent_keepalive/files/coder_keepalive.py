# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""coder-keepalive: keeps a Coder workspace alive while a long job runs, and writes the job's life into the
workspace's agent logs. Python standard library only, so it runs in any workspace image.

    coder_keepalive.py --config FILE watch           # while a process matching the patterns runs
    coder_keepalive.py --config FILE run -- CMD ...  # runs CMD; exits with its status

The config (JSON, written by the coder.automation.agent_keepalive role) holds the deployment URL, the path of
the token file, patterns, the interval and the log source name, never the token. The token comes from the
token file (mode 0600) or from CODER_AGENT_TOKEN, and is re-read after a 401 (a rebuild issues a new one).
Activity goes by the route the server supports (its version from /api/v2/buildinfo): the agent RPC channel's
UpdateStats from v2.31.1, the legacy report-stats route before v2.13, app status "working" in between when an
app slug is configured.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))

# The collection's own agent RPC channel, copied beside this file by the role (written once, used twice).
from coder_keepalive_lib._agent_rpc import AgentRPCError, update_stats

LOG_SOURCE_NAMESPACE = uuid.UUID("6f1c9b52-3c1e-4d6a-9a55-3c3a1c2f7e10")
MAX_AUTH_FAILURES = 3
FIRST_RETRY_SECONDS = 15
MAX_BACKOFF_SECONDS = 300


DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|d|h|m|s)")
UNIT_MS = {"d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1_000, "ms": 1}


def duration_ms(value):
    """Milliseconds from a number of milliseconds (as Coder's activity_bump_ms) or 8h, 90m, 1d2h; None if empty."""
    text = str(value if value is not None else "").strip().lower()
    if not text:
        return None
    if text.isdigit():
        return int(text)
    if DURATION.sub("", text):
        raise ValueError(f"'{value}' is not a duration (use milliseconds, or forms such as 1h or 90m)")
    return int(sum(float(number) * UNIT_MS[unit] for number, unit in DURATION.findall(text)))


def report_interval(interval, activity_bump):
    """Seconds between reports: the interval given (at least 1), else a quarter of the template's activity
    bump (at least 60 s) so that every bump window gets a report, else 15 minutes."""
    if str(interval if interval is not None else "").strip():
        return max(1, int(interval))
    bump = duration_ms(activity_bump)
    return max(60, bump // 4000) if bump else 900


class Unauthorized(Exception):
    """The server refused the token (401)."""


class Keepalive:
    def __init__(self, config, clock=time.monotonic, sleep=time.sleep, out=sys.stderr):
        self.url = config["url"].rstrip("/")
        self.token_file = config.get("token_file") or ""
        self.patterns = [re.compile(pattern) for pattern in config.get("patterns") or []]
        self.interval = report_interval(config.get("interval"), config.get("activity_bump"))
        self.source_name = config.get("source_name") or "coder-keepalive"
        self.app_slug = config.get("app_slug") or ""
        self.allow_disconnect = bool(config.get("allow_agent_disconnect_side_effect"))
        self.state_file = config.get("state_file") or ""
        self.poll_seconds = max(0.5, float(config.get("poll_seconds") or 15))
        self.clock, self.sleep, self.out = clock, sleep, out
        self.token = self.read_token()
        self.source_id = str(uuid.uuid5(LOG_SOURCE_NAMESPACE, self.source_name))
        self.source_registered = False
        self.version = None
        self.auth_failures = 0
        self.told_no_route = False

    # ---- credentials and HTTP --------------------------------------------------------------------

    def read_token(self):
        if self.token_file and os.path.exists(self.token_file):
            with open(self.token_file, encoding="utf-8") as handle:
                return handle.read().strip()
        return os.environ.get("CODER_AGENT_TOKEN", "").strip()

    def call(self, method, path, body=None, auth=True):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   "User-Agent": "coder-keepalive (coder.automation)"}
        if auth:
            headers["Coder-Session-Token"] = self.token
        request = urllib.request.Request(self.url + "/api/v2" + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read()
                return json.loads(text) if text.strip() else None
        except urllib.error.HTTPError as error:
            if error.code == 401:
                raise Unauthorized() from None
            raise

    def server_version(self):
        if self.version is None:
            text = (self.call("GET", "/buildinfo", auth=False) or {}).get("version", "")
            match = re.match(r"^v?(\d+)\.(\d+)\.(\d+)", text)
            self.version = tuple(int(part) for part in match.groups()) if match else (999, 0, 0)
            if self.version == (0, 0, 0):
                self.version = (999, 0, 0)  # development builds are the newest
        return self.version

    def authorized(self, action):
        """Run ``action``; after a 401 re-read the token (a rebuild issues a new one) and try again. Too many
        401s in a row end the service with a clear line, since no retry can fix a stopped workspace."""
        for _attempt in range(2):
            try:
                result = action()
                self.auth_failures = 0
                return result
            except Unauthorized:
                self.token = self.read_token()
                # A new token belongs to a new agent (a rebuild): its log source is registered anew.
                self.source_registered = False
        self.auth_failures += 1
        if self.auth_failures >= MAX_AUTH_FAILURES:
            self.say("the agent token is refused (401) again and again: the workspace was probably stopped or "
                     "rebuilt; stopping.")
            raise SystemExit(2)
        return None

    # ---- what the service does -------------------------------------------------------------------

    def report_activity(self):
        """One activity report by the route the server supports; returns its name."""
        version = self.server_version()
        if version < (2, 13, 0):
            self.call("POST", "/workspaceagents/me/report-stats",
                      {"connection_count": 1, "connections_by_proto": {"ssh": 1}, "session_count_ssh": 0})
            return "report_stats"
        if version >= (2, 31, 1) or self.allow_disconnect:
            try:
                update_stats(self.url + "/api/v2", self.token, connection_count=1, role="coder-keepalive")
            except AgentRPCError as error:
                if error.status == 401:
                    raise Unauthorized() from None
                raise
            return "rpc"
        if self.app_slug and version >= (2, 30, 0):
            self.call("PATCH", "/workspaceagents/me/app-status",
                      {"app_slug": self.app_slug, "state": "working", "message": "a long job is running"})
            return "app_status"
        raise RuntimeError(f"Coder v{'.'.join(map(str, version))} has no agent-token route that keeps a workspace "
                           "alive without side effects: set app_slug (v2.30+) or allow the agent-disconnect side "
                           "effect.")

    def log(self, message, level="info"):
        # Log sources came with v2.13; older servers file the lines under their built-in source.
        with_source = self.server_version() >= (2, 13, 0)
        if with_source and not self.source_registered:
            self.call("POST", "/workspaceagents/me/log-source",
                      {"id": self.source_id, "display_name": self.source_name, "icon": "/emojis/23f1.png"})
            self.source_registered = True
        now = datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
        for start in range(0, max(len(message), 1), 1024):  # Coder stores at most 1024 characters a line
            body = {"logs": [{"created_at": now, "output": message[start:start + 1024], "level": level}]}
            if with_source:
                body["log_source_id"] = self.source_id
            self.call("PATCH", "/workspaceagents/me/logs", body)

    def say(self, message):
        print(f"coder-keepalive: {message}", file=self.out, flush=True)

    def save_state(self, **state):
        if self.state_file:
            with open(self.state_file, "w", encoding="utf-8") as handle:
                json.dump(state, handle)

    def safely(self, what, action):
        """Run an API action; on an outage, back off (doubling, up to 5 minutes) and try again later, keeping
        the job's state. Returns the action's result, or None when it has to wait for the next round."""
        try:
            return self.authorized(action)
        except SystemExit:
            raise
        except RuntimeError as error:
            # Not an outage: the server has no usable route. Say it where the user looks, once.
            if not self.told_no_route:
                self.told_no_route = True
                self.say(str(error))
                text = f"cannot keep this workspace alive: {error}"
                self.safely("logging the problem", lambda: self.log(text, level="warn"))
            return None
        except Exception as error:  # pylint: disable=broad-exception-caught  # an outage must not end the service
            self.say(f"{what} failed ({str(error)[:200]}); trying again later.")
            return None

    # ---- the loop --------------------------------------------------------------------------------

    def job_running(self, child=None):
        if child is not None:
            return child.poll() is None
        return bool(matching_processes(self.patterns))

    def keep_alive(self, description, child=None):
        """While the job runs: report activity every interval and log its progress; log its end. A wrapped job
        is always waited for, even when reporting has to stop, so that its exit status is the wrapper's."""
        started = self.clock()
        reporting = True
        self.safely("logging the start", lambda: self.log(f"started: {description}"))
        next_report, retry = started, FIRST_RETRY_SECONDS
        while self.job_running(child):
            now = self.clock()
            if reporting and now >= next_report:
                try:
                    route = self.safely("reporting activity", self.report_activity)
                except SystemExit:
                    if child is None:
                        raise
                    reporting = False  # the token is gone for good; the wrapped job still runs to its end
                    continue
                elapsed = int(now - started)
                self.save_state(job=description, started_seconds_ago=elapsed, route=route)
                if route is None:
                    # An outage: try again sooner than the interval, backing off, and keep the job's state.
                    next_report, retry = now + min(retry, self.interval), min(retry * 2, MAX_BACKOFF_SECONDS)
                else:
                    next_report, retry = now + self.interval, FIRST_RETRY_SECONDS
                    self.safely("logging progress", lambda elapsed=elapsed: self.log(
                        f"still running after {elapsed // 3600}h{elapsed % 3600 // 60:02d}m: {description}"))
            self.sleep(min(self.poll_seconds, max(0.1, next_report - self.clock())))
        status = child.wait() if child is not None else None
        ending = f"ended with exit status {status}" if status is not None else "ended"
        self.safely("logging the end", lambda: self.log(f"{ending}: {description}",
                                                        level="info" if not status else "warn"))
        self.save_state(job=description, ended=True, exit_status=status)
        return status

    def watch(self):
        """Wait for a matching process, keep alive while one runs, and wait again."""
        while True:
            found = matching_processes(self.patterns)
            if found:
                # Only the program's name and pid: a command line can hold secrets, and logs are widely readable.
                program = os.path.basename(found[0][1].split(" ", 1)[0]) or "process"
                self.keep_alive(f"{program} (pid {found[0][0]})")
            self.sleep(self.poll_seconds)


def matching_processes(patterns, proc="/proc"):
    """[(pid, command line)] of processes whose command line matches a pattern (like pgrep -f), not ours."""
    found = []
    me = os.getpid()
    for entry in os.listdir(proc):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(os.path.join(proc, entry, "cmdline"), "rb") as handle:
                command = handle.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
        except OSError:
            continue
        if command and "coder_keepalive.py" not in command and any(p.search(command) for p in patterns):
            found.append((int(entry), command))
    return sorted(found)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="coder-keepalive", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    sub = parser.add_subparsers(dest="mode", required=True)
    sub.add_parser("watch")
    run = sub.add_parser("run")
    run.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    with open(args.config, encoding="utf-8") as handle:
        keepalive = Keepalive(json.load(handle))
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    if args.mode == "watch":
        keepalive.watch()
        return 0
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("run needs a command after --")
    child = subprocess.Popen(command)
    # A stop request goes to the job; the wrapper waits for it and exits with its status.
    signal.signal(signal.SIGTERM, lambda signum, frame: child.send_signal(signal.SIGTERM))
    signal.signal(signal.SIGINT, lambda signum, frame: child.send_signal(signal.SIGINT))
    status = keepalive.keep_alive(os.path.basename(command[0]), child)
    return status if isinstance(status, int) and status >= 0 else 1


if __name__ == "__main__":
    sys.exit(main())
