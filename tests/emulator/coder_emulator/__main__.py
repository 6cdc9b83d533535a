"""Command line entry point: python -m coder_emulator --host 127.0.0.1 --port 0 --token TOKEN.

--token-env NAME reads the token from an environment variable instead, so it is not in the process
arguments for ps to show; the demo and the integration harness start the emulator that way.
"""

import argparse
import json
import os
import signal
import sys
import threading

from .server import make_server
from .state import SeedError
from .util import is_api_token_format


def parse_args(argv):
    p = argparse.ArgumentParser(prog="coder_emulator", description="Stateful Coder API emulator for tests.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    token = p.add_mutually_exclusive_group(required=True)
    token.add_argument("--token", help="session token of the first owner (<10 alnum>-<22 alnum>)")
    token.add_argument("--token-env", metavar="NAME", help="environment variable that holds the owner's token")
    p.add_argument("--license", choices=["premium", "none"], default="premium")
    p.add_argument("--version", default="v2.34.3", help="server version reported by /buildinfo")
    p.add_argument("--seed", help="JSON file with organizations, users and groups to create at start and on reset")
    p.add_argument("--fail-rate", type=float, default=0.0, help="fraction of /api/v2 requests answered 503")
    p.add_argument("--rate-limit", type=int, default=0, help="requests per minute per user and path (0 = off)")
    p.add_argument("--latency", type=float, default=0.0, help="seconds added to every /api/v2 request")
    p.add_argument("--build-delay", type=float, default=0.3, metavar="SECONDS",
                   help="how long a template import job runs (it is pending for a quarter of that first)")
    p.add_argument("--provisioners", type=int, default=1, metavar="N",
                   help="built-in provisioner daemons of the default organization (0: jobs stay pending)")
    p.add_argument("--experiments", default="", metavar="LIST",
                   help="comma-separated deployment experiments, e.g. workspace-usage")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.token_env:
        args.token = os.environ.get(args.token_env, "")
    if not is_api_token_format(args.token):
        print("error: --token must have Coder's API key format <10 alphanumeric id>-<22 alphanumeric secret>",
              file=sys.stderr)
        return 2
    if not 0.0 <= args.fail_rate <= 1.0:
        print("error: --fail-rate must be between 0 and 1", file=sys.stderr)
        return 2
    if args.build_delay < 0 or args.provisioners < 0:
        print("error: --build-delay and --provisioners must not be negative", file=sys.stderr)
        return 2
    seed = None
    if args.seed:
        try:
            with open(args.seed, encoding="utf-8") as fh:
                seed = json.load(fh)
        except (OSError, ValueError) as exc:
            print(f"error: cannot read seed file: {exc}", file=sys.stderr)
            return 2
    try:
        httpd, app = make_server(args.host, args.port, args.token, license=args.license, version=args.version,
                                 seed=seed, fail_rate=args.fail_rate, rate_limit=args.rate_limit,
                                 latency=args.latency, build_delay=args.build_delay,
                                 provisioners=args.provisioners,
                                 experiments=[e.strip() for e in args.experiments.split(",") if e.strip()])
    except (SeedError, KeyError, TypeError, ValueError) as exc:
        print(f"error: invalid seed: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2

    def stop(signum, frame):
        # shutdown() blocks until serve_forever returns, so call it off the main thread.
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"Coder emulator listening on {app.url}", flush=True)
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
