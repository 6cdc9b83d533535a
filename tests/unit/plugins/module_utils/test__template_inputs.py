# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json

import pytest

from ansible_collections.coder.automation.plugins.module_utils._errors import CoderInputError
from ansible_collections.coder.automation.plugins.module_utils._template_inputs import (
    duration_ms,
    parse_tfvars,
    variable_values,
)


@pytest.mark.parametrize("value, expected", [
    ("8h", 28_800_000), ("90m", 5_400_000), ("1d2h", 93_600_000), ("45s", 45_000), ("1h30m", 5_400_000),
    ("500ms", 500), (3_600_000, 3_600_000), ("1500", 1500), ("0", 0), (" 2H ", 7_200_000), (None, None),
])
def test_durations(value, expected):
    assert duration_ms(value, "default_ttl") == expected


@pytest.mark.parametrize("value", ["8 hours", "h", "-5", "1x", True, -1, ""])
def test_bad_durations_name_the_option(value):
    with pytest.raises(CoderInputError) as error:
        duration_ms(value, "activity_bump")
    assert error.value.field == "activity_bump"


def test_tfvars_values_as_coder_takes_them():
    text = '''# comment
region = "eu-west-1" // trailing
cpu    = 4
debug  = false
url    = "https://x.example/#anchor"
zones  = ["a", "b"]
labels = {
  team          = "data"
  "cost-center" = 42
}
/* block
comment */
'''
    assert parse_tfvars(text, "terraform.tfvars") == {
        "region": "eu-west-1", "cpu": "4", "debug": "false", "url": "https://x.example/#anchor",
        "zones": '["a","b"]', "labels": '{"team":"data","cost-center":42}'}


def test_a_bad_tfvars_line_names_file_and_line():
    with pytest.raises(CoderInputError) as error:
        parse_tfvars('a = "x"\nthis is not hcl\n', "prod.tfvars")
    assert "prod.tfvars line 2" in error.value.message


def test_precedence_like_the_cli(tmp_path):
    (tmp_path / "terraform.tfvars").write_text('a = "tfvars"\nb = "tfvars"\nc = "tfvars"\nd = "tfvars"\n')
    (tmp_path / "x.auto.tfvars").write_text('b = "auto"\nc = "auto"\nd = "auto"\n')
    extra = tmp_path / "extra.yml"
    extra.write_text("c: file\nd: file\nn: 3\nflag: true\n")
    values = variable_values(str(tmp_path), [str(extra)], {"d": "task"}, lambda text: {
        "c": "file", "d": "file", "n": 3, "flag": True})
    assert values == {"a": "tfvars", "b": "auto", "c": "file", "d": "task", "flag": "true", "n": "3"}
    assert json.loads(json.dumps(values))  # plain strings only


def test_comment_markers_inside_strings_are_text():
    text = 'a = "src/*"\nc = "*/test"\ncron = "*/5 * * * *" # every five minutes\nurl = "http://x//y"\n'
    assert parse_tfvars(text, "t") == {"a": "src/*", "c": "*/test", "cron": "*/5 * * * *", "url": "http://x//y"}


def test_heredocs_brackets_in_strings_and_map_forms():
    text = ('\ufeffh = <<-EOT\n    one\n      two\n    EOT\nraw = <<EOT\nkeep  \nEOT\nj = "["\n'
            'k = { key = "x, y = z", "with space": 1 }\nm = { k: "v" }\nn = null\ne = 3.0\nf = 1e3\n')
    assert parse_tfvars(text, "t") == {"h": "one\n  two\n", "raw": "keep  \n", "j": "[",
                                       "k": '{"key":"x, y = z","with space":1}', "m": '{"k":"v"}', "n": "",
                                       "e": "3", "f": "1000"}


def test_json_variable_files_in_the_clis_order(tmp_path):
    (tmp_path / "terraform.tfvars").write_text('a = "tfvars"\nb = "tfvars"\nc = "tfvars"\n')
    (tmp_path / "terraform.tfvars.json").write_text('{"b": "tfvars-json", "c": "tfvars-json"}')
    (tmp_path / "x.auto.tfvars.json").write_text('{"c": "auto-json", "n": 2.0}')
    expected = {"a": "tfvars", "b": "tfvars-json", "c": "auto-json", "n": "2"}
    assert variable_values(str(tmp_path), [], {}, None) == expected
