# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.coder.automation.plugins.filter.roster_from_csv import roster_from_csv

GOOD = """username,email,name,login_type,roles,groups
 ana , Ana@Example.test ,  Ana A ,OIDC,template-admin; auditor,platform;data
bo,bo@example.test,,github,,data

chloe,chloe@example.test,Chloe,none,,platform;data;web
"""


def test_cells_are_trimmed_and_lists_split():
    roster = roster_from_csv(GOOD)
    assert roster["users"][0] == {"username": "ana", "email": "Ana@Example.test", "name": "Ana A",
                                  "login_type": "oidc", "roles": ["template-admin", "auditor"],
                                  "source": "roster line 2"}
    assert roster["users"][1] == {"username": "bo", "email": "bo@example.test", "login_type": "github", "roles": [],
                                  "source": "roster line 3"}
    assert roster["users"][2]["source"] == "roster line 5"
    assert [user["username"] for user in roster["users"]] == ["ana", "bo", "chloe"]


def test_groups_collect_their_people_and_merge_into_declared_groups():
    declared = [{"name": "platform", "quota_allowance": 5, "members": ["dana"]}]
    roster = roster_from_csv(GOOD, declared, False)
    groups = {group["name"]: group for group in roster["groups"]}
    assert groups["platform"] == {"name": "platform", "quota_allowance": 5, "members": ["dana", "ana", "chloe"],
                                  "purge_members": False}
    assert groups["data"]["members"] == ["ana", "bo", "chloe"] and groups["web"]["members"] == ["chloe"]
    assert declared == [{"name": "platform", "quota_allowance": 5, "members": ["dana"]}]  # input untouched


@pytest.mark.parametrize("text, line, words", [
    ("username,email\nana,ana@example.test\n,x@example.test\n", 3, "username is empty"),
    ("username,email\nana,not-an-email\n", 2, "not an email"),
    ("username,email\nana--b,a@example.test\n", 2, "not a valid Coder username"),
    ("username,email,login_type\nana,a@example.test,ldap\n", 2, "login_type 'ldap'"),
    ("username,email\nana,a@example.test\nANA,b@example.test\n", 3, "already on line 2"),
    ("username,email\nana,a@example.test\nbo,A@EXAMPLE.test\n", 3, "already on line 2"),
    ("username,email\nana,a@example.test,extra\n", 2, "3 cells"),
    ("username,mail\nana,a@example.test\n", 1, "missing: ['email']"),
    ("username,email,groups\nana,a@example.test,Data Science\n", 2, "not a valid Coder group name"),
    ("username,email,groups\nana,a@example.test,new\n", 2, "not a valid Coder group name"),
    ("username,email,groups\nana,a@example.test,data;Everyone\n", 2, "Everyone"),
])
def test_a_bad_row_fails_naming_its_line(text, line, words):
    with pytest.raises(AnsibleFilterError) as error:
        roster_from_csv(text)
    assert f"roster line {line}:" in str(error.value) and words in str(error.value)


def test_empty_trailing_columns_of_spreadsheets_are_ignored():
    roster = roster_from_csv("username,email,,\r\nana,a@example.test,,\r\n")
    assert roster["users"] == [{"username": "ana", "email": "a@example.test", "source": "roster line 2"}]
