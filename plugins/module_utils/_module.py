# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every module shares: the connection options, building the client, and reporting errors."""

from __future__ import annotations

import traceback

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ._client import HAS_REQUESTS, REQUESTS_IMPORT_ERROR, CoderClient
from ._errors import CoderAPIError, CoderConfigError, CoderError, CoderInputError, redact


def connection_argument_spec():
    """The options of the ``coder.automation.coder`` doc fragment, with their environment fallbacks."""
    return dict(
        url=dict(type="str", fallback=(env_fallback, ["CODER_URL"])),
        token=dict(type="str", no_log=True, fallback=(env_fallback, ["CODER_SESSION_TOKEN"])),
        validate_certs=dict(type="bool", default=True, fallback=(env_fallback, ["CODER_VALIDATE_CERTS"])),
        ca_path=dict(type="path"),
        timeout=dict(type="float", default=30.0),
        retries=dict(type="int", default=3),
    )


# The environment variable of each token option.
TOKEN_VARIABLES = {"token": "CODER_SESSION_TOKEN", "agent_token": "CODER_AGENT_TOKEN"}


def agent_token_argument_spec():
    """The workspace agent's token, for the /workspaceagents/me/* routes (a UUID, sent like a session token)."""
    return dict(agent_token=dict(type="str", no_log=True, fallback=(env_fallback, ["CODER_AGENT_TOKEN"])))


def client_from_module(module, token_option="token"):
    """A ``CoderClient`` from the module's connection options; fails the module on bad settings.

    ``token_option="agent_token"`` builds the client of the agent routes: the same URL and TLS settings, with the
    workspace agent's token in the ``Coder-Session-Token`` header instead of a user's.
    """
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"), exception=str(REQUESTS_IMPORT_ERROR))
    params = module.params
    missing = [f"the {option} option or the {variable} environment variable"
               for option, variable in (("url", "CODER_URL"), (token_option, TOKEN_VARIABLES[token_option]))
               if not params.get(option)]
    if missing:
        module.fail_json(msg="Missing Coder connection settings: set " + " and ".join(missing) + ".")
    if params["retries"] < 0 or params["timeout"] <= 0:
        module.fail_json(msg="retries must be 0 or more and timeout more than 0 seconds.")
    try:
        return CoderClient(
            params["url"], params[token_option], validate_certs=params["validate_certs"], ca_path=params["ca_path"],
            timeout=params["timeout"], retries=params["retries"], warn=module.warn,
        )
    except CoderConfigError as error:
        module.fail_json(msg=redact(str(error), [params.get("token"), params.get("agent_token")]))


def plan_result(module, plan, **fields):
    """The result a resource module reports from its plan: changed, actions, the diff in diff mode, and the
    plan's warnings. In check mode, or when nothing would change, the module exits here with it."""
    for warning in plan.warnings:
        module.warn(warning)
    result = dict(changed=plan.changed, actions=plan.descriptions(), **fields)
    if module._diff:
        result["diff"] = plan.diff()
    if module.check_mode or not plan.changed:
        module.exit_json(**result)
    return result


# Added to any API failure with these statuses, whatever the module was doing.
STATUS_HINTS = {
    401: "Coder did not accept the token (the token option or CODER_SESSION_TOKEN): it is missing, expired, "
         "revoked, or its user is suspended or deleted.",
}


def fail_with_error(module, error, action, **result):
    """Fail the module with a message naming the action and object, e.g. "Could not create user 'ana': ..."."""
    secrets = [module.params.get("token"), (module.params.get("token") or "").strip(), module.params.get("password"),
               module.params.get("agent_token"), (module.params.get("agent_token") or "").strip()]
    if isinstance(error, CoderAPIError):
        message = f"Could not {action}: {error.describe()}"
        if error.status in STATUS_HINTS:
            message += " " + STATUS_HINTS[error.status]
        result["api_error"] = error.to_result()
    elif isinstance(error, CoderInputError):
        message = f"Invalid {error.field}: {error.message}"
    elif isinstance(error, CoderError):
        message = f"Could not {action}: {error}"
    else:
        message = f"Could not {action}: unexpected {type(error).__name__}: {error}"
        result["exception"] = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    module.fail_json(msg=redact(message, secrets), **redact(result, secrets))
