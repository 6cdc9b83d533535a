"""Template versions and their import jobs (reference section 8; promote is in routes_templates).

A version's job is created with the version and runs on a built-in provisioner (state.queue_job):
pending for a quarter of --build-delay, running for --build-delay, then succeeded or failed as the
provisioner (provisioner.import_template) decided. Status is derived from the timestamps on each read.
"""

import json

from . import names, provisioner
from .routes_organizations import target_org
from .server import Resp, json_resp
from .state import Job, TemplateVersion
from .template_access import (
    can_manage_templates,
    can_update_template,
    can_update_version,
    template_param,
    version_param,
)
from .util import (
    NIL_UUID,
    ApiError,
    decode_body,
    fmt_time,
    forbidden,
    new_uuid,
    now,
    raise_validation,
    validation_error,
)

TEXT_TYPE = "text/plain; charset=utf-8"
_DAEMON_STAGES = {"Setting up", "Cleaning Up"}  # written by provisionerd itself, the rest by the provisioner


# ---------------------------------------------------------------------- JSON views
def minimal_user(state, user_id) -> dict:
    u = state.users.get(user_id)
    if u is None:
        return {"id": user_id, "username": ""}
    d = {"id": u.id, "username": u.username}
    # name and avatar_url are omitempty in codersdk.MinimalUser.
    if u.name:
        d["name"] = u.name
    if u.avatar_url:
        d["avatar_url"] = u.avatar_url
    return d


def _queue(state, job, t):
    pending = sorted((v.job for v in state.versions.values()
                      if v.job.organization_id == job.organization_id and v.job.status(t) == "pending"),
                     key=lambda j: j.created_at)
    for index, other in enumerate(pending):
        if other is job:
            return index + 1, len(pending)
    return 0, 0


def job_json(state, version, t=None) -> dict:
    t = t or now()
    job = version.job
    status = job.status(t)
    d = {"id": job.id, "created_at": fmt_time(job.created_at)}
    if job.started_at is not None and t >= job.started_at:
        d["started_at"] = fmt_time(job.started_at)
    if job.completed(t):
        d["completed_at"] = fmt_time(job.completed_at)
    if job.canceled_at is not None:
        d["canceled_at"] = fmt_time(job.canceled_at)
    if status == "failed":
        d["error"] = job.result["error"]
        if job.result["error_code"]:
            d["error_code"] = job.result["error_code"]
    elif status == "canceled":
        d["error"] = "canceled"
    d["status"] = status
    if "started_at" in d and job.worker is not None:
        d["worker_id"] = job.worker.id
        d["worker_name"] = job.worker.name
    position, size = _queue(state, job, t)
    tpl = state.templates.get(version.template_id) if version.template_id else None
    d.update({
        "file_id": job.file_id,
        "tags": dict(job.tags),
        "queue_position": position,
        "queue_size": size,
        "organization_id": job.organization_id,
        "initiator_id": job.initiator_id,
        "input": {"template_version_id": version.id},
        "type": "template_version_import",
        "metadata": {
            "template_version_name": version.name,
            "template_id": tpl.id if tpl else NIL_UUID,
            "template_name": tpl.name if tpl else "",
            "template_display_name": tpl.display_name if tpl else "",
            "template_icon": tpl.icon if tpl else "",
        },
        "logs_overflowed": False,
    })
    return d


def matched_provisioners(state, job, t) -> dict:
    matched = state.matching_provisioners(job.organization_id, job.tags)
    d = {"count": len(matched), "available": len(matched)}
    if matched:
        # Built-in daemons heartbeat continuously: they were seen just now.
        d["most_recently_seen"] = fmt_time(t)
    return d


def version_json(state, v, with_matched=False) -> dict:
    t = now()
    d = {
        "id": v.id,
        # Always present; the nil UUID when the version is not attached to a template.
        "template_id": v.template_id or NIL_UUID,
        "organization_id": v.organization_id,
        "created_at": fmt_time(v.created_at),
        "updated_at": fmt_time(v.updated_at),
        "name": v.name,
        "message": v.message,
        "job": job_json(state, v, t),
        "readme": v.readme,
        "created_by": minimal_user(state, v.created_by),
        "archived": v.archived,
    }
    if with_matched or v.job.status(t) == "pending":
        d["matched_provisioners"] = matched_provisioners(state, v.job, t)
    d["has_external_agent"] = False
    return d


