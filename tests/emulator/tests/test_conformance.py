"""Conformance of the emulator's answers with Coder's own API spec (coder-swagger.json, Swagger 2.0).

Every operation below runs against a freshly reset in-process emulator. The test asserts that the
operation exists in the spec, that the status is one the spec lists (or, for a documented erratum,
the one coder-api.md states), and that the body validates against the spec's schema. The spec lists
only success responses for these operations; errors are checked against `codersdk.Response`, the
error body of coder-api.md §1.4.
"""

import datetime
import json
import os
import re

import pytest
from conftest import MAIN_TF, NIL, OWNER_TOKEN, STRONG, Client, make_tar, wait_job

from coder_emulator import start_server

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
DEFAULT_SPEC_PATH = os.path.join(REPO_ROOT, "..", "shared", "reference", "coder-swagger.json")
SPEC_PATH = os.environ.get("CODER_SWAGGER") or DEFAULT_SPEC_PATH
REFERENCE_PATH = os.path.join(os.path.dirname(SPEC_PATH), "coder-api.md")
if not os.path.isfile(SPEC_PATH):
    pytest.skip(f"Coder API spec not found at {os.path.abspath(SPEC_PATH)} (set CODER_SWAGGER)",
                allow_module_level=True)
with open(SPEC_PATH, encoding="utf-8") as spec_file:
    SPEC = json.load(spec_file)


# ---------------------------------------------------------------------------- schema validator
FORMATS = {
    "uuid": re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"),
    "date-time": re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$"),
}
PY_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool}


def is_type(kind, value):
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, PY_TYPES[kind])


class SchemaValidator:
    """The part of Swagger 2.0 schemas that coderd's generated spec uses for these responses."""

    def __init__(self, definitions):
        self.definitions = definitions

    def resolve(self, schema):
        while "$ref" in schema:
            ref = schema["$ref"]
            assert ref.startswith("#/definitions/"), f"unsupported $ref {ref}"
            schema = self.definitions[ref[len("#/definitions/"):]]
        return schema

    def errors(self, schema, value, where="$"):
        """Return a list of human-readable problems; empty means `value` matches `schema`."""
        schema = self.resolve(schema)
        if schema.get("type") == "null":
            return [] if value is None else [f"{where}: {value!r:.60} where null is declared"]
        problems = []
        for part in schema.get("allOf", ()):
            problems += self.errors(part, value, where)
        kind = schema.get("type")
        if kind is None and ("properties" in schema or "additionalProperties" in schema):
            kind = "object"
        if value is None:
            # Go encodes a nil slice or map as null; a struct (declared properties) never is.
            if kind == "array" or (kind == "object" and "properties" not in schema) or schema.get("x-nullable"):
                return problems
            if kind or "enum" in schema:
                problems.append(f"{where}: null where {kind or 'an enum value'} is declared")
            return problems
        if kind and not is_type(kind, value):
            return [*problems, f"{where}: {type(value).__name__} {value!r:.60} where {kind} is declared"]
        if "enum" in schema and value not in schema["enum"]:
            problems.append(f"{where}: {value!r} not in enum {schema['enum']}")
        pattern = FORMATS.get(schema.get("format"))
        if pattern and isinstance(value, str) and not pattern.match(value):
            problems.append(f"{where}: {value!r} is not a valid {schema['format']}")
        if kind == "array":
            for index, item in enumerate(value):
                problems += self.errors(schema.get("items", {}), item, f"{where}[{index}]")
        elif kind == "object":
            problems += self._object_errors(schema, value, where)
        return problems

    def _object_errors(self, schema, value, where):
        problems = [f"{where}: required property {name!r} missing"
                    for name in schema.get("required", ()) if name not in value]
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        if not props and extra is None:
            return problems  # free-form object
        for name, item in value.items():
            if name in props:
                problems += self.errors(props[name], item, f"{where}.{name}")
            elif isinstance(extra, dict):
                problems += self.errors(extra, item, f"{where}[{name!r}]")
            elif extra is not True:
                problems.append(f"{where}.{name}: property not declared in the spec")
        return problems


def ref(name):
    return {"$ref": f"#/definitions/{name}"}


# ---------------------------------------------------------------------------- errata from coder-api.md
# Only disagreements that coder-api.md states are allowed here; each quote must appear in its section.
# Operation errata: the status and body schema the real server answers with, where the spec is wrong.
ERRATA = {
    ("DELETE", "/api/v2/users/{user}"): {
        "section": "3.8",
        "quote": '200 `{"message":"User has been deleted!"}` (swagger: 200 no schema)',
        "status": 200, "schema": ref("codersdk.Response")},
    ("GET", "/api/v2/users/{user}/roles"): {
        "section": "3.6",
        "quote": 'GET → 200 `{"roles":[str], "organization_roles": {"<org-uuid>":[str]}}` (swagger says `User`; wrong)',
        # The spec has no UserRoles definition; this is the shape the reference gives.
        "status": 200, "schema": {"type": "object", "required": ["roles", "organization_roles"], "properties": {
            "roles": {"type": "array", "items": {"type": "string"}},
            "organization_roles": {"type": "object", "additionalProperties": {
                "type": "array", "items": {"type": "string"}}}}}},
    ("POST", "/api/v2/organizations/{organization}/templates"): {
        "section": "6.2", "quote": "Response **201** `Template` (swagger says 200)",
        "status": 201, "schema": ref("codersdk.Template")},
    ("GET", "/api/v2/templates/{template}/acl/available"): {
        # The spec declares an *array* of ACLAvailable; the reference gives one object.
        "section": "6.5",
        "quote": '`GET /templates/{template}/acl/available?q=&limit=` → `{"users":[ReducedUser],"groups":[Group]}`',
        "status": 200, "schema": ref("codersdk.ACLAvailable")},
    ("POST", "/api/v2/templates/{template}/versions/archive"): {
        "section": "8.4", "quote": '`{"template_id": uuid, "archived_ids": [uuid]}` (swagger says Response)',
        # The spec has no response definition for this; the shape the reference gives.
        "status": 200, "schema": {"type": "object", "required": ["template_id", "archived_ids"], "properties": {
            "template_id": {"type": "string", "format": "uuid"},
            "archived_ids": {"type": "array", "items": {"type": "string", "format": "uuid"}}}}},
    ("POST", "/api/v2/templateversions/{templateversion}/archive"): {
        "section": "8.4", "quote": "200 with a **bare JSON string** body", "status": 200, "schema": {"type": "string"}},
    ("POST", "/api/v2/templateversions/{templateversion}/unarchive"): {
        "section": "8.4", "quote": "200 with a **bare JSON string** body", "status": 200, "schema": {"type": "string"}},
    ("GET", "/api/v2/organizations/{organization}/paginated-members"): {
        # The spec declares an *array* of PaginatedMembersResponse; the reference gives one object.
        "section": "4",
        "quote": 'paginated-members?q=&limit=&offset=&after_id=` → 200 `{"members":[...],"count":int}`',
        "status": 200, "schema": ref("codersdk.PaginatedMembersResponse")},
    ("POST", "/api/v2/workspaceagents/me/log-source"): {
        "section": "9.4", "quote": "Returns **201** (swagger\nsays 200)",
        "status": 201, "schema": ref("codersdk.WorkspaceAgentLogSource")},
    ("PATCH", "/api/v2/workspaceagents/me/logs"): {
        "section": "9.3", "quote": "Success → **200 with body `null`**", "status": 200, "schema": {"type": "null"}},
    ("DELETE", "/api/v2/groups/{group}"): {
        "section": "5",
        "quote": '`DELETE /groups/{group}` → 200 `{"message":"Successfully deleted group!"}` (swagger says `Group`)',
        "status": 200, "schema": ref("codersdk.Response")},
}
# Definition errata: the spec's `enums:"active,suspended"` tag on User.status omits "dormant", which §3 lists
# (and §3.2: new users are dormant). OrganizationMemberWithUserData.status (§4) carries that same user status.
USER_STATUS_FIX = {"section": "3", "quote": '"status": "active"|"dormant"|"suspended"',
                   "enum": ["active", "dormant", "suspended"]}
