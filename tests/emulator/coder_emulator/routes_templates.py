"""Templates (reference section 6), promotion and the version lookups by name (section 8.2, 8.3), ACL (6.5).

Licensing: schedule fields need ``advanced_template_scheduling``, ``require_active_version`` and
deprecation need ``access_control``, ``max_port_share_level`` needs ``control_shared_ports``; without
them the values are validated but not applied (coder-api.md §6.2/§6.3 tables). ``/templates/{id}/acl*``
needs ``template_rbac`` and checks it before authentication, like ``/groups``.

PATCH /templates/{id} has two behaviours: v2.34.0+ (every field optional, always 200) and, for an older
``--version``, the old one where plain fields reset to zero when omitted and an unchanged template is a 304.
"""

import json

from . import names
from .routes_general import feature_enabled
from .routes_groups import licensed_then_authenticated, render_group
from .routes_organizations import can_read_org, target_org
from .routes_templateversions import version_json
from .search import (
    _GO_BOOL,
    _goq,
    paginate_users,
    parse_pagination,
    parse_user_query_or_400,
    search_terms,
    user_matcher,
)
from .server import empty, json_resp
from .state import WEEKDAYS, Template
from .template_access import can_manage_templates, can_read_template, can_update_template, template_param
from .util import (
    ApiError,
    decode_body,
    fmt_time,
    forbidden,
    new_uuid,
    not_found,
    now,
    parse_uuid,
    raise_validation,
    validation_error,
)

MINUTE_MS = 60000
MAX_AUTOSTOP_WEEKS = 16  # schedule.MaxTemplateAutostopRequirementWeeks
PORT_SHARE_LEVELS = ("owner", "authenticated", "organization", "public")
CORS_BEHAVIORS = ("simple", "passthru")
TEMPLATE_ROLES = ("admin", "use")
_AUTHZ_DETAIL = "unauthorized: rbac: forbidden"


def _sched(state):
    return feature_enabled(state, "advanced_template_scheduling")


def _access(state):
    return feature_enabled(state, "access_control")


def _ports(state):
    return feature_enabled(state, "control_shared_ports")


def _has_notify(state):
    # time_til_autostop_notify_ms landed on main after v2.34.3 and is in no release yet.
    return state.version_tuple >= (2, 35, 0)


# ---------------------------------------------------------------------- JSON
def template_json(state, tpl) -> dict:
    org = state.orgs[tpl.organization_id]
    creator = state.users.get(tpl.created_by)
    d = {
        "id": tpl.id,
        "created_at": fmt_time(tpl.created_at),
        "updated_at": fmt_time(tpl.updated_at),
        "organization_id": org.id,
        "organization_name": org.name,
        "organization_display_name": org.display_name,
        "organization_icon": org.icon,
        "name": tpl.name,
        "display_name": tpl.display_name,
        "provisioner": "terraform",
        "active_version_id": tpl.active_version_id,
        # Counted from workspace agent stats of the last hour; emulated workspaces report none.
        "active_user_count": 0,
        # No workspace builds have run, so there are no percentiles: nil *int64 values.
        "build_time_stats": {k: {"P50": None, "P95": None} for k in ("start", "stop", "delete")},
        "description": tpl.description,
        "deprecated": tpl.deprecation_message != "",
        "deprecation_message": tpl.deprecation_message,
        "deleted": tpl.deleted,
        "icon": tpl.icon,
        "default_ttl_ms": tpl.default_ttl_ms,
        "activity_bump_ms": tpl.activity_bump_ms,
    }
    if _has_notify(state):
        d["time_til_autostop_notify_ms"] = tpl.time_til_autostop_notify_ms
    d.update({
        "autostop_requirement": {"days_of_week": list(tpl.autostop_days), "weeks": tpl.autostop_weeks},
        "autostart_requirement": {"days_of_week": list(tpl.autostart_days)},
        "created_by_id": tpl.created_by,
        "created_by_name": creator.username if creator else "",
        "allow_user_autostart": tpl.allow_user_autostart,
        "allow_user_autostop": tpl.allow_user_autostop,
        "allow_user_cancel_workspace_jobs": tpl.allow_user_cancel_workspace_jobs,
        "failure_ttl_ms": tpl.failure_ttl_ms,
        "time_til_dormant_ms": tpl.time_til_dormant_ms,
        "time_til_dormant_autodelete_ms": tpl.time_til_dormant_autodelete_ms,
        "require_active_version": tpl.require_active_version,
        # The AGPL port sharer reports every template as allowing public sharing.
        "max_port_share_level": tpl.max_port_share_level if _ports(state) else "public",
        "cors_behavior": tpl.cors_behavior,
        "use_classic_parameter_flow": tpl.use_classic_parameter_flow,
        "disable_module_cache": tpl.disable_module_cache,
    })
    return d