# ---------------------------------------------------------------------- create
_CREATE_SCHEMA = {"name": "str", "message": "str", "template_id": "uuid", "storage_method": "str", "file_id": "uuid",
                  "example_id": "str", "provisioner": "str", "tags": "obj", "user_variable_values": "any"}
_MAX_MESSAGE = 1048577


def _user_values(raw):
    values = {}
    if raw is None:
        return values
    if not isinstance(raw, list) or not all(isinstance(x, dict) for x in raw):
        raise ApiError(400, "Request body must be valid JSON.",
                       "json: cannot unmarshal into Go struct field CreateTemplateVersionRequest.user_variable_values "
                       "of type []codersdk.VariableValue")
    for item in raw:
        name, value = item.get("name"), item.get("value")
        if not isinstance(name, str) or not isinstance(value, (str, type(None))):
            raise ApiError(400, "Request body must be valid JSON.",
                           "json: cannot unmarshal into Go struct field VariableValue.value of type string")
        values[name] = value or ""
    return values


def mutate_tags(tags, user_id):
    """provisionersdk.MutateTags: scope defaults to organization; owner follows the scope."""
    tags = dict(tags)
    if tags.get("scope") == "user":
        tags["owner"] = user_id
    else:
        tags["scope"] = "organization"
        tags["owner"] = ""
    return tags


def create_version(req):
    state = req.state
    org = target_org(req)
    body = decode_body(req.body, "CreateTemplateVersionRequest", _CREATE_SCHEMA)
    tags = body["tags"] or {}
    if not all(isinstance(v, str) for v in tags.values()):
        raise ApiError(400, "Request body must be valid JSON.",
                       "json: cannot unmarshal into Go struct field CreateTemplateVersionRequest.tags of type string")
    values = _user_values(body["user_variable_values"])
    # go-playground validates the struct fields in declaration order.
    errors = []
    if body["name"] and not names.template_version_name_valid(body["name"]):
        errors.append(validation_error("name", "template_version_name", body["name"]))
    if len(body["message"]) >= _MAX_MESSAGE:
        errors.append(validation_error("message", "lt", body["message"]))
    if body["storage_method"] != "file":
        errors.append(validation_error("storage_method", "oneof", body["storage_method"]))
    if body["file_id"] and body["example_id"]:
        errors.append(validation_error("file_id", "excluded_with", body["file_id"]))
        errors.append(validation_error("example_id", "excluded_with", body["example_id"]))
    elif not body["file_id"] and not body["example_id"]:
        errors.append(validation_error("file_id", "required_without", NIL_UUID))
        errors.append(validation_error("example_id", "required_without", ""))
    if body["provisioner"] not in ("terraform", "echo"):
        errors.append(validation_error("provisioner", "oneof", body["provisioner"]))
    raise_validation(errors)
    with state.lock:
        tpl = None
        if body["template_id"]:
            tpl = state.templates.get(body["template_id"])
            if tpl is None or tpl.deleted or tpl.organization_id != org.id:
                raise ApiError(404, "Template does not exist.")
        if not can_manage_templates(state, req.actor, org.id):
            raise forbidden()
        if body["example_id"]:
            # The emulator ships no starter templates (GET /templates/examples would list them).
            raise ApiError(400, "Example not found.", f'example "{body["example_id"]}" not found')
        f = state.files.get(body["file_id"])
        if f is None:
            raise ApiError(404, "File not found.")
        siblings = state.template_versions.get(tpl.id, []) if tpl else []
        name = body["name"]
        if name and any(v.name == name for v in siblings):
            raise ApiError(409, f'A template version with name "{name}" already exists for this template.',
                           validations=[{"field": "name", "detail": "This value is already in use and should be "
                                                                    "unique."}])
        while not name or any(v.name == name for v in siblings):
            name = names.random_version_name()
        # Real coderd also parses the archive here for coder_workspace_tags and may answer 400 for Terraform it
        # cannot parse; the emulator leaves every Terraform problem to the import job, whose logs say what failed.
        result = provisioner.import_template(f.data, values)
        t = now()
        job = Job(id=new_uuid(), organization_id=org.id, initiator_id=req.actor.id, file_id=f.id,
                  tags=mutate_tags(tags, req.actor.id), created_at=t, result=result)
        version = TemplateVersion(id=new_uuid(), organization_id=org.id, template_id=tpl.id if tpl else None,
                                  name=name, message=body["message"], job=job, created_by=req.actor.id,
                                  created_at=t, updated_at=t)
        state.queue_job(job)
        state.add_version(version)
        return json_resp(201, version_json(state, version, with_matched=True))


