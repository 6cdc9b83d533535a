"""Who may see and change templates and template versions, and the path-parameter lookups.

As far as coderd's RBAC shows through these routes:

* manage (create templates and versions, update, delete, ACL): site owner and template-admin;
  organization-admin and organization-template-admin of the template's organization.
* read: the managers, site auditor and organization auditor, plus whoever the template ACL names
  (users directly or through a group; the Everyone group means every org member). ACL role ``admin``
  also allows updating the template (and its versions), ``use`` only reading it.
* an unattached template version belongs to no template: only the organization's managers see it.
"""

from .util import ApiError, not_found, parse_uuid

_SITE_MANAGERS = {"owner", "template-admin"}
_ORG_MANAGERS = {"organization-admin", "organization-template-admin"}
_SITE_READERS = {"auditor"}
_ORG_READERS = {"organization-auditor"}


def go_uuid_error(value: str) -> str:
    if len(value) not in (32, 36, 38, 41):
        return f"invalid UUID length: {len(value)}"
    return "invalid UUID format"


def _org_roles(state, actor, org_id):
    m = state.membership(org_id, actor.id)
    return set(m.roles) if m is not None else set()


def can_manage_templates(state, actor, org_id) -> bool:
    if _SITE_MANAGERS.intersection(actor.roles):
        return True
    return bool(_ORG_MANAGERS.intersection(_org_roles(state, actor, org_id)))


def acl_role(state, actor, tpl):
    """The strongest role the template ACL gives the actor ("admin", "use" or None)."""
    roles = set()
    if actor.id in tpl.user_acl:
        roles.add(tpl.user_acl[actor.id])
    if tpl.group_acl:
        mine = state.user_group_ids(actor.id)
        roles.update(role for gid, role in tpl.group_acl.items() if gid in mine)
    if "admin" in roles:
        return "admin"
    return "use" if roles else None


def can_read_template(state, actor, tpl) -> bool:
    if can_manage_templates(state, actor, tpl.organization_id):
        return True
    if _SITE_READERS.intersection(actor.roles):
        return True
    if _ORG_READERS.intersection(_org_roles(state, actor, tpl.organization_id)):
        return True
    return acl_role(state, actor, tpl) is not None


def can_update_template(state, actor, tpl) -> bool:
    return can_manage_templates(state, actor, tpl.organization_id) or acl_role(state, actor, tpl) == "admin"


def can_read_version(state, actor, version) -> bool:
    tpl = state.templates.get(version.template_id) if version.template_id else None
    if tpl is None:
        return can_manage_templates(state, actor, version.organization_id)
    return can_read_template(state, actor, tpl)


def can_update_version(state, actor, version) -> bool:
    tpl = state.templates.get(version.template_id) if version.template_id else None
    if tpl is None:
        return can_manage_templates(state, actor, version.organization_id)
    return can_update_template(state, actor, tpl)


def _uuid_param(req, name):
    raw = req.params[name]
    uid = parse_uuid(raw)
    if uid is None:
        raise ApiError(400, f'Invalid UUID "{raw}".', go_uuid_error(raw))
    return uid


def template_param(req, name="template"):
    """httpmw.ExtractTemplateParam: UUID only; missing, deleted or unreadable -> 404."""
    tpl = req.state.templates.get(_uuid_param(req, name))
    if tpl is None or tpl.deleted or not can_read_template(req.state, req.actor, tpl):
        raise not_found()
    return tpl


def version_param(req, name="templateversion"):
    """httpmw.ExtractTemplateVersionParam: UUID only; missing or unreadable -> 404."""
    version = req.state.versions.get(_uuid_param(req, name))
    if version is None or not can_read_version(req.state, req.actor, version):
        raise not_found()
    return version
