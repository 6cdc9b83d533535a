"""Small helpers shared by the route modules: errors, time formatting, ids, JSON decoding."""

import datetime as dt
import json
import secrets
import string
import uuid

ZERO_TIME = "0001-01-01T00:00:00Z"
NIL_UUID = "00000000-0000-0000-0000-000000000000"
SIGNED_OUT = "You are signed out or your session has expired. Please sign in again to continue."
NOT_FOUND = "Resource not found or you do not have access to this resource"
_ALNUM = string.ascii_letters + string.digits


class ApiError(Exception):
    """Raised by handlers; rendered as a codersdk.Response JSON body."""

    def __init__(self, status, message, detail="", validations=None, headers=None):
        super().__init__(message)
        self.status = status
        self.body = response_body(message, detail, validations)
        self.headers = headers or {}


def response_body(message, detail="", validations=None):
    # codersdk.Response: detail and validations are omitempty.
    body = {"message": message}
    if detail:
        body["detail"] = detail
    if validations:
        body["validations"] = validations
    return body


def not_found():
    return ApiError(404, NOT_FOUND)


def forbidden():
    # httpapi.Forbidden
    return ApiError(403, "Forbidden.",
                    "You don't have permission to view this content. If you believe this is a mistake, "
                    "please contact your administrator or try signing in with different credentials.")


def now() -> dt.datetime:
    # Postgres keeps microseconds, so do we.
    return dt.datetime.now(dt.timezone.utc)


def fmt_time(t) -> str:
    """Go's time.RFC3339Nano in UTC: fractional seconds with trailing zeros trimmed."""
    if t is None:
        return ZERO_TIME
    s = t.strftime("%Y-%m-%dT%H:%M:%S")
    if t.microsecond:
        s += ("." + f"{t.microsecond:06d}").rstrip("0")
    return s + "Z"


def go_duration(seconds: float) -> str:
    """Render like Go's time.Duration.String() for whole seconds (e.g. 168h0m0s, 1m0s)."""
    total = int(seconds)
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    if h:
        return f"{h}h{m}m{s}s"
    if m:
        return f"{m}m{s}s"
    return f"{s}s"


def new_uuid() -> str:
    return str(uuid.uuid4())


def rand_alnum(n: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _index in range(n))


def parse_uuid(value):
    """Return the canonical UUID string or None (Go's uuid.Parse accepts several spellings)."""
    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def split_api_token(token: str):
    """httpmw.SplitAPIToken: returns (id, secret) or raises ValueError with Coder's reason."""
    parts = token.split("-")
    if len(parts) != 2:
        raise ValueError(f"incorrect amount of API key parts, expected 2 got {len(parts)}")
    key_id, secret = parts
    if len(key_id) != 10:
        raise ValueError(f"invalid API key ID length, expected 10 got {len(key_id)}")
    if len(secret) != 22:
        raise ValueError(f"invalid API key secret length, expected 22 got {len(secret)}")
    return key_id, secret


def is_api_token_format(token: str) -> bool:
    try:
        key_id, secret = split_api_token(token)
    except ValueError:
        return False
    return key_id.isascii() and key_id.isalnum() and secret.isascii() and secret.isalnum()


_GO_TYPES = {"str": "string", "bool": "bool", "int": "int64", "strs": "[]string", "uuids": "[]uuid.UUID",
             "uuid": "uuid.UUID", "obj": "struct", "any": "interface {}"}


def _json_kind(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def decode_body(raw: bytes, struct_name: str, schema: dict) -> dict:
    """Decode a JSON body the way httpapi.Read (encoding/json) does.

    Unknown fields are ignored, null leaves the zero value, a type mismatch is a 400 with a
    Go-style detail. ``schema`` maps json field -> kind; returned dict has every schema field.
    """
    defaults = {"str": "", "bool": False, "int": 0, "strs": None, "uuids": None, "uuid": None,
                "obj": None, "any": None}
    try:
        data = json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "Request body must be valid JSON.", str(exc)) from None
    if data is None and not raw.strip():
        raise ApiError(400, "Request body must be valid JSON.", "EOF")
    if not isinstance(data, dict):
        if data is None:
            data = {}
        else:
            raise ApiError(400, "Request body must be valid JSON.",
                           f"json: cannot unmarshal {_json_kind(data)} into Go value of type codersdk.{struct_name}")
    out = {}
    for field, kind in schema.items():
        v = data.get(field)
        if v is None:
            out[field] = defaults[kind]
            continue
        ok = {
            "str": isinstance(v, str),
            "bool": isinstance(v, bool),
            "int": isinstance(v, int) and not isinstance(v, bool),
            "strs": isinstance(v, list) and all(isinstance(x, str) for x in v),
            "uuids": isinstance(v, list) and all(isinstance(x, str) for x in v),
            "uuid": isinstance(v, str),
            "obj": isinstance(v, dict),
            "any": True,
        }[kind]
        if not ok:
            raise ApiError(400, "Request body must be valid JSON.",
                           f"json: cannot unmarshal {_json_kind(v)} into Go struct field "
                           f"{struct_name}.{field} of type {_GO_TYPES[kind]}")
        if kind == "uuids":
            parsed = []
            for x in v:
                u = parse_uuid(x)
                if u is None:
                    raise ApiError(400, "Request body must be valid JSON.", f"invalid UUID length: {len(x)}")
                parsed.append(u)
            v = parsed
        elif kind == "uuid":
            u = parse_uuid(v)
            if u is None:
                raise ApiError(400, "Request body must be valid JSON.", f"invalid UUID length: {len(v)}")
            v = u
        out[field] = v
    out["__present__"] = set(data)
    return out


def validation_error(field: str, tag: str, value) -> dict:
    # go-playground validator message as rendered by httpapi.Read.
    return {"field": field, "detail": f'Validation failed for tag "{tag}" with value: "{value}"'}


def raise_validation(errors):
    if errors:
        raise ApiError(400, "Validation failed.", validations=errors)
