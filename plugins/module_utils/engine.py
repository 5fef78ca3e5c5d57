# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The desired-vs-current engine: compare what the user asked for with what is, plan, and describe the change.

Everything here works on plain dicts in the modules' option names; no HTTP, no Ansible.
``None`` in a desired dict means "the user did not set it": it is never compared and never planned.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy


def desired_from_params(params, fields):
    """The user-set options among ``fields`` (option name -> value), dropping the unset ones."""
    return dict((name, params[name]) for name in fields if params.get(name) is not None)


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
    """The outcome of comparing one resource: what to do, and the before/after a person sees."""

    def __init__(self, action, before, after, fields, changes=None):
        self.action = action  # 'create', 'update', 'delete' or None
        self.before = before
        self.after = after
        self.fields = list(fields)
        self.changes = list(changes or [])

    @property
    def changed(self):
        return self.action is not None

    def diff(self):
        return dict(before=managed_view(self.before, self.fields), after=managed_view(self.after, self.fields))


def plan_present(current, desired, fields=None):
    """Plan for ``state: present``: create when absent, update when any desired field differs."""
    fields = sorted(fields if fields is not None else desired.keys())
    if current is None:
        return Plan('create', None, merged({}, desired), fields, changes=sorted(k for k, v in desired.items() if v is not None))
    changes = differences(desired, current)
    if not changes:
        return Plan(None, current, current, fields)
    return Plan('update', current, merged(current, desired), fields, changes=changes)


def plan_absent(current, fields):
    """Plan for ``state: absent``: delete when present, nothing otherwise."""
    if current is None:
        return Plan(None, None, None, fields)
    return Plan('delete', current, None, fields)