# ---------------------------------------------------------------------- read / patch
def get_version(req):
    with req.state.lock:
        return json_resp(200, version_json(req.state, version_param(req)))


_PATCH_SCHEMA = {"name": "str", "message": "str"}


def patch_version(req):
    state = req.state
    with state.lock:
        version = version_param(req)
        body = decode_body(req.body, "PatchTemplateVersionRequest", _PATCH_SCHEMA)
        name = body["name"]
        if name and not names.template_version_name_valid(name):
            raise_validation([validation_error("name", "template_version_name", name)])
        if not can_update_version(state, req.actor, version):
            raise forbidden()
        if name and name != version.name and version.template_id:
            if any(v.name == name for v in state.template_versions.get(version.template_id, []) if v is not version):
                # Unlike create (409), the rename conflict is a 400. The message text is ours; the validation is
                # the one coder-api.md §8.2 gives.
                raise ApiError(400, "Template version name must be unique within the template.",
                               validations=[{"field": "name", "detail": "Name is already used"}])
        if name:
            version.name = name
        # message is a *string: only a sent, non-null value changes it ("" clears).
        raw = json.loads(req.body)
        if isinstance(raw, dict) and raw.get("message") is not None:
            version.message = body["message"]
        version.updated_at = now()
        return json_resp(200, version_json(state, version))


def cancel_version(req):
    state = req.state
    with state.lock:
        version = version_param(req)
        if not can_update_version(state, req.actor, version):
            raise forbidden()
        t = now()
        job = version.job
        if job.completed(t) and job.canceled_at is None:
            raise ApiError(400, "Job has already completed!")
        if job.canceled_at is not None:
            raise ApiError(400, "Job has already been marked as canceled!")
        state.cancel_job(job, t)
    return json_resp(200, {"message": "Job has been marked as canceled..."})


# ---------------------------------------------------------------------- logs / variables / parameters
def _log_json(entry) -> dict:
    log_id, at, level, stage, output = entry
    return {"id": log_id, "created_at": fmt_time(at),
            "log_source": "provisioner_daemon" if stage in _DAEMON_STAGES else "provisioner",
            "log_level": level, "stage": stage, "output": output}


def version_logs(req):
    state = req.state
    with state.lock:
        version = version_param(req)
        after_raw = req.q("after")
        after = 0
        if after_raw:
            try:
                after = int(after_raw, 10)
            except ValueError:
                raise ApiError(400, 'Query param "after" must be an integer.',
                               validations=[{"field": "after", "detail": "Must be an integer"}]) from None
        fmt = req.q("format") or "json"
        if fmt not in ("json", "text"):
            raise ApiError(400, f'Invalid format "{fmt}".', 'Format must be "json" or "text".')
        if "follow" in req.query:
            # coderd upgrades ?follow to a WebSocket; the emulator has none, so a plain HTTP request fails the
            # upgrade the way websocket.Accept does for a client that did not ask for one.
            raise ApiError(400, "Failed to accept websocket.", "WebSocket streaming is not emulated; poll instead")
        t = now()
        entries = [e for e in version.job.logs if e[1] <= t and e[0] > after]
    if fmt == "text":
        text = "".join(f"{fmt_time(e[1])} [{e[2]}] {e[3]}: {e[4]}\n" for e in entries)
        return Resp(200, text.encode(), TEXT_TYPE)
    return json_resp(200, [_log_json(e) for e in entries])