# ---------------------------------------------------------------------- shared validation
def _days(raw, field, errors):
    """Weekday names, case-insensitive in, lower-case and in week order out."""
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise ApiError(400, "Request body must be valid JSON.",
                       f"json: cannot unmarshal into Go struct field {field} of type []string")
    wanted = set()
    for day in raw:
        if day.lower() not in WEEKDAYS:
            errors.append({"field": field, "detail": f'Invalid day of week "{day}".'})
            return None
        wanted.add(day.lower())
    return [d for d in WEEKDAYS if d in wanted]


def _object(raw, field):
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ApiError(400, "Request body must be valid JSON.",
                       f"json: cannot unmarshal into Go struct field {field} of type struct")
    return raw


def _autostop(raw, errors):
    obj = _object(raw, "autostop_requirement")
    if obj is None:
        return None
    days = _days(obj.get("days_of_week") or [], "autostop_requirement.days_of_week", errors)
    weeks = obj.get("weeks") or 0
    if not isinstance(weeks, int) or isinstance(weeks, bool):
        raise ApiError(400, "Request body must be valid JSON.",
                       "json: cannot unmarshal into Go struct field TemplateAutostopRequirement.weeks of type int64")
    if weeks < 0:
        errors.append({"field": "autostop_requirement.weeks", "detail": "Must be a positive integer."})
    elif weeks > MAX_AUTOSTOP_WEEKS:
        errors.append({"field": "autostop_requirement.weeks",
                       "detail": f"Must be less than {MAX_AUTOSTOP_WEEKS}."})
    # weeks 0 means "every week".
    return (days, weeks or 1)


def _autostart(raw, errors):
    obj = _object(raw, "autostart_requirement")
    if obj is None:
        return None
    return _days(obj.get("days_of_week") or [], "autostart_requirement.days_of_week", errors)


def _non_negative(value, field, errors):
    if value is not None and value < 0:
        errors.append({"field": field, "detail": "Must be a positive integer."})


def _minute(value, field, errors):
    if value is None:
        return
    if value < 0:
        errors.append({"field": field, "detail": "Must be a positive integer."})
    elif 0 < value < MINUTE_MS:
        errors.append({"field": field, "detail": "Value must be at least one minute."})


# ---------------------------------------------------------------------- create
_CREATE_SCHEMA = {
    "name": "str", "display_name": "str", "description": "str", "icon": "str", "template_version_id": "uuid",
    "default_ttl_ms": "int", "activity_bump_ms": "int", "time_til_autostop_notify_ms": "int",
    "autostop_requirement": "obj", "autostart_requirement": "obj", "allow_user_cancel_workspace_jobs": "bool",
    "allow_user_autostart": "bool", "allow_user_autostop": "bool", "failure_ttl_ms": "int",
    "dormant_ttl_ms": "int", "delete_ttl_ms": "int", "disable_everyone_group_access": "bool",
    "require_active_version": "bool", "max_port_share_level": "str", "template_use_classic_parameter_flow": "bool",
    "cors_behavior": "str",
}


def _sent(req):
    """Keys sent with a non-null value (the pointer fields of the request structs)."""
    try:
        raw = json.loads(req.body)
    except ValueError:
        return set()
    return {k for k, v in raw.items() if v is not None} if isinstance(raw, dict) else set()


