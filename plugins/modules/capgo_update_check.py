#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: capgo_update_check
short_description: Explain which bundle Capgo would serve one device, and if none, why not
version_added: 2.0.0
description:
  - Computes, from the public API (C(GET /device), C(GET /channel), C(GET /bundle)), what Capgo's device-facing
    update endpoint would answer one device right now, step by step in Capgo's own order and with Capgo's own
    reason codes, and says in one sentence what to change when nothing is offered.
  - "The decision: the request checks (plugin version), the channel selection (the device's override, else the
    channel the app asks for with O(default_channel), with no fall-back when that channel does not qualify, else
    the cloud default: the public channel for the platform), the rollout, then every gate: bundle presence,
    encryption key, same version, platform, O(capgo.cloud.capgo_channel#module:disable_auto_update) (major,
    minor, patch, version_number), under-native, production/development build, physical device/emulator,
    builtin, download."
  - Never guesses silently. What the API does not show is either an option (O(default_channel),
    O(plugin_version)) or an entry in RV(decision.assumptions), and a step that depends on it is V(unknown) in
    RV(decision.checks).
  - "The API generation is detected from what C(GET /channel) returns: the newest Capgo (C(latest), since
    September 2026) returns the platform flags C(ios)/C(android) and C(updatePackage) on every channel; the July 2026
    backend (C(current)) returns the rollout columns but no platform flag, so on it a channel's platform flag is an
    assumption; an older API (C(classic)) returns neither and is computed with the July 2026 rules. Returned as
    RV(decision.generation)."
  - "Rollouts: on C(latest) the rollout assignment is a deterministic hash of the device id, computed here
    (RV(decision.rollout.in_rollout) is true or false and RV(decision.rollout.bucket) is the device's bucket). On older
    generations it is a random draw cached per Capgo data centre: RV(decision.rollout.in_rollout) is V(null), the top
    level describes a device the draw leaves on the stable bundle, and RV(decision.rollout.if_selected) what a selected
    device gets."
  - With O(ask_server=true) the module also sends the updater plugin's own update request and reports Capgo's
    answer in RV(decision.server); when it differs from the computation, a warning says so.
author:
  - Capgo collection maintainers (@capgo-cloud)
extends_documentation_fragment:
  - capgo.cloud.connection
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying the target.
    support: full
    details:
      - The computation only reads, so it runs the same in check mode.
      - In check mode the update request of O(ask_server) is not sent (it has side effects on the server);
        RV(decision.server.answer) is then V(null).
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in C(check_mode)), when in diff mode.
    support: none
  action_group:
    description: Use C(group/capgo.cloud.capgo) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - capgo.cloud.capgo
options:
  app_id:
    description:
      - The app's reverse-domain id, for example V(com.example.app). Checked before any request.
    type: str
    required: true
  device_id:
    description:
      - A device that has checked in with Capgo. Its platform, native version, running bundle, build type,
        emulator flag, plugin version, encryption key id and channel override come from C(GET /device); the options
        below, when set, replace what the device reported.
      - A device that never checked in needs O(platform) and O(native_version); its override cannot be read and is
        assumed absent.
      - Without it the module describes a device from the options, with the id the Capgo CLI's C(probe) uses,
        V(00000000-0000-0000-0000-000000000000), and no override.
    type: str
  platform:
    description:
      - The device's platform. Required without O(device_id).
    type: str
    choices: [ios, android, electron]
  native_version:
    description:
      - The store build's version (what the plugin sends as C(version_build)), for example V(1.4.0). Required
        without O(device_id). Normalised as Capgo does (V(1.4) reads as V(1.4.0)); a value Capgo cannot read as a
        version fails before any request.
    type: str
  bundle:
    description:
      - The bundle the device runs now. V(builtin) means the store build's own bundle.
      - When not set, what the device reported with O(device_id), else V(builtin).
    type: str
  is_prod:
    description:
      - Whether the device runs a production build (App Store, Play Store, TestFlight-less release).
      - When not set, what the device reported with O(device_id), else V(true).
    type: bool
  is_emulator:
    description:
      - Whether the device is an emulator or simulator.
      - When not set, what the device reported with O(device_id), else V(false).
    type: bool
  plugin_version:
    description:
      - The version of the C(@capgo/capacitor-updater) plugin in the app, for example V(7.2.0).
      - When not set, what the device reported with O(device_id). When it is not known, the steps that depend on it (v4
        plugins are refused, old plugins' own channel store, manifests, the builtin answer, encryption keys) are
        V(unknown). Required with O(ask_server) when no device gives it.
    type: str
  default_channel:
    description:
      - The channel the app asks for (C(defaultChannel) in C(capacitor.config), or set with C(setChannel())).
      - The API never shows it, so it is an input. Not set, the answer assumes the app sends none and says so in
        RV(decision.assumptions).
      - A device that sends one gets that channel, or nothing (V(no_channel)) when the channel does not exist, does
        not serve the platform, is neither public nor open to devices (C(allow_device_self_set)), or points at a deleted
        bundle. Capgo does not fall back to the default channel then.
      - An empty string means the app sends none.
    type: str
  ask_server:
    description:
      - Also send the updater plugin's own update request (as C(npx @capgo/cli probe) does) to O(updates_url) and
        report the answer beside the computation, in RV(decision.server). When they disagree, a warning says so.
      - "This is a real update check, with side effects on Capgo: it writes the device's inventory row (with
        O(device_id), that device's last reported state until it checks in again; without, the shared synthetic
        device V(00000000-0000-0000-0000-000000000000)), a stats entry, and counts one monthly active device for
        the organisation; an offered update adds one to that bundle's download count; blocked answers (major,
        minor, patch, metadata, under the native version) and an unparsable native version, an outdated plugin or
        an invalid plan can queue an e-mail to the organisation (at most about weekly per kind); on the July 2026
        backend it can fix that device's rollout draw in one data centre. Five unknown app
        ids from one address within 15 minutes block every update check from that address for 15 minutes."
      - No API key is sent with it (the endpoint needs none). Nothing of the answer that lets one download the bundle
        (URL, session key, checksum, manifest) is returned or logged.
      - Not sent in check mode.
    type: bool
    default: false
  updates_url:
    description:
      - The device-facing update endpoint, for a self-hosted Capgo or the local simulator.
      - If not set, the environment variable E(CAPGO_UPDATES_URL) is used, then the default.
    type: str
    default: https://plugin.capgo.app/updates
