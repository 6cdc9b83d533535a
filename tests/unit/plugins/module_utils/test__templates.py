# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.coder.automation.plugins.module_utils._errors import CoderFeatureError, CoderInputError
from ansible_collections.coder.automation.plugins.module_utils._templates import (
    acl_changes,
    check_acl,
    check_licensed,
    create_body,
    settings_patch,
    validate_template_name,
)

TEMPLATE = {"id": "t1", "name": "docker", "display_name": "Docker", "description": "", "icon": "",
            "default_ttl_ms": 28_800_000, "activity_bump_ms": 3_600_000, "allow_user_autostart": True,
            "allow_user_autostop": True, "allow_user_cancel_workspace_jobs": False, "failure_ttl_ms": 0,
            "time_til_dormant_ms": 0, "time_til_dormant_autodelete_ms": 0, "require_active_version": False,
            "autostop_requirement": {"days_of_week": [], "weeks": 1}}


class Client:
    def __init__(self, version=(2, 34, 3), features=()):
        self.version = version
        self.features = set(features)

    def server_version(self):
        return self.version

    def feature_enabled(self, name):
        return name in self.features


def test_only_given_settings_are_compared_and_sent_on_new_servers():
    before, after, body = settings_patch(Client(), TEMPLATE, {"description": "x", "default_ttl_ms": None,
                                                              "default_ttl": 28_800_000})
    assert body == {"description": "x"}
    assert before == {"description": ""} and after == {"description": "x"}


def test_old_servers_get_the_current_values_back_so_nothing_resets():
    _before, _after, body = settings_patch(Client(version=(2, 33, 2)), TEMPLATE, {"description": "x"})
    assert body["description"] == "x"
    assert body["default_ttl_ms"] == 28_800_000 and body["activity_bump_ms"] == 3_600_000
    assert body["allow_user_autostart"] is True and body["name"] == "docker"


def test_no_difference_no_patch():
    assert settings_patch(Client(), TEMPLATE, {"default_ttl": 28_800_000, "display_name": "Docker"})[2] is None


def test_weekdays_compare_in_any_case_and_order():
    template = dict(TEMPLATE, autostop_requirement={"days_of_week": ["monday", "friday"], "weeks": 2})
    wanted = {"autostop_requirement": {"days_of_week": ["Friday", "MONDAY"], "weeks": 2}}
    assert settings_patch(Client(), template, wanted)[2] is None


def test_create_uses_the_request_names_of_dormancy_fields():
    body = create_body("docker", "v1", {"time_til_dormant": 3_600_000, "time_til_dormant_autodelete": 7_200_000})
    assert body == {"name": "docker", "template_version_id": "v1", "dormant_ttl_ms": 3_600_000,
                    "delete_ttl_ms": 7_200_000}


@pytest.mark.parametrize("settings, feature", [
    ({"failure_ttl": 60_000}, "advanced_template_scheduling"),
    ({"allow_user_autostop": False}, "advanced_template_scheduling"),
    ({"require_active_version": True}, "access_control"),
    ({"deprecation_message": "use docker2"}, "access_control"),
    ({"max_port_share_level": "authenticated"}, "control_shared_ports"),
])
def test_premium_settings_fail_before_writing_without_the_license(settings, feature):
    with pytest.raises(CoderFeatureError) as error:
        check_licensed(Client(), settings, None)
    assert error.value.feature == feature


@pytest.mark.parametrize("settings", [{"allow_user_autostop": True}, {"deprecation_message": ""},
                                      {"max_port_share_level": "public"}, {"failure_ttl": 0}])
def test_values_any_deployment_accepts_need_no_license(settings):
    check_licensed(Client(), settings, None)


def test_acl_needs_template_rbac():
    with pytest.raises(CoderFeatureError):
        check_licensed(Client(), {}, {"groups": {}, "users": {}})


def test_acl_add_only_and_exact():
    current = {"groups": {"org": ("Everyone", "use")}, "users": {"u1": ("ana", "use")}}
    wanted = {"groups": {"g2": ("platform", "admin")}, "users": {"u1": ("ana", "admin")}}
    _before, after, body = acl_changes(current, wanted, purge=False)
    assert body == {"user_perms": {"u1": "admin"}, "group_perms": {"g2": "admin"}}
    assert after["groups"] == {"Everyone": "use", "platform": "admin"}
    _before, after, body = acl_changes(current, wanted, purge=True)
    assert body["group_perms"] == {"g2": "admin", "org": ""}
    assert after["groups"] == {"platform": "admin"}
    assert acl_changes(current, {"groups": {"org": ("Everyone", "use")}, "users": {}}, purge=False)[2] is None


