"""The `q` user search syntax (coderd/searchquery.Users) and pagination parsing (coderd/pagination.go)."""

import datetime as dt
import re

from .util import ApiError, parse_uuid

_STATUSES = ("active", "dormant", "suspended")
_LOGIN_TYPES = ("password", "github", "oidc", "token", "none")
_GO_BOOL = {"1": True, "t": True, "true": True, "0": False, "f": False, "false": False}
# strconv.ParseBool on a raw (not lowercased) value: these spellings only, so "tRuE" is invalid.
_GO_PARSE_BOOL = {**{k: True for k in ("1", "t", "T", "TRUE", "true", "True")},
                  **{k: False for k in ("0", "f", "F", "FALSE", "false", "False")}}
_RFC3339NANO = "2006-01-02T15:04:05.999999999Z07:00"
_TIME_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
INT32_MAX = 2**31 - 1


def _split(query: str, delim: str, keep_quotes: bool):
    """splitQueryParameterByDelimiter: split outside double quotes, drop empty fields."""
    parts, cur, quoted = [], [], False
    for ch in query:
        if ch == '"':
            quoted = not quoted
        if not quoted and ch == delim:
            if cur:
                parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if cur:
        parts.append("".join(cur))
    if not keep_quotes:
        parts = [p.strip('"') for p in parts]
    return parts


def search_terms(query: str, default=None):
    """Return (ordered dict key -> [values], errors).

    ``default(term, values)`` is searchTerms' defaultKey: it files a bare term (returning an error text to
    reject it); without one, bare terms go under "search" as the user search files them."""
    tokens = _split(query, " ", True)
    # processTokens: key:value tokens stay, the bare words are joined into one trailing term.
    elements = [t for t in tokens if ":" in t]
    bare = [t for t in tokens if ":" not in t]
    if bare:
        elements.append(" ".join(bare))
    values: dict[str, list] = {}
    for el in elements:
        if el.startswith(":") or el.endswith(":"):
            return None, [{"field": "q", "detail": f"Query element {_goq(el)} cannot start or end with ':'"}]
        parts = _split(el, ":", False)
        if len(parts) == 1:
            if default is None:
                values.setdefault("search", []).append(el)
            else:
                problem = default(el, values)
                if problem:
                    return None, [{"field": "q", "detail": problem}]
        elif len(parts) == 2:
            values.setdefault(parts[0].lower(), []).append(parts[1])
        else:
            return None, [{"field": "q", "detail": f"Query element {_goq(el)} can only contain 1 ':'"}]
    return values, []


def go_parse_bool(raw: str):
    """strconv.ParseBool: True or False, or None when Go answers "invalid syntax"."""
    return _GO_PARSE_BOOL.get(raw)


