# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.coder.automation.plugins.module_utils._errors import CoderInputError
from ansible_collections.coder.automation.plugins.module_utils._users import (
    DesiredUser,
    find_user,
    plan_user,
    validate_username,
)

USER_ID = "11111111-1111-4111-8111-111111111111"
ORG_ID = "22222222-2222-4222-8222-222222222222"


def params(**overrides):
    base = dict(username="dana-dev", email=None, name=None, login_type=None, password=None,
                update_password="on_create", roles=None, suspended=None, organizations=None)
    base.update(overrides)
    return base


def coder_user(**overrides):
    user = {"id": USER_ID, "username": "dana-dev", "email": "dana.dev@example.test", "name": "Dana",
            "login_type": "password", "status": "active", "roles": [], "organization_ids": [ORG_ID]}
    user.update(overrides)
    return user


class RecordingClient:
    """Answers the few reads planning needs, and records writes made by applying a plan."""

    def __init__(self, version=(2, 34, 3), site_roles=("owner", "template-admin", "user-admin", "auditor"),
                 users_by_name=None, search_pages=None, me=None, fail_with=None):
        self.version = version
        self.site_roles = site_roles
        self.users_by_name = users_by_name or {}
        self.search_pages = search_pages or []
        self.writes = []
        self.reads = []
        self.cache = {}
        self.me = me or {"id": "99999999-9999-4999-8999-999999999999", "username": "admin",
                         "roles": [{"name": "owner"}]}
        self.fail_with = fail_with

    def server_version(self):
        return self.version

    def get(self, path, params=None):
        self.reads.append(path)

        class Answer:
            pass

        answer = Answer()
        answer.body = [{"name": role} for role in self.site_roles] if path == "/users/roles" else {}
        if path == "/users/me":
            answer.body = self.me
        return answer

    def get_cached(self, path):
        return self.get(path).body

    def organizations(self):
        return [{"id": ORG_ID, "name": "coder"}]

    def get_or_none(self, path):
        self.reads.append(path)
        return self.users_by_name.get(path.rsplit("/", 1)[-1].lower())

    def paginate(self, path, key, params=None):
        self.reads.append((path, params))
        return [row for page in self.search_pages for row in page]

    def organization(self, name):
        return {"id": ORG_ID, "name": "coder"}

    def request(self, method, path, body=None, lookup=None, **kwargs):
        self.writes.append((method, path, body))
        if self.fail_with:
            raise self.fail_with

        class Answer:
            pass

        answer = Answer()
        answer.body = {"id": USER_ID, "username": "dana-dev"}
        return answer


@pytest.mark.parametrize("name", ["a", "dana-dev", "A1-b2-C3", "x" * 32])
def test_valid_usernames(name):
    validate_username(name)


@pytest.mark.parametrize("name", ["", "-a", "a-", "a--b", "a_b", "a.b", "new", "Create", "x" * 33, "é"])
def test_invalid_usernames_name_the_field(name):
    with pytest.raises(CoderInputError) as error:
        validate_username(name)
    assert error.value.field == "username"


def test_password_with_other_login_type_is_refused():
    with pytest.raises(CoderInputError) as error:
        DesiredUser.from_params(params(login_type="oidc", password="s3cret-Long-enough-pass"))
    assert error.value.field == "password" and "s3cret" not in str(error.value)


def test_case_alone_is_no_change():
    desired = DesiredUser.from_params(params(username="Dana-Dev", email="Dana.Dev@Example.test", name="Dana"))
    client = RecordingClient()
    plan = plan_user(client, desired, coder_user())
    assert not plan.changed and plan.diff() == {"before": {}, "after": {}}


def test_find_by_email_reads_every_page_and_matches_case_insensitively():
    target = coder_user(username="old-name", email="Dana.Dev@Example.test")
    pages = [[coder_user(username=f"u{i}", email=f"u{i}@example.test") for i in range(100)], [target]]
    client = RecordingClient(search_pages=pages)
    assert find_user(client, "dana-dev", "dana.dev@example.test") is target


def test_rename_when_found_by_email_keeps_the_name():
    desired = DesiredUser.from_params(params(username="dana-new", email="dana.dev@example.test"))
    client = RecordingClient()
    plan = plan_user(client, desired, coder_user())
    assert plan.diff() == {"before": {"username": "dana-dev"}, "after": {"username": "dana-new"}}
    plan.apply(client)
    assert client.writes == [("PUT", f"/users/{USER_ID}/profile", {"username": "dana-new", "name": "Dana"})]