DEFINITION_ERRATA = {
    ("codersdk.User", "status"): USER_STATUS_FIX,
    ("codersdk.OrganizationMemberWithUserData", "status"): USER_STATUS_FIX,
    # ReducedUser.status carries the same `enums:"active,suspended"` tag; §5 keeps dormant group members.
    ("codersdk.ReducedUser", "status"): {
        "section": "5", "quote": "Group members include active, dormant and suspended users",
        "enum": ["active", "dormant", "suspended"]},
    # TemplateUser (the ACL's users) carries the same tag; §6.5 keeps dormant users in the ACL.
    ("codersdk.TemplateUser", "status"): {
        "section": "6.5", "quote": "dormant users included", "enum": ["active", "dormant", "suspended"]},
    # TransitionStats has no json tags in Go, so its keys are the capitalised field names, and nil pointers.
    ("codersdk.TransitionStats", None): {
        "section": "6", "quote": '`{"P50": int|null, "P95": int|null}` in ms — **capitalised keys**',
        "properties": {"P50": {"type": "integer", "x-nullable": True},
                       "P95": {"type": "integer", "x-nullable": True}}},
}


def patched_definitions():
    definitions = json.loads(json.dumps(SPEC["definitions"]))
    for (name, prop), fix in DEFINITION_ERRATA.items():
        if prop is None:
            # The whole property list of a definition is wrong (e.g. the key spelling).
            definitions[name]["properties"] = fix["properties"]
            continue
        assert "enum" in definitions[name]["properties"][prop], (name, prop)
        definitions[name]["properties"][prop]["enum"] = fix["enum"]
    return definitions


VALIDATOR = SchemaValidator(patched_definitions())


def reference_section(number):
    """Text of `## N.` (whole chapter, subsections included) or `### N.M` in coder-api.md."""
    with open(REFERENCE_PATH, encoding="utf-8") as fh:
        text = fh.read()
    level = "##" if "." not in number else "###"
    match = re.search(rf"^{level} {re.escape(number)}\.? .*?(?=^#{{2,{len(level)}}} |\Z)", text, re.M | re.S)
    return match.group(0) if match else None


# ---------------------------------------------------------------------------- operations
class Op:
    """One request. `url` is `route` with placeholders from the per-test context (ids, names); `body` may be a
    function of that context."""

    def __init__(self, method, route, status, check, url=None, body=None, raw=None, caller="owner", pre=(),
                 license="premium", headers=None):
        self.method, self.route, self.status, self.check = method, route, status, check
        self.url = url or route
        self.body, self.raw, self.caller, self.pre, self.license = body, raw, caller, pre, license
        self.headers = headers


def case(case_id, *args, bug=None, spec_gap=None, **kwargs):
    """`bug`: the emulator is wrong. `spec_gap`: the spec is wrong but coder-api.md does not say so (yet)."""
    marks = [pytest.mark.xfail(strict=True, reason=f"emulator bug: {bug}")] if bug else []
    if spec_gap:
        marks.append(pytest.mark.xfail(strict=True, reason=f"spec gap, not in coder-api.md errata: {spec_gap}"))
    return pytest.param(Op(*args, **kwargs), id=case_id, marks=marks)


USERS = "/api/v2/users"
ORGS = "/api/v2/organizations"
MEMBER = f"{ORGS}/{{organization}}/members/{{user}}"
ENG = ("POST", ORGS, {"name": "eng"}, 201)  # premium: a second organization
MIA_IN_ENG = ("POST", f"{ORGS}/eng/members/mia", None, 200)
TOKEN_CI = ("POST", f"{USERS}/me/keys/tokens", {"token_name": "ci", "lifetime": 3600 * 10**9}, 201,
            lambda b: {"key_id": b["key"].split("-")[0]})
BOGUS_TOKEN = "ZzZzZzZzZz-" + "0" * 22  # well-formed, but no such key
NEW_USER = {"username": "zoe", "email": "zoe@example.com", "password": STRONG, "organization_ids": [NIL]}
GROUPS = "/api/v2/groups"
ORG_GROUPS = f"{ORGS}/{{organization}}/groups"
# premium: a group "devs" in the default org whose only member is mia; pre-step bodies may be built from the context.
DEVS = ("POST", f"{ORGS}/default/groups", {"name": "devs", "display_name": "Developers"}, 201,
        lambda b: {"group_id": b["id"]})
MIA_IN_DEVS = ("PATCH", f"{GROUPS}/{{group_id}}", lambda c: {"add_users": [c["mia_id"]]}, 200)


TAR = "application/x-tar"
TAR_BYTES = make_tar({"main.tf": MAIN_TF})
FILES = "/api/v2/files"
TV = "/api/v2/templateversions"
TPLS = "/api/v2/templates"
ORG_TPLS = f"{ORGS}/{{organization}}/templates"
UPLOAD = ("POST", FILES, TAR_BYTES, 201, lambda b: {"file_id": b["hash"]})
V1 = ("POST", f"{ORGS}/default/templateversions",
      lambda c: {"storage_method": "file", "provisioner": "terraform", "file_id": c["file_id"], "name": "v1"}, 201,
      lambda b: {"version_id": b["id"]})
STUCK = ("POST", f"{ORGS}/default/templateversions",
         lambda c: {"storage_method": "file", "provisioner": "terraform", "file_id": c["file_id"],
                    "tags": {"os": "plan9"}}, 201, lambda b: {"stuck_id": b["id"]})


def _wait(key):
    def wait(client, ctx):
        assert wait_job(client, ctx[key])["job"]["status"] == "succeeded"
    return wait


TPL = ("POST", f"{ORGS}/default/templates", lambda c: {"name": "tpl", "template_version_id": c["version_id"]}, 201,
       lambda b: {"template_id": b["id"]})
V2 = ("POST", f"{ORGS}/default/templateversions",
      lambda c: {"storage_method": "file", "provisioner": "terraform", "file_id": c["file_id"], "name": "v2",
                 "template_id": c["template_id"]}, 201, lambda b: {"version2_id": b["id"]})
WITH_VERSION = [UPLOAD, V1, _wait("version_id")]
WITH_TEMPLATE = [*WITH_VERSION, TPL]
WITH_TWO = [*WITH_TEMPLATE, V2, _wait("version2_id")]


def _workspace(client, ctx):
    r = client.call("POST", "/__emulator/workspaces", {"owner": "mia", "name": "w", "template": "tpl"}, token=None)
    assert r.status == 201, r


