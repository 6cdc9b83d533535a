# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan of one resource: what would change (a before/after diff of the changed fields only) and the
ordered steps that make it so. The same object drives ``changed``, ``diff`` and check mode, so the three
never disagree."""

from __future__ import annotations


class Step:
    """One write: a description for humans and a function that performs it against the client.

    ``run(client, context)`` may store what it learns (such as the id of a created object) in the
    ``context`` dict for the steps after it. It returns False when the server showed that nothing needed
    changing after all (anything else counts as a change).
    """

    def __init__(self, description, run):
        self.description = description
        self.run = run

    def __repr__(self):
        return f"Step({self.description!r})"


class Plan:
    def __init__(self, action="none", before=None, after=None, steps=None):
        self.action = action  # "create", "update", "delete" or "none"
        self.before = before or {}
        self.after = after or {}
        self.steps = list(steps or [])
        # Filled in by whole-roster runs after applying: whether a step failed, and the steps that changed
        # something (None until the plan is applied).
        self.failed = False
        self.applied = None
        # What the user should know even when the plan succeeds (reported as module warnings).
        self.warnings = []

    @property
    def changed(self):
        return bool(self.steps)

    def add(self, field, before, after, step=None):
        """Record one changed field and, when given, the step that changes it."""
        self.before[field] = before
        self.after[field] = after
        if step is not None:
            self.steps.append(step)

    def diff(self):
        return {"before": self.before, "after": self.after}

    def descriptions(self):
        return [step.description for step in self.steps]

    def apply(self, client, context=None):
        """Run every step in order; returns the context the steps filled in.

        ``context["changed"]`` lists the steps that changed something, so a run that fails half-way still
        reports truthfully whether it wrote anything.
        """
        context = {} if context is None else context
        context.setdefault("changed", [])
        for step in self.steps:
            context["step"] = step.description
            if step.run(client, context) is not False:
                context["changed"].append(step.description)
        context.pop("step", None)
        return context