def test_email_change_is_explained_not_done():
    desired = DesiredUser.from_params(params(email="other@example.test"))
    with pytest.raises(CoderInputError) as error:
        plan_user(RecordingClient(), desired, coder_user())
    assert error.value.field == "email" and "cannot change" in error.value.message


def test_login_type_change_is_explained_not_done():
    with pytest.raises(CoderInputError) as error:
        plan_user(RecordingClient(), DesiredUser.from_params(params(login_type="oidc")), coder_user())
    assert error.value.field == "login_type"


def test_roles_compare_as_sets_without_member():
    desired = DesiredUser.from_params(params(roles=["Auditor", "member", "template-admin"]))
    current = coder_user(roles=[{"name": "template-admin"}, {"name": "auditor"}])
    assert not plan_user(RecordingClient(), desired, current).changed


def test_roles_change_is_one_put_with_exact_roles():
    desired = DesiredUser.from_params(params(roles=["auditor"]))
    client = RecordingClient()
    plan = plan_user(client, desired, coder_user(roles=[{"name": "owner"}]))
    assert plan.diff() == {"before": {"roles": ["owner"]}, "after": {"roles": ["auditor"]}}
    plan.apply(client)
    assert client.writes == [("PUT", f"/users/{USER_ID}/roles", {"roles": ["auditor"]})]


def test_unknown_role_fails_before_any_write():
    client = RecordingClient()
    with pytest.raises(CoderInputError) as error:
        plan_user(client, DesiredUser.from_params(params(roles=["wizard"])), coder_user())
    assert error.value.field == "roles" and "wizard" in error.value.message and client.writes == []


def test_dormant_user_is_not_activated_by_suspended_false():
    plan = plan_user(RecordingClient(), DesiredUser.from_params(params(suspended=False)), coder_user(status="dormant"))
    assert not plan.changed


def test_suspended_false_activates_a_suspended_user():
    client = RecordingClient()
    plan = plan_user(client, DesiredUser.from_params(params(suspended=False)), coder_user(status="suspended"))
    plan.apply(client)
    assert client.writes == [("PUT", f"/users/{USER_ID}/status/activate", None)]


def test_suspending_an_owner_is_refused_first():
    current = coder_user(roles=[{"name": "owner"}])
    with pytest.raises(CoderInputError) as error:
        plan_user(RecordingClient(), DesiredUser.from_params(params(suspended=True)), current)
    assert error.value.field == "suspended"


def test_suspend_after_dropping_owner_orders_roles_first():
    client = RecordingClient()
    current = coder_user(roles=[{"name": "owner"}])
    plan = plan_user(client, DesiredUser.from_params(params(suspended=True, roles=[])), current)
    plan.apply(client)
    assert [write[1] for write in client.writes] == [f"/users/{USER_ID}/roles", f"/users/{USER_ID}/status/suspend"]


def test_create_needs_email_and_password_for_password_login():
    with pytest.raises(CoderInputError) as error:
        plan_user(RecordingClient(), DesiredUser.from_params(params()), None)
    assert error.value.field == "email"
    with pytest.raises(CoderInputError) as error:
        plan_user(RecordingClient(), DesiredUser.from_params(params(email="d@example.test")), None)
    assert error.value.field == "password"


def test_create_sends_roles_on_new_servers_and_puts_them_on_old_ones():
    desired = DesiredUser.from_params(params(email="d@example.test", login_type="none", roles=["auditor"]))
    new = RecordingClient(version=(2, 34, 0))
    plan_user(new, desired, None).apply(new)
    assert len(new.writes) == 1 and new.writes[0][2]["roles"] == ["auditor"]
    assert new.writes[0][2]["organization_ids"] == ["00000000-0000-0000-0000-000000000000"]
    old = RecordingClient(version=(2, 33, 2))
    plan_user(old, desired, None).apply(old)
    assert "roles" not in old.writes[0][2]
    assert old.writes[1] == ("PUT", f"/users/{USER_ID}/roles", {"roles": ["auditor"]})


def test_create_diff_never_shows_the_password():
    desired = DesiredUser.from_params(params(email="d@example.test", password="Very-Secret-Horse-42"))
    plan = plan_user(RecordingClient(), desired, None)
    assert "Very-Secret-Horse-42" not in repr(plan.diff()) and plan.diff()["before"] == {}


