"""The onboarding playbook run as AWX runs a job: by ansible-runner, from a project directory, with the
collection installed from its tarball and the Coder credential injected into the environment."""

from __future__ import annotations

import csv
import json
import shutil
import sys
import urllib.request
from pathlib import Path

import ansible_runner
from conftest import REPO, VENV_BIN, awx_injected_env, load_credential_type, new_token

ROSTER = list(csv.DictReader((REPO / "examples" / "onboarding" / "people.csv").open()))


def private_data_dir(tmp_path):
    """The directory AWX prepares for a job: the project checkout and an inventory with localhost."""
    pdd = tmp_path / "job"
    shutil.copytree(REPO / "examples" / "onboarding", pdd / "project")
    (pdd / "inventory").mkdir()
    # AWX's inventories give localhost a local connection; the EE's Python runs the modules.
    (pdd / "inventory" / "hosts.json").write_text(json.dumps({"all": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
    return pdd


def run_job(pdd, collections_path, credential_inputs, ident):
    env = awx_injected_env(load_credential_type(), credential_inputs)
    env.update(ANSIBLE_COLLECTIONS_PATH=str(collections_path), ANSIBLE_NOCOLOR="1",
               PATH=f"{VENV_BIN}:/usr/bin:/bin")
    # suppress_env_files: the token stays out of the job's files, as AWX keeps it out of its artifacts.
    return ansible_runner.run(private_data_dir=str(pdd), playbook="onboarding.yml", envvars=env, ident=ident,
                              quiet=True, suppress_env_files=True)


def events_of(runner, kind):
    return [event for event in runner.events if event.get("event") == kind]


def stats(runner):
    (event,) = events_of(runner, "playbook_on_stats")
    return event["event_data"]


def files_showing(pdd, secret):
    """The files the job left behind (events, stdout, status, the command line) that contain ``secret``.

    ansible-runner's ``artifacts/<ident>/command`` (mode 0600) records the job's whole environment, and so the
    injected token, as AWX's own job directory does until the job ends; only its command line is looked at.
    """
    showing = []
    for path in Path(pdd).rglob("*"):
        if not path.is_file() or "project" in path.relative_to(pdd).parts:
            continue
        text = path.read_text(errors="replace")
        if path.name == "command" and path.parent.parent.name == "artifacts":
            text = json.dumps(json.loads(text)["command"])
        if secret in text:
            showing.append(str(path.relative_to(pdd)))
    return showing


def api_get(server, path):
    request = urllib.request.Request(server.url + path, headers={"Coder-Session-Token": server.token})
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def test_onboarding_job_converges_and_reruns_without_changes(emulator, collections_path, tmp_path,
                                                             clean_environment):
    pdd = private_data_dir(tmp_path)
    credential = {"url": emulator.url, "token": emulator.token}

    first = run_job(pdd, collections_path, credential, "first")
    assert (first.status, first.rc) == ("successful", 0), first.stdout.read()
    assert stats(first)["changed"] == {"localhost": 1}
    assert stats(first)["failures"] == {} and stats(first)["dark"] == {}
    roster_events = [event for event in events_of(first, "runner_on_ok")
                     if event["event_data"]["task"] == "Make the deployment match the roster"]
    assert len(roster_events) == 1
    result = roster_events[0]["event_data"]["res"]
    assert result["changed"] is True
    assert result["summary"]["users"]["created"] == len(ROSTER)
    assert result["summary"]["users"]["suspended"] == 1 and result["absent_users"] == ["left-last-month"]
    summary = [event for event in events_of(first, "runner_on_ok") if event["event_data"]["task"] == "Summary"]
    assert f"users: {len(ROSTER)} created" in summary[0]["stdout"]

    # The server holds what the roster says.
    users = {user["username"]: user for user in api_get(emulator, "/api/v2/users?limit=0")["users"]}
    for person in ROSTER:
        # New users are "dormant" until they first sign in, as on a real deployment.
        assert users[person["username"]]["status"] == "dormant", person["username"]
        assert users[person["username"]]["email"].lower() == person["email"].strip().lower()
    assert users["left-last-month"]["status"] == "suspended"
    groups = {group["name"]: group for group in api_get(emulator, "/api/v2/organizations/default/groups")}
    assert groups["platform"]["display_name"] == "Platform Engineering"
    assert groups["platform"]["quota_allowance"] == 20
    wanted = {person["username"] for person in ROSTER if "platform" in person["groups"].split(";")}
    assert {member["username"] for member in groups["platform"]["members"]} == wanted

    second = run_job(pdd, collections_path, credential, "second")
    assert (second.status, second.rc) == ("successful", 0), second.stdout.read()
    assert stats(second)["changed"] == {}
    assert stats(second)["ok"]["localhost"] >= 2

    # The token reached the modules through the environment only: no event, output or command line shows it.
    for runner in (first, second):
        assert emulator.token not in " ".join(runner.config.command)
    assert files_showing(pdd, emulator.token) == []


def test_a_wrong_token_fails_the_job_clearly_without_showing_it(
        emulator, collections_path, tmp_path, clean_environment):
    pdd = private_data_dir(tmp_path)
    wrong = new_token()
    job = run_job(pdd, collections_path, {"url": emulator.url, "token": wrong}, "wrong-token")
    assert job.status == "failed" and job.rc != 0
    assert stats(job)["failures"] == {"localhost": 1}
    failed = [event["event_data"]["res"]["msg"] for event in events_of(job, "runner_on_failed")]
    assert failed and any("401" in message and "CODER_SESSION_TOKEN" in message for message in failed), failed
    assert files_showing(pdd, wrong) == []
    # Nothing was written: the seeded user who is not in the roster is still active.
    users = {user["username"]: user for user in api_get(emulator, "/api/v2/users?limit=0")["users"]}
    assert users["left-last-month"]["status"] != "suspended" and "ana-ng" not in users