def _goq(s: str) -> str:
    """Go's %q for the strings that occur here."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _parse_time(term: str):
    m = _TIME_RE.match(term.upper())
    if not m:
        raise ValueError(f"parsing time {_goq(term.upper())} as {_goq(_RFC3339NANO)}: cannot parse")
    y, mo, d, h, mi, s, frac, tz = m.groups()
    micro = int((frac[1:] + "000000")[:6]) if frac else 0
    if tz == "Z":
        tzinfo = dt.timezone.utc
    else:
        sign = 1 if tz[0] == "+" else -1
        tzinfo = dt.timezone(sign * dt.timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6])))
    return dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), micro, tzinfo).astimezone(dt.timezone.utc)


def parse_user_query(q: str):
    """Return (filter dict, validation errors)."""
    values, errors = search_terms(q.lower())
    if errors:
        return None, errors
    errors = []
    parsed = set()

    def single(key):
        parsed.add(key)
        vals = values.get(key)
        if not vals or vals[0] == "":
            return None
        if len(vals) > 1:
            errors.append({"field": key, "detail": f"Query param {_goq(key)} provided more than once, found "
                                                   f"{len(vals)} times. Only provide 1 instance of this query param."})
            return None
        return vals[0]

    def listed(key, allowed=None):
        parsed.add(key)
        vals = values.get(key)
        if not vals:
            return []
        terms = [t for v in vals for t in v.split(",")]
        if allowed is not None:
            bad = [t for t in terms if t not in allowed]
            if bad:
                errors.append({"field": key,
                               "detail": f"Query param {_goq(key)} has invalid values: {','.join(bad)}"})
                return []
        return terms

    f = {"search": single("search") or "", "name": single("name") or "",
         "status": listed("status", _STATUSES), "role": listed("role"),
         "login_type": listed("login_type", _LOGIN_TYPES)}
    sa = single("service_account")
    f["service_account"] = None
    if sa is not None:
        if sa in _GO_BOOL:
            f["service_account"] = _GO_BOOL[sa]
        else:
            errors.append({"field": "service_account",
                           "detail": f'Query param "service_account" must be a valid boolean '
                                     f'(strconv.ParseBool: parsing {_goq(sa)}: invalid syntax)'})
    for key in ("last_seen_before", "last_seen_after", "created_before", "created_after"):
        raw = single(key)
        f[key] = None
        if raw is not None:
            try:
                f[key] = _parse_time(raw)
            except ValueError as exc:
                errors.append({"field": key, "detail": f"Query param {_goq(key)} must be a valid date format "
                                                       f"({_RFC3339NANO}): {exc}"})
    gh = single("github_com_user_id")
    f["github_com_user_id"] = 0
    if gh is not None:
        try:
            f["github_com_user_id"] = int(gh, 10)
        except ValueError:
            errors.append({"field": "github_com_user_id",
                           "detail": f'Query param "github_com_user_id" must be a valid 64-bit integer '
                                     f'(strconv.ParseInt: parsing {_goq(gh)}: invalid syntax)'})
    for key in values:
        if key not in parsed:
            errors.append({"field": key, "detail": f"Query param {_goq(key)} is not a valid query param"})
    return f, errors


class QueryParams:
    """httpapi.QueryParamParser as of coder/coder main (queryparams.go): the parsers searchquery.Workspaces
    uses, with their error texts. Absent or empty-first values give the default (parseQueryParamSet checks
    that before counting values); a single-valued parser given more than one value reports that and gives the
    default. Each parse marks its key as parsed, so ``excess`` can name the keys nobody asked for.

    The user and template searches above still word some errors the way older releases did
    ("(strconv.ParseBool: ...)"); this class follows the current texts ("must be a valid boolean: ...")."""

    def __init__(self, values: dict):
        self.values = values
        self.parsed = set()
        self.errors = []

    def _error(self, key, detail):
        self.errors.append({"field": key, "detail": detail})

    def _set(self, key):
        self.parsed.add(key)
        vals = self.values.get(key)
        return vals if vals and vals[0] != "" else None

    def _single(self, key):
        vals = self._set(key)
        if vals is None:
            return None
        if len(vals) > 1:
            self._error(key, f"Query param {_goq(key)} provided more than once, found {len(vals)} times. "
                             f"Only provide 1 instance of this query param.")
            return None
        return vals[0]

    def string(self, key, default=""):
        raw = self._single(key)
        return default if raw is None else raw

    def custom(self, key, parse, default=None):
        """ParseCustom: ``parse`` returns the value or raises ValueError with the error's text."""
        raw = self._single(key)
        if raw is None:
            return default
        try:
            return parse(raw)
        except ValueError as exc:
            self._error(key, f"Query param {_goq(key)} has invalid value: {exc}")
            return default

    def custom_list(self, key, parse, default=()):
        """ParseCustomList: every value, each split at commas; the failures' texts joined by errors.Join."""
        vals = self._set(key)
        if vals is None:
            return list(default)
        out, bad = [], []
        for term in (t for v in vals for t in v.split(",")):
            try:
                out.append(parse(term))
            except ValueError as exc:
                bad.append(str(exc))
        if bad:
            self._error(key, f"Query param {_goq(key)} has invalid values: " + "\n".join(bad))
            return []
        return out

    def strings(self, key):
        return self.custom_list(key, lambda v: v)

    def boolean(self, key, default=False):
        """Boolean (and NullableBoolean, whose default is None): strconv.ParseBool."""
        raw = self._single(key)
        if raw is None:
            return default
        value = go_parse_bool(raw)
        if value is None:
            self._error(key, f"Query param {_goq(key)} must be a valid boolean: strconv.ParseBool: parsing "
                             f"{_goq(raw)}: invalid syntax")
            return default
        return value

    def time3339nano(self, key):
        """Time3339Nano: the (lowercased) term is uppercased, then parsed as RFC 3339 with nanoseconds.
        The text after "cannot parse" is shorter than Go's (which names the first element that failed)."""
        raw = self._single(key)
        if raw is None:
            return None
        try:
            return _parse_time(raw)
        except ValueError as exc:
            self._error(key, f"Query param {_goq(key)} must be a valid date format ({_RFC3339NANO}): {exc}")
            return None

    def excess(self):
        """ErrorExcessParams (after every parser has run)."""
        for key in self.values:
            if key not in self.parsed:
                self._error(key, f"{_goq(key)} is not a valid query param")


