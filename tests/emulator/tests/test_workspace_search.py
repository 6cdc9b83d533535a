"""GET /api/v2/workspaces?q=: the search keys of searchquery.Workspaces beyond owner, template, name and status,
matched the way GetWorkspaces' WHERE clause matches them."""

import datetime as dt
import urllib.parse

import pytest
from conftest import NIL, create_template, create_version, make_user, wait_job
from test_agent_rpc import RawWS
from test_workspaces import WS, advance, new_build, new_ws, parse

BOOL_KEYS = ("dormant", "outdated", "has-ai-task", "has_external_agent", "shared", "healthy")


def search(client, q):
    r = client.get(f"{WS}?q={urllib.parse.quote(q)}")
    assert r.status == 200, r
    return sorted(w["name"] for w in r.json["workspaces"])


def rejected(client, q):
    r = client.get(f"{WS}?q={urllib.parse.quote(q)}")
    assert r.status == 400 and r.json["message"] == "Invalid workspace search query.", r
    return r.json["validations"]


def rfc(t):
    """A time as a search term: quoted, since its colons would split the element."""
    return t.strftime('"%Y-%m-%dT%H:%M:%S.%fZ"')


@pytest.fixture
def tpl(emu):
    return create_template(emu, "tpl")


# ---------------------------------------------------------------------- has-agent and healthy
def test_has_agent_follows_the_agent_connection(server, emu, tpl):
    ws = new_ws(emu, name="live")
    new_build(emu, new_ws(emu, name="off")["id"], transition="stop")
    assert search(emu, "has-agent:connecting") == ["live"]
    assert search(emu, "has-agent:connected") == []
    assert search(emu, "healthy:true") == []
    assert search(emu, "healthy:false") == []  # connecting is neither healthy nor unhealthy

    # A monitored agent RPC connection (role "agent") marks the agent connected while it is open.
    conn = RawWS(emu.url, ws["agents"][0]["token"], query="version=2.0&role=agent")
    conn.send(b"x", opcode=9)
    assert conn.message() == (10, b"x")  # the pong comes after the session recorded the connection
    assert search(emu, "has-agent:connected") == ["live"]
    assert search(emu, "has-agent:connecting") == []
    assert search(emu, "healthy:true") == ["live"]
    assert emu.get(f"{WS}/{ws['id']}").json["health"] == {"healthy": True, "failing_agents": []}

    conn.close()
    assert search(emu, "has-agent:disconnected") == ["live"]
    assert search(emu, "healthy:false") == ["live"]
    assert search(emu, "healthy:true") == []
    assert emu.get(f"{WS}/{ws['id']}").json["health"] == {"healthy": False, "failing_agents": [ws["agents"][0]["id"]]}

    # A comma list or a repeated key is one list; healthy:false adds disconnected and timeout to it.
    assert search(emu, "has-agent:connecting,disconnected") == ["live"]
    assert search(emu, "has-agent:connecting has-agent:disconnected") == ["live"]
    assert search(emu, "has-agent:connecting healthy:false") == ["live"]
    # parser.Strings takes any value: an unknown status is no error, it just matches no agent.
    assert search(emu, "has-agent:asleep") == []
    assert rejected(emu, "healthy:maybe") == [{"field": "healthy", "detail": 'Query param "healthy" must be a valid '
                                               'boolean: strconv.ParseBool: parsing "maybe": invalid syntax'}]


def test_has_agent_only_counts_the_latest_start_build(emu, tpl):
    ws = new_ws(emu, name="w")
    new_build(emu, ws["id"], transition="stop")
    assert search(emu, "has-agent:connecting") == []
    new_build(emu, ws["id"])
    assert search(emu, "has-agent:connecting") == ["w"]
    new_ws(emu, name="bare", agents=[])
    assert search(emu, "has-agent:connecting") == ["w"]


# ---------------------------------------------------------------------- outdated
def test_outdated_compares_the_latest_build_with_the_active_version(emu, tpl):
    new_ws(emu, name="old")
    version = create_version(emu, template_id=tpl["id"])
    assert wait_job(emu, version["id"])["job"]["status"] == "succeeded"
    assert emu.call("PATCH", f"/api/v2/templates/{tpl['id']}/versions", {"id": version["id"]}).status == 200
    new_ws(emu, name="new")
    new_ws(emu, name="loose", template=None)  # no template: the comparison is NULL, no outdated: term matches
    assert search(emu, "outdated:true") == ["old"]
    assert search(emu, "outdated:FALSE") == ["new"]
    assert search(emu, "") == ["loose", "new", "old"]
    assert rejected(emu, "outdated:yes") == [{"field": "outdated", "detail": 'Query param "outdated" must be a '
                                              'valid boolean: strconv.ParseBool: parsing "yes": invalid syntax'}]
    assert rejected(emu, "outdated:true outdated:false") == [{"field": "outdated", "detail": (
        'Query param "outdated" provided more than once, found 2 times. Only provide 1 instance of this query param.')}]


