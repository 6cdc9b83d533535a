"""Template versions, import jobs and the provisioner (coder-api.md §8, §13 "Template versions")."""

import pytest
from conftest import (
    MAIN_TF,
    NIL,
    OWNER_TOKEN,
    Client,
    create_template,
    create_version,
    make_tar,
    make_user,
    upload,
    wait_job,
)

from coder_emulator import start_server

ORG_TV = "/api/v2/organizations/default/templateversions"
TV = "/api/v2/templateversions"
NOT_FOUND = {"message": "Resource not found or you do not have access to this resource"}

VARS_TF = MAIN_TF + '''
variable "region" {
  type        = string
  description = "Where {it} runs"
  default     = "eu-west-1"
}

variable "token" {
  type      = string
  sensitive = true
  validation {
    condition     = length(var.token) > 3
    error_message = "too short }"
  }
}

variable "replicas" {
  type    = number
  default = 2
}

variable "api_key" {
  sensitive = true
  default   = "k3y"
}
'''


@pytest.fixture(scope="module")
def idle():
    """An emulator whose deployment has no provisioner daemons: every job stays pending."""
    srv = start_server("127.0.0.1", 0, OWNER_TOKEN, provisioners=0)
    yield srv
    srv.stop()


def logs(client, version_id, query=""):
    r = client.get(f"{TV}/{version_id}/logs{query}")
    assert r.status == 200, r
    return r.json


# ---------------------------------------------------------------------- create and the job lifecycle
def test_create_and_succeed(emu):
    v = create_version(emu, message="first")
    assert v["template_id"] == NIL and v["message"] == "first" and v["archived"] is False
    assert v["created_by"]["username"] == "admin"
    assert v["matched_provisioners"]["count"] == 1 and v["matched_provisioners"]["available"] == 1
    job = v["job"]
    assert job["status"] in ("pending", "running", "succeeded")
    assert job["type"] == "template_version_import" and job["tags"] == {"scope": "organization", "owner": ""}
    assert job["input"] == {"template_version_id": v["id"]}
    assert job["metadata"]["template_version_name"] == v["name"]
    assert "_" in v["name"]  # default adjective_surname name
    done = wait_job(emu, v["id"])
    assert done["job"]["status"] == "succeeded"
    assert "completed_at" in done["job"] and "started_at" in done["job"] and "error" not in done["job"]
    assert "matched_provisioners" not in done
    stages = [entry["stage"] for entry in logs(emu, v["id"])]
    for stage in ("Setting up", "Parsing template parameters", "Detecting persistent resources", "Cleaning Up"):
        assert stage in stages
    assert emu.get(f"{TV}/{v['id']}/rich-parameters").json == []


def test_required_variable_without_value_fails(emu):
    v = create_version(emu, {"main.tf": VARS_TF})
    done = wait_job(emu, v["id"])["job"]
    assert done["status"] == "failed" and done["error_code"] == "REQUIRED_TEMPLATE_VARIABLES"
    assert "required template variables need values" in done["error"] and "token" in done["error"]
    errors = [entry for entry in logs(emu, v["id"]) if entry["log_level"] == "error"]
    assert errors and "token" in errors[0]["output"]


def test_variables_and_redaction(emu):
    v = create_version(emu, {"main.tf": VARS_TF}, user_variable_values=[{"name": "token", "value": "s3cr3t"},
                                                                        {"name": "replicas", "value": "5"}])
    assert wait_job(emu, v["id"])["job"]["status"] == "succeeded"
    r = emu.get(f"{TV}/{v['id']}/variables")
    assert r.status == 200
    by_name = {x["name"]: x for x in r.json}
    assert by_name["region"] == {"name": "region", "description": "Where {it} runs", "type": "string",
                                 "value": "eu-west-1", "default_value": "eu-west-1", "required": False,
                                 "sensitive": False}
    assert by_name["token"]["value"] == "*redacted*" and by_name["token"]["required"] is True
    assert by_name["token"]["default_value"] == ""
    assert (by_name["replicas"]["type"], by_name["replicas"]["value"]) == ("number", "5")
    assert (by_name["api_key"]["value"], by_name["api_key"]["default_value"]) == ("*redacted*", "*redacted*")


