# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What Capgo's device-facing ``POST /updates`` would answer one device, computed from the public API.

This is this collection's own reading of capgo-update-decision.md (sections 2 to 4): the pre-checks, the channel
selection (override, the device's defaultChannel without fall-back, the cloud default), the rollout, then every gate
in Capgo's order with Capgo's own codes.  Where the public API does not expose an input, the answer says what it
assumed (``assumptions``) and the step that depends on it is ``unknown``; nothing is guessed silently.

Everything here is pure (plain dicts in, plain dicts out), except ``ask_server``, which sends the updater plugin's own
request.  No Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.capgo.cloud.plugins.module_utils.client import (
    HAS_REQUESTS,
    USER_AGENT,
    CapgoError,
    CapgoInputError,
    requests,
)
from ansible_collections.capgo.cloud.plugins.module_utils.engine import Plan

# The id the Capgo CLI's ``probe`` sends; one synthetic device, so probing adds one inventory row, not one per run.
SYNTHETIC_DEVICE_ID = '00000000-0000-0000-0000-000000000000'
DEFAULT_UPDATES_URL = 'https://plugin.capgo.app/updates'
PLATFORMS = ('ios', 'android', 'electron')
POLICIES = ('major', 'minor', 'patch', 'version_number', 'none')
INTERNAL_BUNDLES = ('builtin', 'unknown')
UUID_RE = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')

# Every step of the decision, in Capgo's order (capgo-update-decision.md 2.1 to 2.4 and 2.3).
STEPS = (
    'plugin_version', 'override', 'default_channel', 'cloud_default', 'rollout',
    'bundle_presence', 'encryption_key', 'same_version', 'platform', 'major', 'private_channel', 'minor', 'patch',
    'version_number', 'under_native', 'prod_build', 'dev_build', 'physical_device', 'emulator', 'builtin', 'download',
)
GATES = STEPS[STEPS.index('bundle_presence'):]

# -- semantic versions, as @std/semver 1.0.8 reads them (2.5) -------------------------------------------------------

_NUM = r'(?:0|[1-9]\d*)'
_PRE_ID = r'(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)'
SEMVER_RE = re.compile(
    r'^v?(' + _NUM + r')\.(' + _NUM + r')\.(' + _NUM + r')'
    r'(?:-(' + _PRE_ID + r'(?:\.' + _PRE_ID + r')*))?'
    r'(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$')
STRICT_XYZ_RE = re.compile(r'^\d+\.\d+\.\d+$')


class Version(object):
    """A parsed semantic version; comparison is full precedence (build metadata ignored)."""

    def __init__(self, major, minor, patch, prerelease, build):
        self.major = major
        self.minor = minor
        self.patch = patch
        self.prerelease = prerelease
        self.build = build

    def text(self):
        out = '%d.%d.%d' % (self.major, self.minor, self.patch)
        if self.prerelease:
            out += '-' + '.'.join(str(part) for part in self.prerelease)
        if self.build:
            out += '+' + '.'.join(self.build)
        return out

    def numbers(self):
        return (self.major, self.minor, self.patch)


def parse_version(text):
    """A Version, or None when @std/semver's ``parse`` would throw (no coercion: ``1.2`` is invalid)."""
    if not isinstance(text, str):
        return None
    match = SEMVER_RE.match(text.strip())
    if not match:
        return None
    prerelease = []
    if match.group(4):
        for part in match.group(4).split('.'):
            prerelease.append(int(part) if part.isdigit() else part)
    build = match.group(5).split('.') if match.group(5) else []
    return Version(int(match.group(1)), int(match.group(2)), int(match.group(3)), prerelease, build)


def _compare_identifiers(left, right):
    left_num = isinstance(left, int)
    right_num = isinstance(right, int)
    if left_num and right_num:
        return (left > right) - (left < right)
    if left_num:
        return -1
    if right_num:
        return 1
    return (left > right) - (left < right)


def compare_versions(left, right):
    """-1, 0 or 1 by full semver precedence (a release ranks above its prereleases; build ignored)."""
    if left.numbers() != right.numbers():
        return -1 if left.numbers() < right.numbers() else 1
    if not left.prerelease and not right.prerelease:
        return 0
    if not left.prerelease:
        return 1
    if not right.prerelease:
        return -1
    for one, other in zip(left.prerelease, right.prerelease):
        result = _compare_identifiers(one, other)
        if result:
            return result
    return (len(left.prerelease) > len(right.prerelease)) - (len(left.prerelease) < len(right.prerelease))


def normalize_version_build(text):
    """``version_build`` as the request parser leaves it (1.2), or None where it answers 400 ``semver_error``.

    ``builtin``/``unknown`` become ``0.0.0``; ``1`` and ``1.2`` are padded; then @std/semver parses and formats it
    (a leading ``v`` and surrounding spaces dropped, prerelease and build kept).
    """
    if not isinstance(text, str) or not text.strip():
        return None
    value = text.strip()
    if STRICT_XYZ_RE.match(value):
        return value
    if value in INTERNAL_BUNDLES:
        value = '0.0.0'
    elif re.match(r'^v?\d+$', value):
        value += '.0.0'
    elif re.match(r'^v?\d+\.\d+$', value):
        value += '.0'
    parsed = parse_version(value)
    return parsed.text() if parsed else None


def plugin_takes_manifest(plugin):
    """Plugins >= 5.10.0 / 6.25.0 / 7.0.35 (any 8.x and later) get manifest (delta) entries (2.6); None: not known."""
    if plugin is None:
        return None
    lowest = {5: (5, 10, 0), 6: (6, 25, 0), 7: (7, 0, 35)}
    if plugin.major in lowest:
        return plugin.numbers() >= lowest[plugin.major]
    return plugin.major >= 8


def plugin_has_legacy_self_set(plugin):
    """Plugins v5 < 5.34, v6 < 6.34, v7 < 7.34 consult the legacy self-set store, which no API shows (2.1.7)."""
    if plugin is None:
        return None
    return plugin.major in (5, 6, 7) and plugin.numbers() < (plugin.major, 34, 0)


# -- reading the API's answers ------------------------------------------------------------------------------------

def detect_generation(channel_items):
    """'latest', 'current' or 'classic' from what GET /channel returns, or None when the app has no channel.

    latest (capgo.app, September 2026) returns the platform flags ``ios``/``android`` and ``updatePackage`` on every
    channel; current (HEAD, July 2026) returns the rollout columns but no platform flag; classic returns neither.
    """
    items = [item for item in channel_items or () if isinstance(item, dict)]
    if not items:
        return None
    if any('ios' in item or 'android' in item or 'updatePackage' in item for item in items):
        return 'latest'
    if any('rolloutPercentageBps' in item or 'rollout_version' in item or 'rollout_id' in item for item in items):
        return 'current'
    return 'classic'


def _name_of(field):
    if isinstance(field, dict):
        return field.get('name')
    return field if isinstance(field, str) else None


def _bundle_is_live(row, generation):
    if row is None:
        return False
    if row.get('deleted'):
        return False
    return not (generation == 'latest' and row.get('deleted_at'))


class AppState(object):
    """The app's channels and live bundles as the decision needs them."""

    def __init__(self, app_id, channel_items, bundle_items, generation):
        self.app_id = app_id
        self.generation = generation
        self.channels = [item for item in channel_items or () if isinstance(item, dict)]
        self.bundles = {}
        for row in bundle_items or ():
            if isinstance(row, dict) and _bundle_is_live(row, generation) and row.get('name') not in self.bundles:
                self.bundles[row.get('name')] = row
        self.bundle_ids = dict((row.get('id'), row) for row in self.bundles.values())

    def channel(self, name):
        for item in self.channels:
            if item.get('name') == name:
                return item
        return None

    def stable_name(self, channel):
        """The bundle name a channel serves: ``builtin`` when it has none."""
        return _name_of(channel.get('version')) or 'builtin'

    def bundle_row(self, name):
        return self.bundles.get(name)

    def stable_live(self, channel):
        """A channel's bundle is absent (builtin), internal, or in the live list; a missing one was soft-deleted."""
        name = self.stable_name(channel)
        if name in INTERNAL_BUNDLES:
            return True
        version = channel.get('version')
        if isinstance(version, dict) and version.get('id') is not None and version.get('id') in self.bundle_ids:
            return True
        return name in self.bundles

    def rollout_name(self, channel):
        info = channel.get('rollout_version_info')
        name = _name_of(info)
        if name:
            return name
        rollout_id = channel.get('rollout_version')
        if rollout_id is not None and rollout_id in self.bundle_ids:
            return self.bundle_ids[rollout_id].get('name')
        return None

    def rollout_live(self, channel):
        if channel.get('rollout_version') is None and not channel.get('rollout_version_info'):
            return False
        rollout_id = channel.get('rollout_version')
        if rollout_id is not None and rollout_id in self.bundle_ids:
            return True
        name = self.rollout_name(channel)
        return bool(name) and name in self.bundles


def platform_flag(channel, platform):
    """True/False when GET /channel shows the channel's flag for the platform, None when it does not."""
    value = channel.get(platform)
    return bool(value) if isinstance(value, bool) else None


# -- latest's deterministic rollout bucket (section 4, item 1) ------------------------------------------------------

def _fmix32(value):
    value ^= value >> 16
    value = (value * 0x85ebca6b) & 0xffffffff
    value ^= value >> 13
    value = (value * 0xc2b2ae35) & 0xffffffff
    value ^= value >> 16
    return value


def rollout_bucket(app_id, channel_id, rollout_id, rollout_version_id, device_id):
    """0..9999: FNV-1a (32 bit) over the UTF-16 code units of the NUL-joined inputs, fmix32, scaled to 10000."""
    text = '\0'.join([str(app_id), str(channel_id), str(rollout_id), str(rollout_version_id), str(device_id).lower()])
    data = text.encode('utf-16-le')
    value = 0x811c9dc5
    for index in range(0, len(data), 2):
        value ^= data[index] | (data[index + 1] << 8)
        value = (value * 0x01000193) & 0xffffffff
    value = _fmix32(value)
    return (value * 10000) >> 32


# -- the decision -----------------------------------------------------------------------------------------------

class Steps(object):
    """The ordered ``checks`` list: each step once, the ones after the deciding step ``skipped``."""

    def __init__(self):
        self.items = []

    def add(self, name, result, detail):
        self.items.append(dict(name=name, result=result, detail=detail))

    def skip_rest(self, names, detail='not reached: an earlier step decided'):
        done = set(item['name'] for item in self.items)
        for name in names:
            if name not in done:
                self.add(name, 'skipped', detail)


class Device(object):
    """The device inputs after the request parser's normalisation (1.2)."""

    def __init__(self, device_id, platform, version_build, version_name, is_prod, is_emulator, plugin_version,
                 key_id=None, override=None, override_known=True, default_channel=None, source='options',
                 os_version=None, custom_id=None, install_source=None):
        self.device_id = (device_id or SYNTHETIC_DEVICE_ID).lower()
        self.synthetic = source == 'options' and self.device_id == SYNTHETIC_DEVICE_ID
        self.platform = platform
        self.raw_version_build = version_build
        self.version_build = normalize_version_build(version_build)
        if version_name in (None, '', 'builtin'):
            version_name = self.version_build or version_build
        self.version_name = version_name
        self.reported_builtin = version_name == self.version_build
        self.is_prod = True if is_prod is None else bool(is_prod)
        self.is_emulator = bool(is_emulator)
        self.plugin_version = plugin_version
        self.plugin = parse_version(plugin_version) if plugin_version else None
        self.key_id = key_id or None
        self.override = override or None
        self.override_known = override_known
        self.default_channel = default_channel
        self.source = source
        self.os_version = os_version
        self.custom_id = custom_id
        self.install_source = install_source

    def public_view(self):
        return dict(
            device_id=self.device_id,
            source=self.source,
            platform=self.platform,
            native_version=self.version_build or self.raw_version_build,
            bundle='builtin' if self.reported_builtin else self.version_name,
            is_prod=self.is_prod,
            is_emulator=self.is_emulator,
            plugin_version=self.plugin_version,
            default_channel=self.default_channel,
            override=self.override,
        )


def _outcome(available, bundle, reason, message, http_status=200):
    return dict(available=available, bundle=bundle, reason=reason, message=message, http_status=http_status)


def answer_of(outcome):
    """What ``POST /updates`` would name: the bundle offered, or the error code."""
    return outcome['bundle'] if outcome['available'] else outcome['reason']


def _policy(channel):
    policy = channel.get('disableAutoUpdate', channel.get('disable_auto_update'))
    if policy == 'metadata':
        policy = 'version_number'
    return policy if policy in POLICIES else 'major'


class Decision(object):
    """One computation of the decision for one device against one app's state."""

    def __init__(self, app, device):
        self.app = app
        self.device = device
        self.assumptions = []
        self.steps = Steps()
        self.generation = app.generation or 'current'

    def assume(self, text):
        if text not in self.assumptions:
            self.assumptions.append(text)

    # 2.1: the pre-checks that depend on inputs we have
    def pre_checks(self):
        device = self.device
        if device.version_build is None:
            self.steps.add('plugin_version', 'skipped', 'the request is refused before any check')
            return _outcome(False, None, 'semver_error',
                            'The device reports native version %r, which Capgo cannot read as a version (HTTP 400 '
                            'semver_error): the store build must carry a version such as 1.2.3.' % (device.raw_version_build,), 400)
        self.assume('The app is a Capgo cloud app with a valid plan (the API does not show it; otherwise Capgo answers '
                    'HTTP 429 on_premise_app to every update check).')
        if device.plugin is None:
            self.assume('The updater plugin version is not known (set plugin_version): the checks that depend on it '
                        'are unknown.')
            self.steps.add('plugin_version', 'unknown', 'plugin version not known')
            return None
        if device.plugin.major == 4:
            self.steps.add('plugin_version', 'fail', 'plugin %s is a v4 plugin, which Capgo no longer serves' % device.plugin_version)
            return _outcome(False, None, 'unsupported_plugin_version',
                            'The device runs updater plugin %s; Capgo refuses every v4 plugin (unsupported_plugin_version): '
                            'update @capgo/capacitor-updater in the app and ship a store build.' % device.plugin_version)
        self.steps.add('plugin_version', 'pass', 'plugin %s is served' % device.plugin_version)
        return None

    # 2.2: channel selection
    def select_channel(self):
        """(channel item or None, source or None, no_channel message or None)."""
        app = self.app
        device = self.device
        legacy = plugin_has_legacy_self_set(device.plugin)
        if device.synthetic:
            legacy = False  # nothing was ever stored for the probe's own id
        override = None
        if legacy or legacy is None:
            self.assume('No channel was set on the device by an old plugin\'s setChannel() (plugins below 5.34, 6.34 and '
                        '7.34 keep it in a store the API does not show; when present it wins over every other override).')
        if device.override:
            channel = app.channel(device.override)
            if channel is None:
                self.steps.add('override', 'unknown', 'the device is pinned to channel %s, which GET /channel does not list'
                               % device.override)
            elif not app.stable_live(channel):
                self.steps.add('override', 'skipped', 'the device is pinned to channel %s, but its bundle %s is deleted, '
                               'so Capgo skips the override' % (device.override, app.stable_name(channel)))
            else:
                override = channel
                detail = 'the device is pinned to channel %s (override)' % device.override
                if legacy or legacy is None:
                    self.steps.add('override', 'unknown', detail + '; an old plugin\'s self-set channel would win over it')
                else:
                    self.steps.add('override', 'pass', detail)
        elif not device.override_known:
            self.assume('The device has no channel override (it never checked in, so the API cannot show one).')
            self.steps.add('override', 'unknown', 'the device never checked in, so an override cannot be read; assumed none')
        else:
            self.steps.add('override', 'unknown' if legacy or legacy is None else 'skipped',
                           'the device has no override' + (' the API shows' if legacy or legacy is None else ''))
        if override is not None:
            self.steps.add('default_channel', 'skipped', 'an override replaces the default channel')
            self.steps.add('cloud_default', 'skipped', 'an override replaces the default channel')
            return override, 'override', None

        wanted = device.default_channel
        if wanted is None:
            self.assume('The device sends no defaultChannel (the API never shows it; set default_channel when the app sets '
                        'one in capacitor.config or calls setChannel()). A device that sends one gets that channel or nothing, '
                        'never the cloud default.')
            self.steps.add('default_channel', 'unknown', 'not known; assumed none, so the cloud default applies')
        elif wanted:
            channel, problem = self._qualify(app.channel(wanted), wanted, need_public_or_self_set=True)
            if channel is None:
                self.steps.add('default_channel', 'fail', 'the device asks for channel %s, which %s' % (wanted, problem))
            else:
                self.steps.add('default_channel', 'unknown' if problem else 'pass',
                               'the device asks for channel %s%s' % (wanted, ('; ' + problem) if problem else ''))
            self.steps.add('cloud_default', 'skipped', 'a device that sends a defaultChannel never gets the cloud default')
            if channel is None:
                return None, None, (
                    'The device asks for channel %s (defaultChannel), which %s; Capgo then serves nothing (no_channel) and '
                    'does not fall back to the default channel: %s, or stop sending that defaultChannel.'
                    % (wanted, problem, self._fix_for(problem, wanted)))
            return channel, 'default_channel', None
        else:
            self.steps.add('default_channel', 'skipped', 'the device sends an empty defaultChannel')

        # the cloud default: a public channel with the platform flag and a live or absent bundle, by name then id
        candidates = []
        for item in sorted(app.channels, key=lambda c: (str(c.get('name')), c.get('id') or 0)):
            if not item.get('public'):
                continue
            if not app.stable_live(item):
                continue
            flag = platform_flag(item, device.platform)
            if flag is False:
                continue
            candidates.append((item, flag))
        if not candidates:
            publics = [c.get('name') for c in app.channels if c.get('public')]
            if publics:
                why = ('the public channel(s) %s do not serve %s or point at a deleted bundle'
                       % (', '.join(sorted(publics)), device.platform))
            else:
                why = 'the app has no public (default) channel'
            self.steps.add('cloud_default', 'fail', why)
            return None, None, (
                'No channel serves this device: it has no override, %s (no_channel). Make a channel public for %s '
                '(capgo_channel public: true), or pin the device to a channel (capgo_device_link).' % (why, device.platform))
        channel, flag = candidates[0]
        if flag is None:
            self.assume('Channel %s serves %s (this API generation does not return the channels\' %s flag).'
                        % (channel.get('name'), device.platform, device.platform))
            others = [c.get('name') for c, dummy in candidates[1:]]
            self.steps.add('cloud_default', 'unknown', 'public channel %s, assuming it serves %s%s' % (
                channel.get('name'), device.platform,
                ('; other public candidates: %s' % ', '.join(others)) if others else ''))
        else:
            self.steps.add('cloud_default', 'pass', 'public channel %s serves %s' % (channel.get('name'), device.platform))
        return channel, 'cloud_default', None

    def _qualify(self, channel, name, need_public_or_self_set):
        """(channel or None, problem text): the defaultChannel conditions of 2.2."""
        if channel is None:
            return None, 'does not exist'
        problem = None
        flag = platform_flag(channel, self.device.platform)
        if flag is False:
            return None, 'does not serve %s (%s: false)' % (self.device.platform, self.device.platform)
        if need_public_or_self_set and not (channel.get('public') or channel.get('allow_device_self_set')):
            return None, 'is neither public nor open to devices (allow_device_self_set: false)'
        if not self.app.stable_live(channel):
            return None, 'points at the deleted bundle %s' % self.app.stable_name(channel)
        if flag is None:
            self.assume('Channel %s serves %s (this API generation does not return the channels\' %s flag).'
                        % (name, self.device.platform, self.device.platform))
            problem = 'assuming it serves %s' % self.device.platform
        return channel, problem

    @staticmethod
    def _fix_for(problem, name):
        if problem.startswith('does not exist'):
            return 'create channel %s' % name
        if problem.startswith('does not serve'):
            return 'turn the platform on for channel %s' % name
        if problem.startswith('is neither'):
            return 'set allow_device_self_set: true (or public: true) on channel %s' % name
        return 'assign a live bundle to channel %s' % name

    # 2.4: rollouts
    def rollout_path_active(self):
        for item in self.app.channels:
            if item.get('rollout_version') is None and not item.get('rollout_version_info'):
                continue
            if not item.get('rolloutEnabled'):
                continue
            if not item.get('rolloutPausedAt') and (item.get('rolloutPercentageBps') or 0) > 0:
                return True
            if item.get('rolloutPausedAt') and self.device.version_name == self.app.rollout_name(item):
                return True
        return False

    def rollout(self, channel):
        """(rollout dict or None, in_rollout True/False/None). Records the 'rollout' step."""
        app = self.app
        name = app.rollout_name(channel)
        configured = name is not None and bool(channel.get('rolloutEnabled'))
        if not configured:
            self.steps.add('rollout', 'skipped', 'channel %s runs no rollout' % channel.get('name'))
            return None, False
        bps = channel.get('rolloutPercentageBps') or 0
        paused = bool(channel.get('rolloutPausedAt'))
        info = dict(bundle=name, percentage=round(bps / 100.0, 2), paused=paused, in_rollout=None, detail='')

        def done(in_rollout, result, detail):
            info['in_rollout'] = in_rollout
            info['detail'] = detail
            self.steps.add('rollout', result, detail)
            return info, in_rollout

        if not app.rollout_live(channel):
            return done(False, 'pass', 'the rollout bundle %s is deleted, so the channel serves its stable bundle' % name)
        if not self.rollout_path_active():
            return done(False, 'pass', 'no rollout of the app is active (running with more than 0 %), so every channel serves '
                        'its stable bundle, even to a device on a rollout bundle')
        if self.device.version_name == name:
            if self.generation != 'latest':
                self.assume('Capgo has no cached rejection of this device for the rollout (this generation caches rollout '
                            'draws per data centre, which no API shows).')
            return done(True, 'pass', 'the device already runs the rollout bundle %s, so it stays on the rollout%s'
                        % (name, ' (also while paused)' if paused else ''))
        if paused:
            return done(False, 'pass', 'the rollout is paused: devices not already on %s get the stable bundle' % name)
        if bps <= 0:
            return done(False, 'pass', 'the rollout is at 0 %: every device gets the stable bundle')
        if bps >= 10000:
            return done(True, 'pass', 'the rollout is at 100 %%: every device gets %s' % name)
        if self.generation == 'latest':
            bucket = rollout_bucket(app.app_id, channel.get('id'), channel.get('rollout_id'), channel.get('rollout_version'),
                                    self.device.device_id)
            info['bucket'] = bucket
            inside = bucket < bps
            return done(inside, 'pass', 'device bucket %d of 10000 is %s the rollout share of %d (%.2f %%), so it gets %s'
                        % (bucket, 'inside' if inside else 'outside', bps, bps / 100.0,
                           name if inside else 'the stable bundle'))
        self.assume('On this API generation the rollout draw is random (cached per data centre), so whether this device is in '
                    'the rollout cannot be computed.')
        return done(None, 'unknown', 'this generation draws at random: the device gets %s with probability %.2f %%, else the '
                    'stable bundle' % (name, bps / 100.0))

    # 2.3: the gates
    def gates(self, channel, source, bundle, steps):
        """The outcome of gates 1 to 16 for bundle name ``bundle`` on ``channel``; records into ``steps``."""
        app = self.app
        device = self.device
        cname = channel.get('name')
        internal = bundle in INTERNAL_BUNDLES
        row = None if internal else app.bundle_row(bundle)
        latest = self.generation == 'latest'

        def fail(step, reason, detail, message, status=200):
            steps.add(step, 'fail', detail)
            steps.skip_rest(GATES)
            return _outcome(False, None, reason, message, status)

        # 1. bundle presence (latest: under the channel's update_package mode)
        if internal:
            steps.add('bundle_presence', 'pass', 'channel %s serves %s' % (cname, bundle))
        elif row is None:
            return fail('bundle_presence', 'no_bundle', 'bundle %s is not among the live bundles' % bundle,
                        'Channel %s points at bundle %s, which is deleted or not readable (no_bundle): assign a live bundle '
                        'to the channel.' % (cname, bundle))
        else:
            has, detail = self._artifacts(channel, row)
            if has is False:
                return fail('bundle_presence', 'no_bundle', detail,
                            'Bundle %s on channel %s has nothing a device can download (%s; no_bundle): upload it again, or '
                            'assign another bundle.' % (bundle, cname, detail))
            steps.add('bundle_presence', 'unknown' if has is None else 'pass', detail)

        # 2. encryption key
        bundle_key = row.get('key_id') if row else None
        if device.key_id and bundle_key and device.key_id != bundle_key:
            enforced = None if device.plugin is None else device.plugin.numbers() > (8, 40, 7)
            if enforced:
                return fail('encryption_key', 'key_id_mismatch',
                            'the device has key %s, the bundle was encrypted for key %s' % (device.key_id, bundle_key),
                            'Bundle %s was encrypted with key %s but the device has key %s (key_id_mismatch): upload the '
                            'bundle encrypted with the key the app ships.' % (bundle, bundle_key, device.key_id))
            steps.add('encryption_key', 'unknown' if enforced is None else 'pass',
                      'the keys differ; Capgo enforces this only for plugins above 8.40.7')
        else:
            steps.add('encryption_key', 'pass', 'no key conflict')

        # 3. same version, before every policy
        if device.version_name == bundle:
            return fail('same_version', 'no_new_version_available', 'the device already runs %s' % bundle,
                        'The device already runs %s, the bundle channel %s serves: nothing to update. To update it, '
                        'assign a newer bundle to channel %s.' % (bundle, cname, cname))
        steps.add('same_version', 'pass', 'the device runs %s, the channel serves %s' % (device.version_name, bundle))

        # 4. platform (only an override can fail it: the default lookups required the flag)
        flag = platform_flag(channel, device.platform)
        if flag is False:
            return fail('platform', 'disabled_platform_%s' % device.platform, 'channel %s has %s: false' % (cname, device.platform),
                        'Channel %s does not serve %s (disabled_platform_%s): set %s: true on it, or pin the device to a '
                        'channel that serves %s.' % (cname, device.platform, device.platform, device.platform, device.platform))
        if flag is None and source == 'override':
            self.assume('Channel %s serves %s (this API generation does not return the channels\' %s flag).'
                        % (cname, device.platform, device.platform))
            steps.add('platform', 'unknown', 'the API does not show whether channel %s serves %s; assumed it does' % (cname, device.platform))
        else:
            steps.add('platform', 'pass', 'channel %s serves %s' % (cname, device.platform))

        policy = _policy(channel)
        native = parse_version(device.version_build)
        target = None
        semver_needed = not internal and (policy != 'none' or channel.get('disableAutoUpdateUnderNative'))
        if semver_needed:
            target = parse_version(bundle)
        broken = 'Capgo fails with HTTP 500 (unknown_error): bundle name %s is not a semantic version and channel %s compares ' \
                 'versions; upload bundles named X.Y.Z, or set disable_auto_update: none and ' \
                 'disable_auto_update_under_native: false on the channel.' % (bundle, cname)

        # 5. major
        if internal or policy == 'none':
            steps.add('major', 'skipped', 'policy %s' % policy if not internal else 'bundle %s is not versioned' % bundle)
        elif target is None and policy != 'none':
            return fail('major', 'unknown_error', 'bundle name %s is not a semantic version' % bundle, broken, 500)
        elif policy == 'major' and target.major > native.major:
            return fail('major', 'disable_auto_update_to_major', 'bundle %s is a new major over native version %s'
                        % (bundle, device.version_build),
                        'Channel %s blocks major updates (disable_auto_update: major): bundle %s is a major version above the '
                        'native version %s; ship a store build with native version %d.x, or set disable_auto_update: none '
                        'on the channel.' % (cname, bundle, device.version_build, target.major))
        elif policy == 'major':
            steps.add('major', 'pass', 'bundle %s is no new major over native version %s' % (bundle, device.version_build))
        else:
            steps.add('major', 'skipped', 'policy %s' % policy)

        # 6. private channel: unreachable (a default is public or self-settable; an override is allowed)
        steps.add('private_channel', 'pass', 'the channel came from %s' % source.replace('_', ' '))

        # 7, 8. minor, patch
        if not internal and policy == 'minor' and target.numbers()[:2] != native.numbers()[:2]:
            return fail('minor', 'disable_auto_update_to_minor', 'bundle %s differs from native %s in major or minor'
                        % (bundle, device.version_build),
                        'Channel %s allows only patch updates of the native version (disable_auto_update: minor): bundle %s '
                        'is not %d.%d.x; ship a store build with native version %d.%d, or relax disable_auto_update on the '
                        'channel.' % (cname, bundle, native.major, native.minor, target.major, target.minor))
        steps.add('minor', 'skipped' if internal or policy != 'minor' else 'pass', 'policy %s' % policy)
        if not internal and policy == 'patch' and target.numbers() != native.numbers():
            return fail('patch', 'disable_auto_update_to_patch', 'bundle %s is not a variant of native %s'
                        % (bundle, device.version_build),
                        'Channel %s allows only prerelease/build variants of the native version (disable_auto_update: patch): '
                        'bundle %s is not %s; relax disable_auto_update on the channel, or ship a store build with native '
                        'version %d.%d.%d.' % (cname, bundle, native.text(), target.major, target.minor, target.patch))
        steps.add('patch', 'skipped' if internal or policy != 'patch' else 'pass', 'policy %s' % policy)

        # 9. version_number ("metadata")
        if not internal and policy == 'version_number':
            minimum = row.get('min_update_version') if row else None
            if not minimum:
                return fail('version_number', 'misconfigured_channel', 'bundle %s has no min_update_version' % bundle,
                            'Channel %s uses disable_auto_update: version_number (metadata), but bundle %s has no '
                            'min_update_version (misconfigured_channel): upload the bundle with a minimum native version, '
                            'or change disable_auto_update on the channel.' % (cname, bundle))
            lowest = parse_version(minimum)
            if lowest is None:
                return fail('version_number', 'unknown_error', 'min_update_version %s is not a semantic version' % minimum,
                            'Capgo fails with HTTP 500 (unknown_error): bundle %s has min_update_version %s, which is not a '
                            'semantic version; upload it again with an X.Y.Z minimum.' % (bundle, minimum), 500)
            if compare_versions(lowest, native) > 0:
                return fail('version_number', 'disable_auto_update_to_metadata',
                            'bundle %s needs native %s, the device has %s' % (bundle, minimum, device.version_build),
                            'Bundle %s needs native version %s or later (min_update_version) and the device has %s '
                            '(disable_auto_update_to_metadata): ship a store build with native version %s or later, or '
                            'assign a bundle this native version can take.' % (bundle, minimum, device.version_build, minimum))
            steps.add('version_number', 'pass', 'bundle %s needs native %s or later' % (bundle, minimum))
        else:
            steps.add('version_number', 'skipped', 'policy %s' % policy)

        # 10. under native
        if not internal and channel.get('disableAutoUpdateUnderNative'):
            if target is None:
                return fail('under_native', 'unknown_error', 'bundle name %s is not a semantic version' % bundle, broken, 500)
            if compare_versions(target, native) < 0:
                return fail('under_native', 'disable_auto_update_under_native',
                            'bundle %s is below native version %s' % (bundle, device.version_build),
                            'Bundle %s is older than the native version %s and channel %s blocks bundles below the native '
                            'version (disable_auto_update_under_native): assign a bundle of version %s or later, or set '
                            'disable_auto_update_under_native: false.' % (bundle, device.version_build, cname, device.version_build))
            steps.add('under_native', 'pass', 'bundle %s is not below native %s' % (bundle, device.version_build))
        else:
            steps.add('under_native', 'skipped', 'bundle %s is not versioned' % bundle if internal
                      else 'disable_auto_update_under_native is off')

        # 11 to 14. build type and device type
        if channel.get('allow_prod') is False and device.is_prod:
            return fail('prod_build', 'disable_prod_build', 'channel %s has allow_prod: false' % cname,
                        'Channel %s does not serve production builds (disable_prod_build): set allow_prod: true on it, or '
                        'test with a development build.' % cname)
        steps.add('prod_build', 'pass', 'production build allowed' if device.is_prod else 'not a production build')
        if channel.get('allow_dev') is False and not device.is_prod:
            return fail('dev_build', 'disable_dev_build', 'channel %s has allow_dev: false' % cname,
                        'Channel %s blocks dev builds (disable_dev_build): set allow_dev: true, or test with a production '
                        'build.' % cname)
        steps.add('dev_build', 'pass', 'development build allowed' if not device.is_prod else 'not a development build')
        if channel.get('allow_device') is False and not device.is_emulator:
            return fail('physical_device', 'disable_device', 'channel %s has allow_device: false' % cname,
                        'Channel %s does not serve physical devices (disable_device): set allow_device: true, or test on an '
                        'emulator.' % cname)
        steps.add('physical_device', 'pass', 'physical devices allowed' if not device.is_emulator else 'an emulator')
        if channel.get('allow_emulator') is False and device.is_emulator:
            return fail('emulator', 'disable_emulator', 'channel %s has allow_emulator: false' % cname,
                        'Channel %s does not serve emulators (disable_emulator): set allow_emulator: true, or test on a '
                        'physical device.' % cname)
        steps.add('emulator', 'pass', 'emulators allowed' if device.is_emulator else 'not an emulator')

        # 15. builtin
        if bundle == 'builtin':
            new_enough = None if device.plugin is None else device.plugin.numbers() >= (6, 2, 0)
            if new_enough is None:
                steps.add('builtin', 'unknown', 'the answer depends on the plugin version (6.2.0 or later)')
                steps.skip_rest(GATES)
                too_old = 'revert_to_builtin_plugin_version_too_old'
                if latest and not device.reported_builtin:
                    # latest tells a device on an over-the-air bundle to go back to builtin (a success)
                    outcome = _outcome(True, 'builtin', None,
                                       'Channel %s serves no bundle (builtin): with a plugin of 6.2.0 or later the device '
                                       'is told to go back to the bundle of its store build, below that Capgo answers %s. '
                                       'Set plugin_version to know; assign a bundle to the channel to update devices.'
                                       % (cname, too_old))
                    outcome['possible'] = ['builtin', too_old]
                    return outcome
                outcome = _outcome(False, None, 'already_on_builtin',
                                   'Channel %s serves no bundle (builtin); with a plugin of 6.2.0 or later Capgo answers '
                                   'already_on_builtin, below that %s. Set plugin_version to know; assign a bundle to the '
                                   'channel to update devices.' % (cname, too_old))
                outcome['possible'] = ['already_on_builtin', too_old]
                return outcome
            if not new_enough:
                return fail('builtin', 'revert_to_builtin_plugin_version_too_old', 'plugin %s is below 6.2.0' % device.plugin_version,
                            'Channel %s serves no bundle (builtin), and plugin %s is too old to go back to the store build '
                            '(revert_to_builtin_plugin_version_too_old): update the plugin to 6.2.0 or later, or assign a '
                            'bundle to the channel.' % (cname, device.plugin_version))
            if latest and not device.reported_builtin:
                steps.add('builtin', 'pass', 'the device is told to go back to the store build\'s bundle')
                steps.add('download', 'skipped', 'nothing to download for builtin')
                return _outcome(True, 'builtin', None,
                                'Channel %s serves no bundle, so the device is told to go back to the bundle of its store '
                                'build (builtin). To serve an over-the-air bundle instead, assign one to channel %s.'
                                % (cname, cname))
            if latest:
                detail = 'the device already runs its store build\'s bundle'
                message = ('Channel %s serves no bundle and the device already runs its store build\'s bundle '
                           '(already_on_builtin): nothing to do. Assign a bundle to channel %s to update it.' % (cname, cname))
            else:
                detail = 'the channel serves no bundle; Capgo answers already_on_builtin, which the plugin ignores'
                message = ('Channel %s serves no bundle (already_on_builtin): on this API generation Capgo answers with an '
                           'error the plugin ignores, so a device keeps the bundle it runs. Assign a bundle to channel %s '
                           'to update it.' % (cname, cname))
            return fail('builtin', 'already_on_builtin', detail, message)
        steps.add('builtin', 'skipped', 'the channel serves a bundle')

        # 16. download
        if bundle == 'unknown' or not self._downloadable(channel, row):
            return fail('download', 'no_bundle_url', 'bundle %s has no http(s) URL and no manifest the plugin takes' % bundle,
                        'Bundle %s on channel %s has no download URL or manifest a device can use (no_bundle_url): upload '
                        'the bundle, or assign another one.' % (bundle, cname))
        steps.add('download', 'pass', 'bundle %s can be downloaded' % bundle)
        return _outcome(True, bundle, None, '')

    def _artifacts(self, channel, row):
        """(True/False/None, detail): whether the bundle has what Capgo can serve (gate 1; latest: update_package)."""
        zip_ok = bool(row.get('r2_path') or row.get('external_url'))
        delta_ok = bool(row.get('manifest_count') or row.get('manifest'))
        if self.generation != 'latest' or not channel.get('updatePackage'):
            if zip_ok or delta_ok:
                return True, 'the bundle has %s' % ('a zip' if zip_ok else 'a manifest')
            return False, 'no upload, no external URL and no manifest'
        mode = channel.get('updatePackage')
        if mode in ('zip_from_builtin', 'delta_from_builtin'):
            mode = mode.split('_')[0] if self.device.reported_builtin else 'all'
        if mode == 'zip':
            return zip_ok, 'update_package zip: the bundle %s a zip' % ('has' if zip_ok else 'has no')
        if mode == 'delta':
            takes = plugin_takes_manifest(self.device.plugin)
            if row.get('external_url') or takes is False:
                return zip_ok, 'update_package delta, served as a zip here: the bundle %s a zip' % ('has' if zip_ok else 'has no')
            if takes is None and zip_ok != delta_ok:
                return None, 'update_package delta: depends on whether the plugin takes manifests (plugin version not known)'
            return delta_ok, 'update_package delta: the bundle %s a manifest' % ('has' if delta_ok else 'has no')
        if zip_ok or delta_ok:
            return True, 'the bundle has %s' % ('a zip' if zip_ok else 'a manifest')
        return False, 'no upload, no external URL and no manifest'

    def _downloadable(self, channel, row):
        if row is None:
            return False
        url = row.get('external_url') or ''
        if row.get('r2_path') or url.startswith('http://') or url.startswith('https://'):
            return True
        manifest = bool(row.get('manifest_count') or row.get('manifest'))
        return manifest and plugin_takes_manifest(self.device.plugin) is not False

    def run(self):
        """The ``update`` dict of capgo_update_check, without ``server``."""
        device = self.device
        blocked = self.pre_checks()
        channel = source = rollout = None
        outcome = None
        extra = {}
        if blocked is not None:
            outcome = blocked
            self.steps.skip_rest(STEPS)
        else:
            channel, source, no_channel = self.select_channel()
            if channel is None:
                self.steps.skip_rest(STEPS)
                outcome = _outcome(False, None, 'no_channel', no_channel)
            else:
                rollout, in_rollout = self.rollout(channel)
                stable = self.app.stable_name(channel)
                if in_rollout is None:
                    stable_steps = Steps()
                    stable_steps.items = list(self.steps.items)
                    outcome = self.gates(channel, source, stable, stable_steps)
                    picked_steps = Steps()
                    picked_steps.items = list(self.steps.items)
                    picked = self.gates(channel, source, rollout['bundle'], picked_steps)
                    self.steps = stable_steps
                    rollout['if_selected'] = dict((k, picked[k]) for k in ('available', 'bundle', 'reason'))
                    rollout['if_not_selected'] = dict((k, outcome[k]) for k in ('available', 'bundle', 'reason'))
                    extra['possible_answers'] = sorted(set([answer_of(outcome), answer_of(picked)]))
                    extra['selected_message'] = picked['message'] or 'it gets bundle %s.' % rollout['bundle']
                else:
                    outcome = self.gates(channel, source, rollout['bundle'] if in_rollout else stable, self.steps)
        message = outcome['message']
        if outcome['available'] and not message:
            message = 'The device gets bundle %s from channel %s (%s%s).' % (
                outcome['bundle'], channel.get('name'), _SOURCE_TEXT[source],
                ', as part of its rollout' if rollout and rollout.get('in_rollout') else '')
        if 'selected_message' in extra:
            message = '%s If the random rollout draw (%.2f %%) selects the device instead: %s' % (
                message, rollout['percentage'], extra['selected_message'])
        kept = 'builtin' if device.reported_builtin else device.version_name
        target = None
        if channel is not None:
            target = rollout['bundle'] if rollout and rollout.get('in_rollout') else self.app.stable_name(channel)
        update = dict(
            available=outcome['available'],
            bundle=outcome['bundle'] if outcome['available'] else kept,
            target=target,
            channel=channel.get('name') if channel else None,
            channel_source=source,
            reason=outcome['reason'],
            message=message,
            http_status=outcome['http_status'],
            checks=self.steps.items,
            rollout=rollout,
            assumptions=self.assumptions,
            device=device.public_view(),
            generation=self.generation,
        )
        update['answer'] = answer_of(outcome)
        if outcome.get('possible') and 'possible_answers' not in extra:
            extra['possible_answers'] = sorted(outcome['possible'])
        update['possible_answers'] = extra.get('possible_answers', [update['answer']])
        return update


_SOURCE_TEXT = dict(override='its channel override', default_channel='the channel the app asks for',
                    cloud_default='the default channel')


def decide(app_id, device, channel_items, bundle_items, generation=None):
    """Compute the ``update`` dict for ``device`` (a Device) from GET /channel and GET /bundle items."""
    generation = generation or detect_generation(channel_items)
    app = AppState(app_id, channel_items, bundle_items, generation)
    decision = Decision(app, device)
    if generation is None:
        decision.generation = 'current'
    elif generation == 'classic':
        decision.assume('This is a pre-July-2026 Capgo API (classic); the decision is computed with the July 2026 rules.')
    update = decision.run()
    update['generation'] = generation
    return update


# -- asking the server ------------------------------------------------------------------------------------------

def probe_body(app_id, device):
    """The updater plugin's own update request for this device (1.2), without anything the API key would add."""
    body = dict(
        app_id=app_id,
        device_id=device.device_id,
        version_name='builtin' if device.reported_builtin else device.version_name,
        version_build=device.raw_version_build,
        platform=device.platform,
        plugin_version=device.plugin_version,
        is_emulator=device.is_emulator,
        is_prod=device.is_prod,
        defaultChannel=device.default_channel or '',
    )
    if device.key_id:
        body['key_id'] = device.key_id
    if device.os_version:
        body['version_os'] = device.os_version
    if device.custom_id:
        body['custom_id'] = device.custom_id
    if device.install_source:
        body['install_source'] = device.install_source
    return body


# Refusals of the probe for where it came from, not for the device: a real device is not refused for them.
PROBE_ORIGIN_REFUSALS = ('provider_infrastructure_request_blocked',)


def read_answer(status, body, headers=None):
    """The server's answer reduced to what may be shown: ``answer`` (bundle or error code), ``kind``, ``message``,
    ``provider``; never its url, session_key, checksum or manifest."""
    answer = dict(status=status, answer=None, kind=None, message=None)
    if isinstance(body, dict):
        if body.get('error'):
            answer['answer'] = str(body.get('error'))
            answer['kind'] = body.get('kind')
            answer['message'] = body.get('message')
            if isinstance(body.get('provider'), str):
                answer['provider'] = body['provider']
        elif status < 400 and isinstance(body.get('version'), str):
            answer['answer'] = body.get('version')
    if answer['answer'] is None:
        answer['answer'] = 'http_%s' % status
    lag = (headers or {}).get('X-Replication-Lag') if headers is not None else None
    if lag:
        answer['replication_lag'] = lag
    return answer


def compare(update, server):
    """Whether the server's answer is one the computation allows; None when it refused the probe for its origin."""
    if server.get('answer') in PROBE_ORIGIN_REFUSALS:
        return None
    return server.get('answer') in update.get('possible_answers', [update.get('answer')])


def send_probe(url, body, timeout, validate_certs):
    """POST the plugin's update request (no API key: the endpoint is public); returns read_answer(...).

    Sent once, never retried: a repeated probe is one more update check with its own side effects.
    """
    if not HAS_REQUESTS:
        raise CapgoError('the Python library requests is required by capgo.cloud: pip install requests')
    session = requests.Session()
    session.headers.update({'User-Agent': USER_AGENT, 'Accept': 'application/json'})
    if not validate_certs:
        session.verify = False
    try:
        response = session.post(url, json=body, timeout=timeout)
    except Exception as exc:  # requests, urllib3 and socket errors: no answer
        raise CapgoError('The update request to %s got no answer: %s' % (url, type(exc).__name__), method='POST',
                         path=url)
    finally:
        session.close()
    try:
        payload = response.json() if response.content else None
    except ValueError:
        payload = None
    return read_answer(response.status_code, payload, response.headers)


# -- the module's read and plan ---

def get_device(client, app_id, device_id):
    """One device's GET /device item, or None when it never checked in (404 device_not_found)."""
    body = client.request('GET', '/device', params=dict(app_id=app_id, device_id=device_id),
                          ok_errors=('device_not_found',))
    if isinstance(body, dict) and body.get('error') == 'device_not_found':
        return None
    return body


def list_channels(client, app_id):
    return client.get_paged('/channel', dict(app_id=app_id), key='id')


def list_bundles(client, app_id):
    """Every bundle row GET /bundle lists (an app without bundles: an empty list)."""
    return client.get_paged('/bundle', dict(app_id=app_id), key='id', empty_error='cannot_get_bundle')


def validate(params):
    """Every input check that needs no request; CapgoInputError otherwise."""
    device_id = params.get('device_id')
    if device_id is not None and not device_id.strip():
        raise CapgoInputError('device_id is empty')
    if not device_id:
        missing = [name for name in ('platform', 'native_version') if not params.get(name)]
        if missing:
            raise CapgoInputError('Without device_id the module describes a device from its options: set %s'
                                  % ' and '.join(missing))
    native = params.get('native_version')
    if native is not None and normalize_version_build(native) is None:
        raise CapgoInputError('native_version %r is not a version Capgo can read (it would answer HTTP 400 semver_error): '
                              'use the store build\'s version, for example 1.4.0' % (native,))
    plugin = params.get('plugin_version')
    if plugin is not None and parse_version(plugin) is None:
        raise CapgoInputError('plugin_version %r is not a semantic version such as 7.2.0 (Capgo would refuse the request '
                              'with invalid_json_body)' % (plugin,))
    if params.get('ask_server'):
        url = params.get('updates_url') or ''
        if not (url.startswith('http://') or url.startswith('https://')):
            raise CapgoInputError('updates_url %r is not an http:// or https:// URL, for example %s'
                                  % (url, DEFAULT_UPDATES_URL))
        if device_id and not UUID_RE.match(device_id.strip().lower()):
            raise CapgoInputError('device_id %r is not a UUID; the update endpoint refuses the request with '
                                  'invalid_json_body, so ask_server cannot check this device (leave ask_server off to '
                                  'only compute the answer)' % (device_id,))
        if not device_id and not plugin:
            raise CapgoInputError('ask_server sends the plugin\'s own request, which carries the plugin version: set '
                                  'plugin_version')


def build_device(params, row):
    """A Device from the options, on top of what GET /device reported (``row``; None when not read or not found)."""
    row = row or {}

    def pick(option, wire, default=None):
        if params.get(option) is not None:
            return params[option]
        if row.get(wire) is not None:
            return row[wire]
        return default

    device_id = (params.get('device_id') or SYNTHETIC_DEVICE_ID).strip().lower()
    return Device(
        device_id=device_id,
        platform=pick('platform', 'platform'),
        version_build=pick('native_version', 'version_build'),
        version_name=pick('bundle', 'version_name', 'builtin'),
        is_prod=pick('is_prod', 'is_prod', True),
        is_emulator=pick('is_emulator', 'is_emulator', False),
        plugin_version=pick('plugin_version', 'plugin_version'),
        key_id=row.get('key_id'),
        override=row.get('channel') or None,
        override_known=bool(row) or not params.get('device_id'),
        default_channel=params.get('default_channel'),
        source='api' if row else 'options',
        os_version=row.get('os_version'),
        custom_id=row.get('custom_id'),
        install_source=row.get('install_source'),
    )


def read(module):
    """GET /device (with device_id), GET /channel and GET /bundle, every page; then the probe with ask_server."""
    params = module.params
    validate(params)
    client = module.client
    app_id = params['app_id']
    row = None
    if params.get('device_id'):
        row = get_device(client, app_id, params['device_id'].strip().lower())
        if row is None and not (params.get('platform') and params.get('native_version')):
            raise CapgoInputError(
                'Device %s has never checked in with app %s (or Capgo has forgotten it after about 90 days without '
                'contact), so the API cannot describe it: set platform and native_version (and plugin_version) to '
                'describe it' % (params['device_id'], app_id))
    device = build_device(params, row)
    if not device.platform or device.platform not in PLATFORMS:
        raise CapgoInputError('The device reports no platform Capgo serves (%r): set platform' % (device.platform,))
    if not device.raw_version_build:
        raise CapgoInputError('Device %s reports no native version: set native_version' % device.device_id)
    channels = list_channels(client, app_id)
    bundles = list_bundles(client, app_id)
    current = dict(device=device, channels=channels, bundles=bundles, server=None)
    if params.get('ask_server'):
        if not device.plugin_version:
            raise CapgoInputError('Device %s reports no plugin version; set plugin_version for ask_server' % device.device_id)
        if not module.check_mode:
            current['server'] = send_probe(params['updates_url'], probe_body(app_id, device), params['api_timeout'],
                                           params['validate_certs'])
    return current


def plan(module, current):
    update = decide(module.params['app_id'], current['device'], current['channels'], current['bundles'])
    if module.params.get('ask_server'):
        server = current.get('server')
        if server is None:
            update['server'] = dict(answer=None, agrees=None, status=None, kind=None, message=None)
        else:
            server = dict(server)
            server['agrees'] = compare(update, server)
            update['server'] = server
            if server['agrees'] is None:
                module.warn('Capgo refused the update request of ask_server itself (%s): it came from a %s data-centre '
                            'address, and the app blocks requests from cloud provider infrastructure (the app setting '
                            'block_provider_infra_requests, on by default). Devices are not refused for that, so there is '
                            'no answer to compare with the computed one; send ask_server from a machine outside Google and '
                            'Apple data centres (CI runners on Google Cloud are inside them).'
                            % (server['answer'], server.get('provider') or 'cloud provider'))
            elif not server['agrees']:
                module.warn('Capgo answered %s but the computation expected %s (%s). Possible causes: a change made '
                            'seconds ago not yet on Capgo\'s read replica or caches, an input the API does not show '
                            '(see decision.assumptions), or a difference between this module and the server.'
                            % (server['answer'], ' or '.join(update['possible_answers']),
                               'reason: %s' % update['reason'] if update['reason'] else 'offer'))
    # `update` is the interface's name; `decision` the same dict under a name Jinja's dot notation can reach
    return Plan(None, None, None, [], result=dict(changed=False, update=update, decision=update))