def _running(**options):
    """A workspace of mia on template `tpl` (one agent "main" with app "code"); ids and the agent token go to ctx."""
    def make(client, ctx):
        body = {"owner": "mia", "name": "w", "template": "tpl", "ttl_ms": 8 * 3600 * 1000,
                "max_ttl_ms": 24 * 3600 * 1000, "apps": ["code"], **options}
        r = client.call("POST", "/__emulator/workspaces", body, token=None)
        assert r.status == 201, r
        ctx.update(ws_id=r.json["id"], build_id=r.json["build"]["id"], agent_id=r.json["agents"][0]["id"],
                   agent_token=r.json["agents"][0]["token"])
        now = datetime.datetime.fromisoformat(client.call("GET", "/__emulator/clock", token=None).json["now"]
                                              .replace("Z", "+00:00"))
        ctx["extend_to"] = (now + datetime.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return make


WS = "/api/v2/workspaces"
AGENTS = "/api/v2/workspaceagents"
WITH_WS = [*WITH_TEMPLATE, _running()]
WITH_LOGS = [*WITH_WS, lambda client, ctx: client.call(
    "PATCH", f"{AGENTS}/me/logs", {"logs": [{"output": "hello", "level": "info"}]}, token=ctx["agent_token"])]
WITH_DELETED_WS = [*WITH_WS, lambda client, ctx: client.call(
    "POST", f"/__emulator/workspaces/{ctx['ws_id']}/builds", {"transition": "delete"}, token=None)]
NULL_IDS = ("task_id (uuid.NullUUID), parent_id (uuid.NullUUID), template_version_preset_id (*uuid.UUID) and, "
            "without statuses, latest_app_status are JSON null in coderd; the spec declares objects/strings")
NULL_IDS_AND_DEADLINES = NULL_IDS + "; so are deadline and max_deadline (codersdk.NullTime) of a build without them"


def names(items, key="username"):
    return sorted(item[key] for item in items)


OPERATIONS = [
    case("buildinfo", "GET", "/api/v2/buildinfo", 200, lambda b, c: b["version"].startswith("v2.34.3"),
         caller=None),
    case("entitlements-premium", "GET", "/api/v2/entitlements", 200,
         lambda b, c: b["has_license"] is True and b["features"]["template_rbac"]["enabled"] is True, caller=None),
    case("entitlements-unlicensed", "GET", "/api/v2/entitlements", 200,
         lambda b, c: b["has_license"] is False and b["features"]["template_rbac"] == {
             "entitlement": "not_entitled", "enabled": False}, caller=None, license="none"),
    case("users-list", "GET", USERS, 200, lambda b, c: names(b["users"]) == ["admin", "mia"] and b["count"] == 2),
    case("users-list-q", "GET", USERS, 200, lambda b, c: names(b["users"]) == ["mia"] and b["count"] == 1,
         url=f"{USERS}?q=mia%20status:dormant"),
    case("users-list-limit", "GET", USERS, 200, lambda b, c: names(b["users"]) == ["admin"] and b["count"] == 2,
         url=f"{USERS}?limit=1"),
    case("users-create", "POST", USERS, 201,
         lambda b, c: (b["username"], b["status"], b["organization_ids"]) == ("zoe", "dormant", [c["org_id"]]),
         body=NEW_USER),
    case("user-by-username", "GET", f"{USERS}/{{user}}", 200, lambda b, c: b["id"] == c["mia_id"], url=f"{USERS}/mia"),
    case("user-by-id", "GET", f"{USERS}/{{user}}", 200, lambda b, c: b["username"] == "mia", url=f"{USERS}/{{mia_id}}"),
    case("user-me", "GET", f"{USERS}/{{user}}", 200,
         lambda b, c: (b["username"], b["roles"]) == ("admin", [{"name": "owner", "display_name": "Owner"}]),
         url=f"{USERS}/me"),
    case("user-profile", "PUT", f"{USERS}/{{user}}/profile", 200,
         lambda b, c: (b["username"], b["name"]) == ("mia2", "Mia M"), url=f"{USERS}/mia/profile",
         body={"username": "mia2", "name": "Mia M"}),
    case("user-suspend", "PUT", f"{USERS}/{{user}}/status/suspend", 200, lambda b, c: b["status"] == "suspended",
         url=f"{USERS}/mia/status/suspend"),
    case("user-activate", "PUT", f"{USERS}/{{user}}/status/activate", 200, lambda b, c: b["status"] == "active",
         url=f"{USERS}/mia/status/activate", pre=[("PUT", f"{USERS}/mia/status/suspend", None, 200)]),
    case("user-roles-get", "GET", f"{USERS}/{{user}}/roles", 200,
         lambda b, c: b == {"roles": ["auditor"], "organization_roles": {c["org_id"]: []}}, url=f"{USERS}/mia/roles",
         pre=[("PUT", f"{USERS}/mia/roles", {"roles": ["auditor"]}, 200)]),
    case("user-roles-put", "PUT", f"{USERS}/{{user}}/roles", 200,
         lambda b, c: b["roles"] == [{"name": "template-admin", "display_name": "Template Admin"}],
         url=f"{USERS}/mia/roles", body={"roles": ["template-admin"]}),
    case("user-password", "PUT", f"{USERS}/{{user}}/password", 204, None, url=f"{USERS}/mia/password",
         body={"password": "AnotherSecurePassword!2"}),
    case("user-delete", "DELETE", f"{USERS}/{{user}}", 200, lambda b, c: b == {"message": "User has been deleted!"},
         url=f"{USERS}/mia"),
    case("user-organizations", "GET", f"{USERS}/{{user}}/organizations", 200,
         lambda b, c: names(b, "name") == ["coder", "eng"], url=f"{USERS}/mia/organizations", pre=[ENG, MIA_IN_ENG]),
    case("users-roles-assignable", "GET", f"{USERS}/roles", 200,
         lambda b, c: {"owner", "auditor", "template-admin", "user-admin"} <= {r["name"] for r in b}
         and all(r["assignable"] for r in b),
         spec_gap="AssignableRoles.organization_id is `format: uuid`, but site roles carry \"\" (codersdk.Role"
                  ".OrganizationID is a plain string without omitempty); the emulator answers as coderd does"),
    case("organizations-list", "GET", ORGS, 200, lambda b, c: names(b, "name") == ["coder", "eng"], pre=[ENG]),
    case("organization-default", "GET", f"{ORGS}/{{organization}}", 200,
         lambda b, c: (b["id"], b["name"], b["is_default"]) == (c["org_id"], "coder", True), url=f"{ORGS}/default"),
    case("organization-members", "GET", f"{ORGS}/{{organization}}/members", 200,
         lambda b, c: names(b) == ["admin", "mia"], url=f"{ORGS}/default/members"),
    case("organization-paginated-members", "GET", f"{ORGS}/{{organization}}/paginated-members", 200,
         lambda b, c: names(b["members"]) == ["admin"] and b["count"] == 2,
         url=f"{ORGS}/default/paginated-members?limit=1"),
    case("organization-member-get", "GET", MEMBER, 200,
         lambda b, c: (b["user_id"], b["organization_id"], b["username"]) == (c["mia_id"], c["org_id"], "mia"),
         url=f"{ORGS}/default/members/mia"),
    case("organization-member-add", "POST", MEMBER, 200,
         lambda b, c: (b["user_id"], b["roles"]) == (c["mia_id"], []), url=f"{ORGS}/eng/members/mia", pre=[ENG]),
    case("organization-member-remove", "DELETE", MEMBER, 204, None, url=f"{ORGS}/eng/members/mia",
         pre=[ENG, MIA_IN_ENG]),
    case("organization-member-roles", "PUT", f"{MEMBER}/roles", 200,
         lambda b, c: [r["name"] for r in b["roles"]] == ["organization-admin"],
         url=f"{ORGS}/default/members/mia/roles", body={"roles": ["organization-admin"]}),
    case("organization-assignable-roles", "GET", f"{ORGS}/{{organization}}/members/roles", 200,
         lambda b, c: "organization-admin" in {r["name"] for r in b}
         and {r["organization_id"] for r in b} == {c["org_id"]}, url=f"{ORGS}/default/members/roles"),
    case("token-create", "POST", f"{USERS}/{{user}}/keys/tokens", 201,
         lambda b, c: re.match(r"^[a-zA-Z0-9]{10}-[a-zA-Z0-9]{22}$", b["key"]), url=f"{USERS}/me/keys/tokens",
         body={"token_name": "ci", "lifetime": 3600 * 10**9}),
    case("tokens-list", "GET", f"{USERS}/{{user}}/keys/tokens", 200,
         lambda b, c: [t["token_name"] for t in b] == ["ci"] and b[0]["lifetime_seconds"] == 3600,
         url=f"{USERS}/me/keys/tokens", pre=[TOKEN_CI]),
    case("login", "POST", f"{USERS}/login", 201, lambda b, c: len(b["session_token"]) == 33, caller=None,
         body={"email": "mia@example.com", "password": STRONG}),
    # ---- the emulator's other routes
    case("api-root", "GET", "/api/v2/", 200, lambda b, c: b == {"message": "👋"}, caller=None),
    case("users-first-get", "GET", f"{USERS}/first", 200,
         lambda b, c: b["message"] == "The initial user has already been created!", caller=None),
    case("users-logout", "POST", f"{USERS}/logout", 200, lambda b, c: b["message"] != ""),
    case("validate-password", "POST", f"{USERS}/validate-password", 200,
         lambda b, c: b["valid"] is False and b["details"] != "", body={"password": "password"}),
    case("user-login-type", "GET", f"{USERS}/{{user}}/login-type", 200, lambda b, c: b == {"login_type": "password"},
         url=f"{USERS}/me/login-type"),
    case("user-organization-by-name", "GET", f"{USERS}/{{user}}/organizations/{{organizationname}}", 200,
         lambda b, c: (b["id"], b["name"]) == (c["org_id"], "coder"), url=f"{USERS}/mia/organizations/coder"),
    case("token-config", "GET", f"{USERS}/{{user}}/keys/tokens/tokenconfig", 200,
         lambda b, c: b["max_token_lifetime"] == 7 * 24 * 3600 * 10**9, url=f"{USERS}/me/keys/tokens/tokenconfig"),
    case("token-by-name", "GET", f"{USERS}/{{user}}/keys/tokens/{{keyname}}", 200,
         lambda b, c: (b["id"], b["token_name"]) == (c["key_id"], "ci"), url=f"{USERS}/me/keys/tokens/ci",
         pre=[TOKEN_CI]),
    case("key-delete", "DELETE", f"{USERS}/{{user}}/keys/{{keyid}}", 204, None, url=f"{USERS}/me/keys/{{key_id}}",
         pre=[TOKEN_CI]),
    case("key-expire", "PUT", f"{USERS}/{{user}}/keys/{{keyid}}/expire", 204, None,
         url=f"{USERS}/me/keys/{{key_id}}/expire", pre=[TOKEN_CI]),
    case("organization-create", "POST", ORGS, 201,
         lambda b, c: (b["name"], b["display_name"], b["is_default"]) == ("eng", "Engineering", False),
         body={"name": "eng", "display_name": "Engineering"}),
    case("organization-patch", "PATCH", f"{ORGS}/{{organization}}", 200,
         lambda b, c: (b["name"], b["description"]) == ("eng", "Builds things"), url=f"{ORGS}/eng",
         body={"description": "Builds things"}, pre=[ENG]),
    case("organization-delete", "DELETE", f"{ORGS}/{{organization}}", 200, lambda b, c: b["message"] != "",
         url=f"{ORGS}/eng", pre=[ENG]),
    case("groups-by-organization", "GET", ORG_GROUPS, 200,
         lambda b, c: names(b, "name") == ["Everyone", "devs"] and b[0]["id"] == c["org_id"]
         and names(b[0]["members"]) == ["admin", "mia"] and names(b[1]["members"]) == ["mia"],
         url=f"{ORGS}/default/groups", pre=[DEVS, MIA_IN_DEVS]),
    case("groups-list", "GET", GROUPS, 200,
         lambda b, c: [(g["name"], g["total_member_count"]) for g in b] == [("Everyone", 2), ("devs", 1)],
         url=f"{GROUPS}?organization=coder&has_member=mia", pre=[DEVS, MIA_IN_DEVS]),
    case("group-create", "POST", ORG_GROUPS, 201,
         lambda b, c: (b["name"], b["display_name"], b["members"], b["total_member_count"], b["source"],
                       b["organization_id"]) == ("ops", "Ops", [], 0, "user", c["org_id"]),
         url=f"{ORGS}/default/groups", body={"name": "ops", "display_name": "Ops", "quota_allowance": 3}),
    case("group-by-name", "GET", f"{ORG_GROUPS}/{{groupName}}", 200,
         lambda b, c: (b["id"], b["display_name"], names(b["members"])) == (c["group_id"], "Developers", ["mia"]),
         url=f"{ORGS}/default/groups/devs", pre=[DEVS, MIA_IN_DEVS]),
    case("group-by-id", "GET", f"{GROUPS}/{{group}}", 200,
         lambda b, c: (b["name"], b["members"], b["total_member_count"]) == ("Everyone", [], 2),
         url=f"{GROUPS}/{{org_id}}?exclude_members=true"),
    case("group-members", "GET", f"{GROUPS}/{{group}}/members", 200,
         lambda b, c: names(b["users"]) == ["admin"] and b["count"] == 2, url=f"{GROUPS}/{{org_id}}/members?limit=1"),
    case("group-members-by-name", "GET", f"{ORG_GROUPS}/{{groupName}}/members", 200,
         lambda b, c: names(b["users"]) == ["mia"] and b["count"] == 1, url=f"{ORGS}/default/groups/devs/members",
         pre=[DEVS, MIA_IN_DEVS]),
    case("group-patch", "PATCH", f"{GROUPS}/{{group}}", 200,
         lambda b, c: (b["name"], b["quota_allowance"], names(b["members"])) == ("devs2", 5, ["mia"]),
         url=f"{GROUPS}/{{group_id}}", pre=[DEVS],
         body=lambda c: {"name": "devs2", "quota_allowance": 5, "add_users": [c["mia_id"]]}),
    case("group-delete", "DELETE", f"{GROUPS}/{{group}}", 200,
         lambda b, c: b == {"message": "Successfully deleted group!"}, url=f"{GROUPS}/{{group_id}}", pre=[DEVS]),
    # ---- files, template versions, templates (§6, §7, §8)
    case("file-upload", "POST", FILES, 201, lambda b, c: re.match(FORMATS["uuid"], b["hash"]), raw=TAR_BYTES,
         headers={"Content-Type": TAR}),
    case("file-upload-dedup", "POST", FILES, 200, lambda b, c: b == {"hash": c["file_id"]}, raw=TAR_BYTES,
         headers={"Content-Type": TAR}, pre=[UPLOAD]),
    case("file-download", "GET", f"{FILES}/{{fileID}}", 200, lambda raw, c: raw == TAR_BYTES,
         url=f"{FILES}/{{file_id}}", pre=[UPLOAD]),
    case("templateversion-create", "POST", f"{ORGS}/{{organization}}/templateversions", 201,
         lambda b, c: (b["name"], b["template_id"], b["matched_provisioners"]["count"]) == ("v1", NIL, 1),
         url=f"{ORGS}/default/templateversions", pre=[UPLOAD],
         body=lambda c: {"storage_method": "file", "provisioner": "terraform", "file_id": c["file_id"], "name": "v1"}),
    case("templateversion-get", "GET", f"{TV}/{{templateversion}}", 200,
         lambda b, c: (b["id"], b["job"]["status"]) == (c["version_id"], "succeeded"), url=f"{TV}/{{version_id}}",
         pre=WITH_VERSION),
    case("templateversion-get-pending", "GET", f"{TV}/{{templateversion}}", 200,
         lambda b, c: b["job"]["status"] == "pending" and b["matched_provisioners"]["count"] == 0,
         url=f"{TV}/{{stuck_id}}", pre=[UPLOAD, STUCK]),
    case("templateversion-patch", "PATCH", f"{TV}/{{templateversion}}", 200,
         lambda b, c: (b["name"], b["message"]) == ("renamed", "m"), url=f"{TV}/{{version_id}}",
         body={"name": "renamed", "message": "m"}, pre=WITH_VERSION),
    case("templateversion-cancel", "PATCH", f"{TV}/{{templateversion}}/cancel", 200,
         lambda b, c: b == {"message": "Job has been marked as canceled..."}, url=f"{TV}/{{stuck_id}}/cancel",
         pre=[UPLOAD, STUCK]),
    case("templateversion-logs", "GET", f"{TV}/{{templateversion}}/logs", 200,
         lambda b, c: "Setting up" in {entry["stage"] for entry in b}, url=f"{TV}/{{version_id}}/logs",
         pre=WITH_VERSION),
    case("templateversion-variables", "GET", f"{TV}/{{templateversion}}/variables", 200, lambda b, c: b == [],
         url=f"{TV}/{{version_id}}/variables", pre=WITH_VERSION),
    case("templateversion-rich-parameters", "GET", f"{TV}/{{templateversion}}/rich-parameters", 200,
         lambda b, c: b == [], url=f"{TV}/{{version_id}}/rich-parameters", pre=WITH_VERSION),
    case("templateversion-archive", "POST", f"{TV}/{{templateversion}}/archive", 200,
         lambda b, c: b == f'template version "{c["version2_id"]}" archived', url=f"{TV}/{{version2_id}}/archive",
         pre=WITH_TWO),
    case("templateversion-unarchive", "POST", f"{TV}/{{templateversion}}/unarchive", 200,
         lambda b, c: b == f'template version "{c["version2_id"]}" unarchived',
         url=f"{TV}/{{version2_id}}/unarchive", pre=[*WITH_TWO, ("POST", f"{TV}/{{version2_id}}/archive", None, 200)]),
    case("template-versions-archive", "POST", f"{TPLS}/{{template}}/versions/archive", 200,
         lambda b, c: b == {"template_id": c["template_id"], "archived_ids": [c["version2_id"]]},
         url=f"{TPLS}/{{template_id}}/versions/archive", body={"all": True}, pre=WITH_TWO),
    case("template-create", "POST", ORG_TPLS, 201,
         lambda b, c: (b["name"], b["active_version_id"], b["activity_bump_ms"]) == ("tpl", c["version_id"], 3600000),
         url=f"{ORGS}/default/templates", body=lambda c: {"name": "tpl", "template_version_id": c["version_id"]},
         pre=WITH_VERSION),
    case("templates-by-organization", "GET", ORG_TPLS, 200, lambda b, c: names(b, "name") == ["tpl"],
         url=f"{ORGS}/default/templates", pre=WITH_TEMPLATE),
    case("templates-list", "GET", TPLS, 200, lambda b, c: [t["id"] for t in b] == [c["template_id"]],
         url=f"{TPLS}?q=exact_name:tpl", pre=WITH_TEMPLATE),
    case("template-by-name", "GET", f"{ORG_TPLS}/{{templatename}}", 200,
         lambda b, c: b["id"] == c["template_id"], url=f"{ORGS}/default/templates/TPL", pre=WITH_TEMPLATE),
    case("template-get", "GET", f"{TPLS}/{{template}}", 200,
         lambda b, c: b["build_time_stats"]["start"] == {"P50": None, "P95": None}, url=f"{TPLS}/{{template_id}}",
         pre=WITH_TEMPLATE),
    case("template-patch", "PATCH", f"{TPLS}/{{template}}", 200,
         lambda b, c: (b["display_name"], b["default_ttl_ms"]) == ("Tpl", 3600000), url=f"{TPLS}/{{template_id}}",
         body={"display_name": "Tpl", "default_ttl_ms": 3600000}, pre=WITH_TEMPLATE),
    case("template-delete", "DELETE", f"{TPLS}/{{template}}", 200,
         lambda b, c: b == {"message": "Template has been deleted!"}, url=f"{TPLS}/{{template_id}}",
         pre=WITH_TEMPLATE),
    case("template-versions", "GET", f"{TPLS}/{{template}}/versions", 200,
         lambda b, c: [v["id"] for v in b] == [c["version_id"], c["version2_id"]],
         url=f"{TPLS}/{{template_id}}/versions", pre=WITH_TWO),
    case("template-version-by-name", "GET", f"{TPLS}/{{template}}/versions/{{templateversionname}}", 200,
         lambda b, c: b["id"] == c["version2_id"], url=f"{TPLS}/{{template_id}}/versions/v2", pre=WITH_TWO,
         spec_gap="the spec declares an array of TemplateVersion; the handler writes one TemplateVersion"),
    case("org-template-version-by-name", "GET", f"{ORG_TPLS}/{{templatename}}/versions/{{templateversionname}}", 200,
         lambda b, c: b["id"] == c["version2_id"], url=f"{ORGS}/default/templates/tpl/versions/v2", pre=WITH_TWO),
    case("org-template-version-previous", "GET",
         f"{ORG_TPLS}/{{templatename}}/versions/{{templateversionname}}/previous", 200,
         lambda b, c: b["id"] == c["version_id"], url=f"{ORGS}/default/templates/tpl/versions/v2/previous",
         pre=WITH_TWO),
    case("org-template-version-previous-none", "GET",
         f"{ORG_TPLS}/{{templatename}}/versions/{{templateversionname}}/previous", 204, None,
         url=f"{ORGS}/default/templates/tpl/versions/v1/previous", pre=WITH_TEMPLATE),
    case("template-promote", "PATCH", f"{TPLS}/{{template}}/versions", 200,
         lambda b, c: b == {"message": "Updated the active template version!"},
         url=f"{TPLS}/{{template_id}}/versions", body=lambda c: {"id": c["version2_id"]}, pre=WITH_TWO),
    case("template-acl-get", "GET", f"{TPLS}/{{template}}/acl", 200,
         lambda b, c: b["users"] == [] and [(g["id"], g["role"]) for g in b["group"]] == [(c["org_id"], "use")],
         url=f"{TPLS}/{{template_id}}/acl", pre=WITH_TEMPLATE),
    case("template-acl-get-users", "GET", f"{TPLS}/{{template}}/acl", 200,
         lambda b, c: [(u["username"], u["status"], u["role"]) for u in b["users"]] == [("mia", "dormant", "admin")],
         url=f"{TPLS}/{{template_id}}/acl",
         pre=[*WITH_TEMPLATE, ("PATCH", f"{TPLS}/{{template_id}}/acl", lambda c: {"user_perms": {c["mia_id"]: "admin"}},
                               200)]),
    case("template-acl-patch", "PATCH", f"{TPLS}/{{template}}/acl", 200,
         lambda b, c: b == {"message": "Successfully updated template ACL list."}, url=f"{TPLS}/{{template_id}}/acl",
         body=lambda c: {"user_perms": {c["mia_id"]: "use"}, "group_perms": {c["org_id"]: ""}}, pre=WITH_TEMPLATE),
    case("template-acl-available", "GET", f"{TPLS}/{{template}}/acl/available", 200,
         lambda b, c: names(b["users"]) == ["admin", "mia"] and names(b["groups"], "name") == ["Everyone"],
         url=f"{TPLS}/{{template_id}}/acl/available", pre=WITH_TEMPLATE),
    # ---- errors: codersdk.Response bodies (§1.4) with the status the reference gives
    case("error-400-validation", "POST", USERS, 400,
         lambda b, c: b["message"] == "Validation failed." and b["validations"][0]["field"] == "username",
         body={**NEW_USER, "username": "bad name"}),
    case("error-400-bad-json", "POST", USERS, 400, lambda b, c: b["message"] == "Request body must be valid JSON.",
         raw=b"{bad json"),
    case("error-400-already-member", "POST", MEMBER, 400,
         lambda b, c: b["message"] == "User is already an organization member", url=f"{ORGS}/default/members/mia"),
    case("error-400-suspend-self", "PUT", f"{USERS}/{{user}}/status/suspend", 400,
         lambda b, c: b["message"] == "You cannot suspend yourself.", url=f"{USERS}/me/status/suspend"),
    case("error-400-own-roles", "PUT", f"{USERS}/{{user}}/roles", 400,
         lambda b, c: b["message"] == "You cannot change your own roles.", url=f"{USERS}/me/roles",
         body={"roles": []}),
    case("error-401-no-token", "GET", USERS, 401,
         lambda b, c: b["message"].startswith("You are signed out") and "must be provided" in b["detail"],
         caller=None),
    case("error-401-bad-token", "GET", f"{USERS}/{{user}}", 401, lambda b, c: b["detail"] == "API key is invalid.",
         url=f"{USERS}/me", caller="bogus"),
    case("error-403-delete-self", "DELETE", f"{USERS}/{{user}}", 403,
         lambda b, c: b["message"] == "You cannot delete yourself!", url=f"{USERS}/me"),
    case("error-404-user", "GET", f"{USERS}/{{user}}", 404,
         lambda b, c: b["message"] == "Resource not found or you do not have access to this resource",
         url=f"{USERS}/nobody"),
    case("error-404-organization", "GET", f"{ORGS}/{{organization}}", 404, lambda b, c: "message" in b,
         url=f"{ORGS}/nope"),
    case("error-404-not-member", "GET", MEMBER, 404, lambda b, c: "message" in b, url=f"{ORGS}/eng/members/mia",
         pre=[ENG]),
    case("error-409-duplicate-user", "POST", USERS, 409, lambda b, c: b == {"message": "User already exists."},
         body={**NEW_USER, "username": "mia"}),
    case("error-409-username-taken", "PUT", f"{USERS}/{{user}}/profile", 409,
         lambda b, c: b["validations"] == [{"field": "username", "detail": "This username is already in use."}],
         url=f"{USERS}/mia/profile", body={"username": "admin"}),
    case("error-409-first-user", "POST", f"{USERS}/first", 409, lambda b, c: b["message"] != "", caller=None,
         body={"email": "first@example.com", "username": "first", "password": STRONG}),
    case("error-409-duplicate-token", "POST", f"{USERS}/{{user}}/keys/tokens", 409, lambda b, c: "message" in b,
         url=f"{USERS}/me/keys/tokens", body={"token_name": "ci"}, pre=[TOKEN_CI]),
    case("error-400-group-everyone-name", "POST", ORG_GROUPS, 400,
         lambda b, c: b["validations"] == [{"field": "name", "detail": '"Everyone" is a reserved group name'}],
         url=f"{ORGS}/default/groups", body={"name": "Everyone"}),
    case("error-400-group-uuid", "GET", f"{GROUPS}/{{group}}", 400,
         lambda b, c: b["message"] == 'Invalid UUID "devs".', url=f"{GROUPS}/devs"),
    case("error-400-group-delete-everyone", "DELETE", f"{GROUPS}/{{group}}", 400,
         lambda b, c: b["message"] == '"Everyone" is a reserved group and cannot be deleted!',
         url=f"{GROUPS}/{{org_id}}"),
    case("error-403-group-everyone-members", "PATCH", f"{GROUPS}/{{group}}", 403,
         lambda b, c: b["message"] == 'Cannot add or remove users from the "Everyone" group!',
         url=f"{GROUPS}/{{org_id}}", body=lambda c: {"remove_users": [c["mia_id"]]}),
    case("error-403-groups-unlicensed", "GET", GROUPS, 403,
         lambda b, c: b == {"message": "Template RBAC is a Premium feature. Contact sales!"}, caller=None,
         license="none"),
    case("error-404-group", "GET", f"{ORG_GROUPS}/{{groupName}}", 404, lambda b, c: "message" in b,
         url=f"{ORGS}/default/groups/DEVS", pre=[DEVS]),
    case("error-400-file-content-type", "POST", FILES, 400,
         lambda b, c: b == {"message": 'Unsupported content type header "application/json".'}, raw=b"{}",
         headers={"Content-Type": "application/json"}),
    case("error-400-file-id", "GET", f"{FILES}/{{fileID}}", 400,
         lambda b, c: b == {"message": "File id must be a valid UUID."}, url=f"{FILES}/abc"),
    case("error-404-version-file", "POST", f"{ORGS}/{{organization}}/templateversions", 404,
         lambda b, c: b == {"message": "File not found."}, url=f"{ORGS}/default/templateversions",
         body={"storage_method": "file", "provisioner": "terraform",
               "file_id": "6f1c3a80-0000-4000-8000-000000000000"}),
    case("error-409-version-name", "POST", f"{ORGS}/{{organization}}/templateversions", 409,
         lambda b, c: b["validations"][0]["field"] == "name", url=f"{ORGS}/default/templateversions",
         body=lambda c: {"storage_method": "file", "provisioner": "terraform", "file_id": c["file_id"], "name": "v1",
                         "template_id": c["template_id"]}, pre=WITH_TEMPLATE),
    case("error-403-variables-pending", "GET", f"{TV}/{{templateversion}}/variables", 403,
         lambda b, c: b == {"message": "Template version job has not finished"}, url=f"{TV}/{{stuck_id}}/variables",
         pre=[UPLOAD, STUCK]),
    case("error-425-rich-parameters-pending", "GET", f"{TV}/{{templateversion}}/rich-parameters", 425,
         lambda b, c: "message" in b, url=f"{TV}/{{stuck_id}}/rich-parameters", pre=[UPLOAD, STUCK]),
    case("error-400-cancel-completed", "PATCH", f"{TV}/{{templateversion}}/cancel", 400,
         lambda b, c: b == {"message": "Job has already completed!"}, url=f"{TV}/{{version_id}}/cancel",
         pre=WITH_VERSION),
    case("error-403-promote-pending", "PATCH", f"{TPLS}/{{template}}/versions", 403,
         lambda b, c: b["message"] == "Only versions that have been built successfully can be promoted.",
         url=f"{TPLS}/{{template_id}}/versions", body=lambda c: {"id": c["stuck_id"]},
         pre=[*WITH_TEMPLATE, ("POST", f"{ORGS}/default/templateversions",
                               lambda c: {"storage_method": "file", "provisioner": "terraform", "file_id": c["file_id"],
                                          "template_id": c["template_id"], "tags": {"os": "plan9"}}, 201,
                               lambda b: {"stuck_id": b["id"]})]),
    case("error-409-template-name", "POST", ORG_TPLS, 409,
         lambda b, c: b["message"] == 'Template with name "tpl" already exists.', url=f"{ORGS}/default/templates",
         body=lambda c: {"name": "tpl", "template_version_id": c["version_id"]}, pre=WITH_TEMPLATE),
    case("error-404-template-version", "POST", ORG_TPLS, 404,
         lambda b, c: b["validations"][0]["field"] == "template_version_id", url=f"{ORGS}/default/templates",
         body={"name": "tpl", "template_version_id": "6f1c3a80-0000-4000-8000-000000000000"}),
    case("error-400-template-patch", "PATCH", f"{TPLS}/{{template}}", 400,
         lambda b, c: b["message"] == "Invalid request to update template metadata!", url=f"{TPLS}/{{template_id}}",
         body={"failure_ttl_ms": 10}, pre=WITH_TEMPLATE),
    case("error-400-template-workspaces", "DELETE", f"{TPLS}/{{template}}", 400,
         lambda b, c: b == {"message": "All workspaces must be deleted before a template can be removed."},
         url=f"{TPLS}/{{template_id}}", pre=[*WITH_TEMPLATE, _workspace]),
    case("error-400-template-acl", "PATCH", f"{TPLS}/{{template}}/acl", 400,
         lambda b, c: b["validations"] == [{"field": "user_perms", "detail": "x is not a valid UUID."}],
         url=f"{TPLS}/{{template_id}}/acl", body={"user_perms": {"x": "use"}}, pre=WITH_TEMPLATE),
    case("error-403-template-acl-unlicensed", "GET", f"{TPLS}/{{template}}/acl", 403,
         lambda b, c: b == {"message": "Template RBAC is a Premium feature. Contact sales!"},
         url=f"{TPLS}/6f1c3a80-0000-4000-8000-000000000000/acl", caller=None, license="none"),
    case("error-409-duplicate-group", "POST", ORG_GROUPS, 409,
         lambda b, c: b["message"] == 'A group named "devs" already exists.', url=f"{ORGS}/default/groups",
         body={"name": "devs"}, pre=[DEVS]),
    # ---- workspaces and agents (§9, §12)
    case("workspaces-list", "GET", WS, 200,
         lambda b, c: b["count"] == 1 and b["workspaces"][0]["id"] == c["ws_id"], url=f"{WS}?q=owner:mia",
         pre=WITH_WS, spec_gap=NULL_IDS),
    case("workspace-get", "GET", f"{WS}/{{workspace}}", 200, lambda b, c: b["latest_build"]["status"] == "running",
         url=f"{WS}/{{ws_id}}", pre=WITH_WS, spec_gap=NULL_IDS),
    case("workspace-get-include-deleted", "GET", f"{WS}/{{workspace}}", 200,
         lambda b, c: b["latest_build"]["status"] == "deleted", url=f"{WS}/{{ws_id}}?include_deleted=true",
         pre=WITH_DELETED_WS, spec_gap=NULL_IDS_AND_DEADLINES),
    case("error-410-workspace-deleted", "GET", f"{WS}/{{workspace}}", 410,
         lambda b, c: b == {"message": f'Workspace "{c["ws_id"]}" was deleted, you can view this workspace by '
                                       "specifying '?deleted=true' and trying again."},
         url=f"{WS}/{{ws_id}}", pre=WITH_DELETED_WS),
    case("error-400-workspace-include-deleted", "GET", f"{WS}/{{workspace}}", 400,
         lambda b, c: b["validations"] == [{"field": "deleted", "detail": "Must be a valid boolean"}],
         url=f"{WS}/{{ws_id}}?include_deleted=maybe", pre=WITH_WS),
    case("workspace-by-owner-and-name-include-deleted", "GET", f"{USERS}/{{user}}/workspace/{{workspacename}}",
         200, lambda b, c: b["id"] == c["ws_id"], url=f"{USERS}/mia/workspace/w?include_deleted=true",
         pre=WITH_DELETED_WS, spec_gap=NULL_IDS_AND_DEADLINES),
    case("workspace-by-owner-and-name", "GET", f"{USERS}/{{user}}/workspace/{{workspacename}}", 200,
         lambda b, c: b["id"] == c["ws_id"], url=f"{USERS}/mia/workspace/w", pre=WITH_WS, spec_gap=NULL_IDS),
    case("workspacebuild-get", "GET", "/api/v2/workspacebuilds/{workspacebuild}", 200,
         lambda b, c: b["build_number"] == 1, url="/api/v2/workspacebuilds/{build_id}", pre=WITH_WS,
         spec_gap=NULL_IDS),
    case("workspace-extend", "PUT", f"{WS}/{{workspace}}/extend", 200,
         lambda b, c: b["message"].startswith("Deadline updated to "), url=f"{WS}/{{ws_id}}/extend", pre=WITH_WS,
         body=lambda c: {"deadline": c["extend_to"]}),
    case("workspace-usage", "POST", f"{WS}/{{workspace}}/usage", 204, None, url=f"{WS}/{{ws_id}}/usage",
         pre=WITH_WS),
    case("agent-logs-patch", "PATCH", f"{AGENTS}/me/logs", 200, lambda b, c: b is None, caller="agent",
         body={"logs": [{"created_at": "2024-01-02T03:04:05Z", "output": "hello", "level": "info"}]}, pre=WITH_WS),
    case("agent-log-source", "POST", f"{AGENTS}/me/log-source", 201,
         lambda b, c: (b["id"], b["workspace_agent_id"]) == ("0b3a3ea4-5f5e-4b0b-9a43-0d57d3b8a0c1", c["agent_id"]),
         caller="agent", body={"id": "0b3a3ea4-5f5e-4b0b-9a43-0d57d3b8a0c1", "display_name": "Startup", "icon": ""},
         pre=WITH_WS),
    case("agent-app-status", "PATCH", f"{AGENTS}/me/app-status", 200, lambda b, c: b is None, caller="agent",
         body={"app_slug": "code", "state": "working", "message": "busy"}, pre=WITH_WS,
         spec_gap="the handler writes a nil body (null) where the spec declares codersdk.Response"),
    case("agent-get", "GET", f"{AGENTS}/{{workspaceagent}}", 200, lambda b, c: b["name"] == "main",
         url=f"{AGENTS}/{{agent_id}}", pre=WITH_WS, spec_gap=NULL_IDS),
    case("agent-logs-get", "GET", f"{AGENTS}/{{workspaceagent}}/logs", 200,
         lambda b, c: [x["output"] for x in b] == ["hello"], url=f"{AGENTS}/{{agent_id}}/logs", pre=WITH_LOGS),
    case("error-409-extend-manual", "PUT", f"{WS}/{{workspace}}/extend", 409,
         lambda b, c: b == {"message": "Workspace shutdown is manual."}, url=f"{WS}/{{ws_id}}/extend",
         pre=[*WITH_TEMPLATE, _running(ttl_ms=None)], body={"deadline": "2999-01-01T00:00:00Z"}),
    case("error-400-extend-too-soon", "PUT", f"{WS}/{{workspace}}/extend", 400,
         lambda b, c: b == {"message": "Cannot extend workspace: new deadline must be at least 30 minutes in the "
                                       "future"}, url=f"{WS}/{{ws_id}}/extend", pre=WITH_WS,
         body={"deadline": "2001-01-01T00:00:00Z"}),
    case("error-401-agent-token-missing", "PATCH", f"{AGENTS}/me/logs", 401,
         lambda b, c: b == {"message": 'Cookie "coder_session_token" must be provided.'}, caller=None,
         body={"logs": [{"output": "x"}]}),
    case("error-400-agent-log-level", "PATCH", f"{AGENTS}/me/logs", 400,
         lambda b, c: b["message"] == "Invalid log level provided.", caller="agent",
         body={"logs": [{"output": "x", "level": "loud"}]}, pre=WITH_WS),
]


# ---------------------------------------------------------------------------- fixtures and helpers
@pytest.fixture(scope="module")
def unlicensed():
    srv = start_server("127.0.0.1", 0, OWNER_TOKEN, license="none")
    yield srv
    srv.stop()


def route_regex(route):
    return re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(route)) + "$")