def create_template(req):
    state = req.state
    org = target_org(req)
    body = decode_body(req.body, "CreateTemplateRequest", _CREATE_SCHEMA)
    sent = _sent(req)
    errors = []
    if not body["name"]:
        errors.append(validation_error("name", "required", ""))
    elif not names.name_valid(body["name"]):
        errors.append(validation_error("name", "template_name", body["name"]))
    if not names.display_name_valid(body["display_name"]):
        errors.append(validation_error("display_name", "template_display_name", body["display_name"]))
    if len(body["description"].encode()) >= 128:
        errors.append(validation_error("description", "lt", body["description"]))
    if not body["template_version_id"]:
        errors.append(validation_error("template_version_id", "required", "00000000-0000-0000-0000-000000000000"))
    raise_validation(errors)
    with state.lock:
        name = body["name"]
        if state.template_by_name(org.id, name) is not None:
            raise ApiError(409, f'Template with name "{name}" already exists.',
                           validations=[{"field": "name", "detail": "This value is already in use and should be "
                                                                    "unique."}])
        vid = body["template_version_id"]
        version = state.versions.get(vid)
        if version is None or version.organization_id != org.id or not can_manage_templates(state, req.actor, org.id):
            raise ApiError(404, f'Template version "{vid}" not found.',
                           validations=[{"field": "template_version_id", "detail": "Template version does not exist"}])
        if version.archived:
            raise ApiError(400, f'Template version "{vid}" is archived.',
                           validations=[{"field": "template_version_id", "detail": "Template version is archived"}])
        if version.template_id:
            raise ApiError(400, f'Template version "{vid}" is already part of a template.',
                           validations=[{"field": "template_version_id",
                                         "detail": "Template version is already part of a template"}])
        # The job status is deliberately not checked: a template may start from a pending or failed import.
        errors = []
        _non_negative(body["default_ttl_ms"], "default_ttl_ms", errors)
        _non_negative(body["activity_bump_ms"], "activity_bump_ms", errors)
        if _has_notify(state):
            _minute(body["time_til_autostop_notify_ms"], "time_til_autostop_notify_ms", errors)
        for field in ("failure_ttl_ms", "dormant_ttl_ms", "delete_ttl_ms"):
            _non_negative(body[field], field, errors)
        autostop = _autostop(body["autostop_requirement"], errors)
        autostart = _autostart(body["autostart_requirement"], errors)
        if "max_port_share_level" in sent:
            level = body["max_port_share_level"]
            if not _ports(state):
                # Any value, even "public": port-sharing restrictions are premium.
                errors.append({"field": "max_port_share_level",
                               "detail": "port sharing level is an enterprise feature"})
            elif level not in PORT_SHARE_LEVELS:
                errors.append({"field": "max_port_share_level", "detail": f'Invalid port share level "{level}".'})
        if "cors_behavior" in sent and body["cors_behavior"] not in CORS_BEHAVIORS:
            errors.append({"field": "cors_behavior", "detail": f'Invalid CORS behavior "{body["cors_behavior"]}".'})
        if errors:
            raise ApiError(400, "Invalid create template request.", validations=errors)

        t = now()
        tpl = Template(id=new_uuid(), organization_id=org.id, name=name, active_version_id=version.id,
                       created_by=req.actor.id, created_at=t, updated_at=t, display_name=body["display_name"],
                       description=body["description"], icon=body["icon"])
        tpl.default_ttl_ms = body["default_ttl_ms"]
        if "activity_bump_ms" in sent:
            tpl.activity_bump_ms = body["activity_bump_ms"]
        if _has_notify(state):
            tpl.time_til_autostop_notify_ms = body["time_til_autostop_notify_ms"]
        if "allow_user_cancel_workspace_jobs" in sent:
            tpl.allow_user_cancel_workspace_jobs = body["allow_user_cancel_workspace_jobs"]
        if _sched(state):
            # The AGPL schedule store ignores all of these.
            if "allow_user_autostart" in sent:
                tpl.allow_user_autostart = body["allow_user_autostart"]
            if "allow_user_autostop" in sent:
                tpl.allow_user_autostop = body["allow_user_autostop"]
            tpl.failure_ttl_ms = body["failure_ttl_ms"]
            tpl.time_til_dormant_ms = body["dormant_ttl_ms"]
            tpl.time_til_dormant_autodelete_ms = body["delete_ttl_ms"]
            if autostop is not None:
                tpl.autostop_days, tpl.autostop_weeks = autostop
            if autostart is not None:
                tpl.autostart_days = autostart
        if _access(state):
            tpl.require_active_version = body["require_active_version"]
        if "max_port_share_level" in sent:
            tpl.max_port_share_level = body["max_port_share_level"]
        if "cors_behavior" in sent:
            tpl.cors_behavior = body["cors_behavior"]
        tpl.use_classic_parameter_flow = body["template_use_classic_parameter_flow"]
        if not body["disable_everyone_group_access"]:
            # The Everyone group's id is the organization id.
            tpl.group_acl[org.id] = "use"
        state.templates[tpl.id] = tpl
        state.attach_version(version, tpl.id)
        version.updated_at = t
        # Swagger says 200; the handler answers 201.
        return json_resp(201, template_json(state, tpl))


