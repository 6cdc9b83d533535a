# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.coder.automation.plugins.module_utils._errors import (
    CoderAPIError,
    CoderFeatureError,
    CoderInputError,
)
from ansible_collections.coder.automation.plugins.module_utils._groups import (
    DesiredGroup,
    feature_error_or,
    plan_group,
    resolve_members,
)
from ansible_collections.coder.automation.plugins.module_utils._users import UserDirectory

ORG = {"id": "22222222-2222-4222-8222-222222222222", "name": "coder"}
OTHER_ORG = "33333333-3333-4333-8333-333333333333"


def user(uid, username, email, orgs=(ORG["id"],), status="active"):
    return {"id": uid, "username": username, "email": email, "organization_ids": list(orgs), "status": status}


ANA = user("a1", "ana", "ana@example.test")
BO = user("b2", "bo", "Bo@Example.test", status="dormant")
CY = user("c3", "cy", "cy@example.test", orgs=(OTHER_ORG,))
DIRECTORY = UserDirectory([ANA, BO, CY])


def desired(**params):
    return DesiredGroup.from_params(dict({"name": "data-science"}, **params))


def group(members=(), **fields):
    base = {"id": "g1", "name": "data-science", "display_name": "", "avatar_url": "", "quota_allowance": 0,
            "source": "user", "members": [{"id": m["id"], "username": m["username"]} for m in members]}
    base.update(fields)
    return base


def test_members_resolve_by_username_email_or_id_case_insensitively():
    assert resolve_members(None, ["ANA", "bo@example.TEST", "a1"], ORG, DIRECTORY) == {"a1": "ana", "b2": "bo"}


def test_unknown_members_are_all_named():
    with pytest.raises(CoderInputError) as error:
        resolve_members(None, ["ana", "ghost", "nobody@example.test"], ORG, DIRECTORY)
    assert "'ghost'" in error.value.message and "'nobody@example.test'" in error.value.message


def test_members_outside_the_organization_are_named():
    with pytest.raises(CoderInputError) as error:
        resolve_members(None, ["ana", "cy"], ORG, DIRECTORY)
    assert "'cy' is not a member of organization 'coder'" in error.value.message


def test_member_order_and_case_are_no_change():
    wanted = resolve_members(None, ["BO@example.test", "Ana"], ORG, DIRECTORY)
    plan = plan_group(desired(members=["x"]), group([ANA, BO]), ORG, wanted)
    assert not plan.changed and plan.members_added == [] and plan.members_removed == []


def test_add_only_without_purge_and_exact_with_purge():
    wanted = {"a1": "ana"}
    plan = plan_group(desired(members=["ana"]), group([BO]), ORG, wanted)
    assert plan.members_added == ["ana"] and plan.members_removed == []
    assert plan.diff() == {"before": {"members": ["bo"]}, "after": {"members": ["ana", "bo"]}}
    plan = plan_group(desired(members=["ana"], purge_members=True), group([BO]), ORG, wanted)
    assert plan.members_removed == ["bo"] and plan.diff()["after"] == {"members": ["ana"]}


def test_one_patch_carries_settings_and_members():
    class Client:
        def __init__(self):
            self.calls = []

        def request(self, method, path, body=None, **kwargs):
            self.calls.append((method, path, body))
            return self

        @property
        def body(self):
            return {"id": "g1"}

    client = Client()
    plan = plan_group(desired(members=["ana"], quota_allowance=3, purge_members=True), group([BO]), ORG,
                      {"a1": "ana"})
    plan.apply(client)
    expected_body = {"quota_allowance": 3, "add_users": ["a1"], "remove_users": ["b2"]}
    assert client.calls == [("PATCH", "/groups/g1", expected_body)]


def test_create_then_add_members():
    plan = plan_group(desired(members=["ana"], display_name="Data"), None, ORG, {"a1": "ana"})
    assert plan.action == "create" and len(plan.steps) == 2
    assert plan.after["members"] == ["ana"] and plan.after["display_name"] == "Data"


@pytest.mark.parametrize("params, field", [
    ({"members": ["ana"]}, "members"),
    ({"display_name": "All"}, "display_name"),
])
def test_everyone_refuses_members_and_display_name(params, field):
    with pytest.raises(CoderInputError) as error:
        plan_group(DesiredGroup.from_params(dict({"name": "Everyone"}, **params)), group(name="Everyone"), ORG, {})
    assert error.value.field == field


def test_everyone_quota_is_managed_and_it_cannot_be_deleted():
    everyone = group(name="Everyone", id=ORG["id"])
    plan = plan_group(DesiredGroup.from_params({"name": "Everyone", "quota_allowance": 5}), everyone, ORG)
    assert plan.diff() == {"before": {"quota_allowance": 0}, "after": {"quota_allowance": 5}}
    with pytest.raises(CoderInputError):
        plan_group(DesiredGroup.from_params({"name": "Everyone"}), everyone, ORG, state="absent")


def test_oidc_group_warns():
    plan = plan_group(desired(quota_allowance=1), group(source="oidc"), ORG)
    assert plan.changed and "identity provider" in plan.warnings[0]


@pytest.mark.parametrize("name", ["new", "a--b", "-x", "x" * 256, ""])
def test_invalid_group_names(name):
    with pytest.raises(CoderInputError):
        DesiredGroup.from_params({"name": name})


def test_403_without_the_feature_becomes_a_feature_error():
    class Client:
        def feature_enabled(self, name):
            return False

    error = CoderAPIError(403, "GET", "/api/v2/groups", "Template RBAC is a Premium feature. Contact sales!")
    converted = feature_error_or(Client(), error)
    assert isinstance(converted, CoderFeatureError)
    assert "template_rbac" in str(converted) and "Template RBAC is a Premium feature. Contact sales!" in str(converted)