def spec_operation(method, route):
    assert route in SPEC["paths"], f"{route} is not in the spec"
    operation = SPEC["paths"][route].get(method.lower())
    assert operation is not None, f"{method} {route} is not in the spec"
    return operation


def expected_response(op):
    """(status, schema or None) the response must have, and where that expectation comes from."""
    responses = spec_operation(op.method, op.route)["responses"]
    erratum = ERRATA.get((op.method, op.route))
    if op.status >= 400:
        listed = responses.get(str(op.status))
        schema = listed.get("schema") if listed else ref("codersdk.Response")
        return op.status, schema, "spec" if listed else "coder-api.md §1.4"
    if erratum:
        assert op.status == erratum["status"], (op.status, erratum)
        return erratum["status"], erratum["schema"], f"coder-api.md §{erratum['section']}"
    assert str(op.status) in responses, f"{op.method} {op.route}: spec lists {sorted(responses)}, not {op.status}"
    return op.status, responses[str(op.status)].get("schema"), "spec"


def setup_world(emu):
    """Owner `admin` plus a dormant password user `mia` in the default org; returns ids for URLs and checks."""
    created = emu.create_user("mia")
    assert created.status == 201, created
    org = emu.get(f"{ORGS}/default")
    assert org.status == 200, org
    return {"mia_id": created.json["id"], "org_id": org.json["id"]}


