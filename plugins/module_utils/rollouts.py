# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Progressive rollouts of a channel: wire <-> option tables, input checks and planning. Pure: no HTTP, no Ansible.

A rollout lives on the channel row (``rollout_version``, ``rolloutPercentageBps``, ...): the channel keeps serving
its stable bundle (``version``) while the candidate goes to a sticky share of its devices. The one reader and
writer of ``/channel`` is ``channels.py``; this file only decides what to send and what the channel will hold.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math

from ansible_collections.capgo.cloud.plugins.module_utils.client import CapgoInputError
from ansible_collections.capgo.cloud.plugins.module_utils.engine import differences, merged

# Bundle names that stand for "no bundle": the store build's own web assets.
NO_BUNDLE_NAMES = frozenset(('builtin', 'unknown'))
BUILTIN = 'builtin'
MAX_MINUTES = 10080

# Rollout option name -> GET/POST field, with the factor between the option's unit and the wire's.
# Percentages are basis points on the wire (1 % = 100 bps).
ROLLOUT_SETTINGS = (
    ('percentage', 'rolloutPercentageBps', 100),
    ('cache_ttl', 'rolloutCacheTtlSeconds', None),
)
AUTO_PAUSE_SETTINGS = (
    ('enabled', 'autoPauseEnabled', None),
    ('window_minutes', 'autoPauseWindowMinutes', None),
    ('failure_rate', 'autoPauseFailureRateBps', 100),
    ('confidence', 'autoPauseConfidence', None),
    ('min_attempts', 'autoPauseMinAttempts', None),
    ('min_failures', 'autoPauseMinFailures', None),
    ('action', 'autoPauseAction', None),
    ('cooldown_minutes', 'autoPauseCooldownMinutes', None),
)

# What a POST /channel does to the rollout, and whether sending it twice is safe. A promote, a rollback and an
# advance need a candidate: once the first one went through, a second answers 400 missing_rollout_version
# (capgo-api.md 12.2 #5), or (advance) ships the wrong bundle. They are never re-sent blindly.
NOT_REPEATABLE = frozenset(('promote', 'rollback', 'advance'))


def bundle_name(version_field):
    """The bundle name of a GET /channel ``version`` / ``rollout_version_info`` object; None for no bundle."""
    if isinstance(version_field, dict):
        name = version_field.get('name')
    else:
        name = version_field
    if not name or name in NO_BUNDLE_NAMES:
        return None
    return name


def has_rollouts(item):
    """Whether a GET /channel item carries the rollout columns (the current and latest API generations)."""
    return bool(item) and ('rolloutPercentageBps' in item or 'rollout_version' in item)


def percent_to_bps(percent):
    """A percentage (0-100, to 0.01) in basis points, rounded half up as Capgo does (JS Math.round)."""
    return int(math.floor(percent * 100 + 0.5 + 1e-9))


def bps_to_percent(bps):
    return None if bps is None else round(bps / 100.0, 2)


def _from_wire(value, factor):
    if factor is None or value is None:
        return value
    return bps_to_percent(value)


def rollout_settings(item):
    """Every rollout setting of a GET /channel item, whether or not a rollout runs.

    ``bundle`` is the candidate bundle (None when none is set); the other keys keep their values between
    rollouts (the API stores them on the channel), which is what a new rollout starts from.
    """
    settings = dict(
        bundle=bundle_name(item.get('rollout_version_info')),
        paused=bool(item.get('rolloutPausedAt')),
    )
    for option, wire, factor in ROLLOUT_SETTINGS:
        settings[option] = _from_wire(item.get(wire), factor)
    settings['auto_pause'] = dict((option, _from_wire(item.get(wire), factor)) for option, wire, factor in AUTO_PAUSE_SETTINGS)
    if settings['auto_pause']['enabled'] is not None:
        settings['auto_pause']['enabled'] = bool(settings['auto_pause']['enabled'])
    return settings