# ---------------------------------------------------------------------- list / get
_LIST_KEYS = ("search", "display_name", "exact_display_name", "name", "exact_name", "organization", "deleted",
              "deprecated", "ids")


def _template_filter(req, path_org):
    state = req.state
    values, errors = search_terms(req.q("q"))
    if errors:
        raise ApiError(400, "Invalid template search query.", validations=errors)
    errors = []
    flt = {}
    for key, vals in values.items():
        if key not in _LIST_KEYS:
            errors.append({"field": key, "detail": f"Query param {_goq(key)} is not a valid query param"})
            continue
        if len(vals) > 1:
            errors.append({"field": key, "detail": f"Query param {_goq(key)} provided more than once, found "
                                                   f"{len(vals)} times. Only provide 1 instance of this query param."})
            continue
        flt[key] = vals[0]
    for key in ("deleted", "deprecated"):
        if key in flt:
            raw = flt[key]
            if raw.lower() not in _GO_BOOL:
                errors.append({"field": key, "detail": f"Query param {_goq(key)} must be a valid boolean "
                                                       f"(strconv.ParseBool: parsing {_goq(raw)}: invalid syntax)"})
            else:
                flt[key] = _GO_BOOL[raw.lower()]
    org_id = path_org.id if path_org else None
    if org_id is None and "organization" in flt:
        raw = flt["organization"]
        org_id = parse_uuid(raw)
        if org_id is None:
            found = state.orgs_by_name.get(raw.lower())
            if found is None or not can_read_org(state, req.actor, found):
                errors.append({"field": "organization", "detail": f'Organization "{raw}" either does not exist, '
                                                                  f"or you are unauthorized to view it"})
            else:
                org_id = found.id
    ids = None
    if "ids" in flt:
        ids = set()
        for part in flt["ids"].split(","):
            uid = parse_uuid(part.strip())
            if uid is None:
                errors.append({"field": "ids", "detail": f'Query param "ids" has invalid values: {part}'})
                break
            ids.add(uid)
    if errors:
        raise ApiError(400, "Invalid template search query.", validations=errors)
    fuzzy_display = flt.get("display_name", flt.get("search", "")).lower()
    fuzzy_name = flt.get("name", "").lower()
    exact_name = flt.get("exact_name", "").lower()
    exact_display = flt.get("exact_display_name", "").lower()
    deleted = flt.get("deleted", False)
    deprecated = flt.get("deprecated")

    def match(tpl):
        if tpl.deleted != deleted:
            return False
        # Deprecated templates are listed only when asked for.
        if (tpl.deprecation_message != "") != bool(deprecated):
            return False
        if org_id is not None and tpl.organization_id != org_id:
            return False
        if exact_name and tpl.name.lower() != exact_name:
            return False
        if fuzzy_name and fuzzy_name not in tpl.name.lower():
            return False
        if exact_display and tpl.display_name.lower() != exact_display:
            return False
        if fuzzy_display and fuzzy_display not in tpl.display_name.lower():
            return False
        return ids is None or tpl.id in ids
    return match


def _list(req, org=None):
    state = req.state
    with state.lock:
        match = _template_filter(req, org)
        rows = [t for t in state.templates.values() if match(t) and can_read_template(state, req.actor, t)]
        # SQL orders by (name, id); the handler then sorts stably by active_user_count, descending.
        rows.sort(key=lambda t: (t.name, t.id))
        body = [template_json(state, t) for t in rows]
    body.sort(key=lambda d: -d["active_user_count"])
    return json_resp(200, body)