@pytest.mark.parametrize("files, needle", [
    ({"main.tf": 'variable "x" {\n  default = "a"\n'}, "no closing brace"),
    ({"README.md": "no terraform here"}, "no Terraform configuration files"),
])
def test_failing_imports(emu, files, needle):
    v = create_version(emu, files)
    job = wait_job(emu, v["id"])["job"]
    assert job["status"] == "failed" and needle in job["error"] and "error_code" not in job
    assert any(needle in entry["output"] for entry in logs(emu, v["id"]) if entry["log_level"] == "error")


def test_nested_braces_and_strings_parse(emu):
    tf = MAIN_TF + 'locals {\n  m = { a = "}" }\n}\n# variable "c" {\nvariable "ok" {\n  default = "{"\n}\n'
    v = create_version(emu, {"main.tf": tf})
    assert wait_job(emu, v["id"])["job"]["status"] == "succeeded"
    assert [x["name"] for x in emu.get(f"{TV}/{v['id']}/variables").json] == ["ok"]


def test_heredocs_and_block_comments_hide_their_brackets(emu):
    tf = (MAIN_TF + 'locals {\n  script = <<-EOT\n    echo "}" {\n    EOT\n}\n'
          '/* variable "hidden" {\n} */\nvariable "ok" {\n  default = <<EOT\n}\nEOT\n}\n')
    v = create_version(emu, {"main.tf": tf})
    assert wait_job(emu, v["id"])["job"]["status"] == "succeeded"
    assert [x["name"] for x in emu.get(f"{TV}/{v['id']}/variables").json] == ["ok"]


def test_no_provisioner_stays_pending(idle):
    c = Client(idle.url)
    assert c.post("/__emulator/reset", token=None).status == 204
    v = create_version(c)
    assert v["matched_provisioners"] == {"count": 0, "available": 0}
    again = c.get(f"{TV}/{v['id']}").json
    assert again["job"]["status"] == "pending" and again["matched_provisioners"]["count"] == 0
    assert again["job"]["queue_position"] == 1 and again["job"]["queue_size"] == 1
    r = c.get(f"{TV}/{v['id']}/variables")
    assert (r.status, r.json) == (403, {"message": "Template version job has not finished"})
    assert c.get(f"{TV}/{v['id']}/rich-parameters").status == 425
    assert c.get(f"{TV}/{v['id']}/logs").json == []
    # Cancel a pending job: canceled at once, then a second cancel is refused.
    r = c.call("PATCH", f"{TV}/{v['id']}/cancel")
    assert (r.status, r.json) == (200, {"message": "Job has been marked as canceled..."})
    assert c.get(f"{TV}/{v['id']}").json["job"]["status"] == "canceled"
    assert c.call("PATCH", f"{TV}/{v['id']}/cancel").status == 400


def test_unmatched_tags_stay_pending(emu):
    v = create_version(emu, tags={"os": "windows"})
    assert v["job"]["tags"] == {"os": "windows", "scope": "organization", "owner": ""}
    assert v["matched_provisioners"]["count"] == 0
    assert emu.get(f"{TV}/{v['id']}").json["job"]["status"] == "pending"
    user_scoped = create_version(emu, tags={"scope": "user", "owner": "someone"})
    me = emu.get("/api/v2/users/me").json["id"]
    assert user_scoped["job"]["tags"] == {"scope": "user", "owner": me}
    assert user_scoped["matched_provisioners"]["count"] == 0


def test_cancel_completed_is_refused(emu):
    v = create_version(emu)
    wait_job(emu, v["id"])
    r = emu.call("PATCH", f"{TV}/{v['id']}/cancel")
    assert (r.status, r.json) == (400, {"message": "Job has already completed!"})


