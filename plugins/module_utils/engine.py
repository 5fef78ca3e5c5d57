# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The desired-vs-current engine every module's planner uses: compare, merge, and the Plan that CapgoModule.run executes.

Everything here works on plain dicts in the modules' option names; no HTTP, no Ansible.
``None`` in a desired dict means "the user did not set it": it is never compared and never planned.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy


def differences(desired, current):
    """Names of the desired fields whose value differs from the current one, sorted.

    Nested dicts compare only the keys the user set inside them.
    """
    changed = []
    for name, want in desired.items():
        if want is None:
            continue
        have = (current or {}).get(name)
        if isinstance(want, dict) and isinstance(have, dict):
            if differences(want, have):
                changed.append(name)
        elif want != have:
            changed.append(name)
    return sorted(changed)


def merged(current, desired):
    """The resource as it will be once ``desired`` is applied to ``current`` (deep for nested dicts)."""
    result = copy.deepcopy(current) if current else {}
    for name, want in desired.items():
        if want is None:
            continue
        if isinstance(want, dict) and isinstance(result.get(name), dict):
            result[name] = merged(result[name], want)
        else:
            result[name] = copy.deepcopy(want)
    return result


def managed_view(resource, fields):
    """Only the managed fields of a resource, for a diff; an absent resource is an empty dict."""
    if not resource:
        return {}
    return dict((name, copy.deepcopy(resource.get(name))) for name in fields)


class Plan(object):
    """The outcome of planning one task: what to do, the before/after a person sees, and the check-mode result.

    ``action`` is a short verb ('create', 'update', 'delete', ...) or None when nothing is to be done.
    ``result`` is the module result check mode returns, and what a real run returns when there is nothing to
    write; the write step returns the real one.  Extra keyword arguments are kept as attributes for the write step
    (for example the request ``body``).
    """

    def __init__(self, action, before, after, fields, changes=None, result=None, **data):
        self.action = action
        self.before = before
        self.after = after
        self.fields = list(fields)
        self.changes = list(changes or [])
        self.result = result if result is not None else dict(changed=self.changed, diff=self.diff())
        for name, value in data.items():
            setattr(self, name, value)

    @property
    def changed(self):
        return self.action is not None

    def diff(self):
        return dict(before=managed_view(self.before, self.fields), after=managed_view(self.after, self.fields))