def list_templates(req):
    return _list(req)


def list_org_templates(req):
    return _list(req, target_org(req))


def _template_by_org_name(req):
    state = req.state
    org = target_org(req)
    tpl = state.template_by_name(org.id, req.params["templatename"])
    if tpl is None or not can_read_template(state, req.actor, tpl):
        raise not_found()
    return tpl


def get_org_template(req):
    with req.state.lock:
        return json_resp(200, template_json(req.state, _template_by_org_name(req)))


def get_template(req):
    with req.state.lock:
        return json_resp(200, template_json(req.state, template_param(req)))


# ---------------------------------------------------------------------- patch
# field -> (kind, plain before v2.34 (omitted = zero), premium feature or None)
_PATCH_FIELDS = {
    "name": ("str", True, None),
    "display_name": ("str", False, None),
    "description": ("str", False, None),
    "icon": ("str", False, None),
    "default_ttl_ms": ("int", True, None),
    "activity_bump_ms": ("int", True, None),
    "time_til_autostop_notify_ms": ("int", False, None),
    "autostop_requirement": ("obj", False, "advanced_template_scheduling"),
    "autostart_requirement": ("obj", False, "advanced_template_scheduling"),
    "allow_user_autostart": ("bool", True, "advanced_template_scheduling"),
    "allow_user_autostop": ("bool", True, "advanced_template_scheduling"),
    "allow_user_cancel_workspace_jobs": ("bool", True, None),
    "failure_ttl_ms": ("int", True, "advanced_template_scheduling"),
    "time_til_dormant_ms": ("int", True, "advanced_template_scheduling"),
    "time_til_dormant_autodelete_ms": ("int", True, "advanced_template_scheduling"),
    "update_workspace_last_used_at": ("bool", True, None),
    "update_workspace_dormant_at": ("bool", True, None),
    "require_active_version": ("bool", True, "access_control"),
    "deprecation_message": ("str", False, None),
    "disable_everyone_group_access": ("bool", True, None),
    "max_port_share_level": ("str", False, None),
    "cors_behavior": ("str", False, None),
    "use_classic_parameter_flow": ("bool", False, None),
    "disable_module_cache": ("bool", False, None),
}
_STORED = ("name", "display_name", "description", "icon", "default_ttl_ms", "activity_bump_ms",
           "time_til_autostop_notify_ms", "autostop_days", "autostop_weeks", "autostart_days", "allow_user_autostart",
           "allow_user_autostop", "allow_user_cancel_workspace_jobs", "failure_ttl_ms", "time_til_dormant_ms",
           "time_til_dormant_autodelete_ms", "require_active_version", "deprecation_message", "max_port_share_level",
           "cors_behavior", "use_classic_parameter_flow", "disable_module_cache")


def _snapshot(tpl):
    return {k: getattr(tpl, k) for k in _STORED} | {"group_acl": dict(tpl.group_acl)}