# ---------------------------------------------------------------------- create validation
def test_create_validation(emu):
    fid = upload(emu, make_tar({"main.tf": MAIN_TF})).json["hash"]
    base = {"storage_method": "file", "provisioner": "terraform", "file_id": fid}

    def fields(body):
        r = emu.post(ORG_TV, body)
        assert r.status == 400, r
        return [(x["field"], x["detail"].split('"')[1]) for x in r.json["validations"]]
    assert fields({**base, "storage_method": "s3"}) == [("storage_method", "oneof")]
    assert fields({**base, "provisioner": "pulumi"}) == [("provisioner", "oneof")]
    assert fields({**base, "provisioner": ""}) == [("provisioner", "oneof")]
    assert fields({**base, "name": "bad name"}) == [("name", "template_version_name")]
    assert fields({**base, "name": "x" * 65}) == [("name", "template_version_name")]
    assert fields({**base, "example_id": "docker"}) == [("file_id", "excluded_with"), ("example_id", "excluded_with")]
    assert fields({"storage_method": "file", "provisioner": "echo"}) == [
        ("file_id", "required_without"), ("example_id", "required_without")]
    r = emu.post(ORG_TV, {**base, "file_id": "6f1c3a80-0000-4000-8000-000000000000"})
    assert (r.status, r.json) == (404, {"message": "File not found."})
    r = emu.post(ORG_TV, {**base, "template_id": "6f1c3a80-0000-4000-8000-000000000000"})
    assert (r.status, r.json) == (404, {"message": "Template does not exist."})
    r = emu.post(ORG_TV, {"storage_method": "file", "provisioner": "terraform", "example_id": "docker"})
    assert (r.status, r.json["message"]) == (400, "Example not found.")
    for good in ("v1.2.3", "release_2", "a-b.c"):
        assert emu.post(ORG_TV, {**base, "name": good}).status == 201
    assert emu.post(ORG_TV, {**base, "name": "x" * 64}).status == 201
    assert emu.post(ORG_TV, {**base, "provisioner": "echo"}).status == 201
    r = emu.post("/api/v2/organizations/nope/templateversions", base)
    assert (r.status, r.json) == (404, NOT_FOUND)
    assert make_user(emu, "mia").post(ORG_TV, base).status == 403
    assert emu.post(ORG_TV, base, token=None).status == 401


def test_duplicate_name_in_a_template(emu):
    tpl = create_template(emu, "tpl")
    first = create_version(emu, name="v2", template_id=tpl["id"])
    assert first["template_id"] == tpl["id"]
    r = create_version(emu, name="v2", template_id=tpl["id"], expect=409)
    assert r["validations"][0]["field"] == "name"
    # The same name in another template, or unattached, is fine.
    other = create_template(emu, "other")
    create_version(emu, name="v2", template_id=other["id"])
    create_version(emu, name="v2")


# ---------------------------------------------------------------------- read / patch / list
def test_patch_version(emu):
    tpl = create_template(emu)
    v = create_version(emu, name="one", template_id=tpl["id"], message="m")
    create_version(emu, name="two", template_id=tpl["id"])
    r = emu.call("PATCH", f"{TV}/{v['id']}", {"name": "two"})
    assert r.status == 400 and r.json["validations"] == [{"field": "name", "detail": "Name is already used"}]
    r = emu.call("PATCH", f"{TV}/{v['id']}", {"name": "uno"})
    assert (r.status, r.json["name"], r.json["message"]) == (200, "uno", "m")
    r = emu.call("PATCH", f"{TV}/{v['id']}", {"message": ""})
    assert (r.json["name"], r.json["message"]) == ("uno", "")
    assert emu.call("PATCH", f"{TV}/{v['id']}", {"name": "no good"}).status == 400
    assert emu.get(f"{TV}/nope").json["message"] == 'Invalid UUID "nope".'
    assert emu.get(f"{TV}/6f1c3a80-0000-4000-8000-000000000000").json == NOT_FOUND


