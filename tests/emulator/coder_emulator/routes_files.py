"""Files (reference section 7): template source archives.

* upload: any authenticated user (files are owned by their uploader); dedup key is sha256 of the stored
  bytes plus the uploader, so two users uploading the same archive get two files.
* download: the uploader, site owners and template admins, and organization admins and template
  admins (they manage the versions built from files). Anyone else gets the same 404 as for a missing file.
"""

import hashlib
import tarfile

from . import provisioner
from .server import Resp, json_resp
from .util import ApiError, new_uuid, not_found, now, parse_uuid

TAR = "application/x-tar"
ZIP = "application/zip"
_ACCEPTED = (TAR, ZIP, "application/x-zip-compressed")
_READ_ALL = {"owner", "template-admin"}
_ORG_READ_ALL = {"organization-admin", "organization-template-admin"}


def can_read_file(state, actor, f) -> bool:
    if f.created_by == actor.id or _READ_ALL.intersection(actor.roles):
        return True
    return any(_ORG_READ_ALL.intersection(m.roles) for m in state.user_orgs.get(actor.id, {}).values())


def post_file(req):
    state = req.state
    # The exact header value is compared: parameters such as "; charset=" make it unsupported.
    ctype = req.headers.get("Content-Type") or ""
    if ctype not in _ACCEPTED:
        raise ApiError(400, f'Unsupported content type header "{ctype}".')
    data = req.body
    if len(data) > provisioner.MAX_FILE_SIZE:
        # http.MaxBytesReader stops the read; the handler reports the failed read.
        raise ApiError(400, "Failed to read file from request.", "http: request body too large")
    if ctype != TAR:
        try:
            data = provisioner.zip_to_tar(data)
        except provisioner.ArchiveError as exc:
            if str(exc) == "expanded":
                # Message chosen by us: the reference only gives the status for an expanded zip over the limit.
                raise ApiError(413, "Uploaded file is too large.",
                               f"expanded archive exceeds {provisioner.MAX_FILE_SIZE} bytes") from None
            if str(exc) == "bad entry":
                raise ApiError(400, "Failed to convert the .zip archive to a .tar archive.", "invalid zip entry") \
                    from None
            raise ApiError(400, str(exc)) from None
        ctype = TAR
    digest = hashlib.sha256(data).hexdigest()
    with state.lock:
        existing = state.files_by_hash.get((digest, req.actor.id))
        if existing is not None:
            # "hash" really holds the file id.
            return json_resp(200, {"hash": existing.id})
        f = provisioner_file(state, req.actor.id, digest, ctype, data)
    return json_resp(201, {"hash": f.id})


def provisioner_file(state, user_id, digest, ctype, data):
    from .state import File
    f = File(id=new_uuid(), hash=digest, created_by=user_id, mimetype=ctype, data=data, created_at=now())
    state.files[f.id] = f
    state.files_by_hash[(digest, user_id)] = f
    return f


def get_file(req):
    state = req.state
    fid = parse_uuid(req.params["fileID"])
    if fid is None:
        raise ApiError(400, "File id must be a valid UUID.")
    with state.lock:
        f = state.files.get(fid)
        if f is None or not can_read_file(state, req.actor, f):
            raise not_found()
        data, ctype = f.data, f.mimetype
    fmt = req.q("format")
    if fmt == "zip":
        if ctype != TAR:
            raise ApiError(400, "Only .tar files can be converted to .zip format")
        try:
            data = provisioner.tar_to_zip(data)
        except (OSError, ValueError, EOFError, tarfile.TarError) as exc:
            raise ApiError(500, "Failed to convert file.", str(exc)) from None
        ctype = ZIP
    elif fmt:
        raise ApiError(400, "Unsupported conversion format.")
    return Resp(200, data, ctype)


def register(router):
    router.add("POST", "/files", post_file)
    router.add("GET", "/files/{fileID}", get_file)