def test_update_password_always_is_a_change_without_the_password_in_the_diff():
    desired = DesiredUser.from_params(params(password="Very-Secret-Horse-42", update_password="always"))
    plan = plan_user(RecordingClient(), desired, coder_user())
    assert plan.changed and "Very-Secret-Horse-42" not in repr(plan.diff())
    desired = DesiredUser.from_params(params(password="Very-Secret-Horse-42"))
    assert not plan_user(RecordingClient(), desired, coder_user()).changed


def test_delete_missing_user_is_no_change():
    assert not plan_user(RecordingClient(), DesiredUser.from_params(params()), None, state="absent").changed


@pytest.mark.parametrize("item", [42, {"roles": []}, {"name": "x", "colour": "red"}, {"name": "x", "roles": "admin"}])
def test_bad_organization_items_name_their_index(item):
    with pytest.raises(CoderInputError) as error:
        DesiredUser.from_params(params(organizations=["coder", item]))
    assert error.value.field.startswith("organizations[1]")


ME = coder_user(id="99999999-9999-4999-8999-999999999999", username="admin", roles=[{"name": "owner"}])


def test_me_is_refused_as_a_username():
    with pytest.raises(CoderInputError) as error:
        DesiredUser.from_params(params(username="Me"))
    assert "token's own user" in error.value.message


@pytest.mark.parametrize("roles", [[""], [None], ["auditor", "  "]])
def test_empty_role_entries_are_refused_not_dropped(roles):
    with pytest.raises(CoderInputError) as error:
        DesiredUser.from_params(params(roles=roles))
    assert error.value.field == "roles"


def test_an_organization_listed_twice_is_refused():
    with pytest.raises(CoderInputError) as error:
        DesiredUser.from_params(params(organizations=["coder", {"name": "data", "roles": []}, {"name": "Data"}]))
    assert error.value.field == "organizations[2]"


@pytest.mark.parametrize("email", ["a:b@example.com", 'q"x@example.com', "a b@example.com", "a@b@c"])
def test_emails_that_break_coder_search_are_refused(email):
    with pytest.raises(CoderInputError) as error:
        DesiredUser.from_params(params(email=email))
    assert error.value.field == "email"


@pytest.mark.parametrize("overrides, field", [
    ({"roles": ["auditor"]}, "roles"),
    ({"suspended": True, "roles": []}, "roles"),
    ({"password": "Very-Secret-Horse-42", "update_password": "always"}, "password"),
])
def test_changes_coder_refuses_for_the_tokens_own_user_fail_first(overrides, field):
    client = RecordingClient()
    with pytest.raises(CoderInputError) as error:
        plan_user(client, DesiredUser.from_params(params(username="admin", **overrides)), ME)
    assert error.value.field == field and client.writes == []


def test_suspending_or_deleting_yourself_fails_first():
    client = RecordingClient()
    own = coder_user(id=ME["id"], username="admin")
    with pytest.raises(CoderInputError) as error:
        plan_user(client, DesiredUser.from_params(params(username="admin", suspended=True)), own)
    assert error.value.field == "suspended"
    with pytest.raises(CoderInputError) as error:
        plan_user(client, DesiredUser.from_params(params(username="admin")), own, state="absent")
    assert error.value.field == "state" and client.writes == []


def test_only_owners_grant_owner():
    user_admin = {"id": "77777777-7777-4777-8777-777777777777", "username": "ua", "roles": [{"name": "user-admin"}]}
    client = RecordingClient(me=user_admin)
    with pytest.raises(CoderInputError) as error:
        plan_user(client, DesiredUser.from_params(params(roles=["owner"])), coder_user())
    assert error.value.field == "roles" and "only an owner" in error.value.message


def test_password_always_on_a_non_password_user_fails_first():
    with pytest.raises(CoderInputError) as error:
        plan_user(RecordingClient(), DesiredUser.from_params(params(password="Very-Secret-Horse-42",
                                                                    update_password="always")),
                  coder_user(login_type="github"))
    assert error.value.field == "password"


def test_password_already_set_is_no_change():
    from ansible_collections.coder.automation.plugins.module_utils._errors import CoderAPIError

    same = CoderAPIError(400, "PUT", "/api/v2/users/x/password", "New password cannot match old password.")
    client = RecordingClient(fail_with=same)
    plan = plan_user(client, DesiredUser.from_params(params(password="Very-Secret-Horse-42",
                                                            update_password="always")), coder_user())
    assert plan.changed
    assert plan.apply(client)["changed"] == []