def _like(pattern: str):
    """SQL ILIKE '%pattern%' where % and _ inside the term stay wildcards, as in Postgres."""
    out = []
    for ch in pattern:
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


_MIN_TIME = dt.datetime.min.replace(tzinfo=dt.timezone.utc)


def user_matcher(f: dict):
    """Build a predicate over state.User implementing the GetUsers SQL WHERE clause."""
    checks = []
    if f["search"]:
        rx = _like(f["search"])
        checks.append(lambda u: rx.search(u.username) or rx.search(u.email))
    if f["name"]:
        rxn = _like(f["name"])
        checks.append(lambda u: rxn.search(u.name))
    if f["status"]:
        st = set(f["status"])
        checks.append(lambda u: u.status in st)
    # 'member' != ANY(roles): filtering applies as soon as any requested role is not 'member'.
    if f["role"] and any(r != "member" for r in f["role"]):
        rs = set(f["role"])
        checks.append(lambda u: bool(rs.intersection(u.roles)))
    if f["login_type"]:
        lt = set(f["login_type"])
        checks.append(lambda u: u.login_type in lt)
    if f["service_account"] is not None:
        sa = f["service_account"]
        checks.append(lambda u: u.is_service_account == sa)
    if f["github_com_user_id"]:
        gid = f["github_com_user_id"]
        checks.append(lambda u: u.github_com_user_id == gid)

    def seen(u):
        return u.last_seen_at or _MIN_TIME
    if f["last_seen_before"]:
        t1 = f["last_seen_before"]
        checks.append(lambda u: seen(u) < t1)
    if f["last_seen_after"]:
        t2 = f["last_seen_after"]
        checks.append(lambda u: seen(u) > t2)
    if f["created_before"]:
        t3 = f["created_before"]
        checks.append(lambda u: u.created_at < t3)
    if f["created_after"]:
        t4 = f["created_after"]
        checks.append(lambda u: u.created_at > t4)
    return lambda u: all(c(u) for c in checks)


def parse_user_query_or_400(q: str):
    f, errors = parse_user_query(q)
    if errors:
        raise ApiError(400, "Invalid user search query.", validations=errors)
    return f


def parse_pagination(req):
    """Return (after_id, limit, offset) or raise 400 'Query parameters have invalid values.'."""
    errors = []

    def pos_int(name):
        raw = req.q(name)
        if raw == "":
            return 0
        try:
            v = int(raw, 10)
            if not 0 <= v <= INT32_MAX:
                raise ValueError
            return v
        except ValueError:
            errors.append({"field": name, "detail": f"Query param {_goq(name)} must be a valid 32-bit positive "
                                                    f"integer (strconv.ParseInt: parsing {_goq(raw)}: invalid "
                                                    f"syntax)"})
            return 0

    after_raw = req.q("after_id")
    after_id = None
    if after_raw:
        after_id = parse_uuid(after_raw)
        if after_id is None:
            errors.append({"field": "after_id", "detail": 'Query param "after_id" must be a valid uuid'})
    limit = pos_int("limit")
    offset = pos_int("offset")
    if errors:
        raise ApiError(400, "Query parameters have invalid values.", validations=errors)
    return after_id, limit, offset


def paginate_users(users, after_user, limit, offset, after_given):
    """ORDER BY lower(username), cursor, OFFSET, LIMIT NULLIF(limit, 0); count over the filtered set."""
    rows = sorted(users, key=lambda u: u.username.lower())
    if after_given:
        if after_user is None:
            # The cursor subquery yields NULL, so nothing compares greater.
            rows = []
        else:
            pivot = after_user.username.lower()
            rows = [u for u in rows if u.username.lower() > pivot]
    total = len(rows)
    page = rows[offset:]
    if limit:
        page = page[:limit]
    return page, (total if page else 0)
