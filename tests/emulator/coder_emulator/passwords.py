"""Password strength as coderd/userpassword.Validate does it.

Coder calls wagslane/go-password-validator v0.3.0 with a minimum of 52 bits of entropy and then
rejects passwords longer than 64 characters. The algorithm below is a port of v0.3.0 (base.go,
length.go, validate.go) so that the same passwords pass and fail with the same messages.
"""

import math

MIN_ENTROPY = 52
MAX_LENGTH = 64

_REPLACE = "!@$&*"
_SEP = "_-., "
_OTHER_SPECIAL = "\"#%'()+/:;<=>?[\\]^{|}~"
_LOWER = "abcdefghijklmnopqrstuvwxyz"
_UPPER = _LOWER.upper()
_DIGITS = "0123456789"
_SEQUENCES = ["0123456789", "qwertyuiop", "asdfghjkl", "zxcvbnm", _LOWER]


def _base(password: str) -> int:
    groups = [_REPLACE, _SEP, _OTHER_SPECIAL, _LOWER, _UPPER, _DIGITS]
    seen = set()
    base = 0
    for c in set(password):
        for g in groups:
            if c in g:
                seen.add(g)
                break
        else:
            base += 1
    return base + sum(len(g) for g in seen)


def _remove_repeats(s: str) -> str:
    out = []
    for c in s:
        if len(out) >= 2 and out[-1] == c and out[-2] == c:
            continue
        out.append(c)
    return "".join(out)


def _remove_sequence(s: str, seq: str) -> str:
    # Literal port of removeMoreThanTwoFromSequence, including its odd cursor handling, so
    # borderline passwords score exactly as in Go.
    runes = list(s)
    matches = 0
    i = 0
    while i < len(runes):
        for r2 in seq:
            if i >= len(runes):
                break
            if runes[i] != r2:
                matches = 0
                continue
            matches += 1
            if matches > 2:
                del runes[i]
            else:
                i += 1
        i += 1
    return "".join(runes)


def _length(password: str) -> int:
    password = _remove_repeats(password)
    for seq in _SEQUENCES:
        password = _remove_sequence(password, seq)
    for seq in _SEQUENCES:
        password = _remove_sequence(password, seq[::-1])
    # Go's len() counts bytes, not characters.
    return len(password.encode("utf-8"))


def entropy(password: str) -> float:
    base = _base(password)
    if base == 0:
        return 0.0
    return _length(password) * math.log2(base)


def validate(password: str) -> str | None:
    """Return None if acceptable, else the error text Coder puts in the validation detail."""
    if entropy(password) < MIN_ENTROPY:
        has = {name: any(c in chars for c in password) for name, chars in
               (("replace", _REPLACE), ("sep", _SEP), ("other", _OTHER_SPECIAL),
                ("lower", _LOWER), ("upper", _UPPER), ("digits", _DIGITS))}
        msgs = []
        if not (has["other"] and has["sep"] and has["replace"]):
            msgs.append("including more special characters")
        if not has["lower"]:
            msgs.append("using lowercase letters")
        if not has["upper"]:
            msgs.append("using uppercase letters")
        if not has["digits"]:
            msgs.append("using numbers")
        if msgs:
            return "insecure password, try " + ", ".join(msgs) + " or using a longer password"
        return "insecure password, try using a longer password"
    if len(password) > MAX_LENGTH:
        return f"password must be no more than {MAX_LENGTH} characters"
    return None