@pytest.mark.parametrize("acl, field", [({"groups": {"a": "owner"}}, "acl.groups.a"), ({"people": {}}, "acl")])
def test_bad_acl_names_the_field(acl, field):
    with pytest.raises(CoderInputError) as error:
        check_acl(acl)
    assert error.value.field == field


@pytest.mark.parametrize("name", ["new", "create", "a--b", "x" * 33, ""])
def test_template_names(name):
    with pytest.raises(CoderInputError):
        validate_template_name(name)


# ---- comparing with a built version and reusing version names ------------------------------------------

from ansible_collections.coder.automation.plugins.module_utils._archive import build_archive  # noqa: E402
from ansible_collections.coder.automation.plugins.module_utils._errors import CoderAPIError, CoderError  # noqa: E402
from ansible_collections.coder.automation.plugins.module_utils._templates import (  # noqa: E402
    TemplatePush,
    compare_version,
    expected_tags,
)


class VersionServer:
    """Answers the reads compare_version and TemplatePush make, from one version's files and variables."""

    def __init__(self, archive, variables, status="succeeded", tags=None, conflict=False):
        self.archive, self.variables, self.status = archive, variables, status
        self.tags = tags or {"scope": "organization", "owner": ""}
        self.conflict = conflict
        self.calls = []

    def version(self, version_id="v1"):
        return {"id": version_id, "name": "sha-1", "job": {"status": self.status, "file_id": "f1", "tags": self.tags}}

    def get(self, path, params=None):
        self.calls.append(("GET", path))
        body = self.variables if path.endswith("/variables") else [] if path.endswith("/logs") else self.version()
        return type("Answer", (), {"body": body})()

    def request(self, method, path, body=None, raw=False, **kwargs):
        self.calls.append((method, path))
        if raw:
            return type("Answer", (), {"body": self.archive})()
        if method == "POST" and path.endswith("/templateversions") and self.conflict:
            self.conflict = False
            raise CoderAPIError(409, method, path, "Template version sha-1 already exists.")
        answer = {"hash": "f2"} if path == "/files" else self.version("v2")
        return type("Answer", (), {"body": answer})()


def one_file(tmp_path):
    (tmp_path / "main.tf").write_text('variable "region" {}\n')
    return {"main.tf": str(tmp_path / "main.tf")}


def test_values_given_last_time_and_no_longer_given_are_a_difference(tmp_path):
    files = one_file(tmp_path)
    from ansible_collections.coder.automation.plugins.module_utils._archive import manifest

    server = VersionServer(build_archive(files), [
        {"name": "region", "value": "us", "default_value": "eu", "sensitive": False},
        {"name": "token", "value": "*redacted*", "default_value": "", "sensitive": True}])
    comparison = compare_version(server, server.version(), manifest(files), {}, expected_tags(None))
    assert comparison["variables"] == ["region"]
    comparison = compare_version(server, server.version(), manifest(files), {"region": "us", "typo": "x"},
                                 expected_tags(None))
    assert comparison["variables"] == [] and comparison["undeclared"] == ["typo"]


def test_scope_user_tags_carry_the_callers_id_and_bools_are_lower_case():
    assert expected_tags({"scope": "user", "gpu": True}, "me-id") == {"scope": "user", "owner": "me-id",
                                                                      "gpu": "true"}


def test_a_failed_version_under_the_same_name_is_renamed_and_built_again(tmp_path):
    files = one_file(tmp_path)
    server = VersionServer(build_archive(files), [], status="failed", conflict=True)
    push = TemplatePush({"id": "o1", "name": "coder"}, "docker", files, {}, expected_tags(None),
                        version_name="sha-1", sleep=lambda seconds: None)
    # In this fake the rebuilt version reads back failed as well; what matters is the rename and the rebuild.
    with pytest.raises(CoderError) as error:
        push.push(server, template_id="t1")
    assert "failed to build" in str(error.value)
    methods = [call for call in server.calls if call[0] != "GET"]
    assert ("PATCH", "/templateversions/v1") in methods
    assert methods.count(("POST", "/organizations/o1/templateversions")) == 2


def test_a_succeeded_version_with_other_content_under_the_name_is_refused(tmp_path):
    files = one_file(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    (other / "main.tf").write_text("different\n")
    server = VersionServer(build_archive({"main.tf": str(other / "main.tf")}), [], conflict=True)
    push = TemplatePush({"id": "o1", "name": "coder"}, "docker", files, {}, expected_tags(None),
                        version_name="sha-1")
    with pytest.raises(CoderInputError) as error:
        push.push(server, template_id="t1")
    assert error.value.field == "version_name"
