# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.coder.automation.plugins.module_utils._errors import CoderInputError
from ansible_collections.coder.automation.plugins.modules.coder_workspace_info import read_workspaces


class NoRequests:
    """A client that fails the test if the module asks the server anything."""

    def __getattr__(self, name):
        raise AssertionError(f"the module used the client ({name}) before refusing its input")


@pytest.mark.parametrize("workspace", ["", "   "])
def test_an_empty_workspace_is_refused_rather_than_listing_every_workspace(workspace):
    params = dict(workspace=workspace, owners=None, templates=None, statuses=None, name=None, query=None)
    with pytest.raises(CoderInputError) as caught:
        read_workspaces(NoRequests(), params)
    assert caught.value.field == "workspace" and "empty" in caught.value.message
