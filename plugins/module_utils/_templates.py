# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Coder templates: compare a template directory, its variables and settings with what the server holds,
plan, push a new version only when something differs, wait for the build, promote, and manage the ACL.

Idempotency comes from the server, not from local state: the active version's archive is downloaded and
compared file by file, its variables read back, and its provisioner tags compared.
"""

from __future__ import annotations

import time

from ._archive import archive_manifest, build_archive, compare_manifests
from ._client import CoderAPIError, path_segment
from ._errors import CoderError, CoderFeatureError, CoderInputError
from ._plan import Plan, Step
from ._users import NAME_RULE, RESERVED_NAMES

TERMINAL = ("succeeded", "failed", "canceled")
# Coder adds these to every version's provisioner tags (reference 8.1).
DEFAULT_TAGS = {"scope": "organization", "owner": ""}
REDACTED = "*redacted*"
# The PATCH of Coder v2.33 and older resets these when they are omitted, so they are always sent back.
RESET_WHEN_OMITTED = ("default_ttl_ms", "activity_bump_ms", "allow_user_autostart", "allow_user_autostop",
                      "allow_user_cancel_workspace_jobs", "failure_ttl_ms", "time_til_dormant_ms",
                      "time_til_dormant_autodelete_ms", "require_active_version")
FULLY_OPTIONAL_PATCH_SINCE = (2, 34, 0)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class Setting:
    """A template setting: the module option, the field Coder reads and writes, the field create takes,
    and the license feature that setting a non-default value needs (None: every deployment)."""

    def __init__(self, option, field, create_field=None, feature=None, needs_feature=None):
        self.option = option
        self.field = field
        self.create_field = create_field or field
        self.feature = feature
        # When only some values need the feature (allow_user_autostart: false does, true does not).
        self.needs_feature = needs_feature or (lambda value: True)


SETTINGS = (
    Setting("display_name", "display_name"),
    Setting("description", "description"),
    Setting("icon", "icon"),
    Setting("default_ttl", "default_ttl_ms"),
    Setting("activity_bump", "activity_bump_ms"),
    Setting("failure_ttl", "failure_ttl_ms", feature="advanced_template_scheduling",
            needs_feature=lambda value: value != 0),
    Setting("time_til_dormant", "time_til_dormant_ms", "dormant_ttl_ms", feature="advanced_template_scheduling",
            needs_feature=lambda value: value != 0),
    Setting("time_til_dormant_autodelete", "time_til_dormant_autodelete_ms", "delete_ttl_ms",
            feature="advanced_template_scheduling", needs_feature=lambda value: value != 0),
    Setting("autostop_requirement", "autostop_requirement", feature="advanced_template_scheduling"),
    Setting("autostart_requirement", "autostart_requirement", feature="advanced_template_scheduling"),
    Setting("allow_user_autostart", "allow_user_autostart", feature="advanced_template_scheduling",
            needs_feature=lambda value: value is False),
    Setting("allow_user_autostop", "allow_user_autostop", feature="advanced_template_scheduling",
            needs_feature=lambda value: value is False),
    Setting("allow_user_cancel_workspace_jobs", "allow_user_cancel_workspace_jobs"),
    Setting("require_active_version", "require_active_version", feature="access_control",
            needs_feature=lambda value: value is True),
    Setting("deprecation_message", "deprecation_message", feature="access_control",
            needs_feature=lambda value: value != ""),
    Setting("max_port_share_level", "max_port_share_level", feature="control_shared_ports",
            needs_feature=lambda value: value != "public"),
)


def validate_template_name(name):
    if not name or len(name) > 32 or not NAME_RULE.match(name) or name.lower() in RESERVED_NAMES:
        raise CoderInputError("name", f"'{name}' is not a valid Coder template name: use 1 to 32 letters, digits "
                              "and single hyphens, not starting or ending with a hyphen, and not 'new' or 'create'.")


def normalize_setting(option, value):
    """The value in the form Coder returns it, for comparing."""
    if option == "autostop_requirement":
        days = sorted({day.lower() for day in value.get("days_of_week") or []}, key=WEEKDAYS.index)
        return {"days_of_week": days, "weeks": int(value.get("weeks") or 1)}
    if option == "autostart_requirement":
        return {"days_of_week": sorted({day.lower() for day in value.get("days_of_week") or []}, key=WEEKDAYS.index)}
    return value


def check_requirements(settings):
    for option in ("autostop_requirement", "autostart_requirement"):
        value = settings.get(option)
        if value is None:
            continue
        unknown = [day for day in value.get("days_of_week") or [] if str(day).lower() not in WEEKDAYS]
        if unknown:
            raise CoderInputError(f"{option}.days_of_week", f"unknown days {unknown}; use monday to sunday.")


def check_licensed(client, settings, acl):
    """Fail before any write when a given setting needs a license feature this deployment lacks."""
    for setting in SETTINGS:
        value = settings.get(setting.option)
        if value is None or setting.feature is None or not setting.needs_feature(value):
            continue
        if not client.feature_enabled(setting.feature):
            raise CoderFeatureError(setting.feature, needed_by=f"{setting.option}: {value!r}")
    if acl is not None and not client.feature_enabled("template_rbac"):
        raise CoderFeatureError("template_rbac", needed_by="the acl option (Template RBAC)")


def find_template(client, organization, name):
    return client.get_or_none(f"/organizations/{organization['id']}/templates/{path_segment(name)}")


def expected_tags(provisioner_tags, my_user_id=None):
    """The tags Coder gives a version's job: ours over the defaults, with ``owner`` set to the caller for
    ``scope: user`` (reference 8.1). Boolean values are spelt as the CLI does."""
    tags = dict(DEFAULT_TAGS)
    for key, value in (provisioner_tags or {}).items():
        tags[str(key)] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    if tags.get("scope") == "user":
        tags["owner"] = my_user_id or ""
    return tags


def compare_version(client, version, local_manifest, variables, tags):
    """What differs between a built version and the wanted files, variables and tags.

    Returns a dict: ``added``, ``removed``, ``changed`` (file paths), ``variables`` (names whose value differs)
    and ``tags`` (a bool). Sensitive variables read back redacted, so their values cannot be compared.
    """
    job = version.get("job") or {}
    remote = archive_manifest(client.request("GET", f"/files/{job['file_id']}", raw=True).body)
    added, removed, changed = compare_manifests(local_manifest, remote)
    current = {v["name"]: v for v in client.get(f"/templateversions/{version['id']}/variables").body or []}
    differing, undeclared = [], []
    for name, value in variables.items():
        have = current.get(name)
        if have is None:
            undeclared.append(name)  # the template has no such variable: Coder ignores the value
        elif have.get("value") != value and not have.get("sensitive") and have.get("value") != REDACTED:
            differing.append(name)
    for name, have in current.items():
        # A value given last time and no longer given: the CLI would push the default now.
        if name not in variables and not have.get("sensitive") and have.get("value") != have.get("default_value"):
            differing.append(name)
    return {"added": added, "removed": removed, "changed": changed, "variables": sorted(differing),
            "undeclared": sorted(undeclared), "tags": (job.get("tags") or {}) != tags}


def version_differs(comparison):
    return any(comparison[key] for key in ("added", "removed", "changed", "variables", "tags"))


class TemplatePush:
    """Uploads an archive, creates a version, waits for its build (one object per module run)."""

    def __init__(self, organization, name, files, variables, tags, version_name=None, message=None,
                 wait_timeout=600, poll_interval=1.0, sleep=time.sleep, clock=time.monotonic, archive=None):
        self.archive = archive  # built once by the caller (its size checked before any request), or here
        self.template_id = None
        self.created_version = None  # set once a version exists on the server: a change even if its build fails
        self.organization = organization
        self.name = name
        self.files = files
        self.variables = variables
        self.tags = tags
        self.version_name = version_name
        self.message = message
        self.wait_timeout = wait_timeout
        self.poll_interval = poll_interval
        self.sleep = sleep
        self.clock = clock

    def push(self, client, template_id=None):
        self.template_id = template_id
        archive = self.archive if self.archive is not None else build_archive(self.files)
        upload = client.request("POST", "/files", data=archive, content_type="application/x-tar")
        body = {"storage_method": "file", "provisioner": "terraform", "file_id": upload.body["hash"],
                "tags": {k: v for k, v in self.tags.items() if k not in DEFAULT_TAGS or v != DEFAULT_TAGS[k]},
                "user_variable_values": [{"name": k, "value": v} for k, v in self.variables.items()]}
        if template_id:
            body["template_id"] = template_id
        if self.version_name:
            body["name"] = self.version_name
        if self.message is not None:
            body["message"] = self.message
        path = f"/organizations/{self.organization['id']}/templateversions"
        try:
            version = client.request("POST", path, body=body).body
        except CoderAPIError as error:
            if error.status != 409 or not (template_id and self.version_name):
                raise
            version = self._existing_version(client, template_id)
            if version is None:
                version = client.request("POST", path, body=body).body
        self.created_version = version
        return self.wait(client, version)

    def _existing_version(self, client, template_id):
        """The version already named ``version_name`` (a rerun after a failure half-way): reused when it holds
        the same files, variables and tags and did not fail; renamed out of the way when its build failed or
        was canceled (returns None: build again under the name); refused otherwise."""
        version = client.get(f"/templates/{template_id}/versions/{path_segment(self.version_name)}").body
        status = (version.get("job") or {}).get("status")
        if status in ("failed", "canceled"):
            stale = f"{self.version_name[:40]}-{status}-{version['id'][:8]}"
            client.request("PATCH", f"/templateversions/{version['id']}", body={"name": stale})
            return None
        comparison = compare_version(client, version, archive_manifest(build_archive(self.files)), self.variables,
                                     self.tags) if status == "succeeded" else None
        if comparison is not None and not version_differs(comparison):
            return version
        raise CoderInputError("version_name", f"template '{self.name}' already has a version named "
                              f"'{self.version_name}' ({status}) with other files, variables or tags; choose a new "
                              "version_name.")

    def wait(self, client, version):
        """Poll until the build ends; fail fast when no provisioner can ever pick it up."""
        deadline = self.clock() + self.wait_timeout
        while True:
            job = version.get("job") or {}
            status = job.get("status")
            if status in TERMINAL:
                break
            matched = version.get("matched_provisioners")
            if status == "pending" and matched is not None and matched.get("count") == 0:
                self._cancel(client, version)
                raise CoderError(f"no provisioner daemon matches the tags {self.tags} of the new version of "
                                 f"template '{self.name}' in organization '{self.organization['name']}', so it "
                                 "would never be built; the version was canceled. Start a provisioner with these "
                                 "tags, or change provisioner_tags.")
            if self.clock() >= deadline:
                raise CoderError(f"the build of the new version of template '{self.name}' did not finish within "
                                 f"wait_timeout ({self.wait_timeout}s); it is {status}. Nothing was made active.")
            self.sleep(min(self.poll_interval, max(0.0, deadline - self.clock())))
            version = client.get(f"/templateversions/{version['id']}").body
        if job.get("status") != "succeeded":
            raise CoderError(self._failure(client, version))
        return version

    def _cancel(self, client, version):
        try:
            client.request("PATCH", f"/templateversions/{version['id']}/cancel")
        except CoderAPIError:
            pass  # Already ended or not cancelable: the message above still holds.

    def _failure(self, client, version):
        job = version.get("job") or {}
        logs = client.get(f"/templateversions/{version['id']}/logs").body or []
        tail = [f"{entry.get('log_level', '')}: {entry.get('output', '')}".strip() for entry in logs[-10:]]
        kept = " The active version was not changed." if self.template_id else " The template was not created."
        text = (f"the new version of template '{self.name}' failed to build ({job.get('status')}"
                f"{', ' + job['error_code'] if job.get('error_code') else ''}): {job.get('error') or 'no error text'}."
                + kept)
        if tail:
            text += " Last log lines: " + " | ".join(tail)
        return text


def settings_patch(client, template, settings):
    """(before, after, body) for the settings that differ; body is None when nothing differs."""
    before, after, changed = {}, {}, {}
    for setting in SETTINGS:
        value = settings.get(setting.option)
        if value is None:
            continue
        wanted = normalize_setting(setting.option, value)
        have = template.get(setting.field)
        if setting.option in ("autostop_requirement", "autostart_requirement") and have is not None:
            have = normalize_setting(setting.option, have)
        if have != wanted:
            before[setting.option], after[setting.option] = have, wanted
            changed[setting.field] = wanted
    if not changed:
        return before, after, None
    if client.server_version() >= FULLY_OPTIONAL_PATCH_SINCE:
        return before, after, changed
    # Older servers reset omitted plain fields to zero: send their current values back with the changes.
    body = {field: template.get(field) for field in RESET_WHEN_OMITTED if field in template}
    body.update({field: template.get(field) for field in ("name", "display_name", "description", "icon")})
    body.update(changed)
    return before, after, body


def create_body(name, version_id, settings):
    body = {"name": name, "template_version_id": version_id}
    for setting in SETTINGS:
        value = settings.get(setting.option)
        if value is not None:
            body[setting.create_field] = normalize_setting(setting.option, value)
    return body


def plan_settings_step(template_id, body, label):
    def run(client, context):
        client.request("PATCH", f"/templates/{template_id}", body=body, expected=(304,))
    return Step(f"update the settings of {label}", run)


def template_summary(template):
    return {setting.option: template.get(setting.field) for setting in SETTINGS}


def new_plan():
    plan = Plan()
    plan.files = {"added": [], "removed": [], "changed": []}
    return plan


# ---- ACL ----------------------------------------------------------------------------------------------

ACL_ROLES = ("use", "admin")


def check_acl(acl):
    """``acl`` is {"groups": {name: role}, "users": {username: role}}; roles are use or admin."""
    if acl is None:
        return None
    unknown = set(acl) - {"groups", "users"}
    if unknown:
        raise CoderInputError("acl", f"unknown keys {sorted(unknown)}; use 'groups' and 'users'.")
    result = {}
    for kind in ("groups", "users"):
        entries = acl.get(kind) or {}
        if not isinstance(entries, dict):
            raise CoderInputError(f"acl.{kind}", "must map names to 'use' or 'admin'.")
        for name, role in entries.items():
            if role not in ACL_ROLES:
                raise CoderInputError(f"acl.{kind}.{name}", f"'{role}' is not a template role; use 'use' or 'admin'.")
        result[kind] = {str(name): role for name, role in entries.items()}
    return result


def current_acl(client, template_id):
    """{"groups": {id: (name, role)}, "users": {id: (username, role)}} as Coder holds it."""
    body = client.get(f"/templates/{template_id}/acl").body or {}
    return {"groups": {g["id"]: (g["name"], g["role"]) for g in body.get("group") or []},
            "users": {u["id"]: (u["username"], u["role"]) for u in body.get("users") or []}}


def resolve_acl(client, organization, acl):
    """``acl`` with ids: {"groups": {id: (name, role)}, "users": {id: (username, role)}}. Groups of the template's
    organization (exact names, ``Everyone`` included) and users (case-insensitive). Unknown names fail, all of
    them named, before anything is written."""
    from ._groups import list_groups  # pylint: disable=import-outside-toplevel  # avoid a cycle

    groups = {group["name"]: group["id"] for group in list_groups(client, organization)} if acl["groups"] else {}
    resolved, unknown = {"groups": {}, "users": {}}, []
    for name, role in acl["groups"].items():
        if name in groups:
            resolved["groups"][groups[name]] = (name, role)
        else:
            unknown.append(f"group '{name}'")
    for name, role in acl["users"].items():
        user = client.get_or_none(f"/users/{path_segment(name)}")
        if user is None:
            unknown.append(f"user '{name}'")
        else:
            resolved["users"][user["id"]] = (user["username"], role)
    if unknown:
        raise CoderInputError("acl", f"no {', '.join(unknown)} in organization '{organization['name']}'.")
    return resolved


def acl_changes(current, wanted, purge):
    """(before, after, PATCH body) by name, for the entries that differ; the body is None when none do."""
    body = {"user_perms": {}, "group_perms": {}}
    before, after = {}, {}
    for kind, key in (("groups", "group_perms"), ("users", "user_perms")):
        for entry_id, (_name, role) in wanted[kind].items():
            if current[kind].get(entry_id, (None, None))[1] != role:
                body[key][entry_id] = role
        if purge:
            for entry_id in set(current[kind]) - set(wanted[kind]):
                body[key][entry_id] = ""
        if body[key]:
            names = {entry_id: name for entry_id, (name, _role) in {**current[kind], **wanted[kind]}.items()}
            before[kind] = dict(sorted((name, role) for name, role in current[kind].values()))
            result = {entry_id: role for entry_id, (_name, role) in current[kind].items()}
            result.update(body[key])
            after[kind] = dict(sorted((names[entry_id], role) for entry_id, role in result.items() if role))
    if not body["user_perms"] and not body["group_perms"]:
        return before, after, None
    return before, after, body


# ---- the whole plan ----------------------------------------------------------------------------------

def plan_template(client, want, files, local_manifest, push):
    """The plan for one template. ``want`` holds the module's options (settings already in Coder's units,
    ``acl`` checked); ``push`` is the ``TemplatePush`` that builds a new version when one is needed."""
    organization = push.organization
    label = f"template '{want['name']}' of organization '{organization['name']}'"
    template = find_template(client, organization, want["name"])
    plan = new_plan()
    plan.template = template
    if want["state"] == "absent":
        if template is not None:
            plan.action = "delete"
            plan.before.update({"name": template["name"], **template_summary(template)})
            template_path = f"/templates/{template['id']}"
            plan.steps.append(Step(f"delete {label}", lambda c, context: c.request("DELETE", template_path)))
        return plan

    check_licensed(client, want["settings"], want["acl"])
    wanted_acl = resolve_acl(client, organization, want["acl"]) if want["acl"] is not None else None
    if template is None:
        if files is None:
            raise CoderInputError("path", f"{label} does not exist yet; the template directory is needed to "
                                  "create it.")
        _plan_new_template(client, plan, want, local_manifest, push, wanted_acl, label)
        return plan
    if files is not None:
        _plan_version(client, plan, want, template, local_manifest, push, label)
    before, after, body = settings_patch(client, template, want["settings"])
    if body is not None:
        plan.before.update(before)
        plan.after.update(after)
        plan.steps.append(plan_settings_step(template["id"], body, label))
    if wanted_acl is not None:
        before, after, body = acl_changes(current_acl(client, template["id"]), wanted_acl, want["purge_acl"])
        if body is not None:
            plan.before["acl"], plan.after["acl"] = before, after
            plan.steps.append(_acl_step(template["id"], body, label))
    plan.action = "update" if plan.steps else "none"
    return plan


def _plan_new_template(client, plan, want, local_manifest, push, wanted_acl, label):
    plan.action = "create"
    plan.files["added"] = sorted(local_manifest)
    plan.after.update({"name": want["name"], "files": sorted(local_manifest)})
    plan.after.update({option: value for option, value in want["settings"].items() if value is not None})

    def create(client, context):
        version = push.push(client)
        context["version"] = version
        body = create_body(want["name"], version["id"], want["settings"])
        context["template"] = client.request(
            "POST", f"/organizations/{push.organization['id']}/templates", body=body,
            lookup=lambda: find_template(client, push.organization, want["name"])).body

    plan.steps.append(Step(f"build the first version and create {label}", create))
    if wanted_acl is not None:
        # A new template gives the Everyone group "use"; that is the ACL compared against.
        everyone = {push.organization["id"]: ("Everyone", "use")}
        _before, after, body = acl_changes({"groups": everyone, "users": {}}, wanted_acl, want["purge_acl"])
        if body is not None:
            plan.after["acl"] = after
            plan.steps.append(_acl_step(None, body, label))


def _plan_version(client, plan, want, template, local_manifest, push, label):
    """A new version only when files, variables or tags differ from the active version (or, when versions
    are not activated, from the newest one)."""
    active = client.get(f"/templateversions/{template['active_version_id']}").body
    comparison = compare_version(client, active, local_manifest, push.variables, push.tags)
    if comparison["undeclared"] and not (comparison["added"] or comparison["changed"]):
        plan.warnings.append(f"{label} declares no variable {', '.join(comparison['undeclared'])}; "
                             "their values are ignored.")
    if version_differs(comparison) and not want["activate"]:
        versions = client.get(f"/templates/{template['id']}/versions").body or []
        newest = versions[-1] if versions else None
        if newest and newest["id"] != active["id"] and (newest.get("job") or {}).get("status") == "succeeded":
            newest_comparison = compare_version(client, newest, local_manifest, push.variables, push.tags)
            if not version_differs(newest_comparison):
                comparison = newest_comparison
    if not version_differs(comparison):
        plan.version = active
        return
    plan.files = {key: comparison[key] for key in ("added", "removed", "changed")}
    plan.before["version"] = {"name": active["name"], "files_removed": comparison["removed"],
                              "files_changed": comparison["changed"]}
    plan.after["version"] = {"name": want.get("version_name") or "(new)", "files_added": comparison["added"],
                             "files_changed": comparison["changed"], "variables_changed": comparison["variables"],
                             "tags_changed": comparison["tags"]}

    def build(client, context):
        context["version"] = push.push(client, template["id"])
        if want["activate"]:
            client.request("PATCH", f"/templates/{template['id']}/versions", body={"id": context["version"]["id"]})

    plan.steps.append(Step(f"build a new version of {label}" + (" and make it active" if want["activate"] else ""),
                           build))


def _acl_step(template_id, body, label):
    def run(client, context):
        target = template_id or context["template"]["id"]
        client.request("PATCH", f"/templates/{target}/acl", body=body)
    return Step(f"update the access list of {label}", run)