def rollout_running(item):
    """Whether a GET /channel item serves a candidate bundle to a share of devices (set and enabled)."""
    return has_rollouts(item) and bool(item.get('rolloutEnabled')) and bundle_name(item.get('rollout_version_info')) is not None


def normalize_rollout(item):
    """The running rollout of a GET /channel item in the option names of capgo_channel's ``rollout``, or None.

    A candidate bundle left on a channel with the rollout disabled serves no device, so it reads as no rollout.
    """
    if not rollout_running(item):
        return None
    rollout = rollout_settings(item)
    # Read-only: why Capgo paused it (auto-pause), for the release role's messages. Not an option.
    rollout['pause_reason'] = item.get('rolloutPauseReason')
    return rollout


def rollout_wire(option_values, table):
    """Rollout or auto-pause options (option name -> value, None = unset) as POST /channel fields."""
    body = {}
    for option, wire, factor in table:
        value = option_values.get(option)
        if value is None:
            continue
        body[wire] = percent_to_bps(value) if factor else value
    return body


# -- input checks (no request) ---------------------------------------------------------------------

def _two_decimals(value):
    return abs(value * 100 - round(value * 100)) < 1e-6


def _check_percent(label, value):
    if value is None:
        return
    if not 0 <= value <= 100 or not _two_decimals(value):
        raise CapgoInputError('%s must be a percentage from 0 to 100 with at most two decimals, got %s' % (label, value))


def _check_range(label, value, low, high=None):
    if value is None:
        return
    if value < low or (high is not None and value > high):
        limits = 'from %d to %d' % (low, high) if high is not None else '%d or more' % low
        raise CapgoInputError('%s must be %s, got %s' % (label, limits, value))


def validate_rollout(params):
    """Everything about O(rollout) that can be checked before any request."""
    rollout = params.get('rollout')
    if rollout is None:
        return
    if params['state'] == 'absent':
        raise CapgoInputError('rollout cannot be used with state=absent (deleting the channel ends its rollout)')
    auto_pause = rollout.get('auto_pause') or {}
    if rollout['state'] == 'absent':
        extra = sorted(key for key in ('bundle', 'percentage', 'paused', 'cache_ttl') if rollout.get(key) is not None)
        extra += ['auto_pause'] if any(value is not None for value in auto_pause.values()) else []
        if extra:
            raise CapgoInputError('rollout.state=absent ends the rollout; it takes no other rollout option (got %s)' % ', '.join(extra))
        return
    if rollout.get('bundle') is not None:
        if not rollout['bundle'].strip() or rollout['bundle'] in NO_BUNDLE_NAMES:
            raise CapgoInputError('rollout.bundle must be the name of an uploaded bundle (the candidate to roll out), got %r'
                                  % rollout['bundle'])
        if params.get('bundle') is not None and rollout['bundle'] == params['bundle']:
            raise CapgoInputError('rollout.bundle must differ from the stable bundle (%s): to promote the candidate, '
                                  'set bundle to it and rollout.state=absent' % params['bundle'])
    if params.get('bundle') == BUILTIN:
        raise CapgoInputError('a rollout needs a stable bundle on the channel, but bundle is builtin')
    _check_percent('rollout.percentage', rollout.get('percentage'))
    _check_range('rollout.cache_ttl', rollout.get('cache_ttl'), 60, 31536000)
    _check_range('rollout.auto_pause.window_minutes', auto_pause.get('window_minutes'), 1, MAX_MINUTES)
    _check_range('rollout.auto_pause.cooldown_minutes', auto_pause.get('cooldown_minutes'), 0, MAX_MINUTES)
    _check_range('rollout.auto_pause.min_attempts', auto_pause.get('min_attempts'), 0)
    _check_range('rollout.auto_pause.min_failures', auto_pause.get('min_failures'), 0)
    _check_percent('rollout.auto_pause.failure_rate', auto_pause.get('failure_rate'))
    confidence = auto_pause.get('confidence')
    if confidence is not None and not 0 < confidence < 1:
        raise CapgoInputError('rollout.auto_pause.confidence must be strictly between 0 and 1, got %s' % confidence)


