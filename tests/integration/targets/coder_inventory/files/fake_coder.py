# Stands in for the coder CLI as ssh's ProxyCommand: records the arguments it was given and whether the
# deployment's settings reached it through the environment (never their values), then ends the connection.
import json
import os
import sys

record = {
    "argv": sys.argv[1:],
    "has_url_env": bool(os.environ.get("CODER_URL")),
    "has_token_env": bool(os.environ.get("CODER_SESSION_TOKEN")),
}
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "calls.jsonl"), "a", encoding="utf-8") as calls:
    calls.write(json.dumps(record) + "\n")
sys.stderr.write("fake coder: recorded the call; no workspace behind it\n")
sys.exit(1)
