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

    Reads HCL values: strings (with escapes), heredocs (``<<EOT`` and ``<<-EOT``), numbers, booleans, null,
    lists and maps (``=`` or ``:``, entries on lines or after commas), with ``#``, ``//`` and ``/* */`` comments.
    Anything else fails naming the file and line.
    """
    parser = _HclParser(text.lstrip("\ufeff"), source)
    values = {}
    while True:
        parser.skip(newlines=True)
        if parser.done():
            return values
        name = parser.identifier()
        parser.skip()
        parser.expect("=")
        values[name] = _as_string(parser.value())
        parser.skip()
        if not parser.done() and parser.peek() not in "\n":
            parser.fail("expected the end of the line after the value")


class _HclParser:
    """A small reader of the HCL subset .tfvars files use (literal values, no expressions)."""

    def __init__(self, text, source):
        self.text, self.source, self.position = text, source, 0

    def fail(self, message):
        line = self.text.count("\n", 0, self.position) + 1
        raise CoderInputError("variables_files", f"{self.source} line {line}: {message}.")

    def done(self):
        return self.position >= len(self.text)

    def peek(self, length=1):
        return self.text[self.position:self.position + length]

    def skip(self, newlines=False):
        """Skip spaces and comments (and newlines when asked)."""
        while not self.done():
            character = self.peek()
            if character in " \t\r" or (newlines and character == "\n"):
                self.position += 1
            elif character == "#" or self.peek(2) == "//":
                end = self.text.find("\n", self.position)
                self.position = len(self.text) if end < 0 else end
            elif self.peek(2) == "/*":
                end = self.text.find("*/", self.position + 2)
                if end < 0:
                    self.fail("a /* comment is never closed")
                self.position = end + 2
            else:
                return

    def expect(self, token):
        if self.peek(len(token)) != token:
            self.fail(f"expected '{token}'")
        self.position += len(token)

    def identifier(self):
        match = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*").match(self.text, self.position)
        if not match:
            self.fail("expected 'name = value'")
        self.position = match.end()
        return match.group(0)

    def value(self):
        self.skip()
        character = self.peek()
        if character == '"':
            return self.string()
        if self.peek(2) == "<<":
            return self.heredoc()
        if character == "[":
            return self.collection("[", "]")
        if character == "{":
            return self.collection("{", "}")
        match = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?|true|false|null").match(self.text, self.position)
        if not match:
            self.fail("cannot read the value; use a string, number, bool, list or map")
        self.position = match.end()
        word = match.group(0)
        if word in ("true", "false"):
            return word == "true"
        if word == "null":
            return None
        number = float(word)
        return int(number) if number.is_integer() and abs(number) < 2 ** 63 else number

    def string(self):
        match = re.compile(r'"((?:[^"\\\n]|\\.)*)"').match(self.text, self.position)
        if not match:
            self.fail("a string is not closed on its line")
        self.position = match.end()
        try:
            return json.loads(match.group(0))
        except ValueError:
            self.fail("a string has an escape Terraform does not know")
        return None  # not reached: fail raises

    def heredoc(self):
        match = re.compile(r"<<(-?)([A-Za-z_][A-Za-z0-9_]*)[ \t]*\n").match(self.text, self.position)
        if not match:
            self.fail("expected a heredoc marker such as <<EOT")
        indent, marker = match.group(1) == "-", match.group(2)
        end = re.compile(rf"^[ \t]*{marker}[ \t]*$", re.M).search(self.text, match.end())
        if not end:
            self.fail(f"the heredoc {marker} is never closed")
        lines = self.text[match.end():end.start()].split("\n")[:-1]
        self.position = end.end()
        if indent:
            widths = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
            cut = min(widths) if widths else 0
            lines = [line[cut:] for line in lines]
        return "\n".join(lines) + "\n" if lines else ""

    def collection(self, opening, closing):
        self.expect(opening)
        items = [] if opening == "[" else {}
        while True:
            self.skip(newlines=True)
            if self.peek() == closing:
                self.position += 1
                return items
            if opening == "[":
                items.append(self.value())
            else:
                key = self.string() if self.peek() == '"' else self.identifier()
                self.skip()
                if self.peek() not in "=:":
                    self.fail("expected '=' or ':' after a map key")
                self.position += 1
                items[key] = self.value()
            self.skip()
            if self.peek() == ",":
                self.position += 1
            elif self.peek() not in ("\n", closing):
                self.fail(f"expected ',' or '{closing}'")


def variable_values(template_dir, variables_files, variables, load_yaml):
    """The variable values to send, merged like ``coder templates push``: ``terraform.tfvars``, then
    ``*.auto.tfvars`` in name order (both in the template directory), then ``variables_files`` in order, then
    ``variables``; later ones win. ``load_yaml`` reads a YAML file (variables files that are not .tfvars)."""
    merged = {}
    names = os.listdir(template_dir)
    # The order of the CLI's DiscoverVarsFiles: terraform.tfvars, terraform.tfvars.json, *.auto.tfvars,
    # *.auto.tfvars.json.
    candidates = ["terraform.tfvars", "terraform.tfvars.json",
                  *sorted(name for name in names if name.endswith(".auto.tfvars")),
                  *sorted(name for name in names if name.endswith(".auto.tfvars.json"))]
    for name in candidates:
        path = os.path.join(template_dir, name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8-sig") as handle:
                merged.update(_read_vars_file(handle.read(), name))
    for path in variables_files or []:
        if not os.path.isfile(path):
            raise CoderInputError("variables_files", f"'{path}' does not exist.")
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        if path.endswith((".tfvars", ".tfvars.json")):
            merged.update(_read_vars_file(text, path))
        else:
            loaded = load_yaml(text) or {}
            if not isinstance(loaded, dict):
                raise CoderInputError("variables_files", f"'{path}' must hold a mapping of variable names to values.")
            merged.update({str(key): _as_string(value) for key, value in loaded.items()})
    merged.update({str(key): _as_string(value) for key, value in (variables or {}).items()})
    return dict(sorted(merged.items()))


def _read_vars_file(text, source):
    if not source.endswith(".json"):
        return parse_tfvars(text, source)
    try:
        loaded = json.loads(text.lstrip("\ufeff"))
    except ValueError as error:
        raise CoderInputError("variables_files", f"{source} is not valid JSON: {error}.") from None
    if not isinstance(loaded, dict):
        raise CoderInputError("variables_files", f"{source} must hold an object of variable names to values.")
    return {str(key): _as_string(value) for key, value in loaded.items()}


def _as_string(value):
    """A value as Coder's CLI sends it: strings as they are, numbers without a needless ".0", JSON for the rest."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 63:
        return str(int(value))
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return "" if value is None else str(value)