def _redact(var):
    d = {k: var[k] for k in ("name", "description", "type", "value", "default_value", "required", "sensitive")}
    if d["sensitive"]:
        # coderd masks only what is set; an empty value stays empty.
        if d["value"]:
            d["value"] = provisioner.REDACTED
        if d["default_value"]:
            d["default_value"] = provisioner.REDACTED
    return d


def version_variables(req):
    state = req.state
    with state.lock:
        version = version_param(req)
        if not version.job.completed(now()):
            raise ApiError(403, "Template version job has not finished")
        return json_resp(200, [_redact(v) for v in version.job.result["variables"]])


def version_rich_parameters(req):
    state = req.state
    with state.lock:
        version = version_param(req)
        if not version.job.completed(now()):
            raise ApiError(425, "Job hasn't completed!")
    # The emulator's provisioner does not evaluate coder_parameter blocks.
    return json_resp(200, [])


# ---------------------------------------------------------------------- archive
def _in_use(state, version) -> bool:
    """ArchiveUnusedTemplateVersions: the active version, or the version of a workspace's latest build unless
    that build is a delete (so a deleted workspace never holds its version, whatever the delete job's status)."""
    tpl = state.templates.get(version.template_id)
    if tpl is not None and tpl.active_version_id == version.id:
        return True
    return any(ws.latest_build.template_version_id == version.id and ws.latest_build.transition != "delete"
               for ws in state.workspaces.values())


def _set_archived(req, archived):
    state = req.state
    with state.lock:
        version = version_param(req)
        if not can_update_version(state, req.actor, version):
            raise forbidden()
        word = "archived" if archived else "unarchived"
        if not version.template_id:
            raise ApiError(400, "Template version does not belong to a template.")
        if version.archived == archived:
            raise ApiError(400, f"Template version already {word}")
        if archived and _in_use(state, version):
            raise ApiError(500, "Unable to archive specified version, the version is likely in use by a workspace or "
                                "currently set to the active version")
        version.archived = archived
        version.updated_at = now()
    # A bare JSON string, not a codersdk.Response.
    return json_resp(200, f'template version "{version.id}" {word}')


def archive_version(req):
    return _set_archived(req, True)


def unarchive_version(req):
    return _set_archived(req, False)


def archive_template_versions(req):
    """POST /templates/{template}/versions/archive: unused failed versions, or with all every unused one."""
    state = req.state
    with state.lock:
        tpl = template_param(req)
        body = decode_body(req.body, "ArchiveTemplateVersionsRequest", {"all": "bool"})
        if not can_update_template(state, req.actor, tpl):
            raise forbidden()
        t = now()
        archived = []
        for v in state.template_versions.get(tpl.id, []):
            if v.archived or _in_use(state, v):
                continue
            status = v.job.status(t)
            if body["all"] or status == "failed":
                if status in ("pending", "running", "canceling"):
                    # A version whose job still runs is never "unused".
                    continue
                v.archived = True
                v.updated_at = t
                archived.append(v.id)
    # The ids come from a RETURNING query; no rows is a nil slice, i.e. null.
    return json_resp(200, {"template_id": tpl.id, "archived_ids": archived or None})


def register(router):
    router.add("POST", "/organizations/{organization}/templateversions", create_version)
    router.add("GET", "/templateversions/{templateversion}", get_version)
    router.add("PATCH", "/templateversions/{templateversion}", patch_version)
    router.add("PATCH", "/templateversions/{templateversion}/cancel", cancel_version)
    router.add("GET", "/templateversions/{templateversion}/logs", version_logs)
    router.add("GET", "/templateversions/{templateversion}/variables", version_variables)
    router.add("GET", "/templateversions/{templateversion}/rich-parameters", version_rich_parameters)
    router.add("POST", "/templateversions/{templateversion}/archive", archive_version)
    router.add("POST", "/templateversions/{templateversion}/unarchive", unarchive_version)
    router.add("POST", "/templates/{template}/versions/archive", archive_template_versions)