# ---------------------------------------------------------------------------- tests
@pytest.mark.parametrize("op", OPERATIONS)
def test_operation_conforms(op, emu, unlicensed):
    client = emu if op.license == "premium" else Client(unlicensed.url)
    ctx = setup_world(client) if op.license == "premium" else {}
    for step in op.pre:
        if callable(step):
            step(client, ctx)
            continue
        method, url, body, status, *capture = step
        if isinstance(body, bytes):
            result = client.call(method, url.format(**ctx), raw_body=body, headers={"Content-Type": TAR})
        else:
            result = client.call(method, url.format(**ctx), body(ctx) if callable(body) else body)
        assert result.status == status, (method, url, result)
        for extract in capture:
            ctx.update(extract(result.json))
    status, schema, source = expected_response(op)
    url = op.url.format(**ctx)
    assert route_regex(op.route).match(url.split("?")[0]), f"{url} does not match {op.route}"
    token = {"owner": "default", None: None, "bogus": BOGUS_TOKEN, "agent": ctx.get("agent_token")}[op.caller]
    body = op.body(ctx) if callable(op.body) else op.body
    result = client.call(op.method, url, body, token=token, raw_body=op.raw, headers=op.headers)

    assert result.status == status, f"expected {status} ({source}), got {result!r}"
    if schema is None:
        if op.check is not None:
            # A raw (non-JSON) success body, e.g. a file download: the check gets the bytes.
            assert op.check(result.raw, ctx), f"unexpected body: {result.raw[:200]!r}"
            return
        assert result.raw == b"", f"{op.method} {op.route} has no response schema but the body is {result.raw!r}"
        return
    assert result.headers.get("Content-Type", "").startswith("application/json"), result.headers
    if schema.get("type") == "null":
        assert result.text.strip() == "null", f"expected a null body, got {result.raw!r}"
        assert op.check(None, ctx)
        return
    assert result.json is not None, f"body is not JSON: {result.raw!r}"
    problems = VALIDATOR.errors(schema, result.json)
    assert not problems, f"body does not match {json.dumps(schema)} ({source}):\n" + "\n".join(problems)
    assert op.check(result.json, ctx), f"unexpected values: {result.json!r}"