notes:
  - Capgo also decides on things no API shows, for example the app's plan (an invalid plan or an on-premise app
    answers HTTP 429 to every device). The inputs a check depends on but cannot read are named in
    RV(decision.assumptions), and that check is V(unknown). When an answer of O(ask_server) disagrees, the warning
    also names what can make the server's answer differ without any setting changing, the caches of the newest
    backend, and a read replica that can lag behind a change made seconds ago.
  - The running bundle Capgo shows for a device is what it last reported; on the July 2026 backend Capgo also
    records an offered bundle as running, even when the download then failed.
  - Capgo refuses the update request of O(ask_server) with V(provider_infrastructure_request_blocked) when it comes
    from a Google or Apple data-centre address (CI runners on Google Cloud, for example) and the app blocks cloud
    provider infrastructure, which new apps do by default. That refusal says nothing about the device, so
    RV(decision.server.agrees) is V(null) and a warning says where to run the check from.
  - A guide built around this module is in the collection's docs, C(docs/why-no-update.md).
seealso:
  - module: capgo.cloud.capgo_channel
  - module: capgo.cloud.capgo_device_link
  - module: capgo.cloud.capgo_info
'''

EXAMPLES = r'''
- name: Why did this phone not get the update?
  capgo.cloud.capgo_update_check:
    app_id: com.example.app
    device_id: 6a3e1c9e-3f8b-4b8e-9a55-0d8f3c2b1a77
  register: check

- name: Say it in one sentence
  ansible.builtin.debug:
    msg: "{{ check.decision.message }}"

- name: What would a new TestFlight build of 2.0.0 get, with the app asking for the beta channel?
  capgo.cloud.capgo_update_check:
    app_id: com.example.app
    platform: ios
    native_version: 2.0.0
    is_prod: false
    plugin_version: 7.2.0
    default_channel: beta
  register: beta_check

- name: Ask Capgo too, and stop when it does not agree with the computation
  capgo.cloud.capgo_update_check:
    app_id: com.example.app
    platform: android
    native_version: 1.4.0
    plugin_version: 7.2.0
    ask_server: true
  register: asked
  failed_when: asked.decision.server.agrees is false  # null in check mode: nothing was asked
