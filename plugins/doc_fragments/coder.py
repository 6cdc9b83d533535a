# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Connection options shared by every module of the collection.
    DOCUMENTATION = r"""
options:
  url:
    description:
      - Address of the Coder deployment, such as C(https://coder.example.com).
      - With or without a trailing slash, with or without C(/api/v2), and with a path prefix when Coder is
        served under a sub-path of a reverse proxy.
      - If not set, the value of the E(CODER_URL) environment variable is used.
      - Required, as the option or the environment variable.
    type: str
  token:
    description:
      - A Coder session token or API token of the user the module acts as (C(coder tokens create)).
      - If not set, the value of the E(CODER_SESSION_TOKEN) environment variable is used.
      - Required, as the option or the environment variable. It is sent only in the C(Coder-Session-Token)
        header and never appears in results, diffs, warnings or errors.
    type: str
  validate_certs:
    description:
      - Whether to verify the TLS certificate of the deployment.
      - If not set, the value of the E(CODER_VALIDATE_CERTS) environment variable is used, then V(true).
    type: bool
    default: true
  ca_path:
    description:
      - A CA bundle (PEM file) to verify the deployment's certificate with, for a private CA.
      - The usual E(REQUESTS_CA_BUNDLE) variable works too.
    type: path
  timeout:
    description:
      - Seconds to wait for each answer from the API.
    type: float
    default: 30
  retries:
    description:
      - How many times a request is retried after a connection error or an HTTP 429, 502, 503 or 504 answer,
        with exponential backoff and jitter. A C(Retry-After) header from Coder's rate limiter is honoured
        (up to 120 seconds).
      - Each retry is reported as a warning.
      - A request that creates something is not sent twice if it may have reached the server; the module
        first looks the object up.
    type: int
    default: 3
notes:
  - Proxy settings come from the usual E(HTTPS_PROXY), E(HTTP_PROXY) and E(NO_PROXY) environment variables.
  - All modules of this collection are in the action group C(coder.automation.coder), so connection settings
    can be given once in C(module_defaults) for C(group/coder.automation.coder).
requirements:
  - requests
"""

    ATTRIBUTES = r"""
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying the deployment.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  action_group:
    description: Use C(group/coder.automation.coder) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - coder.automation.coder
"""

    # What every *_info module says of its attributes, merged into ATTRIBUTES' descriptions.
    INFO_MODULE = r"""
attributes:
  check_mode:
    support: full
    details:
      - The module only reads, in check mode as otherwise.
  diff_mode:
    support: none
"""
