"""Name rules from codersdk (validator tags), see reference section 1.7."""

import re

_NAME_RE = re.compile(r"^[a-zA-Z0-9]+(?:-[a-zA-Z0-9]+)*$")
_DISPLAY_RE = re.compile(r"^[^\s](.*[^\s])?$", re.DOTALL)
# go-playground's email check is an RFC 5322 regex; this simpler form accepts the same common
# addresses and rejects the obvious garbage (no @, spaces, missing domain).
_EMAIL_RE = re.compile(r"^[^\s@\"<>(),;:\\\[\]]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*$")
_RESERVED = {"new", "create"}


def name_valid(name: str) -> bool:
    """codersdk.NameValid: usernames, org and template names."""
    return 0 < len(name) <= 32 and bool(_NAME_RE.match(name)) and name not in _RESERVED


def group_name_valid(name: str) -> bool:
    """codersdk.GroupNameValid: the NameValid pattern, up to 255 characters ("Everyone" is the handler's)."""
    return 0 < len(name) <= 255 and bool(_NAME_RE.match(name)) and name not in _RESERVED


def display_name_valid(name: str) -> bool:
    """codersdk.DisplayNameValid: empty is fine."""
    if name == "":
        return True
    return len(name) <= 64 and bool(_DISPLAY_RE.match(name))


def user_real_name_valid(name: str) -> bool:
    """codersdk.UserRealNameValid: <=128 chars, no surrounding whitespace (empty allowed)."""
    if name == "":
        return True
    return len(name) <= 128 and name.strip() == name


def email_valid(email: str) -> bool:
    return bool(_EMAIL_RE.match(email))