def patch_template(req):
    state = req.state
    old_api = state.version_tuple < (2, 34, 0)
    with state.lock:
        tpl = template_param(req)
        body = decode_body(req.body, "UpdateTemplateMeta", {k: v[0] for k, v in _PATCH_FIELDS.items()})
        sent = _sent(req)
        if old_api:
            # Plain (non-pointer) fields always carry a value: the zero value when omitted.
            plain = {k for k, v in _PATCH_FIELDS.items() if v[1]}
            if state.version_tuple < (2, 26, 0):
                plain |= {"display_name", "description", "icon"}
            sent |= plain
        if not _has_notify(state):
            sent.discard("time_til_autostop_notify_ms")
        errors = []
        if body["name"] and not names.name_valid(body["name"]):
            errors.append(validation_error("name", "template_name", body["name"]))
        if "display_name" in sent and not names.display_name_valid(body["display_name"]):
            errors.append(validation_error("display_name", "template_display_name", body["display_name"]))
        raise_validation(errors)
        if not can_update_template(state, req.actor, tpl):
            raise forbidden()

        errors = []
        for field in ("default_ttl_ms", "activity_bump_ms"):
            if field in sent:
                _non_negative(body[field], field, errors)
        for field in ("time_til_autostop_notify_ms", "failure_ttl_ms", "time_til_dormant_ms",
                      "time_til_dormant_autodelete_ms"):
            if field in sent:
                _minute(body[field], field, errors)
        autostop = _autostop(body["autostop_requirement"], errors) if "autostop_requirement" in sent else None
        autostart = _autostart(body["autostart_requirement"], errors) if "autostart_requirement" in sent else None
        level = body["max_port_share_level"] if "max_port_share_level" in sent else ""
        if level:
            if not _ports(state):
                if level != "public":
                    # Sic: the validation field is max_port_sharing_level.
                    errors.append({"field": "max_port_sharing_level",
                                   "detail": "port sharing level is an enterprise feature"})
            elif level not in PORT_SHARE_LEVELS:
                errors.append({"field": "max_port_sharing_level", "detail": f'Invalid port share level "{level}".'})
        cors = body["cors_behavior"] if "cors_behavior" in sent else ""
        if cors and cors not in CORS_BEHAVIORS:
            errors.append({"field": "cors_behavior", "detail": f'Invalid CORS behavior "{cors}".'})
        if errors:
            raise ApiError(400, "Invalid request to update template metadata!", validations=errors)

        name = body["name"]
        if name and name.lower() != tpl.name.lower():
            other = state.template_by_name(tpl.organization_id, name)
            if other is not None:
                raise ApiError(409, f'Template with name "{name}" already exists.',
                               validations=[{"field": "name", "detail": "This value is already in use and should be "
                                                                        "unique."}])
        before = _snapshot(tpl)
        if name:
            tpl.name = name
        for field in ("display_name", "description", "icon"):
            if field in sent:
                setattr(tpl, field, body[field])
        for field in ("default_ttl_ms", "activity_bump_ms", "time_til_autostop_notify_ms",
                      "allow_user_cancel_workspace_jobs", "use_classic_parameter_flow", "disable_module_cache"):
            if field in sent:
                setattr(tpl, field, body[field])
        if _sched(state):
            for field in ("allow_user_autostart", "allow_user_autostop", "failure_ttl_ms", "time_til_dormant_ms",
                          "time_til_dormant_autodelete_ms"):
                if field in sent:
                    setattr(tpl, field, body[field])
            if autostop is not None:
                tpl.autostop_days, tpl.autostop_weeks = autostop
            if autostart is not None:
                tpl.autostart_days = autostart
        if "require_active_version" in sent and _access(state):
            tpl.require_active_version = body["require_active_version"]
        if "deprecation_message" in sent:
            # Setting a message needs access_control; clearing one works without a license.
            if body["deprecation_message"] == "" or _access(state):
                tpl.deprecation_message = body["deprecation_message"]
        if level and _ports(state):
            tpl.max_port_share_level = level
        if cors:
            tpl.cors_behavior = cors
        if "disable_everyone_group_access" in sent and body["disable_everyone_group_access"]:
            # true drops the Everyone group from the ACL; false does not add it back.
            tpl.group_acl.pop(tpl.organization_id, None)
        side_effects = body["update_workspace_last_used_at"] or body["update_workspace_dormant_at"]
        if old_api and not side_effects and _snapshot(tpl) == before and name == tpl.name \
                and "autostart_requirement" in _sent(req):
            # ≤ v2.33: the handler compared the request with the template and answered 304 when they matched;
            # that comparison needed the name and the autostart requirement to be sent.
            return empty(304)
        tpl.updated_at = now()
        return json_resp(200, template_json(state, tpl))


# ---------------------------------------------------------------------- delete
def delete_template(req):
    state = req.state
    with state.lock:
        tpl = template_param(req)
        if not can_update_template(state, req.actor, tpl):
            raise forbidden()
        # GetWorkspaces by template id as the system: every non-deleted workspace, visible or not.
        if state.live_workspaces(template_id=tpl.id):
            raise ApiError(400, "All workspaces must be deleted before a template can be removed.")
        tpl.deleted = True
        tpl.updated_at = now()
    return json_resp(200, {"message": "Template has been deleted!"})


