"""The emulator's provisioner: reads an uploaded tar archive the way a template import job would.

Real Coder runs ``terraform init`` and parses the module with HCL; here a small scanner finds the
``variable "name" { ... }`` blocks of every ``.tf`` file, which is all a template import needs for
the observable results (coder-api.md §8.1: variables, REQUIRED_TEMPLATE_VARIABLES, parse errors).

The outcome of an import is decided when the version is created (the archive cannot change); the
job then only *shows* it once its timestamps say it has run (see state.Job).
"""

import io
import json
import re
import tarfile
import zipfile

MAX_FILE_SIZE = 10 * 10 * 1024 * 1024  # coderd: httpapi limit of 10 x 10 MiB for uploads
REDACTED = "*redacted*"
REQUIRED_VARIABLES_CODE = "REQUIRED_TEMPLATE_VARIABLES"

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


class ArchiveError(ValueError):
    pass


class ParseError(ValueError):
    pass


# ---------------------------------------------------------------------- archives
def zip_to_tar(data: bytes) -> bytes:
    """coderd/archive.CreateTarFromZip: the server stores a zip upload as a tar."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise ArchiveError("Incomplete .zip archive file.") from None
    total = 0
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for info in infos:
            total += info.file_size
            if total > MAX_FILE_SIZE:
                raise ArchiveError("expanded")
            ti = tarfile.TarInfo(info.filename)
            ti.mtime = 0
            if info.is_dir():
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
                tf.addfile(ti)
                continue
            try:
                content = zf.read(info)
            except (zipfile.BadZipFile, ValueError, OSError, RuntimeError, NotImplementedError):
                raise ArchiveError("bad entry") from None
            ti.size = len(content)
            ti.mode = 0o644
            tf.addfile(ti, io.BytesIO(content))
    return out.getvalue()


def tar_to_zip(data: bytes) -> bytes:
    """GET /files/{id}?format=zip (coderd/archive.CreateZipFromTar)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tf, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for member in tf.getmembers():
            if member.isdir():
                zf.writestr(member.name.rstrip("/") + "/", b"")
            elif member.isfile():
                fh = tf.extractfile(member)
                zf.writestr(member.name, fh.read() if fh else b"")
    return out.getvalue()


def read_tf_files(data: bytes) -> dict:
    """Return {path: text} of the .tf files in a tar archive; raise ArchiveError if it is no tar."""
    files = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tf:
            for member in tf.getmembers():
                # Terraform reads both native syntax (.tf) and JSON syntax (.tf.json) files.
                if member.isfile() and member.name.endswith((".tf", ".tf.json")):
                    fh = tf.extractfile(member)
                    files[member.name] = (fh.read() if fh else b"").decode("utf-8", "replace")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ArchiveError(f"read tar: {exc}") from None
    return files


# ---------------------------------------------------------------------- HCL scanner
def _skip_string(text, i):
    """i points at an opening quote; return the index after the closing one (escapes and ${...} allowed)."""
    n = len(text)
    i += 1
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == '"':
            return i + 1
        if ch == "\n":
            break
        i += 1
    raise ParseError("Unterminated template string")


def _skip_heredoc(text, i):
    m = re.compile(r"<<-?([A-Za-z_][A-Za-z0-9_]*)\n").match(text, i)
    if not m:
        return None
    end = re.compile(rf"^\s*{re.escape(m.group(1))}\s*$", re.M).search(text, m.end())
    if not end:
        raise ParseError("Unterminated template string")
    return end.end()


def _skip_comment(text, i):
    if text.startswith("#", i) or text.startswith("//", i):
        j = text.find("\n", i)
        return len(text) if j < 0 else j
    if text.startswith("/*", i):
        j = text.find("*/", i + 2)
        if j < 0:
            raise ParseError("Unterminated comment")
        return j + 2
    return None


def _skip_inert(text, i):
    """The index after a comment, string or heredoc starting at i (brackets inside them do not count); else None."""
    after = _skip_comment(text, i)
    if after is None and text.startswith('"', i):
        after = _skip_string(text, i)
    if after is None and text.startswith("<<", i):
        after = _skip_heredoc(text, i)
    return after


def _line_of(text, i):
    return text.count("\n", 0, i) + 1


def _scan_block(text, i):
    """i points at '{'; return the index after the matching '}' (strings, heredocs and comments skipped)."""
    depth = 0
    n = len(text)
    start = i
    while i < n:
        after = _skip_inert(text, i)
        if after is not None:
            i = after
            continue
        ch = text[i]
        if ch in "{[(":
            depth += 1
        elif ch in "}])":
            depth -= 1
            if depth < 0:
                raise ParseError(f"Unexpected closing bracket on line {_line_of(text, i)}")
            if depth == 0:
                return i + 1
        i += 1
    raise ParseError(f"Unclosed configuration block: there is no closing brace for the block opened on line "
                     f"{_line_of(text, start)}")


