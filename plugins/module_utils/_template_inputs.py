# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inputs of a template push: durations (``8h``, ``90m``, ``1d2h`` or milliseconds) and Terraform variable
values from ``terraform.tfvars``, ``*.auto.tfvars``, variables files and the task, merged as the CLI does."""

from __future__ import annotations

import json
import os
import re

from ._errors import CoderInputError

UNIT_MS = {"d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1_000, "ms": 1}
DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|d|h|m|s)")


def duration_ms(value, field):
    """Milliseconds from ``8h``, ``90m``, ``1d2h``, ``45s``, a number of milliseconds, or None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise CoderInputError(field, "must be a duration such as 8h, 90m or 1d2h, or milliseconds.")
    if isinstance(value, (int, float)):
        if value < 0:
            raise CoderInputError(field, "must not be negative.")
        return int(value)
    text = str(value).strip().lower().replace(" ", "")
    if text.isdigit():
        return int(text)
    if not text or DURATION_RE.sub("", text):
        raise CoderInputError(field, f"'{value}' is not a duration: use forms such as 8h, 90m, 1d2h, 45s, or "
                              "a number of milliseconds.")
    return int(sum(float(number) * UNIT_MS[unit] for number, unit in DURATION_RE.findall(text)))


def parse_tfvars(text, source):
    """``name = value`` assignments of a .tfvars file, values as the strings Coder takes.

    Strings, numbers and booleans, and lists or maps written in JSON-compatible form; comments (``#``,
    ``//``, ``/* */``) are skipped. Anything else fails naming the file and line.
    """
    values = {}
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = _strip_comment(lines[index]).strip()
        number = index + 1
        index += 1
        if not line:
            continue
        match = re.match(r"^([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(.*)$", line)
        if not match:
            raise CoderInputError("variables_files", f"{source} line {number}: expected 'name = value'.")
        name, raw = match.group(1), match.group(2)
        # Lists and maps may span lines: read until brackets balance.
        while _unbalanced(raw) and index < len(lines):
            raw += "\n" + _strip_comment(lines[index])
            index += 1
        values[name] = _tfvars_value(raw.strip(), source, number)
    return values


def _hcl_collection_as_json(raw):
    """HCL lists and maps (``{ key = "v" }``, entries on lines or after commas) rewritten as JSON."""
    text = raw.replace("\n", ",")
    text = re.sub(r'([{,]\s*)"?([A-Za-z_][\w-]*)"?\s*=', r'\1"\2":', text)
    text = re.sub(r",(\s*,)+", ",", text)
    text = re.sub(r"([\[{])\s*,", r"\1", text)
    return re.sub(r",\s*([\]}])", r"\1", text)


def _strip_comment(line):
    result, quoted, escaped = [], False, False
    for position, character in enumerate(line):
        if quoted:
            escaped = character == "\\" and not escaped
            if character == '"' and not escaped:
                quoted = False
        elif character == '"':
            quoted = True
        elif character == "#" or line.startswith("//", position):
            break
        result.append(character)
    return "".join(result)


def _unbalanced(raw):
    return raw.count("[") + raw.count("{") > raw.count("]") + raw.count("}")


def _tfvars_value(raw, source, number):
    if raw in ("true", "false"):
        return raw
    try:
        parsed = json.loads(raw)
    except ValueError:
        try:
            parsed = json.loads(_hcl_collection_as_json(raw))
        except ValueError:
            raise CoderInputError("variables_files", f"{source} line {number}: cannot read the value {raw[:40]!r}; "
                                  "use a string, number, bool, list or map.") from None
    if isinstance(parsed, str):
        return parsed
    if isinstance(parsed, bool):
        return "true" if parsed else "false"
    if isinstance(parsed, (int, float)):
        return str(parsed)
    return json.dumps(parsed, separators=(",", ":"))


def variable_values(template_dir, variables_files, variables, load_yaml):
    """The variable values to send, merged like ``coder templates push``: ``terraform.tfvars``, then
    ``*.auto.tfvars`` in name order (both in the template directory), then ``variables_files`` in order, then
    ``variables``; later ones win. ``load_yaml`` reads a YAML file (variables files that are not .tfvars)."""
    merged = {}
    auto = sorted(name for name in os.listdir(template_dir) if name.endswith(".auto.tfvars"))
    candidates = ["terraform.tfvars", *auto]
    for name in candidates:
        path = os.path.join(template_dir, name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as handle:
                merged.update(parse_tfvars(handle.read(), name))
    for path in variables_files or []:
        if not os.path.isfile(path):
            raise CoderInputError("variables_files", f"'{path}' does not exist.")
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        if path.endswith(".tfvars"):
            merged.update(parse_tfvars(text, path))
        else:
            loaded = load_yaml(text) or {}
            if not isinstance(loaded, dict):
                raise CoderInputError("variables_files", f"'{path}' must hold a mapping of variable names to values.")
            merged.update({str(key): _as_string(value) for key, value in loaded.items()})
    merged.update({str(key): _as_string(value) for key, value in (variables or {}).items()})
    return dict(sorted(merged.items()))


def _as_string(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return "" if value is None else str(value)