# ---------------------------------------------------------------------- versions of a template
def promote_version(req):
    state = req.state
    with state.lock:
        tpl = template_param(req)
        body = decode_body(req.body, "UpdateActiveTemplateVersion", {"id": "uuid"})
        if not body["id"]:
            raise_validation([validation_error("id", "required", "00000000-0000-0000-0000-000000000000")])
        if not can_update_template(state, req.actor, tpl):
            raise forbidden()
        version = state.versions.get(body["id"])
        if version is None or version.organization_id != tpl.organization_id:
            raise ApiError(404, "Template version not found.")
        if version.template_id != tpl.id:
            raise ApiError(400, "The provided template version doesn't belong to the specified template.")
        status = version.job.status(now())
        if status != "succeeded":
            raise ApiError(403, "Only versions that have been built successfully can be promoted.",
                           f"Attempted to promote a version with a {status} build")
        if version.archived:
            raise ApiError(400, "The provided template version is archived.")
        tpl.active_version_id = version.id
        tpl.updated_at = now()
    return json_resp(200, {"message": "Updated the active template version!"})


def _parse_bool_param(req, name):
    raw = req.q(name)
    if raw == "":
        return False
    if raw.lower() not in _GO_BOOL:
        raise ApiError(400, "Query parameters have invalid values.", validations=[
            {"field": name, "detail": f"Query param {_goq(name)} must be a valid boolean "
                                      f"(strconv.ParseBool: parsing {_goq(raw)}: invalid syntax)"}])
    return _GO_BOOL[raw.lower()]


def list_versions(req):
    """Oldest first by (created_at, id); archived ones only with include_archived."""
    state = req.state
    with state.lock:
        tpl = template_param(req)
        include_archived = _parse_bool_param(req, "include_archived")
        after_id, limit, offset = parse_pagination(req)
        rows = sorted((v for v in state.template_versions.get(tpl.id, []) if include_archived or not v.archived),
                      key=lambda v: (v.created_at, v.id))
        if after_id:
            pivot = state.versions.get(after_id)
            if pivot is None:
                raise ApiError(400, f'Record at "after_id" ({after_id}) does not exists.')
            rows = [v for v in rows if (v.created_at, v.id) > (pivot.created_at, pivot.id)]
        rows = rows[offset:]
        if limit:
            rows = rows[:limit]
        return json_resp(200, [version_json(state, v) for v in rows])


def _version_by_name(state, tpl, name):
    for v in state.template_versions.get(tpl.id, []):
        if v.name == name:  # version names match exactly
            return v
    raise ApiError(404, f'No template version found by name "{name}".')


def version_by_name(req):
    state = req.state
    with state.lock:
        tpl = template_param(req)
        # One TemplateVersion, although the swagger annotation says array.
        return json_resp(200, version_json(state, _version_by_name(state, tpl, req.params["templateversionname"])))


def org_version_by_name(req):
    state = req.state
    with state.lock:
        tpl = _template_by_org_name(req)
        return json_resp(200, version_json(state, _version_by_name(state, tpl, req.params["templateversionname"])))


def org_previous_version(req):
    state = req.state
    with state.lock:
        tpl = _template_by_org_name(req)
        current = _version_by_name(state, tpl, req.params["templateversionname"])
        earlier = [v for v in state.template_versions.get(tpl.id, []) if v.created_at < current.created_at]
        if not earlier:
            return empty(204)
        return json_resp(200, version_json(state, max(earlier, key=lambda v: v.created_at)))


# ---------------------------------------------------------------------- ACL
def _acl_users(state, tpl):
    out = []
    for uid, role in tpl.user_acl.items():
        u = state.users.get(uid)
        # Deleted and suspended users are filtered out; dormant ones stay.
        if u is None or u.deleted or u.status == "suspended":
            continue
        out.append(dict(state.user_json(u), role=role))
    return out


def get_acl(req):
    state = req.state
    with state.lock:
        tpl = template_param(req)
        groups = []
        cache = {}
        for gid, role in tpl.group_acl.items():
            g = state.groups.get(gid)
            if g is None:
                continue
            ids = state.group_member_ids(g)
            groups.append(dict(state.group_json(g, ids, len(ids), cache), role=role))
        # The groups key is singular.
        return json_resp(200, {"users": _acl_users(state, tpl), "group": groups})


