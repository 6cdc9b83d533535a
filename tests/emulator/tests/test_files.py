"""Files (coder-api.md §7): upload, dedup per uploader, zip conversion, download, limits, rate limit."""

import io
import tarfile
import zipfile

import pytest
from conftest import OWNER_TOKEN, Client, make_tar, make_user, upload

from coder_emulator import start_server
from coder_emulator.provisioner import MAX_FILE_SIZE

FILES = "/api/v2/files"
NOT_FOUND = {"message": "Resource not found or you do not have access to this resource"}


def make_zip(files):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return out.getvalue()


def tar_names(data):
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return sorted(m.name for m in tf.getmembers())


def test_upload_and_download_tar(emu):
    data = make_tar({"main.tf": "# hi\n"})
    r = upload(emu, data)
    assert r.status == 201 and list(r.json) == ["hash"]
    fid = r.json["hash"]
    assert len(fid) == 36 and fid.count("-") == 4  # the "hash" field holds the file id, not a sha256
    got = emu.get(f"{FILES}/{fid}")
    assert got.status == 200
    assert got.headers["Content-Type"] == "application/x-tar"
    assert got.raw == data


def test_dedup_is_per_uploader(emu):
    data = make_tar({"main.tf": "x"})
    first = upload(emu, data)
    again = upload(emu, data)
    assert (first.status, again.status) == (201, 200)
    assert again.json == first.json
    mia = make_user(emu, "mia")
    theirs = upload(mia, data)
    assert theirs.status == 201 and theirs.json["hash"] != first.json["hash"]
    assert upload(mia, data).json == theirs.json
    assert upload(emu, make_tar({"main.tf": "y"})).status == 201


def test_content_types(emu):
    for ctype in ("application/json", "application/x-tar; charset=utf-8", "application/gzip"):
        r = upload(emu, make_tar({"a.tf": ""}), ctype)
        assert (r.status, r.json) == (400, {"message": f'Unsupported content type header "{ctype}".'}), ctype
    r = emu.call("POST", FILES, raw_body=b"x")
    assert (r.status, r.json) == (400, {"message": 'Unsupported content type header "".'})


@pytest.mark.parametrize("ctype", ["application/zip", "application/x-zip-compressed"])
def test_zip_is_stored_as_tar(emu, ctype):
    r = upload(emu, make_zip({"main.tf": "# zip\n", "sub/x.txt": "x"}), ctype)
    assert r.status == 201
    got = emu.get(f"{FILES}/{r.json['hash']}")
    assert got.headers["Content-Type"] == "application/x-tar"
    assert tar_names(got.raw) == ["main.tf", "sub/x.txt"]
    # The dedup key is the stored (converted) bytes.
    assert upload(emu, make_zip({"main.tf": "# zip\n", "sub/x.txt": "x"}), ctype).status == 200


def test_corrupt_zip(emu):
    r = upload(emu, b"PK\x03\x04 not really", "application/zip")
    assert (r.status, r.json["message"]) == (400, "Incomplete .zip archive file.")


def test_download_as_zip_and_errors(emu):
    fid = upload(emu, make_tar({"main.tf": "z"})).json["hash"]
    got = emu.get(f"{FILES}/{fid}?format=zip")
    assert got.status == 200 and got.headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(got.raw)) as zf:
        assert zf.read("main.tf") == b"z"
    assert emu.get(f"{FILES}/{fid}?format=rar").status == 400
    r = emu.get(f"{FILES}/not-a-uuid")
    assert (r.status, r.json) == (400, {"message": "File id must be a valid UUID."})
    r = emu.get(f"{FILES}/6f1c3a80-0000-4000-8000-000000000000")
    assert (r.status, r.json) == (404, NOT_FOUND)


def test_other_members_cannot_read_a_file(emu):
    fid = upload(emu, make_tar({"main.tf": "secret"})).json["hash"]
    mia = make_user(emu, "mia")
    assert mia.get(f"{FILES}/{fid}").json == NOT_FOUND
    admin = make_user(emu, "tad", roles=["template-admin"])
    assert admin.get(f"{FILES}/{fid}").status == 200


def test_unauthenticated(emu):
    assert upload(emu.with_token(None), make_tar({})).status == 401


def test_size_limit(emu):
    too_big = b"\0" * (MAX_FILE_SIZE + 1)
    r = upload(emu, too_big)
    assert (r.status, r.json["message"]) == (400, "Failed to read file from request.")


def test_files_rate_limit_is_12_per_minute():
    srv = start_server("127.0.0.1", 0, OWNER_TOKEN, rate_limit=100)
    try:
        c = Client(srv.url)
        statuses = [upload(c, make_tar({"n.tf": str(i)})).status for i in range(13)]
        assert statuses[:12] == [201] * 12 and statuses[12] == 429
        r = upload(c, make_tar({"n.tf": "again"}))
        assert r.json == {"message": "You've been rate limited for sending more than 12 requests in 1m0s."}
        # Other routes keep the deployment-wide limit.
        assert c.get("/api/v2/users/me").status == 200
    finally:
        srv.stop()