REQUIRED = {
    ("GET", "/api/v2/buildinfo"), ("GET", "/api/v2/entitlements"), ("GET", USERS), ("POST", USERS),
    ("GET", f"{USERS}/{{user}}"), ("PUT", f"{USERS}/{{user}}/profile"), ("PUT", f"{USERS}/{{user}}/status/suspend"),
    ("PUT", f"{USERS}/{{user}}/status/activate"), ("GET", f"{USERS}/{{user}}/roles"),
    ("PUT", f"{USERS}/{{user}}/roles"),
    ("PUT", f"{USERS}/{{user}}/password"), ("DELETE", f"{USERS}/{{user}}"), ("GET", f"{USERS}/{{user}}/organizations"),
    ("GET", f"{USERS}/roles"), ("GET", ORGS), ("GET", f"{ORGS}/{{organization}}"),
    ("GET", f"{ORGS}/{{organization}}/members"), ("GET", f"{ORGS}/{{organization}}/paginated-members"),
    ("GET", MEMBER), ("POST", MEMBER), ("DELETE", MEMBER), ("PUT", f"{MEMBER}/roles"),
    ("GET", f"{ORGS}/{{organization}}/members/roles"), ("POST", f"{USERS}/{{user}}/keys/tokens"),
    ("GET", f"{USERS}/{{user}}/keys/tokens"), ("POST", f"{USERS}/login"),
    ("GET", ORG_GROUPS), ("POST", ORG_GROUPS), ("GET", f"{ORG_GROUPS}/{{groupName}}"),
    ("GET", f"{ORG_GROUPS}/{{groupName}}/members"), ("GET", GROUPS), ("GET", f"{GROUPS}/{{group}}"),
    ("PATCH", f"{GROUPS}/{{group}}"), ("DELETE", f"{GROUPS}/{{group}}"), ("GET", f"{GROUPS}/{{group}}/members"),
    ("POST", FILES), ("GET", f"{FILES}/{{fileID}}"), ("POST", f"{ORGS}/{{organization}}/templateversions"),
    ("GET", f"{TV}/{{templateversion}}"), ("PATCH", f"{TV}/{{templateversion}}"),
    ("PATCH", f"{TV}/{{templateversion}}/cancel"), ("GET", f"{TV}/{{templateversion}}/logs"),
    ("GET", f"{TV}/{{templateversion}}/variables"), ("GET", f"{TV}/{{templateversion}}/rich-parameters"),
    ("POST", f"{TV}/{{templateversion}}/archive"), ("POST", f"{TV}/{{templateversion}}/unarchive"),
    ("POST", f"{TPLS}/{{template}}/versions/archive"), ("GET", ORG_TPLS), ("POST", ORG_TPLS), ("GET", TPLS),
    ("GET", f"{ORG_TPLS}/{{templatename}}"), ("GET", f"{TPLS}/{{template}}"), ("PATCH", f"{TPLS}/{{template}}"),
    ("DELETE", f"{TPLS}/{{template}}"), ("GET", f"{TPLS}/{{template}}/versions"),
    ("PATCH", f"{TPLS}/{{template}}/versions"), ("GET", f"{TPLS}/{{template}}/versions/{{templateversionname}}"),
    ("GET", f"{ORG_TPLS}/{{templatename}}/versions/{{templateversionname}}"),
    ("GET", f"{ORG_TPLS}/{{templatename}}/versions/{{templateversionname}}/previous"),
    ("GET", f"{TPLS}/{{template}}/acl"), ("PATCH", f"{TPLS}/{{template}}/acl"),
    ("GET", f"{TPLS}/{{template}}/acl/available"),
    ("GET", WS), ("GET", f"{WS}/{{workspace}}"), ("GET", f"{USERS}/{{user}}/workspace/{{workspacename}}"),
    ("PUT", f"{WS}/{{workspace}}/extend"), ("POST", f"{WS}/{{workspace}}/usage"), ("PATCH", f"{AGENTS}/me/logs"),
    ("POST", f"{AGENTS}/me/log-source"), ("PATCH", f"{AGENTS}/me/app-status"),
    ("GET", f"{AGENTS}/{{workspaceagent}}/logs"),
}