def _validate_perms(state, perms, field, exists):
    errors = []
    if perms is None:
        return errors
    if not isinstance(perms, dict) or not all(isinstance(v, str) for v in perms.values()):
        raise ApiError(400, "Request body must be valid JSON.",
                       f"json: cannot unmarshal into Go struct field UpdateTemplateACL.{field} of type "
                       f"codersdk.TemplateRole")
    for key, role in perms.items():
        uid = parse_uuid(key)
        if uid is None:
            errors.append({"field": field, "detail": f"{key} is not a valid UUID."})
            continue
        if role not in ("", *TEMPLATE_ROLES):
            errors.append({"field": field, "detail": f'role "{role}" is not a valid template role'})
            continue
        # Removing an entry needs no lookup, so a deleted user's entry can always be removed.
        if role and not exists(uid):
            errors.append({"field": field, "detail": f'Failed to find resource with ID "{key}"'})
    return errors


def patch_acl(req):
    state = req.state
    with state.lock:
        tpl = template_param(req)
        body = decode_body(req.body, "UpdateTemplateACL", {"user_perms": "any", "group_perms": "any"})
        errors = _validate_perms(state, body["user_perms"], "user_perms",
                                 lambda uid: uid in state.users and not state.users[uid].deleted)
        errors += _validate_perms(state, body["group_perms"], "group_perms", lambda gid: gid in state.groups)
        if errors:
            raise ApiError(400, "Invalid request to update template ACL", validations=errors)
        if not can_update_template(state, req.actor, tpl):
            # The authz error surfaces inside the transaction and is not mapped.
            raise ApiError(500, "Internal error updating template ACL.", _AUTHZ_DETAIL)
        for acl, perms in ((tpl.user_acl, body["user_perms"]), (tpl.group_acl, body["group_perms"])):
            for key, role in (perms or {}).items():
                uid = parse_uuid(key)
                if role:
                    acl[uid] = role
                else:
                    acl.pop(uid, None)
        tpl.updated_at = now()
    return json_resp(200, {"message": "Successfully updated template ACL list."})


def acl_available(req):
    """Users and groups of the template's organization that can be added to its ACL."""
    state = req.state
    with state.lock:
        tpl = template_param(req)
        if not can_update_template(state, req.actor, tpl):
            raise forbidden()
        f = parse_user_query_or_400(req.q("q"))
        _after, limit, _offset = parse_pagination(req)
        match = user_matcher(f)
        members = [state.users[uid] for uid in state.org_members.get(tpl.organization_id, {})
                   if not state.users[uid].deleted and match(state.users[uid])]
        page, _count = paginate_users(members, None, limit, 0, False)
        cache = {}
        groups = [render_group(req, g, cache) for g in state.org_groups.get(tpl.organization_id, {}).values()]
        return json_resp(200, {"users": [state.reduced_user_json(u) for u in page], "groups": groups})


def register(router):
    gated = licensed_then_authenticated
    router.add("GET", "/templates", list_templates)
    router.add("GET", "/organizations/{organization}/templates", list_org_templates)
    router.add("POST", "/organizations/{organization}/templates", create_template)
    router.add("GET", "/organizations/{organization}/templates/{templatename}", get_org_template)
    router.add("GET", "/organizations/{organization}/templates/{templatename}/versions/{templateversionname}",
               org_version_by_name)
    router.add("GET",
               "/organizations/{organization}/templates/{templatename}/versions/{templateversionname}/previous",
               org_previous_version)
    router.add("GET", "/templates/{template}", get_template)
    router.add("PATCH", "/templates/{template}", patch_template)
    router.add("DELETE", "/templates/{template}", delete_template)
    router.add("GET", "/templates/{template}/versions", list_versions)
    router.add("PATCH", "/templates/{template}/versions", promote_version)
    router.add("GET", "/templates/{template}/versions/{templateversionname}", version_by_name)
    router.add("GET", "/templates/{template}/acl", gated(get_acl), auth=False)
    router.add("PATCH", "/templates/{template}/acl", gated(patch_acl), auth=False)
    router.add("GET", "/templates/{template}/acl/available", gated(acl_available), auth=False)