'''

RETURN = r'''
decision:
  description:
    - Which channel and bundle Capgo would serve the device, and if none, why not.
    - The same dict is also returned as C(update), the name the collection's interface gives it. In Jinja read that one
      as C(result['update']) (C(result.update) is the dict method of that name), or use C(decision).
  returned: success
  type: dict
  contains:
    available:
      description: Whether an update would be offered now (on the newest backend, a channel without a bundle offers
        V(builtin), the store build's own bundle).
      type: bool
    bundle:
      description: The bundle that would be offered, else the one the device keeps (V(builtin) for the store build's
        own bundle).
      type: str
    target:
      description: The bundle the chosen channel would serve this device (its stable bundle, or the rollout bundle when
        the device is in the rollout), whether or not a gate blocks it; V(null) without a channel.
      type: str
    channel:
      description: The channel Capgo would use, or V(null) when none applies.
      type: str
    channel_source:
      description: How the channel was chosen, V(override), V(default_channel) or V(cloud_default); V(null) without
        a channel.
      type: str
    reason:
      description:
        - Capgo's own code when nothing is offered, V(null) when an update is offered.
        - For example V(no_channel), V(no_new_version_available), V(disabled_platform_ios),
          V(disabled_platform_android), V(disabled_platform_electron),
          V(disable_auto_update_to_major), V(disable_auto_update_to_minor), V(disable_auto_update_to_patch),
          V(misconfigured_channel), V(disable_auto_update_to_metadata), V(disable_auto_update_under_native),
          V(disable_prod_build), V(disable_dev_build), V(disable_device), V(disable_emulator),
          V(already_on_builtin), V(revert_to_builtin_plugin_version_too_old), V(no_bundle), V(no_bundle_url),
          V(key_id_mismatch), V(unsupported_plugin_version), V(semver_error), V(unknown_error) (Capgo fails with HTTP
          500, for example on a bundle name that is not a version on a channel that compares versions).
      type: str
    message:
      description: One sentence for a person, what happens and which setting or action would change it.
      type: str
    http_status:
      description: The HTTP status Capgo would answer with (200 for offers and refusals, 400 or 500 for errors).
      type: int
    answer:
      description: What the update request would name, the bundle offered or the error code (what RV(decision.server.answer)
        is compared with).
      type: str
    possible_answers:
      description: Every answer the computation allows; two when a random rollout draw decides.
      type: list
      elements: str
    generation:
      description: The API generation detected from C(GET /channel), V(latest), V(current) or V(classic); V(null) for an
        app without channels.
      type: str
    checks:
      description: Each step of Capgo's decision, in its order; the steps after the deciding one are V(skipped).
      type: list
      elements: dict
      contains:
        name:
          description: The step, for example V(override), V(cloud_default), V(major), V(dev_build).
          type: str
        result:
          description: V(pass), V(fail), V(unknown) (depends on something the API does not show) or V(skipped).
          type: str
        detail:
          description: What was compared.
          type: str
    rollout:
      description: The chosen channel's rollout, V(null) when it runs none.
      type: dict
      contains:
        bundle:
          description: The rollout bundle.
          type: str
        percentage:
          description: The share of devices it goes to, in percent.
          type: float
        paused:
          description: Whether the rollout is paused.
          type: bool
        in_rollout:
          description: Whether this device gets the rollout bundle; V(null) when the API generation decides by a random
            draw.
          type: bool
        bucket:
          description: The device's deterministic bucket (0 to 9999) on the newest backend; it is in the rollout when
            the bucket is below the percentage times 100.
          type: int
          returned: on the newest API generation, for a running rollout
        if_selected:
          description: The outcome (C(available), C(bundle), C(reason)) for a device the random draw selects.
          type: dict
          returned: when a random draw decides
        if_not_selected:
          description: The outcome for a device the random draw leaves on the stable bundle (the top level).
          type: dict
          returned: when a random draw decides
        detail:
          description: Why the device is in or out.
          type: str
    assumptions:
      description: The inputs the API does not expose that the answer had to assume.
      type: list
      elements: str
    device:
      description: The device inputs used (C(device_id), C(source) V(api) or V(options), C(platform), C(native_version),
        C(bundle), C(is_prod), C(is_emulator), C(plugin_version), C(default_channel), C(override)).
      type: dict
    server:
      description: Capgo's own answer, with O(ask_server=true).
      returned: with O(ask_server=true)
      type: dict
      contains:
        answer:
          description: The bundle Capgo offered or its error code; V(null) in check mode (nothing was sent).
          type: str
        agrees:
          description:
            - Whether it is an answer the computation allows; V(null) in check mode.
            - Also V(null) when Capgo refused the request for where it came from, not for the device
              (V(provider_infrastructure_request_blocked)); a warning says so.
          type: bool
        status:
          description: The HTTP status of the answer.
          type: int
        kind:
          description: Capgo's kind of refusal (V(up_to_date), V(blocked), V(failed)), when it refused.
          type: str
        message:
          description: Capgo's message, when it refused.
          type: str
        provider:
          description: The data-centre owner (V(google) or V(apple)) Capgo named, when it refused the request for
            where it came from.
          type: str
          returned: when Capgo names one
  sample:
    available: false
    bundle: builtin
    target: 1.4.2
    channel: beta
    channel_source: override
    reason: disable_dev_build
    message: "Channel beta blocks dev builds (disable_dev_build): set allow_dev: true, or test with a production build."
    generation: latest
    checks:
      - name: override
        result: pass
        detail: the device is pinned to channel beta (override)
    rollout: null
    assumptions:
      - The device sends no defaultChannel (the API never shows it; ...).
'''

from ansible.module_utils.basic import env_fallback

from ansible_collections.capgo.cloud.plugins.module_utils.base import CapgoModule
from ansible_collections.capgo.cloud.plugins.module_utils import update_decision


def main():
    module = CapgoModule(
        argument_spec=dict(
            app_id=dict(type='str', required=True),
            device_id=dict(type='str'),
            platform=dict(type='str', choices=list(update_decision.PLATFORMS)),
            native_version=dict(type='str'),
            bundle=dict(type='str'),
            is_prod=dict(type='bool'),
            is_emulator=dict(type='bool'),
            plugin_version=dict(type='str'),
            default_channel=dict(type='str'),
            ask_server=dict(type='bool', default=False),
            updates_url=dict(type='str', default=update_decision.DEFAULT_UPDATES_URL,
                             fallback=(env_fallback, ['CAPGO_UPDATES_URL'])),
        ),
        supports_check_mode=True,
    )
    module.run(update_decision.read, update_decision.plan)


if __name__ == '__main__':
    main()