def test_table_covers_every_required_operation_and_error_class():
    covered = {(p.values[0].method, p.values[0].route) for p in OPERATIONS}
    assert sorted(REQUIRED - covered) == []
    for method, route in covered:
        spec_operation(method, route)
    assert {p.values[0].status for p in OPERATIONS} >= {200, 201, 204, 400, 401, 403, 404, 409}
    assert len({p.id for p in OPERATIONS}) == len(OPERATIONS), "duplicate test ids"


def test_errata_are_stated_by_the_reference():
    if not os.path.isfile(REFERENCE_PATH):
        pytest.skip(f"reference {REFERENCE_PATH} not found; cannot check the errata quotes")
    for key, fix in [*ERRATA.items(), *DEFINITION_ERRATA.items()]:
        section = reference_section(fix["section"])
        assert section, f"{key}: coder-api.md has no section {fix['section']}"
        assert fix["quote"] in section, f"{key}: quote not found in coder-api.md §{fix['section']}"
    for method, route in ERRATA:
        responses = spec_operation(method, route)["responses"]
        fix = ERRATA[(method, route)]
        # An erratum must really disagree with the spec, in status or in schema.
        assert str(fix["status"]) not in responses or responses[str(fix["status"])].get("schema") != fix["schema"]


def emulator_routes():
    """(METHOD, /api/v2 path template) for every route the emulator's router serves."""
    from coder_emulator.server import App

    app = App(OWNER_TOKEN)
    routes = set()
    for _count, _index, (regex, methods) in app.router.routes:
        template = re.sub(r"\(\?P<(\w+)>\[\^/\]\+\)", r"{\1}", regex.pattern)[1:-1]
        assert re.fullmatch(r"[\w/{}-]*", template), f"cannot read the route pattern {regex.pattern!r}"
        routes.update((method, "/api/v2" + template) for method in methods)
    return routes