def _top_level_attrs(body):
    """Attributes `key = value` at depth 0 of a block body -> {key: raw value text}."""
    attrs = {}
    i, n = 0, len(body)
    while i < n:
        skip = _skip_comment(body, i)
        if skip is not None:
            i = skip
            continue
        m = _IDENT.match(body, i)
        if m and (i == 0 or body[i - 1] in " \t\n\r;{"):
            key = m.group(0)
            j = m.end()
            while j < n and body[j] in " \t":
                j += 1
            if j < n and body[j] == "=" and not body.startswith("==", j):
                j += 1
                while j < n and body[j] in " \t":
                    j += 1
                k = j
                while k < n and body[k] != "\n":
                    ch = body[k]
                    if ch == '"':
                        k = _skip_string(body, k)
                        continue
                    if ch in "{[(":
                        k = _scan_block(body, k)
                        continue
                    if _skip_comment(body, k) is not None:
                        break
                    k += 1
                attrs[key] = body[j:k].strip()
                i = k
                continue
            if j < n and body[j] in "{\"":
                # A nested block (e.g. validation { ... }): not an attribute of this block.
                brace = body.find("{", j)
                i = _scan_block(body, brace) if brace >= 0 else n
                continue
            i = m.end()
            continue
        if body[i] == '"':
            i = _skip_string(body, i)
            continue
        i += 1
    return attrs


def _unquote(raw):
    if len(raw) >= 2 and raw[0] == '"' and raw[-1] == '"':
        return re.sub(r"\\(.)", r"\1", raw[1:-1])
    return raw


def parse_variables(text):
    """Return [(name, attrs)] for the top-level `variable "name" { ... }` blocks; ParseError when unbalanced."""
    found = []
    i, n = 0, len(text)
    depth = 0
    while i < n:
        after = _skip_inert(text, i)
        if after is not None:
            i = after
            continue
        ch = text[i]
        if ch == "{":
            end = _scan_block(text, i)
            if depth == 0:
                header = text[text.rfind("\n", 0, i) + 1:i]
                m = re.match(r'\s*variable\s+"([^"]+)"\s*$', header)
                if m:
                    found.append((m.group(1), _top_level_attrs(text[i + 1:end - 1])))
            i = end
            continue
        if ch == "}":
            raise ParseError(f"Unexpected closing brace on line {_line_of(text, i)}")
        i += 1
    return found


def _json_variables(text):
    """Variable blocks of a .tf.json file ({"variable": {"name": {"default": ...}}}) as (name, attrs) pairs with
    attribute values written the way the native-syntax parser returns them."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise ParseError(f"invalid JSON: {exc}") from None
    blocks = []
    for name, body in sorted(((document or {}).get("variable") or {}).items()):
        attrs = {key: json.dumps(value) for key, value in (body or {}).items()}
        blocks.append((name, attrs))
    return blocks


def _variable(name, attrs):
    has_default = "default" in attrs
    raw_default = attrs.get("default", "")
    default = _unquote(raw_default) if raw_default != "null" else ""
    if raw_default == "null":
        # `default = null` still makes a variable optional in Terraform.
        has_default = True
    vtype = _unquote(attrs.get("type", "string")) or "string"
    if vtype not in ("string", "number", "bool"):
        # codersdk.TemplateVersionVariable only knows these three; complex types are sent as strings.
        vtype = "string"
    return {
        "name": name,
        "description": _unquote(attrs.get("description", "")),
        "type": vtype,
        "default_value": default,
        "required": not has_default,
        "sensitive": attrs.get("sensitive", "false").strip() == "true",
    }


# ---------------------------------------------------------------------- import job
def import_template(archive: bytes, user_values: dict):
    """Run the import. Return dict(ok, error, error_code, variables, stages) where stages is
    [(stage, [(level, output)])] in order and variables is [{name, description, type, value, default_value,
    required, sensitive}]."""
    setup = [("info", "Setting up")]
    stages = [("Setting up", setup)]
    variables = []

    def fail(stage, lines, error, code=""):
        stages.append((stage, [*lines, ("error", error)]))
        stages.append(("Cleaning Up", [("info", "Cleaning up")]))
        return {"ok": False, "error": error, "error_code": code, "variables": variables, "stages": stages}

    try:
        tf_files = read_tf_files(archive)
    except ArchiveError as exc:
        return fail("Setting up", [], f"unpack source archive: {exc}")
    setup.append(("debug", f"Found {len(tf_files)} Terraform file(s) in the archive"))
    if not tf_files:
        return fail("Parsing template parameters", [],
                    "initialize terraform: no Terraform configuration files (.tf) found in the template archive")
    parse_lines = [("info", "Parsing template parameters")]
    for path in sorted(tf_files):
        try:
            blocks = _json_variables(tf_files[path]) if path.endswith(".tf.json") else parse_variables(tf_files[path])
        except ParseError as exc:
            return fail("Parsing template parameters", parse_lines, f"parse terraform files: {path}: {exc}")
        for name, attrs in blocks:
            variables.append(_variable(name, attrs))
    missing = []
    for var in variables:
        if var["name"] in user_values:
            var["value"] = user_values[var["name"]]
        elif var["required"]:
            var["value"] = ""
            missing.append(var["name"])
        else:
            var["value"] = var["default_value"]
        parse_lines.append(("debug", f'Found variable "{var["name"]}"'))
    if missing:
        # provisionerdserver: "required template variables need values: <names>" (coderd test expects the prefix).
        return fail("Parsing template parameters", parse_lines,
                    f"required template variables need values: {', '.join(missing)}", REQUIRED_VARIABLES_CODE)
    stages.append(("Parsing template parameters", parse_lines))
    stages.append(("Detecting persistent resources", [
        ("info", "Detecting persistent resources"),
        ("info", "Terraform 1.11.4"),
        ("info", "Plan: 0 to add, 0 to change, 0 to destroy."),
    ]))
    stages.append(("Detecting ephemeral resources", [("info", "Detecting ephemeral resources")]))
    stages.append(("Cleaning Up", [("info", "Cleaning up")]))
    return {"ok": True, "error": "", "error_code": "", "variables": variables, "stages": stages}