def test_list_versions_and_pagination(emu):
    tpl = create_template(emu)
    base = f"/api/v2/templates/{tpl['id']}/versions"
    added = [create_version(emu, name=f"v{i}", template_id=tpl["id"])["id"] for i in range(3)]
    ids = [v["id"] for v in emu.get(base).json]
    assert ids == [tpl["active_version_id"], *added]
    assert [v["id"] for v in emu.get(f"{base}?limit=2&offset=1").json] == ids[1:3]
    assert [v["id"] for v in emu.get(f"{base}?after_id={ids[1]}").json] == ids[2:]
    r = emu.get(f"{base}?after_id=6f1c3a80-0000-4000-8000-000000000000")
    assert (r.status, r.json["message"]) == (
        400, 'Record at "after_id" (6f1c3a80-0000-4000-8000-000000000000) does not exists.')
    assert emu.get(f"{base}?limit=x").status == 400


def test_version_by_name_and_previous(emu):
    tpl = create_template(emu, "tpl")
    first = emu.get(f"/api/v2/templates/{tpl['id']}/versions").json[0]
    second = create_version(emu, name="second", template_id=tpl["id"])
    r = emu.get(f"/api/v2/templates/{tpl['id']}/versions/second")
    assert r.status == 200 and r.json["id"] == second["id"]
    assert emu.get(f"/api/v2/templates/{tpl['id']}/versions/SECOND").status == 404
    org_base = "/api/v2/organizations/default/templates/TPL/versions"
    assert emu.get(f"{org_base}/second").json["id"] == second["id"]
    prev = emu.get(f"{org_base}/second/previous")
    assert (prev.status, prev.json["id"]) == (200, first["id"])
    none = emu.get(f"{org_base}/{first['name']}/previous")
    assert (none.status, none.raw) == (204, b"")
    assert emu.get(f"{org_base}/missing").status == 404


def test_logs_query(emu):
    v = create_version(emu)
    wait_job(emu, v["id"])
    all_logs = logs(emu, v["id"])
    assert len(all_logs) >= 4 and all(entry["log_source"] in ("provisioner", "provisioner_daemon")
                                      for entry in all_logs)
    assert [entry["id"] for entry in all_logs] == sorted(entry["id"] for entry in all_logs)
    assert logs(emu, v["id"], f"?after={all_logs[1]['id']}") == all_logs[2:]
    r = emu.get(f"{TV}/{v['id']}/logs?after=abc")
    assert (r.status, r.json["message"]) == (400, 'Query param "after" must be an integer.')
    text = emu.get(f"{TV}/{v['id']}/logs?format=text")
    assert text.status == 200 and text.headers["Content-Type"].startswith("text/plain")
    assert "Setting up" in text.text
    assert emu.get(f"{TV}/{v['id']}/logs?follow").status == 400


# ---------------------------------------------------------------------- promote
def test_promote_rules(emu, idle):
    tpl = create_template(emu)
    promote = f"/api/v2/templates/{tpl['id']}/versions"
    good = create_version(emu, template_id=tpl["id"])
    wait_job(emu, good["id"])
    r = emu.call("PATCH", promote, {"id": good["id"]})
    assert (r.status, r.json) == (200, {"message": "Updated the active template version!"})
    assert emu.get(f"/api/v2/templates/{tpl['id']}").json["active_version_id"] == good["id"]
    failed = create_version(emu, {"main.tf": VARS_TF}, template_id=tpl["id"])
    wait_job(emu, failed["id"])
    r = emu.call("PATCH", promote, {"id": failed["id"]})
    assert (r.status, r.json["message"]) == (403, "Only versions that have been built successfully can be promoted.")
    pending = create_version(emu, template_id=tpl["id"], tags={"os": "plan9"})
    assert emu.call("PATCH", promote, {"id": pending["id"]}).status == 403
    canceled = create_version(emu, template_id=tpl["id"], tags={"os": "plan9"})
    emu.call("PATCH", f"{TV}/{canceled['id']}/cancel")
    assert emu.call("PATCH", promote, {"id": canceled["id"]}).status == 403
    other = create_template(emu, "other")
    assert emu.call("PATCH", promote, {"id": other["active_version_id"]}).status == 400
    r = emu.call("PATCH", promote, {"id": "6f1c3a80-0000-4000-8000-000000000000"})
    assert r.status == 404
    archived = create_version(emu, template_id=tpl["id"])
    wait_job(emu, archived["id"])
    assert emu.post(f"{TV}/{archived['id']}/archive").status == 200
    assert emu.call("PATCH", promote, {"id": archived["id"]}).status == 400


