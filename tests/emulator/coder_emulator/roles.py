"""Built-in RBAC roles and the subset of Coder's permission model the emulator needs.

Real Coder evaluates rego policies; here the rules that matter to the tested endpoints are written
out directly (see reference section 3 and 13 for the observable results):

* owner: everything.
* user-admin: reads and manages users and org memberships, but may only *assign* "member"
  (rbac assignRoles: userAdmin -> member, organization-member).
* auditor, template-admin: read all users and organizations, change nothing user related.
* plain member: reads only itself and the orgs (and org members) it belongs to.
"""

SITE_ROLES = {
    "owner": "Owner",
    "member": "Member",
    "template-admin": "Template Admin",
    "user-admin": "User Admin",
    "auditor": "Auditor",
    # Display name chosen by us; the role exists since v2.3x for Coder Agents access.
    "agents-access": "Agents Access",
}

ORG_ROLES = {
    "organization-admin": "Organization Admin",
    "organization-member": "Organization Member",
    "organization-auditor": "Organization Auditor",
    "organization-template-admin": "Organization Template Admin",
    "organization-user-admin": "Organization User Admin",
    "organization-workspace-creation-ban": "Organization Workspace Creation Ban",
    "organization-workspace-access": "Organization Workspace Access",
}

READ_ALL_USERS = {"owner", "user-admin", "auditor", "template-admin"}
MANAGE_USERS = {"owner", "user-admin"}

# rbac.assignRoles: which roles a holder of a role may grant.
_SITE_ASSIGN = {
    "owner": set(SITE_ROLES),
    "user-admin": {"member"},
}
_ORG_ASSIGN = {
    "organization-admin": set(ORG_ROLES),
    "organization-user-admin": {"organization-member"},
}


def slim_site_role(name):
    return {"name": name, "display_name": SITE_ROLES.get(name, name)}


def slim_org_role(name, org_id):
    return {"name": name, "display_name": ORG_ROLES.get(name, name), "organization_id": org_id}


def can_read_all_users(user) -> bool:
    return bool(READ_ALL_USERS.intersection(user.roles))


def can_manage_users(user) -> bool:
    return bool(MANAGE_USERS.intersection(user.roles))


def is_owner(user) -> bool:
    return "owner" in user.roles


def can_assign_site_role(actor, role) -> bool:
    return any(role in _SITE_ASSIGN.get(r, ()) for r in actor.roles)


def can_assign_org_role(actor, role, actor_org_roles) -> bool:
    if is_owner(actor):
        return True
    if "user-admin" in actor.roles and role == "organization-member":
        return True
    return any(role in _ORG_ASSIGN.get(r, ()) for r in actor_org_roles)


def assignable_role(name, display, org_id, assignable):
    # codersdk.AssignableRoles; built-in roles carry no listed permissions in this emulator.
    return {
        "name": name,
        "display_name": display,
        "organization_id": org_id,
        "site_permissions": [],
        "organization_permissions": [],
        "user_permissions": [],
        "organization_member_permissions": [],
        "assignable": assignable,
        "built_in": True,
    }