# -- planning (no request) -------------------------------------------------------------------------

def wanted_rollout(rollout_param):
    """The user's rollout suboptions without the unset ones (auto_pause likewise), percentages as Capgo stores them."""
    wanted = dict((key, rollout_param[key]) for key in ('bundle', 'percentage', 'paused', 'cache_ttl')
                  if rollout_param.get(key) is not None)
    if wanted.get('percentage') is not None:
        wanted['percentage'] = bps_to_percent(percent_to_bps(wanted['percentage']))
    auto_pause = dict((key, value) for key, value in (rollout_param.get('auto_pause') or {}).items() if value is not None)
    if auto_pause.get('failure_rate') is not None:
        auto_pause['failure_rate'] = bps_to_percent(percent_to_bps(auto_pause['failure_rate']))
    if auto_pause:
        wanted['auto_pause'] = auto_pause
    return wanted


class RolloutPlan(object):
    """What one run does to a channel's rollout.

    ``after``: the running rollout once the writes are applied (option names, None for none); ``fields``: the POST
    /channel fields to send with the channel's write; ``follow_up``: field sets of further POSTs, in order (latest:
    re-link a rollout that a stable-bundle change ends); ``changed``; ``action``: None, 'start', 'update', 'keep'
    (name the candidate again so it survives a stable-bundle change), 'relink' (latest: a stable-bundle change ends
    the rollout whatever the write says, so a second write links the candidate again), 'promote', 'rollback',
    'advance', or 'reset' (the server ends it itself); ``stable_by_server``: the server moves the stable bundle
    itself (promote, advance), so no ``version`` is sent.
    """

    def __init__(self, after, fields=None, changed=False, action=None, follow_up=None):
        self.after = after
        self.fields = dict(fields or {})
        self.changed = changed
        self.action = action
        self.follow_up = list(follow_up or [])

    @property
    def stable_by_server(self):
        return self.action in ('promote', 'advance')

    @property
    def repeatable(self):
        return self.action not in NOT_REPEATABLE


