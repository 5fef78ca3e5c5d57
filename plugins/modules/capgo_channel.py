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
    write to the channel. A run where nothing differs sends one read and no write at all.
  - A write whose answer is lost (a timeout, a dropped connection, a 5xx after the request was sent) is never
    reported as a failure or a success blindly. The module reads the channel back and decides from what Capgo
    holds. A settings change is sent again when it did not apply. A promote, a rollback or an advance of a rollout
    is never sent twice, because a second one would fail or ship the wrong bundle.
  - Check mode sends no write and reports what a real run would change, with the same RV(diff) and RV(channel)
    (except the timestamps and, for a new channel, its O(name)'s RV(channel.id)).
  - Works with the three generations of Capgo's API. V(latest) is what C(api.capgo.app) runs. V(current) is the
    mid-2026 backend that recent self-hosted installs run. V(classic) is what older self-hosted installs run. The
    module tells them apart from the channel data the API returns. See C(docs/api-generations.md).
  - A settings-only change never unassigns the channel's bundle, even on the classic API, which resets the bundle
    of any channel updated without one. The module sends the bundle the channel already serves.
  - Progressive rollouts (O(rollout)) need the current or the latest API generation.
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
        On the latest API Capgo ends it by itself (the candidate is cleared, the percentage is kept for the next
        rollout). On the current API the module sends the rollback. Either way RV(channel.rollout) is V(null) after the run.
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
      - On the latest API, making a channel public (creating it public, or turning a private one public) needs the
        C(app.update_settings) right on the app. C(app_developer), C(app_uploader) and C(app_preview) keys lack it.
        Changing an existing channel at all needs C(channel.update_settings) on the current and latest APIs; the
        module's error names each right the write needs.
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
      - V(metadata) is the Capgo CLI's name for V(version_number). It is stored and returned as V(version_number).
      - V(none) sends every bundle.
      - Capgo's default for a new channel is V(major).
    type: str
    choices: [major, minor, patch, version_number, metadata, none]
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
      - The latest API returns O(ios) and O(android), so the module compares and changes them like every other setting,
        and returns them in RV(channel).
      - The current and classic APIs accept the platform flags but never return them, so the module cannot read them
        back there. They are applied when the module B(creates) the channel. On an existing channel they are neither
        compared nor sent, and the module warns that they cannot be verified; change them in the Capgo console, or
        delete and re-create the channel. This way a run never reports a change it cannot check, and never claims to
        enforce a value it cannot read.
    type: bool
  android:
    description:
      - Whether Android devices may use this channel. Capgo's default is V(true).
      - Managed like O(ios); compared on the latest API, applied only when the channel is created elsewhere.
    type: bool
  electron:
    description:
      - Whether Electron (desktop) apps may use this channel. Capgo's default is V(true), except that a new public
        channel with O(ios) different from O(android) gets V(false) on the current and latest APIs.
      - No API generation returns it, so it is applied only when the channel is created, and an existing channel gets
        the warning described in O(ios). The classic API generation ignores it.
    type: bool
  update_package:
    description:
      - What devices of this channel download. V(all) takes whatever the bundle offers, V(zip) only full zip archives,
        V(delta) only delta (per-file) updates, V(zip_from_builtin) and V(delta_from_builtin) the same, but only for
        devices that still run the bundle of their store build.
      - Capgo refuses a bundle that lacks what the channel needs (C(channel_zip_required), C(channel_delta_required)),
        when the bundle or this setting changes. The module's error then names the bundle and what it lacks.
      - Only the latest API generation (C(api.capgo.app)) has this setting; elsewhere setting it fails before any
        write. Capgo's default for a new channel is V(all).
      - For the first channel of an app the module cannot tell the API generation before writing, so there only
        V(all) (what every generation does) is accepted.
    type: str
    choices: [all, zip, delta, zip_from_builtin, delta_from_builtin]
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
      - B(Ship the next candidate) while one runs with O(bundle) set to the running candidate and O(rollout.bundle) to
        the next one; the running candidate becomes the stable bundle and the next one starts at O(rollout.percentage).
        On the latest API this is Capgo's one-step C(advanceRollout).
      - Pausing sends C(rolloutPaused), never C(rolloutEnabled=false), which on the latest API would unlink the candidate.
      - Only options you set are compared. When not set at all, a running rollout is left alone (except that changing
        O(bundle) ends it).
      - Needs the current or latest Capgo API generation; on the classic one any O(rollout) fails before a write.
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
  - On the classic API generation, making an existing channel public demotes the others asynchronously. The module
    waits (about ten seconds at most) for the demotion to show, reports in RV(demoted) only what Capgo really demoted,
    and warns if another public channel is still public afterwards.
  - A channel B(created) public on the classic API demotes nothing, and classic skips a re-sent identical write. So
    the module demotes the other public channels itself, one write each (C(public=false), with the bundle they serve,
    so nothing else changes), and returns them in RV(demoted). When the new channel serves only one of iOS and Android,
    the module cannot tell which others share its platform (classic does not return platform flags), so it leaves them
    public and warns.
  - Check mode predicts RV(demoted) as every other public channel, since Capgo does not show which platforms a channel
    serves. iOS-only and Android-only default channels can coexist, so a real run may demote fewer.
  - On the classic API generation a successful delete answer does not prove the channel is gone, so the module
    reads the channel again after deleting it and fails if it is still there.
  - Creating a channel reads the app's other channels once, to learn the API generation and which channel is public.
    For the very first channel of an app, check mode cannot tell the generation, so its predicted RV(channel) has no
    C(rollout), C(ios), C(android) or C(update_package) key where the real run on a newer generation returns them.
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

- name: Or ship the next candidate while 1.5.0 runs, 1.5.0 becomes the stable bundle and 1.5.1 starts at 5 %
  capgo.cloud.capgo_channel:
    app_id: com.example.app
    name: production
    bundle: 1.5.0
    rollout:
      bundle: 1.5.1
      percentage: 5

- name: Devices of the beta channel download delta updates only (latest Capgo API)
  capgo.cloud.capgo_channel:
    app_id: com.example.app
    name: beta
    update_package: delta
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
    ios:
      description: Whether iOS devices may use the channel. Only returned by the latest API generation.
      type: bool
    android:
      description: Whether Android devices may use the channel. Only returned by the latest API generation.
      type: bool
    update_package:
      description: What devices of the channel download (see O(update_package)). Only returned by the latest API generation.
      type: str
    rollout:
      description:
        - The running rollout in the suboption names of O(rollout), or V(null) when none runs.
        - Only returned by the current and latest API generations (the classic one has no rollouts).
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
        pause_reason:
          description:
            - Why Capgo paused the rollout (its auto-pause), or V(null). Read-only, not a suboption of O(rollout), so
              leave it out when passing this dict back as O(rollout).
          type: str
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
    ios: true
    android: true
    update_package: all
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
      pause_reason: null
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

from ansible_collections.capgo.cloud.plugins.module_utils import channels
from ansible_collections.capgo.cloud.plugins.module_utils.base import CapgoModule

AUTO_PAUSE_SPEC = dict(
    enabled=dict(type='bool'),
    window_minutes=dict(type='int'),
    failure_rate=dict(type='float'),
    confidence=dict(type='float'),
    min_attempts=dict(type='int'),
    min_failures=dict(type='int'),
    action=dict(type='str', choices=['pause', 'rollback', 'notify']),
    cooldown_minutes=dict(type='int'),
)
ROLLOUT_SPEC = dict(
    state=dict(type='str', default='present', choices=['present', 'absent']),
    bundle=dict(type='str'),
    percentage=dict(type='float'),
    paused=dict(type='bool'),
    cache_ttl=dict(type='int'),
    auto_pause=dict(type='dict', options=AUTO_PAUSE_SPEC),
)
ARGUMENT_SPEC = dict(
    app_id=dict(type='str', required=True),
    name=dict(type='str', required=True, aliases=['channel']),
    state=dict(type='str', default='present', choices=['present', 'absent']),
    create=dict(type='bool', default=True),
    bundle=dict(type='str', aliases=['version']),
    public=dict(type='bool'),
    disable_auto_update=dict(type='str', choices=['major', 'minor', 'patch', 'version_number', 'metadata', 'none']),
    disable_auto_update_under_native=dict(type='bool'),
    allow_device_self_set=dict(type='bool'),
    allow_emulator=dict(type='bool'),
    allow_dev=dict(type='bool'),
    allow_device=dict(type='bool'),
    allow_prod=dict(type='bool'),
    ios=dict(type='bool'),
    android=dict(type='bool'),
    electron=dict(type='bool'),
    update_package=dict(type='str', choices=list(channels.UPDATE_PACKAGES)),
    rollout=dict(type='dict', options=ROLLOUT_SPEC),
)


def main():
    module = CapgoModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.run(channels.read, channels.plan, channels.write)


if __name__ == '__main__':
    main()
