"""How many simple reads per second the Coder API emulator serves on this machine.

Starts the emulator as its own process on 127.0.0.1 (a free port), then reads with keep-alive
connections from client processes for a fixed number of seconds, and prints figures. Bounded in time
and count; sends traffic only to the emulator it started. Usage:
    .venv/bin/python bench/emulator_requests.py [--seconds 5] [--clients 2]
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import secrets
import string
import subprocess
import sys
import time
from urllib.parse import urlsplit

MAX_REQUESTS_PER_CLIENT = 200_000


def new_token():
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(10)) + "-" + "".join(
        secrets.choice(alphabet) for _ in range(22))


def read_loop(args):
    host, port, token, path, seconds = args
    connection = http.client.HTTPConnection(host, port, timeout=10)
    headers = {"Coder-Session-Token": token}
    done, errors = 0, 0
    latencies = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and done < MAX_REQUESTS_PER_CLIENT:
        started = time.perf_counter()
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        done += 1
        errors += response.status != 200
    connection.close()
    return done, errors, latencies


def measure(host, port, token, path, seconds, clients):
    with multiprocessing.Pool(clients) as pool:
        started = time.perf_counter()
        results = pool.map(read_loop, [(host, port, token, path, seconds)] * clients)
        elapsed = time.perf_counter() - started
    total = sum(done for done, _, _ in results)
    errors = sum(errors for _, errors, _ in results)
    latencies = sorted(latency for _, _, client_latencies in results for latency in client_latencies)
    p50 = latencies[len(latencies) // 2] * 1000 if latencies else 0.0
    p99 = latencies[int(len(latencies) * 0.99)] * 1000 if latencies else 0.0
    print(f"GET {path:<22} {total / elapsed:8.0f} req/s  ({total} requests, {errors} errors, "
          f"{clients} keep-alive clients, p50 {p50:.2f} ms, p99 {p99:.2f} ms)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=2)
    options = parser.parse_args()

    token = new_token()
    environment = dict(os.environ, BENCH_CODER_TOKEN=token)
    process = subprocess.Popen(
        [sys.executable, "-m", "coder_emulator", "--host", "127.0.0.1", "--port", "0", "--token-env",
         "BENCH_CODER_TOKEN"], stdout=subprocess.PIPE, text=True, env=environment)
    try:
        line = process.stdout.readline().strip()
        url = line.rsplit(" ", 1)[-1]
        parts = urlsplit(url)
        print(f"emulator at {url}, {os.cpu_count()} cores, {options.seconds:.0f} s per figure")
        for path in ("/api/v2/buildinfo", "/api/v2/users/me", "/api/v2/users?limit=25"):
            measure(parts.hostname, parts.port, token, path, options.seconds, options.clients)
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    main()
