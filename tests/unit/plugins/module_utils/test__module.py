# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.coder.automation.plugins.module_utils._errors import CoderAPIError, CoderInputError
from ansible_collections.coder.automation.plugins.module_utils._module import client_from_module, fail_with_error

TOKEN = "AbCdEfGhIj-0123456789abcdefghijkl"


class Failed(Exception):
    pass


class FakeModule:
    def __init__(self, **params):
        self.params = dict(url="https://coder.example.test", token=TOKEN, validate_certs=True, ca_path=None,
                           timeout=30.0, retries=3, password=None)
        self.params.update(params)
        self.warnings = []

    def warn(self, message):
        self.warnings.append(message)

    def fail_json(self, **result):
        raise Failed(result)


def failure(module, error, action="create user 'ana'"):
    with pytest.raises(Failed) as raised:
        fail_with_error(module, error, action)
    return raised.value.args[0]


def test_api_error_names_action_and_carries_coder_fields():
    validations = [{"field": "username", "detail": "taken"}]
    error = CoderAPIError(409, "POST", "/api/v2/users", "User already exists.", "dup", validations)
    result = failure(FakeModule(), error)
    assert result["msg"].startswith("Could not create user 'ana': POST /api/v2/users returned HTTP 409")
    assert "User already exists." in result["msg"] and "username: taken" in result["msg"]
    assert result["api_error"]["status"] == 409


def test_401_gets_a_hint_about_the_token():
    result = failure(FakeModule(), CoderAPIError(401, "GET", "/api/v2/users/me", "You are signed out"))
    assert "token option or CODER_SESSION_TOKEN" in result["msg"]


def test_token_and_password_are_redacted_from_any_message():
    module = FakeModule(password="Hunter2-Hunter2-Hunter2")
    error = CoderAPIError(500, "GET", "/api/v2/x", f"echo {TOKEN} and Hunter2-Hunter2-Hunter2")
    result = failure(module, error)
    assert TOKEN not in repr(result) and "Hunter2-Hunter2-Hunter2" not in repr(result)
    try:
        raise RuntimeError(f"boom {TOKEN}")
    except RuntimeError as unexpected:
        result = failure(module, unexpected)
    assert TOKEN not in repr(result) and "Traceback" in result["exception"] and "boom ********" in result["msg"]


def test_input_error_names_the_field():
    result = failure(FakeModule(), CoderInputError("email", "Coder needs an email address to create it."))
    assert result["msg"] == "Invalid email: Coder needs an email address to create it."


@pytest.mark.parametrize("missing", [("url",), ("token",), ("url", "token")])
def test_missing_settings_name_option_and_variable(missing):
    module = FakeModule(**{name: None for name in missing})
    with pytest.raises(Failed) as raised:
        client_from_module(module)
    message = raised.value.args[0]["msg"]
    for option, variable in (("url", "CODER_URL"), ("token", "CODER_SESSION_TOKEN")):
        assert (f"{option} option" in message and variable in message) == (option in missing)
