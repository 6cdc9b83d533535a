# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A template directory as the deterministic tar archive Coder builds from.

The file set is the one ``coder templates push`` uploads: hidden files and directories are skipped except
``.terraform.lock.hcl``, and so are ``.terraform/``, Terraform state and variable files (their values are sent
as variables instead). Entries are sorted, with fixed times, owners and modes, so the same directory gives
the same bytes on any machine, whatever its clock, umask or checkout time.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile

from ._errors import CoderInputError

# Coder's limit on an uploaded file (10 x 10 MiB).
MAX_ARCHIVE_BYTES = 100 * 1024 * 1024
KEEP_HIDDEN = (".terraform.lock.hcl",)
SKIP_SUFFIXES = (".tfstate", ".tfstate.backup", ".tfvars", ".tfvars.json")
FIXED_MTIME = 0
FILE_MODE = 0o644


def collect_files(root):
    """{relative posix path: absolute path} of the files to upload, symlinks followed inside ``root`` only."""
    root = os.path.realpath(root)
    if not os.path.isdir(root):
        raise CoderInputError("path", f"'{root}' is not a directory.")
    files = {}
    # Real directories already walked: a symbolic link back to one of them is a loop.
    visited = {os.path.realpath(root)}
    for directory, subdirectories, names in os.walk(root, followlinks=True):
        relative_directory = os.path.relpath(directory, root)
        subdirectories[:] = sorted(d for d in subdirectories if not _skipped_directory(d))
        for subdirectory in subdirectories:
            full = os.path.join(directory, subdirectory)
            relative = _check_inside(root, full, relative_directory, subdirectory)
            real = os.path.realpath(full)
            if real in visited:
                raise CoderInputError("path", f"'{relative}' is a symbolic link that loops back to "
                                      f"'{os.path.relpath(real, root)}' in the template directory; remove it.")
            visited.add(real)
        for name in sorted(names):
            full = os.path.join(directory, name)
            if _skipped_file(name) or _links_to_skipped(root, full):
                continue
            relative = _check_inside(root, full, relative_directory, name)
            if os.path.isfile(full):
                files[relative] = os.path.realpath(full)
    if not any(path.endswith(".tf") or path.endswith(".tf.json") for path in files):
        raise CoderInputError("path", f"'{root}' holds no Terraform file (*.tf); a Coder template needs one.")
    return dict(sorted(files.items()))


def _skipped_directory(name):
    return name.startswith(".") or name == ".terraform"


def _skipped_file(name):
    if name in KEEP_HIDDEN:
        return False
    return name.startswith(".") or name.endswith(SKIP_SUFFIXES)


def _links_to_skipped(root, full):
    """A link to a file the upload leaves out (such as .env) is left out too, so it cannot smuggle it in."""
    if not os.path.islink(full):
        return False
    target = os.path.realpath(full)
    if not target.startswith(root + os.sep):
        return False  # outside the directory: refused by _check_inside, with its path
    parts = os.path.relpath(target, root).split(os.sep)
    return any(_skipped_directory(part) for part in parts[:-1]) or _skipped_file(parts[-1])


def _check_inside(root, full, relative_directory, name):
    relative = os.path.normpath(os.path.join(relative_directory, name)).replace(os.sep, "/")
    target = os.path.realpath(full)
    if os.path.islink(full) and not (target == root or target.startswith(root + os.sep)):
        raise CoderInputError("path", f"'{relative}' is a symbolic link to '{target}', outside the template "
                              "directory; copy the file in instead.")
    return relative


def manifest(files):
    """{relative path: sha256} of the files, the form used to compare with what the server holds."""
    result = {}
    for relative, full in files.items():
        with open(full, "rb") as handle:
            result[relative] = hashlib.sha256(handle.read()).hexdigest()
    return result


def build_archive(files):
    """The deterministic tar bytes of the files. PAX records carry names too long for plain ustar (Go's
    archive/tar, which Coder uses, reads them), and are only written for such names."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for relative, full in files.items():
            with open(full, "rb") as handle:
                data = handle.read()
            info = tarfile.TarInfo(relative)
            info.size = len(data)
            info.mtime = FIXED_MTIME
            info.mode = FILE_MODE
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            archive.addfile(info, io.BytesIO(data))
    data = buffer.getvalue()
    if len(data) > MAX_ARCHIVE_BYTES:
        largest = sorted(files, key=lambda relative: os.path.getsize(files[relative]), reverse=True)[:5]
        sizes = ", ".join(f"{relative} ({os.path.getsize(files[relative]) / 1048576:.1f} MiB)" for relative in largest)
        raise CoderInputError("path", f"the template's archive is {len(data) / 1048576:.1f} MiB, over Coder's "
                              f"{MAX_ARCHIVE_BYTES // 1048576} MiB limit. The largest files: {sizes}.")
    return data


def archive_manifest(data):
    """{relative path: sha256} of the regular files in tar bytes (as downloaded from Coder)."""
    result = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
        for member in archive.getmembers():
            if member.isfile():
                handle = archive.extractfile(member)
                name = member.name[2:] if member.name.startswith("./") else member.name
                result[name] = hashlib.sha256(handle.read()).hexdigest()
    return result


def compare_manifests(local, remote):
    """(added, removed, changed) relative paths, each sorted."""
    added = sorted(set(local) - set(remote))
    removed = sorted(set(remote) - set(local))
    changed = sorted(path for path in set(local) & set(remote) if local[path] != remote[path])
    return added, removed, changed
