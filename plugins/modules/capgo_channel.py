#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: capgo_channel
short_description: Manage a Capgo channel, its bundle, its settings and its progressive rollout
version_added: 1.0.0
description:
  - Creates, updates or deletes one channel of a Capgo app. A channel is what a device asks for updates;
    it serves one bundle (a version of the web assets) to the devices that use it.
  - Idempotent. The module reads the channel once, compares only the options you set, and sends at most one
    write. A run where nothing differs sends no write at all.
  - Check mode sends no write and reports what a real run would change, with the same RV(diff) and RV(channel)
    (except the timestamps and, for a new channel, its O(name)'s RV(channel.id)).
  - Works with both generations of Capgo's API, the current one and the classic one that older self-hosted
    installs run. A settings-only change never unassigns the channel's bundle, even on the classic API, which
    resets the bundle of any channel updated without one; the module sends the bundle the channel already serves.
  - Progressive rollouts (O(rollout)) need the current API generation.
author:
  - Capgo collection maintainers (@capgo-cloud)
extends_documentation_fragment:
  - capgo.cloud.connection
  - capgo.cloud.attributes
options:
  app_id:
    description:
      - The app's reverse-domain id, for example V(com.example.app). Checked before any request.
    type: str
    required: true
  name:
    description:
      - The channel name, for example V(production) or V(beta).
    type: str
    required: true
    aliases: [channel]
  state:
    description:
      - V(present) creates the channel if needed (see O(create)) and makes it match the options you set.
      - V(absent) deletes the channel. Devices pinned to it by an override lose the override and fall back to normal
        channel selection. The bundles it served are kept. A channel that does not exist is not a change.
    type: str
    choices: [present, absent]
    default: present
  create:
    description:
      - Whether O(state=present) may create a channel that does not exist.
      - Capgo creates a channel for any name it is sent, so a typo in O(name) would silently create a new channel.
        V(false) makes a missing channel an error instead, before any write.
    type: bool
    default: true
  bundle:
    description:
      - The bundle (version name, for example V(1.4.2)) the channel serves to its devices.
      - V(builtin) unassigns the bundle, so devices fall back to the web assets shipped in the app store build.
      - When not set, the channel keeps the bundle it serves. A change of other settings never unassigns it.
      - A bundle that does not exist in the app (or was deleted) fails with a message naming the app and the bundle,
        before any write. Upload bundles with M(capgo.cloud.capgo_bundle) or the Capgo CLI.
      - Changing the bundle of a channel with a running rollout ends that rollout, unless O(rollout) keeps it.
    type: str
    aliases: [version]
  public:
    description:
      - Whether this is a default channel. A device that has no override and asks for no channel of its own gets the
        public channel for its platform.
      - Capgo keeps at most one public channel per platform. Setting V(true) makes Capgo demote (set V(false) on) the
        other public channels that share a platform with this one; their names are returned in RV(demoted).
      - V(false) on the current default leaves its devices without a default channel (Capgo answers them C(no_channel))
        unless another channel is public.
      - A private channel (V(false)) only serves devices pinned to it by an override (M(capgo.cloud.capgo_device_link)),
        or devices that select it themselves when O(allow_device_self_set=true).
    type: bool
  disable_auto_update:
    description:
      - Which bundles the channel refuses to send, compared with the native version of the app on the device
        (its store build), not with the bundle the device runs.
      - V(major) blocks a bundle whose major version is higher than the native one.
      - V(minor) sends only bundles with the same major and minor version as the native one.
      - V(patch) sends only bundles with the same major, minor and patch version (so only pre-release or build variants).
      - V(version_number) blocks a bundle whose minimum native version (set at upload) is higher than the native
        version; a bundle uploaded without one makes the channel answer C(misconfigured_channel).
      - V(none) sends every bundle.
      - Capgo's default for a new channel is V(major).
    type: str
    choices: [major, minor, patch, version_number, none]
  disable_auto_update_under_native:
    description:
      - Whether the channel refuses to send a bundle whose version is lower than the native version of the app
        on the device (a downgrade below the store build). Capgo's default for a new channel is V(true).
    type: bool
  allow_device_self_set:
    description:
      - Whether devices may choose this channel themselves (the updater plugin's C(setChannel()) or its
        C(defaultChannel) setting). Without it, a private channel serves only devices pinned to it by an override.
        Capgo's default for a new channel is V(false).
    type: bool
  allow_emulator:
    description:
      - Whether emulators and simulators get updates from this channel. Capgo's default is V(true).
    type: bool
  allow_dev:
    description:
      - Whether development (non-production) builds get updates from this channel. Note that iOS reports TestFlight
        builds as non-production. Capgo's default is V(true).
    type: bool
  allow_device:
    description:
      - Whether physical devices get updates from this channel. Capgo's default is V(true).
    type: bool
  allow_prod:
    description:
      - Whether production builds get updates from this channel. Capgo's default is V(true).
    type: bool
  ios:
    description:
      - Whether iOS devices may use this channel. Capgo's default is V(true).
      - Capgo's API accepts the platform flags but never returns them, so the module cannot read them back.
        They are applied when the module B(creates) the channel. On an existing channel they are neither compared
        nor sent, and the module warns that they cannot be verified; change them in the Capgo console, or delete and
        re-create the channel. This way a run never reports a change it cannot check, and never claims to enforce
        a value it cannot read.
    type: bool
  android:
    description:
      - Whether Android devices may use this channel. Capgo's default is V(true).
      - Applied only when the channel is created, see O(ios).
    type: bool
  electron:
    description:
      - Whether Electron (desktop) apps may use this channel. Capgo's default is V(true), except that a new public
        channel with O(ios) different from O(android) gets V(false) on the current API.
      - Applied only when the channel is created, see O(ios). The classic API generation ignores it.
    type: bool
  rollout:
    description:
      - A progressive (staged) rollout. The channel keeps serving its O(bundle) (the stable bundle) while a candidate
        bundle goes to a random share of its devices. Each device's draw is sticky, and raising the percentage only
        draws new devices for the added share.
      - Written declaratively, so each step of a ramp is a task that is a no-op once it is reached.
        Start or ramp with O(rollout.bundle) and O(rollout.percentage); pause with O(rollout.paused=true);
        B(promote) the candidate with O(bundle) set to the candidate and O(rollout.state=absent) (the candidate becomes
        the stable bundle and the rollout ends); B(roll back) with O(rollout.state=absent) alone (the rollout ends and
        the stable bundle stays). See the examples.
      - Only options you set are compared. When not set at all, a running rollout is left alone (except that changing
        O(bundle) ends it).
      - Needs the current Capgo API generation; on the classic one any O(rollout) fails before a write.
        Capgo refuses rollout settings for a channel that does not exist yet, so create the channel with its
        stable bundle first.
    type: dict
    suboptions:
      state:
        description:
          - V(present) runs a rollout as described by the other suboptions.
          - V(absent) ends the running rollout, if any. Together with O(bundle) set to the candidate it promotes the
            candidate; otherwise the candidate is dropped and devices go back to the stable bundle.
          - The other suboptions are not allowed with V(absent).
        type: str
        choices: [present, absent]
        default: present
      bundle:
        description:
          - The candidate bundle. It must exist in the app and differ from the stable bundle, and the channel must
            serve a stable bundle.
          - Required to start a rollout; a different value replaces the candidate of a running rollout (which
            re-draws the devices, so O(rollout.percentage) is then required too).
        type: str
      percentage:
        description:
          - The share of the channel's devices that get the candidate, from V(0) to V(100) with at most two decimals
            (Capgo stores basis points).
          - Required when a rollout starts or its candidate changes.
        type: float
      paused:
        description:
          - V(true) pauses the rollout (devices that already have the candidate keep it, no new device gets it).
            V(false) resumes it. A new rollout starts unpaused unless this is V(true).
        type: bool
      cache_ttl:
        description:
          - How long, in seconds, a device keeps its draw before asking again, from V(60) to V(31536000).
            Capgo's default is 30 days.
        type: int
      auto_pause:
        description:
          - Capgo's automatic reaction when the candidate fails on too many devices.
          - These settings stay on the channel between rollouts.
        type: dict
        suboptions:
          enabled:
            description:
              - Whether Capgo watches the candidate's failure rate.
            type: bool
          window_minutes:
            description:
              - The window over which the failure rate is measured, from V(1) to V(10080) minutes.
            type: int
          failure_rate:
            description:
              - The failure rate, in percent (V(0) to V(100), at most two decimals), above which Capgo reacts.
            type: float
          confidence:
            description:
              - The statistical confidence Capgo needs before it reacts, strictly between V(0) and V(1).
            type: float
          min_attempts:
            description:
              - The fewest update attempts in the window before Capgo reacts (V(0) or more).
            type: int
          min_failures:
            description:
              - The fewest failed updates in the window before Capgo reacts (V(0) or more).
            type: int
          action:
            description:
              - What Capgo does when the threshold is crossed. V(pause) pauses the rollout, V(rollback) ends it,
                V(notify) only notifies.
            type: str
            choices: [pause, rollback, notify]
          cooldown_minutes:
            description:
              - The minutes Capgo waits after a reaction before it reacts again, from V(0) to V(10080).
            type: int
notes:
  - The API key needs the right to change channel settings on the app. On the current API a key that could only
    upload or develop (C(write) mode on the classic API) can create channels but not change an existing channel's
    settings, and deleting a channel needs an admin key.
  - On the classic API generation, making a channel public demotes the others asynchronously, and not at all when
    the channel is new. The module then waits (about ten seconds at most) for the demotion to show, re-sending the
    new channel's settings once so that Capgo applies its own demotion rules, and reports in RV(demoted) only what
    Capgo really demoted; it warns if another public channel is still public afterwards.
  - Check mode predicts RV(demoted) as every other public channel, since Capgo does not show which platforms a channel
    serves. iOS-only and Android-only default channels can coexist, so a real run may demote fewer.
  - On the classic API generation a successful delete answer does not prove the channel is gone, so the module
    reads the channel again after deleting it and fails if it is still there.
  - Creating a channel reads the app's other channels once, to learn the API generation and which channel is public.
    For the very first channel of an app, check mode cannot tell the generation, so its predicted RV(channel) has no
    C(rollout) key where the real run on the current generation returns C(rollout=null).
seealso:
  - module: capgo.cloud.capgo_info
  - module: capgo.cloud.capgo_device_link
  - module: capgo.cloud.capgo_bundle
  - name: Staged releases with capgo.cloud
    description: A guide to progressive rollouts with this module (docs/staged-release.md in the collection).
    link: https://github.com/capgo-cloud/ansible-collection-cloud/blob/main/docs/staged-release.md
'''

EXAMPLES = r'''
- name: Production is the default channel and serves the release bundle
  capgo.cloud.capgo_channel:
    app_id: com.example.app
    name: production
    bundle: 1.4.2
    public: true
    disable_auto_update: major
    disable_auto_update_under_native: true
    allow_emulator: false
    allow_dev: false
  register: production

- name: Show which channels lost their default role
  ansible.builtin.debug:
    msg: "No longer default: {{ production.demoted | join(', ') }}"
  when: production.demoted | length > 0

- name: A private beta channel that testers are pinned to with capgo_device_link
  capgo.cloud.capgo_channel:
    app_id: com.example.app
    name: beta
    bundle: 1.5.0-beta.1
    public: false
    allow_device_self_set: false
    allow_dev: true

- name: Pin a tester to the beta channel
  capgo.cloud.capgo_device_link:
    app_id: com.example.app
    device_id: 00008030-001a2b3c4d5e
    channel: beta

- name: A lane for the 2.x store build that only gets bundles of the same major version
  capgo.cloud.capgo_channel:
    app_id: com.example.app
    name: native-2
    bundle: 2.3.0
    disable_auto_update: major
    allow_device_self_set: true

- name: Change a setting only; the channel keeps serving its bundle
  capgo.cloud.capgo_channel:
    app_id: com.example.app
    name: production
    allow_emulator: true

- name: Stop serving a bundle, so devices use the bundle of their store build
  capgo.cloud.capgo_channel:
    app_id: com.example.app
    name: beta
    bundle: builtin

- name: Make sure an existing channel is configured, without ever creating one by typo
  capgo.cloud.capgo_channel:
    app_id: com.example.app
    name: production
    create: false
    allow_prod: true

- name: Delete a channel
  capgo.cloud.capgo_channel:
    app_id: com.example.app
    name: old-experiment
    state: absent

# A staged release: every task below is a no-op once its state is reached, so a pipeline can run the
# same step again safely.
- name: Start a rollout of 1.5.0 to 5 % of production's devices
  capgo.cloud.capgo_channel:
    app_id: com.example.app
    name: production
    rollout:
      bundle: 1.5.0
      percentage: 5
      auto_pause:
        enabled: true
        failure_rate: 2.5
        action: pause

- name: Ramp up to 25 %
  capgo.cloud.capgo_channel:
    app_id: com.example.app
    name: production
    rollout:
      bundle: 1.5.0
      percentage: 25

- name: Pause the rollout while investigating a crash report
  capgo.cloud.capgo_channel:
    app_id: com.example.app
    name: production
    rollout:
      paused: true

- name: Promote 1.5.0, it becomes production's bundle for every device and the rollout ends
  capgo.cloud.capgo_channel:
    app_id: com.example.app
    name: production
    bundle: 1.5.0
    rollout:
      state: absent

- name: Or roll back, the rollout ends and production keeps serving its stable bundle
  capgo.cloud.capgo_channel:
    app_id: com.example.app
    name: production
    rollout:
      state: absent
'''

RETURN = r'''
channel:
  description:
    - The channel after the run (in check mode, as a real run would leave it), with keys spelled as this module's
      options, so what is read can be written back.
    - V(null) when the channel does not exist after the run.
  returned: always
  type: dict
  contains:
    id:
      description: Capgo's id of the channel (V(null) in check mode for a channel that would be created).
      type: int
    name:
      description: The channel name.
      type: str
    app_id:
      description: The app id.
      type: str
    bundle:
      description: Name of the bundle the channel serves, or V(null) when devices get the store build's bundle.
      type: str
    public:
      description: Whether this is a default channel.
      type: bool
    disable_auto_update:
      description: Which updates are blocked compared to the native app version.
      type: str
    disable_auto_update_under_native:
      description: Whether bundles older than the native app version are blocked.
      type: bool
    allow_device_self_set:
      description: Whether devices may select this channel themselves.
      type: bool
    allow_emulator:
      description: Whether emulators get updates.
      type: bool
    allow_dev:
      description: Whether development builds get updates.
      type: bool
    allow_device:
      description: Whether physical devices get updates.
      type: bool
    allow_prod:
      description: Whether production builds get updates.
      type: bool
    rollout:
      description:
        - The running rollout in the suboption names of O(rollout), or V(null) when none runs.
        - Only returned by the current API generation (the classic one has no rollouts).
      type: dict
      contains:
        bundle:
          description: The candidate bundle.
          type: str
        percentage:
          description: The share of devices that get the candidate, in percent.
          type: float
        paused:
          description: Whether the rollout is paused.
          type: bool
        cache_ttl:
          description: Seconds a device keeps its draw.
          type: int
        auto_pause:
          description: The auto-pause policy, in the suboption names of O(rollout.auto_pause).
          type: dict
    created_at:
      description: When the channel was created.
      type: str
    updated_at:
      description: When the channel was last changed.
      type: str
  sample:
    id: 12
    name: production
    app_id: com.example.app
    bundle: 1.4.2
    public: true
    disable_auto_update: major
    disable_auto_update_under_native: true
    allow_device_self_set: false
    allow_emulator: false
    allow_dev: false
    allow_device: true
    allow_prod: true
    rollout:
      bundle: 1.5.0
      percentage: 5.0
      paused: false
      cache_ttl: 2592000
      auto_pause:
        enabled: true
        window_minutes: 60
        failure_rate: 2.5
        confidence: 0.95
        min_attempts: null
        min_failures: null
        action: pause
        cooldown_minutes: 60
    created_at: "2026-01-01T00:00:00+00:00"
    updated_at: "2026-03-01T10:00:00+00:00"
demoted:
  description:
    - Names of the other channels that stopped being public because this one became public, as Capgo shows them
      after the run. In check mode, the public channels that would be demoted.
  returned: always
  type: list
  elements: str
  sample: [staging]
diff:
  description:
    - The options you set (and the rollout where the run changes it), before and after, in option names.
    - For a new channel, every setting it will have; for a deleted channel, every setting it had.
  returned: always
  type: dict
  sample:
    before:
      bundle: 1.4.2
      public: false
    after:
      bundle: 1.4.3
      public: true
'''

import time

from ansible_collections.capgo.cloud.plugins.module_utils.base import CapgoModule
from ansible_collections.capgo.cloud.plugins.module_utils.engine import Plan, differences, merged
from ansible_collections.capgo.cloud.plugins.module_utils.resources import (
    AUTO_PAUSE_SETTINGS,
    BUILTIN,
    CHANNEL_PLATFORMS,
    CHANNEL_SETTINGS,
    ROLLOUT_SETTINGS,
    api_generation,
    get_channel,
    list_bundles,
    list_channels,
    normalize_channel,
    normalize_rollout,
    percent_to_bps,
    rollout_settings,
    rollout_wire,
)

SETTING_OPTIONS = [option for option, dummy in CHANNEL_SETTINGS]
CHANNEL_FIELDS = ['bundle'] + SETTING_OPTIONS
# What a channel created without a setting gets (the API's column defaults).
CREATE_DEFAULTS = dict(
    bundle=None, public=False, disable_auto_update='major', disable_auto_update_under_native=True,
    allow_device_self_set=False, allow_emulator=True, allow_dev=True, allow_device=True, allow_prod=True,
)
# The bundle name both API generations read as "no bundle" (classic answers 500 to 'builtin').
WIRE_NO_BUNDLE = 'unknown'
# Classic demotes other public channels asynchronously: how long to wait for it to show.
DEMOTION_WAIT = 10.0
DEMOTION_POLL = 0.5
MAX_MINUTES = 10080


class ChannelFailure(Exception):
    """A problem with the task's input or the channel's state, found before or after the API calls."""


# -- input checks (no request) -----------------------------------------------------------------

def _two_decimals(value):
    return abs(value * 100 - round(value * 100)) < 1e-6


def _check_percent(label, value):
    if value is None:
        return
    if not 0 <= value <= 100 or not _two_decimals(value):
        raise ChannelFailure('%s must be a percentage from 0 to 100 with at most two decimals, got %s' % (label, value))


def _check_range(label, value, low, high=None):
    if value is None:
        return
    if value < low or (high is not None and value > high):
        limits = 'from %d to %d' % (low, high) if high is not None else '%d or more' % low
        raise ChannelFailure('%s must be %s, got %s' % (label, limits, value))


def validate_params(params):
    """Everything that can be checked before any request."""
    if not params['name'] or not params['name'].strip():
        raise ChannelFailure('name must be a non-empty channel name')
    if params['bundle'] is not None and not params['bundle'].strip():
        raise ChannelFailure("bundle must be a bundle name, or 'builtin' to unassign the channel's bundle")
    rollout = params['rollout']
    if rollout is None:
        return
    if params['state'] == 'absent':
        raise ChannelFailure('rollout cannot be used with state=absent (deleting the channel ends its rollout)')
    auto_pause = rollout['auto_pause'] or {}
    if rollout['state'] == 'absent':
        extra = sorted(key for key in ('bundle', 'percentage', 'paused', 'cache_ttl') if rollout[key] is not None)
        extra += ['auto_pause'] if any(value is not None for value in auto_pause.values()) else []
        if extra:
            raise ChannelFailure('rollout.state=absent ends the rollout; it takes no other rollout option (got %s)' % ', '.join(extra))
        return
    if rollout['bundle'] is not None:
        if not rollout['bundle'].strip() or rollout['bundle'] == BUILTIN:
            raise ChannelFailure('rollout.bundle must be the name of an uploaded bundle')
        if params['bundle'] is not None and rollout['bundle'] == params['bundle']:
            raise ChannelFailure('rollout.bundle must differ from the stable bundle (%s): to promote the candidate, '
                                 'set bundle to it and rollout.state=absent' % params['bundle'])
    if params['bundle'] == BUILTIN:
        raise ChannelFailure('a rollout needs a stable bundle on the channel, but bundle is builtin')
    _check_percent('rollout.percentage', rollout['percentage'])
    _check_range('rollout.cache_ttl', rollout['cache_ttl'], 60, 31536000)
    _check_range('rollout.auto_pause.window_minutes', auto_pause.get('window_minutes'), 1, MAX_MINUTES)
    _check_range('rollout.auto_pause.cooldown_minutes', auto_pause.get('cooldown_minutes'), 0, MAX_MINUTES)
    _check_range('rollout.auto_pause.min_attempts', auto_pause.get('min_attempts'), 0)
    _check_range('rollout.auto_pause.min_failures', auto_pause.get('min_failures'), 0)
    _check_percent('rollout.auto_pause.failure_rate', auto_pause.get('failure_rate'))
    confidence = auto_pause.get('confidence')
    if confidence is not None and not 0 < confidence < 1:
        raise ChannelFailure('rollout.auto_pause.confidence must be strictly between 0 and 1, got %s' % confidence)


# -- planning (no request) ---------------------------------------------------------------------

def _rollout_wanted(rollout_param):
    """The user's rollout suboptions without the unset ones (auto_pause likewise)."""
    wanted = dict((key, rollout_param[key]) for key in ('bundle', 'percentage', 'paused', 'cache_ttl') if rollout_param[key] is not None)
    if wanted.get('percentage') is not None:
        wanted['percentage'] = round(percent_to_bps(wanted['percentage']) / 100.0, 2)
    auto_pause = dict((key, value) for key, value in (rollout_param['auto_pause'] or {}).items() if value is not None)
    if auto_pause.get('failure_rate') is not None:
        auto_pause['failure_rate'] = round(percent_to_bps(auto_pause['failure_rate']) / 100.0, 2)
    if auto_pause:
        wanted['auto_pause'] = auto_pause
    return wanted


def plan_rollout(params, item, stable_after, bundle_changes):
    """(rollout after the run, POST fields, changed) for the rollout part of a channel on the current API.

    ``stable_after`` is the stable bundle the channel will serve, ``bundle_changes`` whether the run changes it.
    """
    running = normalize_rollout(item)
    rollout_param = params['rollout']
    if rollout_param is None:
        if running is not None and bundle_changes:
            # A new stable bundle ends the rollout; said explicitly so every API version does the same.
            return None, dict(rollback=True), True
        return running, {}, False
    if rollout_param['state'] == 'absent':
        if running is None:
            return None, {}, False
        if stable_after == running['bundle']:
            return None, dict(promoteToStable=True), True
        return None, dict(rollback=True), True

    wanted = _rollout_wanted(rollout_param)
    candidate = wanted.get('bundle') or (running['bundle'] if running else None)
    if candidate is None:
        raise ChannelFailure('rollout.bundle is required to start a rollout on channel %s (none is running)' % params['name'])
    if stable_after is None:
        raise ChannelFailure('a rollout needs a stable bundle on channel %s: set bundle as well' % params['name'])
    if candidate == stable_after:
        raise ChannelFailure('rollout.bundle must differ from the stable bundle %s of channel %s: to promote the candidate, '
                             'set bundle to it and rollout.state=absent' % (stable_after, params['name']))
    starting = running is None or running['bundle'] != candidate
    if starting and 'percentage' not in wanted:
        raise ChannelFailure('rollout.percentage is required to start a rollout or change its bundle (channel %s)' % params['name'])

    if starting:
        base = rollout_settings(item)
        base['bundle'] = candidate
        base['paused'] = False
        after = merged(base, wanted)
        fields = dict(rolloutVersion=candidate, rolloutEnabled=True, rolloutPaused=after['paused'],
                      rolloutPercentageBps=percent_to_bps(after['percentage']))
        fields.update(rollout_wire(_changed_values(wanted, base, 'cache_ttl'), ROLLOUT_SETTINGS))
        fields.update(_auto_pause_fields(wanted, base))
        return after, fields, True

    changes = differences(wanted, running)
    if not changes:
        fields = {}
        if bundle_changes:
            # Name the candidate so the API keeps the rollout while the stable bundle changes.
            fields['rolloutVersion'] = candidate
        return running, fields, False
    after = merged(running, wanted)
    fields = {}
    if 'percentage' in changes:
        fields['rolloutPercentageBps'] = percent_to_bps(after['percentage'])
    if 'paused' in changes:
        fields['rolloutPaused'] = after['paused']
    fields.update(rollout_wire(_changed_values(wanted, running, 'cache_ttl'), ROLLOUT_SETTINGS))
    fields.update(_auto_pause_fields(wanted, running))
    if bundle_changes:
        fields['rolloutVersion'] = candidate
    return after, fields, True


def _changed_values(wanted, base, *keys):
    return dict((key, wanted[key]) for key in keys if key in wanted and wanted[key] != base.get(key))


def _auto_pause_fields(wanted, base):
    want = wanted.get('auto_pause') or {}
    have = base.get('auto_pause') or {}
    changed = dict((key, value) for key, value in want.items() if value != have.get(key))
    return rollout_wire(changed, AUTO_PAUSE_SETTINGS)


def plan_present(params, item, generation=None):
    """(Plan, POST body or None) for state=present; the body is the one write a real run sends.

    ``generation``: the API generation when ``item`` is None (a create), as far as other channels tell it.
    """
    current = normalize_channel(item)
    if item is not None:
        generation = api_generation(item)
    app_id, name = params['app_id'], params['name']
    settings = dict((option, params[option]) for option in SETTING_OPTIONS if params[option] is not None)
    bundle_set = params['bundle'] is not None
    wanted_bundle = None if params['bundle'] == BUILTIN else params['bundle']
    fields = sorted(settings) + (['bundle'] if bundle_set else [])

    if current is None:
        if params['rollout'] is not None and params['rollout']['state'] == 'present':
            raise ChannelFailure('channel %s does not exist in app %s, and Capgo accepts rollout settings only for an '
                                 'existing channel: create it with its stable bundle first, then start the rollout in a '
                                 'later task' % (name, app_id))
        after = dict(CREATE_DEFAULTS, id=None, name=name, app_id=app_id, created_at=None, updated_at=None)
        if generation == 'current':
            after['rollout'] = None
        after.update(settings)
        if bundle_set:
            after['bundle'] = wanted_bundle
        body = dict(app_id=app_id, channel=name)
        body.update(_settings_wire(settings))
        for platform in CHANNEL_PLATFORMS:
            if params[platform] is not None:
                body[platform] = params[platform]
        if bundle_set:
            body['version'] = wanted_bundle or WIRE_NO_BUNDLE
        return Plan('create', None, after, CHANNEL_FIELDS), body

    if generation == 'classic' and params['rollout'] is not None:
        raise ChannelFailure('channel %s of app %s is served by the classic Capgo API generation, which has no progressive '
                             'rollouts: remove the rollout option for this Capgo' % (name, app_id))

    changes = differences(settings, current)
    bundle_changes = bundle_set and wanted_bundle != current['bundle']
    after = merged(current, dict((option, settings[option]) for option in changes))
    if bundle_changes:
        changes.append('bundle')
        after['bundle'] = wanted_bundle
    body_fields = _settings_wire(dict((option, settings[option]) for option in changes if option != 'bundle'))

    if generation == 'current':
        rollout_after, rollout_fields, rollout_changed = plan_rollout(params, item, after['bundle'], bundle_changes)
        if rollout_fields.get('promoteToStable'):
            bundle_changes = False  # the API moves the candidate to the stable bundle itself
        after['rollout'] = rollout_after
        if rollout_changed:
            changes.append('rollout')
        if params['rollout'] is not None or rollout_changed:
            fields.append('rollout')
        if changes:
            body_fields.update(rollout_fields)

    if not changes:
        return Plan(None, current, current, fields), None
    body = dict(app_id=app_id, channel=name)
    body.update(body_fields)
    if generation == 'classic':
        # Classic resets the bundle of any channel updated without one: always name the one it should serve.
        body['version'] = after['bundle'] or WIRE_NO_BUNDLE
    elif bundle_changes:
        body['version'] = wanted_bundle or WIRE_NO_BUNDLE
    return Plan('update', current, after, sorted(set(fields)), changes=sorted(changes)), body


def _settings_wire(settings):
    wire_names = dict(CHANNEL_SETTINGS)
    return dict((wire_names[option], value) for option, value in settings.items())


def bundles_to_check(params, plan):
    """Bundle names the run would newly point the channel at (each must exist before a write)."""
    names = []
    before = plan.before or {}
    after = plan.after or {}
    promoted = (before.get('rollout') or {}).get('bundle')  # already on the channel, so it exists
    if after.get('bundle') and after['bundle'] not in (before.get('bundle'), promoted) and after['bundle'] == params['bundle']:
        names.append(after['bundle'])
    rollout_after = after.get('rollout')
    rollout_before = before.get('rollout')
    if rollout_after and (rollout_before is None or rollout_after['bundle'] != rollout_before['bundle']):
        names.append(rollout_after['bundle'])
    return names


# -- the run -----------------------------------------------------------------------------------

def _public_names(items, exclude):
    return sorted(item['name'] for item in items if item.get('public') and item.get('name') != exclude)


def _find(items, name):
    for item in items:
        if item.get('name') == name:
            return item
    return None


def run_module(module):
    params = module.params
    client = module.client
    app_id, name = params['app_id'], params['name']
    item = get_channel(client, app_id, name)

    if params['state'] == 'absent':
        return delete_channel(module, item)

    if item is None and not params['create']:
        raise ChannelFailure('channel %s does not exist in app %s, and create=false forbids creating it' % (name, app_id))
    if item is not None:
        set_platforms = [platform for platform in CHANNEL_PLATFORMS if params[platform] is not None]
        if set_platforms:
            module.warn('%s cannot be verified on the existing channel %s: the Capgo API does not return platform flags, '
                        'so they are applied only when the module creates a channel and were neither compared nor sent'
                        % ('/'.join(set_platforms), name))
    siblings = None
    generation = None
    if item is None:
        # The app's other channels tell the API generation (for the predicted channel) and which are public.
        siblings = list_channels(client, app_id)
        generation = api_generation(siblings[0]) if siblings else None
    plan, body = plan_present(params, item, generation)
    result = dict(changed=plan.changed, demoted=[], diff=plan.diff(), channel=plan.after)
    if not plan.changed:
        return result

    missing = bundles_to_check(params, plan)
    if missing:
        existing = set(bundle.get('name') for bundle in list_bundles(client, app_id))
        for bundle in missing:
            if bundle not in existing:
                raise ChannelFailure('bundle %s does not exist in app %s (or was deleted): upload it first, or use '
                                     "bundle: builtin to unassign the channel's bundle" % (bundle, app_id))

    becomes_public = plan.after.get('public') and not (plan.before or {}).get('public')
    others_public = []
    if becomes_public:
        others_public = _public_names(siblings if siblings is not None else list_channels(client, app_id), name)
    if module.check_mode:
        result['demoted'] = others_public
        return result

    client.request('POST', '/channel', json=body)
    if others_public:
        items = list_channels(client, app_id)
        final = _find(items, name)
        if final is not None and api_generation(final) == 'classic':
            items = _await_classic_demotion(module, client, body, plan, items, others_public)
            final = _find(items, name)
        still_public = _public_names(items, name)
        result['demoted'] = sorted(set(others_public) - set(still_public))
        lingering = sorted(set(others_public) & set(still_public))
        if lingering:
            module.warn('channel %s is public, and Capgo still shows %s as public too. Capgo keeps one public channel per '
                        'platform, so they serve other platforms, or (classic API) the demotion has not been applied yet'
                        % (name, ', '.join(lingering)))
    else:
        final = get_channel(client, app_id, name)
    if final is None:
        raise ChannelFailure('Capgo accepted POST /channel for channel %s of app %s, but the channel cannot be read back' % (name, app_id))
    result['channel'] = normalize_channel(final)
    return result


def _await_classic_demotion(module, client, body, plan, items, others_public):
    """Classic demotes asynchronously after an UPDATE only: nudge a new channel, then wait a bounded time."""
    if plan.action == 'create':
        # No demotion on INSERT: re-send the same settings as an update so Capgo applies its own demotion rules.
        resend = dict(body)
        resend.setdefault('version', WIRE_NO_BUNDLE)
        client.request('POST', '/channel', json=resend)
    deadline = time.time() + DEMOTION_WAIT
    while set(others_public) & set(_public_names(items, module.params['name'])) and time.time() < deadline:
        time.sleep(DEMOTION_POLL)
        items = list_channels(client, module.params['app_id'])
    return items


def delete_channel(module, item):
    params = module.params
    client = module.client
    app_id, name = params['app_id'], params['name']
    current = normalize_channel(item)
    fields = CHANNEL_FIELDS + (['rollout'] if item is not None and api_generation(item) == 'current' else [])
    if current is None:
        return dict(changed=False, demoted=[], diff=Plan(None, None, None, fields).diff(), channel=None)
    plan = Plan('delete', current, None, fields)
    result = dict(changed=True, demoted=[], diff=plan.diff(), channel=None)
    if module.check_mode:
        return result
    # All parameters in the JSON body: on DELETE the body wins over the query string.
    client.request('DELETE', '/channel', json=dict(app_id=app_id, channel=name), done_errors=('cannot_find_channel',))
    if get_channel(client, app_id, name) is not None:
        raise ChannelFailure(
            'Capgo answered DELETE /channel with success, but channel %s of app %s still exists. The classic Capgo API does this '
            'when the API key is not an "all" mode key, or when devices are still pinned to the channel: remove those overrides '
            '(capgo.cloud.capgo_device_link state=absent) and use a key with full rights' % (name, app_id))
    return result


def main():
    module = CapgoModule(
        argument_spec=dict(
            app_id=dict(type='str', required=True),
            name=dict(type='str', required=True, aliases=['channel']),
            state=dict(type='str', default='present', choices=['present', 'absent']),
            create=dict(type='bool', default=True),
            bundle=dict(type='str', aliases=['version']),
            public=dict(type='bool'),
            disable_auto_update=dict(type='str', choices=['major', 'minor', 'patch', 'version_number', 'none']),
            disable_auto_update_under_native=dict(type='bool'),
            allow_device_self_set=dict(type='bool'),
            allow_emulator=dict(type='bool'),
            allow_dev=dict(type='bool'),
            allow_device=dict(type='bool'),
            allow_prod=dict(type='bool'),
            ios=dict(type='bool'),
            android=dict(type='bool'),
            electron=dict(type='bool'),
            rollout=dict(type='dict', options=dict(
                state=dict(type='str', default='present', choices=['present', 'absent']),
                bundle=dict(type='str'),
                percentage=dict(type='float'),
                paused=dict(type='bool'),
                cache_ttl=dict(type='int'),
                auto_pause=dict(type='dict', options=dict(
                    enabled=dict(type='bool'),
                    window_minutes=dict(type='int'),
                    failure_rate=dict(type='float'),
                    confidence=dict(type='float'),
                    min_attempts=dict(type='int'),
                    min_failures=dict(type='int'),
                    action=dict(type='str', choices=['pause', 'rollback', 'notify']),
                    cooldown_minutes=dict(type='int'),
                )),
            )),
        ),
        supports_check_mode=True,
    )
    try:
        validate_params(module.params)
    except ChannelFailure as exc:
        module.fail_json(msg=str(exc))

    def run(mod):
        try:
            return run_module(mod)
        except ChannelFailure as exc:
            mod.fail_json(msg=str(exc), changed=False)

    module.run(run)


if __name__ == '__main__':
    main()
