# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import io
import os
import tarfile

import pytest

from ansible_collections.coder.automation.plugins.module_utils import _archive
from ansible_collections.coder.automation.plugins.module_utils._archive import (
    archive_manifest,
    build_archive,
    collect_files,
    compare_manifests,
    manifest,
)
from ansible_collections.coder.automation.plugins.module_utils._errors import CoderInputError


def make_template(root):
    files = {
        "main.tf": 'resource "null_resource" "x" {}\n',
        "README.md": "# Docker\n",
        ".terraform.lock.hcl": "# lock\n",
        "scripts/start.sh": "#!/bin/sh\necho hi\n",
        ".hidden": "secret\n",
        ".git/config": "[core]\n",
        ".terraform/providers/p": "binary\n",
        "terraform.tfvars": 'a = "b"\n',
        "extra.auto.tfvars": 'c = "d"\n',
        "terraform.tfstate": "{}\n",
        "terraform.tfstate.backup": "{}\n",
    }
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


def test_the_cli_file_set(tmp_path):
    files = collect_files(str(make_template(tmp_path)))
    assert list(files) == [".terraform.lock.hcl", "README.md", "main.tf", "scripts/start.sh"]


def test_same_directory_same_bytes_whatever_the_times_and_modes(tmp_path):
    root = make_template(tmp_path / "a")
    first = build_archive(collect_files(str(root)))
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, (1_000_000_000, 1_000_000_000))
            path.chmod(0o600)
    assert build_archive(collect_files(str(root))) == first
    copy = make_template(tmp_path / "b")
    assert build_archive(collect_files(str(copy))) == first


def test_archive_entries_are_fixed_and_sorted(tmp_path):
    data = build_archive(collect_files(str(make_template(tmp_path))))
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        members = archive.getmembers()
    assert [m.name for m in members] == sorted(m.name for m in members)
    assert {(m.mtime, m.mode, m.uid, m.gid, m.uname) for m in members} == {(0, 0o644, 0, 0, "")}


def test_a_terraform_init_changes_nothing(tmp_path):
    root = make_template(tmp_path)
    before = manifest(collect_files(str(root)))
    (root / ".terraform" / "modules").mkdir(parents=True)
    (root / ".terraform" / "modules" / "modules.json").write_text("{}")
    assert manifest(collect_files(str(root))) == before


def test_symlinks_inside_are_followed_outside_refused(tmp_path):
    root = make_template(tmp_path / "t")
    (root / "link.tf").symlink_to(root / "main.tf")
    assert "link.tf" in collect_files(str(root))
    outside = tmp_path / "secret.txt"
    outside.write_text("no")
    (root / "escape.txt").symlink_to(outside)
    with pytest.raises(CoderInputError) as error:
        collect_files(str(root))
    assert "escape.txt" in error.value.message and "outside" in error.value.message


def test_a_directory_without_terraform_is_refused(tmp_path):
    (tmp_path / "README.md").write_text("x")
    with pytest.raises(CoderInputError) as error:
        collect_files(str(tmp_path))
    assert error.value.field == "path"


def test_over_the_limit_lists_the_largest_files(tmp_path, monkeypatch):
    root = make_template(tmp_path)
    (root / "big.bin").write_bytes(b"x" * 3000)
    monkeypatch.setattr(_archive, "MAX_ARCHIVE_BYTES", 2048)
    with pytest.raises(CoderInputError) as error:
        build_archive(collect_files(str(root)))
    assert "The largest files: big.bin" in error.value.message


def test_manifests_compare_with_a_downloaded_archive(tmp_path):
    root = make_template(tmp_path)
    local = manifest(collect_files(str(root)))
    remote = archive_manifest(build_archive(collect_files(str(root))))
    assert local == remote
    (root / "main.tf").write_text("changed\n")
    (root / "new.tf").write_text("new\n")
    (root / "README.md").unlink()
    assert compare_manifests(manifest(collect_files(str(root))), remote) == (["new.tf"], ["README.md"], ["main.tf"])


def test_a_symlink_loop_is_named_not_followed(tmp_path):
    root = make_template(tmp_path)
    (root / "scripts" / "loop").symlink_to(root)
    with pytest.raises(CoderInputError) as error:
        collect_files(str(root))
    assert "scripts/loop" in error.value.message and "loops back" in error.value.message


def test_a_link_to_a_hidden_file_is_left_out_like_the_file(tmp_path):
    root = make_template(tmp_path)
    (root / "env.txt").symlink_to(root / ".hidden")
    assert "env.txt" not in collect_files(str(root))


def test_long_and_unicode_names_archive_and_read_back(tmp_path):
    root = make_template(tmp_path)
    deep = root / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    (deep / ("f" * 110 + ".tf")).write_text("x")
    (root / "caf\u00e9.md").write_text("y")
    files = collect_files(str(root))
    data = build_archive(files)
    assert archive_manifest(data) == manifest(files)
    assert build_archive(collect_files(str(root))) == data
