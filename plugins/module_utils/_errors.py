# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors raised by the Coder API client and the resource layer.

Helpers raise these; only modules turn them into ``fail_json``. None of them ever carries a token:
the client never puts request headers into an error, and ``redact`` is applied once more by the
module before anything is shown.
"""

from __future__ import annotations


class CoderError(Exception):
    """Base class of every error this collection raises on purpose."""


class CoderConfigError(CoderError):
    """Bad connection settings (URL, token, TLS) found before any request is sent."""


class CoderInputError(CoderError):
    """Input the server would reject, found before anything is written.

    ``field`` is the option the user has to fix.
    """

    def __init__(self, field, message):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotCoderAPIError(CoderError):
    """The URL answered, but not as a Coder API does (HTML, plain text, invalid JSON)."""

    def __init__(self, url, method, path, status, content_type):
        self.url = url
        self.method = method
        self.path = path
        self.status = status
        self.content_type = content_type or "no content type"
        super().__init__(
            f"not a Coder API at {url}: {method} {path} answered HTTP {status} with {self.content_type} "
            "instead of JSON. Check the url option (or CODER_URL): it must be the address of the Coder "
            "deployment, such as https://coder.example.com, optionally with its path prefix."
        )


class CoderAPIError(CoderError):
    """Coder answered with an error status.

    Carries what Coder's error body holds (``message``, ``detail``, ``validations``) together with the
    request's method and path, so a module can say which object and action failed and why.
    """

    def __init__(self, status, method, path, message, detail=None, validations=None, reason=None):
        self.status = status
        self.method = method
        self.path = path
        self.message = message or ""
        self.detail = detail or ""
        self.validations = list(validations or [])
        self.reason = reason or ""
        super().__init__(self.describe())

    def describe(self):
        """One line: what Coder said, then its detail and each field validation."""
        text = f"{self.method} {self.path} returned HTTP {self.status}"
        if self.reason:
            text += f" {self.reason}"
        if self.message:
            text += f": {self.message}"
        if self.detail:
            text += f" ({self.detail})"
        if self.validations:
            fields = "; ".join(f"{v.get('field', '?')}: {v.get('detail', '')}" for v in self.validations)
            text += f" Validation errors: {fields}."
        return text

    def to_result(self):
        """The error as structured data for a module's result (``api_error``)."""
        return {
            "status": self.status,
            "method": self.method,
            "path": self.path,
            "message": self.message,
            "detail": self.detail,
            "validations": self.validations,
        }


class CoderTransportError(CoderError):
    """No usable answer after every retry: connection refused, timeouts, TLS failures."""


def redact(value, secrets):
    """Replace every occurrence of each secret in a string, or in every string of a dict or list.

    Defence in depth for what is shown to users: the client never puts a token into an error, but a server
    or a proxy could echo one back in a message.
    """
    if isinstance(value, dict):
        return {key: redact(item, secrets) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(item, secrets) for item in value]
    if not isinstance(value, str):
        return value
    for secret in secrets:
        if secret and len(secret) >= 4:
            value = value.replace(secret, "********")
    return value


class CoderFeatureError(CoderError):
    """The deployment's license lacks a feature the task needs; carries Coder's own words."""

    def __init__(self, feature, coder_message=None, needed_by=None):
        self.feature = feature
        self.coder_message = coder_message
        if coder_message:
            text = (f"this deployment's license does not include the '{feature}' feature, so nothing was changed. "
                    f"Coder says: \"{coder_message}\"")
        else:
            text = (f"{needed_by} needs the Premium feature '{feature}', which this deployment's license does not "
                    "include (its /entitlements says so), so nothing was changed.")
        super().__init__(text)