# ---------------------------------------------------------------------- archive
def test_archive_single_version(emu):
    tpl = create_template(emu)
    v = create_version(emu, template_id=tpl["id"])
    wait_job(emu, v["id"])
    r = emu.post(f"{TV}/{v['id']}/archive")
    assert (r.status, r.json) == (200, f'template version "{v["id"]}" archived')
    assert emu.get(f"{TV}/{v['id']}").json["archived"] is True
    assert emu.post(f"{TV}/{v['id']}/archive").status == 400
    listed = [x["id"] for x in emu.get(f"/api/v2/templates/{tpl['id']}/versions").json]
    assert v["id"] not in listed
    listed = [x["id"] for x in emu.get(f"/api/v2/templates/{tpl['id']}/versions?include_archived=true").json]
    assert v["id"] in listed
    r = emu.post(f"{TV}/{v['id']}/unarchive")
    assert (r.status, r.json) == (200, f'template version "{v["id"]}" unarchived')
    assert emu.post(f"{TV}/{v['id']}/unarchive").status == 400
    r = emu.post(f"{TV}/{tpl['active_version_id']}/archive")
    assert r.status == 500 and r.json["message"].startswith("Unable to archive specified version")
    unattached = create_version(emu)
    assert emu.post(f"{TV}/{unattached['id']}/archive").status == 400


def test_archive_unused_versions(emu):
    tpl = create_template(emu)
    ok = create_version(emu, template_id=tpl["id"])
    bad = create_version(emu, {"main.tf": VARS_TF}, template_id=tpl["id"])
    wait_job(emu, ok["id"])
    wait_job(emu, bad["id"])
    url = f"/api/v2/templates/{tpl['id']}/versions/archive"
    r = emu.post(url, {})
    assert (r.status, r.json) == (200, {"template_id": tpl["id"], "archived_ids": [bad["id"]]})
    r = emu.post(url, {"all": True})
    assert r.json["archived_ids"] == [ok["id"]]  # never the active version
    assert emu.post(url, {"all": True}).json["archived_ids"] is None


def test_runtime_switches_for_provisioners_and_version_last_until_reset(server):
    import json
    import urllib.request

    def post(path, body):
        request = urllib.request.Request(server.url + path, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status

    assert post("/__emulator/provisioners", {"count": 0}) == 204
    assert server.app.state.provisioners == []
    assert post("/__emulator/version", {"version": "v2.33.2"}) == 204
    assert server.app.state.version_tuple == (2, 33, 2)
    assert post("/__emulator/reset", {}) == 204
    assert len(server.app.state.provisioners) == 1
    assert server.app.state.version_tuple >= (2, 34, 0)


def test_json_syntax_terraform_files_are_terraform_files(emu):
    tf_json = '{"variable": {"region": {"type": "string"}, "size": {"default": 3}}, "resource": {}}'
    v = create_version(emu, {"main.tf.json": tf_json}, user_variable_values=[{"name": "region", "value": "eu"}])
    assert wait_job(emu, v["id"])["job"]["status"] == "succeeded"
    variables = {var["name"]: var for var in emu.get(f"{TV}/{v['id']}/variables").json}
    assert variables["region"]["value"] == "eu" and variables["region"]["required"] is True
    assert variables["size"]["default_value"] == "3"
    missing = create_version(emu, {"main.tf.json": tf_json})
    assert wait_job(emu, missing["id"])["job"]["error_code"] == "REQUIRED_TEMPLATE_VARIABLES"