def plan_rollout(params, item, stable_after, bundle_changes, generation):
    """The RolloutPlan of a run on an existing channel of the current or latest generation.

    ``stable_after``: the stable bundle the channel will serve; ``bundle_changes``: whether the run changes it.
    On latest a new stable bundle ends a leftover rollout by itself (capgo-api.md 12.1 #3, the percentage is
    kept); elsewhere the module says so explicitly with ``rollback``, so both end in the same state.
    """
    running = normalize_rollout(item)
    rollout_param = params.get('rollout')
    name = params['name']
    if rollout_param is None:
        if running is not None and bundle_changes:
            if generation == 'latest':
                return RolloutPlan(None, changed=True, action='reset')
            return RolloutPlan(None, dict(rollback=True), True, 'rollback')
        return RolloutPlan(running)
    if rollout_param['state'] == 'absent':
        if running is None:
            return RolloutPlan(None)
        if stable_after == running['bundle']:
            return RolloutPlan(None, dict(promoteToStable=True), True, 'promote')
        return RolloutPlan(None, dict(rollback=True), True, 'rollback')

    wanted = wanted_rollout(rollout_param)
    candidate = wanted.get('bundle') or (running['bundle'] if running else None)
    if candidate is None:
        raise CapgoInputError('rollout.bundle is required to start a rollout on channel %s (none is running)' % name)
    if stable_after is None:
        raise CapgoInputError('a rollout needs a stable bundle on channel %s: set bundle as well' % name)
    if candidate == stable_after:
        raise CapgoInputError('rollout.bundle must differ from the stable bundle %s of channel %s: to promote the candidate, '
                              'set bundle to it and rollout.state=absent' % (stable_after, name))
    starting = running is None or running['bundle'] != candidate
    if starting and 'percentage' not in wanted:
        raise CapgoInputError('rollout.percentage is required to start a rollout or change its bundle (channel %s)' % name)

    if starting:
        base = rollout_settings(item)
        base['bundle'] = candidate
        base['paused'] = False
        base['pause_reason'] = None  # a new target clears it (12.2 #5)
        after = merged(base, wanted)
        fields = dict(rolloutVersion=candidate, rolloutEnabled=True, rolloutPaused=after['paused'],
                      rolloutPercentageBps=percent_to_bps(after['percentage']))
        fields.update(rollout_wire(_changed_values(wanted, base, 'cache_ttl'), ROLLOUT_SETTINGS))
        fields.update(_auto_pause_fields(wanted, base))
        action = 'start'
        if running is not None and bundle_changes and stable_after == running['bundle'] and generation == 'latest':
            # The running candidate becomes the stable bundle and the new one the candidate, in one write.
            fields['advanceRollout'] = True
            action = 'advance'
        return RolloutPlan(after, fields, True, action)

    changes = differences(wanted, running)
    if not changes:
        if bundle_changes and generation == 'latest':
            return _relink(running, {}, False)
        if bundle_changes:
            # Name the candidate so the rollout survives the new stable bundle.
            return RolloutPlan(running, dict(rolloutVersion=candidate), False, 'keep')
        return RolloutPlan(running)
    after = merged(running, wanted)
    if not after['paused']:
        after['pause_reason'] = None  # rolloutPaused: false clears it (capgo-api.md 11.1 #13)
    if bundle_changes and generation == 'latest':
        extra = rollout_wire(_changed_values(wanted, running, 'cache_ttl'), ROLLOUT_SETTINGS)
        extra.update(_auto_pause_fields(wanted, running))
        return _relink(after, extra, True)
    fields = {}
    if 'percentage' in changes:
        fields['rolloutPercentageBps'] = percent_to_bps(after['percentage'])
    if 'paused' in changes:
        # Pausing is rolloutPaused, never rolloutEnabled: false (which unlinks the candidate on latest).
        fields['rolloutPaused'] = after['paused']
    fields.update(rollout_wire(_changed_values(wanted, running, 'cache_ttl'), ROLLOUT_SETTINGS))
    fields.update(_auto_pause_fields(wanted, running))
    if bundle_changes:
        fields['rolloutVersion'] = candidate
    return RolloutPlan(after, fields, True, 'update')


def _relink(after, extra, changed):
    """latest: a new stable bundle drops the candidate even when the same write names it again (the trigger compares
    values, 20260817183821_reset_rollout_on_stable_bundle.sql), so link it again in a second write; the target change
    unpauses it (12.2 #5), so a paused rollout gets a third write that pauses it again."""
    after = dict(after, pause_reason=None)
    relink = dict(rolloutVersion=after['bundle'], rolloutEnabled=True, rolloutPercentageBps=percent_to_bps(after['percentage']))
    relink.update(extra)
    follow_up = [relink]
    if after['paused']:
        follow_up.append(dict(rolloutPaused=True))
    return RolloutPlan(after, {}, changed, 'relink', follow_up)


def _changed_values(wanted, base, *keys):
    return dict((key, wanted[key]) for key in keys if key in wanted and wanted[key] != base.get(key))


def _auto_pause_fields(wanted, base):
    want = wanted.get('auto_pause') or {}
    have = base.get('auto_pause') or {}
    changed = dict((key, value) for key, value in want.items() if value != have.get(key))
    return rollout_wire(changed, AUTO_PAUSE_SETTINGS)


def rollout_holds(item, planned):
    """Whether a GET /channel item shows the planned rollout (None: no rollout runs), for a lost answer's read-back."""
    have = normalize_rollout(item)
    if planned is None or have is None:
        return planned is None and have is None
    return all(have.get(key) == planned.get(key) for key in ('bundle', 'percentage', 'paused'))