# ---------------------------------------------------------------------- dormant and last used
def test_dormant(emu, tpl):
    new_ws(emu, name="a")
    assert search(emu, "dormant:false") == ["a"]  # false filters nothing
    assert search(emu, "dormant:true") == []  # no workspace of the emulator has a dormant_at
    assert rejected(emu, "dormant:1.0") == [{"field": "dormant", "detail": 'Query param "dormant" must be a valid '
                                             'boolean: strconv.ParseBool: parsing "1.0": invalid syntax'}]


def test_last_used_bounds_are_inclusive(emu, tpl):
    first = parse(emu.get(f"{WS}/{new_ws(emu, name='early')['id']}").json["last_used_at"])
    advance(emu, 3600)
    new_ws(emu, name="late")
    middle = first + dt.timedelta(minutes=30)
    assert search(emu, f"last_used_after:{rfc(middle)}") == ["late"]
    assert search(emu, f"last_used_before:{rfc(middle)}") == ["early"]
    assert search(emu, f"last_used_before:{rfc(first)}") == ["early"]
    assert search(emu, f"last_used_after:{rfc(first)}") == ["early", "late"]
    # An offset is honoured; the lowercased term is uppercased again before parsing.
    plus_two = (middle + dt.timedelta(hours=2)).strftime('"%Y-%m-%dt%H:%M:%S+02:00"')
    assert search(emu, f"last_used_after:{plus_two}") == ["late"]
    assert rejected(emu, "last_used_after:2024-01-01T00:00:00Z")[0]["detail"].endswith("can only contain 1 ':'")
    errors = rejected(emu, "last_used_after:yesterday last_used_before:2024-13-01")
    assert [e["field"] for e in errors] == ["last_used_after", "last_used_before"]
    assert errors[0]["detail"].startswith('Query param "last_used_after" must be a valid date format '
                                          '(2006-01-02T15:04:05.999999999Z07:00): parsing time "YESTERDAY"')


# ---------------------------------------------------------------------- the other keys
def test_fixed_facts_ids_and_organization(emu, tpl):
    a = new_ws(emu, name="a")
    b = new_ws(emu, name="b")
    for key in ("has-ai-task", "has_external_agent", "shared"):
        assert search(emu, f"{key}:false") == ["a", "b"], key
        assert search(emu, f"{key}:true") == [], key
    assert search(emu, f"id:{a['id']}") == ["a"]
    assert search(emu, f"id:{a['id']},{b['id'].upper()}") == ["a", "b"]
    assert rejected(emu, f"id:{a['id']},nope") == [
        {"field": "id", "detail": 'Query param "id" has invalid values: invalid UUID length: 4'}]
    assert search(emu, "organization:coder") == ["a", "b"]
    assert search(emu, f"organization:{NIL}") == ["a", "b"]  # the nil UUID filters nothing
    assert search(emu, "organization:3dd8b1b8-dff5-4b22-8ae9-c243ca136ecf") == []
    assert rejected(emu, "organization:elsewhere") == [{"field": "organization", "detail": (
        'Query param "organization" has invalid value: organization "elsewhere" either does not exist, or you are '
        'unauthorized to view it')}]


def test_param_terms(emu, tpl):
    new_ws(emu, name="a")
    assert search(emu, "param:region") == []  # the emulator's builds have no parameters
    assert search(emu, "param:region=eu") == []
    assert rejected(emu, 'param:"a=b=c,d="') == [{"field": "param", "detail": (
        "Query param \"param\" has invalid values: query element \"a=b=c\" can only contain 1 '='\n"
        "query element \"d=\" has an empty value. omit the '=' to match just on the parameter name")}]


def test_lowercase_bare_terms_and_error_order(emu, tpl):
    make_user(emu, "mia")
    new_ws(emu, owner="mia", name="beta")
    new_ws(emu, name="beta")
    assert search(emu, "MIA/BETA") == ["beta"]
    assert emu.get(f"{WS}?q=MIA/BETA").json["workspaces"][0]["owner_name"] == "mia"
    assert search(emu, "name:b_ta") == ["beta", "beta"]  # ILIKE: _ matches one character
    assert rejected(emu, "a/b/c") == [{"field": "q", "detail": "Query element \"a/b/c\" can only contain 1 '/'"}]
    # A bare word is a name: with name: as well, the key is given twice.
    assert rejected(emu, "beta name:beta")[0]["detail"].startswith('Query param "name" provided more than once')
    # Unknown keys come after the parsers' own errors (ErrorExcessParams runs last).
    assert rejected(emu, "colour:red status:Sleepy shared_with_user:mia") == [
        {"field": "status", "detail": 'Query param "status" has invalid value: "sleepy" is not a valid value'},
        {"field": "colour", "detail": '"colour" is not a valid query param'},
        {"field": "shared_with_user", "detail": '"shared_with_user" is not a valid query param'}]


@pytest.mark.parametrize("key", BOOL_KEYS)
def test_every_boolean_key_rejects_a_bad_value(emu, key):
    assert rejected(emu, f"{key}:on") == [{"field": key, "detail": f'Query param "{key}" must be a valid boolean: '
                                                                   f'strconv.ParseBool: parsing "on": invalid syntax'}]