# Routes of old servers the emulator serves only with an old --version; each must be stated by the reference.
LEGACY_ROUTES = {
    ("POST", "/api/v2/workspaceagents/me/report-stats"): {
        "section": "9.2", "quote": "Legacy contract (≤v2.12, for an emulator that wants to mimic old servers)"},
}


def test_legacy_routes_are_stated_by_the_reference():
    if not os.path.isfile(REFERENCE_PATH):
        pytest.skip(f"reference {REFERENCE_PATH} not found; cannot check the quotes")
    for key, fix in LEGACY_ROUTES.items():
        assert fix["quote"] in reference_section(fix["section"]), key


def test_emulator_invents_no_routes():
    routes = emulator_routes() - set(LEGACY_ROUTES)
    assert ("GET", "/api/v2/") in routes and ("GET", "/api/v2/users/{user}") in routes, sorted(routes)
    invented = sorted((method, path) for method, path in routes
                      if method.lower() not in SPEC["paths"].get(path, {}))
    assert not invented, f"routes the spec does not have: {invented}"


def test_validator_rejects_bad_documents():
    user = VALIDATOR.resolve(ref("codersdk.User"))
    good = {"id": NIL, "username": "a", "email": "a@example.com", "created_at": "2024-01-02T03:04:05.123Z",
            "organization_ids": None, "status": "dormant", "roles": []}
    assert VALIDATOR.errors(user, good) == []
    bad = {**good, "id": "nope", "created_at": "yesterday", "status": "gone", "roles": [{"nmae": "x"}],
           "organization_ids": [1], "has_ai_seat": "no", "invented": 1}
    del bad["email"]
    assert sorted(VALIDATOR.errors(user, bad)) == sorted([
        "$: required property 'email' missing", "$.id: 'nope' is not a valid uuid",
        "$.created_at: 'yesterday' is not a valid date-time",
        "$.status: 'gone' not in enum ['active', 'dormant', 'suspended']",
        "$.status: 'gone' not in enum ['active', 'dormant', 'suspended']",
        "$.roles[0].nmae: property not declared in the spec", "$.organization_ids[0]: int 1 where string is declared",
        "$.has_ai_seat: str 'no' where boolean is declared", "$.invented: property not declared in the spec"])
    assert VALIDATOR.errors(ref("codersdk.User"), None) == ["$: null where object is declared"]
    assert VALIDATOR.errors(ref("codersdk.Entitlements"), {"features": {"x": {"enabled": 1}}}) == [
        "$.features['x'].enabled: int 1 where boolean is declared"]


def test_workspace_documents_conform_apart_from_go_nulls(emu):
    """The spec_gap cases above fail only on the Go nulls NULL_IDS names: with those marked nullable, the
    workspace, build, agent and app-status documents validate."""
    definitions = json.loads(json.dumps(VALIDATOR.definitions))
    for name, prop in [("codersdk.Workspace", "task_id"), ("codersdk.Workspace", "latest_app_status"),
                       ("codersdk.WorkspaceAgent", "parent_id"),
                       ("codersdk.WorkspaceBuild", "template_version_preset_id"),
                       ("codersdk.WorkspaceBuild", "deadline"), ("codersdk.WorkspaceBuild", "max_deadline")]:
        definitions[name]["properties"][prop] = {"x-nullable": True}
    validator = SchemaValidator(definitions)
    ctx = setup_world(emu)
    for step in WITH_TEMPLATE:
        if callable(step):
            step(emu, ctx)
            continue
        method, url, body, status, *capture = step
        if isinstance(body, bytes):
            r = emu.call(method, url.format(**ctx), raw_body=body, headers={"Content-Type": TAR})
        else:
            r = emu.call(method, url.format(**ctx), body(ctx) if callable(body) else body)
        assert r.status == status, r
        for extract in capture:
            ctx.update(extract(r.json))
    _running()(emu, ctx)
    manual = emu.call("POST", "/__emulator/workspaces", {"owner": "admin", "name": "m", "template": "tpl"},
                      token=None)
    assert manual.status == 201
    r = emu.call("PATCH", f"{AGENTS}/me/app-status", {"app_slug": "code", "state": "idle"}, token=ctx["agent_token"])
    assert r.status == 200, r
    listed = emu.get(WS)
    assert validator.errors(ref("codersdk.WorkspacesResponse"), listed.json) == []
    mine = emu.get(f"{WS}?q=owner:mia").json["workspaces"]
    assert mine[0]["latest_app_status"]["state"] == "idle"
    assert validator.errors(ref("codersdk.WorkspaceAgent"), emu.get(f"{AGENTS}/{ctx['agent_id']}").json) == []
    assert VALIDATOR.errors(ref("codersdk.WorkspaceAgent"), emu.get(f"{AGENTS}/{ctx['agent_id']}").json) == [
        "$.parent_id: null where object is declared"]
