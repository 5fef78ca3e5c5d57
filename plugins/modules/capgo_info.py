#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: capgo_info
short_description: Read an app's Capgo channels, device overrides and bundles
version_added: 1.0.0
description:
  - Reads the channels, devices (with their channel overrides) and bundles of one Capgo app.
  - Every page of every list is fetched and every item is returned exactly once, even though Capgo's page-numbered
    lists answer overlapping windows and C(GET /bundle) answers an empty page with an error.
  - Each item is shaped like the return value of the module that manages it, with keys spelled as that
    module's options, so what is read can be written back.
  - A key without access to the app fails with the API's error instead of returning empty lists.
author:
  - Capgo collection maintainers (@capgo-cloud)
extends_documentation_fragment:
  - capgo.cloud.connection
  - capgo.cloud.attributes.INFO_MODULE
options:
  app_id:
    description:
      - The app's reverse-domain id, for example V(com.example.app). Checked before any request.
    type: str
    required: true
  gather:
    description:
      - What to read. Each kind costs its own requests, so ask only for what you use.
    type: list
    elements: str
    choices: [channels, devices, bundles]
    default: [channels, devices, bundles]
  channel:
    description:
      - Only this channel (by name) in RV(channels), and only the devices pinned to it in RV(devices).
      - A channel that does not exist gives an empty RV(channels) list, not a failure.
    type: str
  device_id:
    description:
      - Only this device in RV(devices). Device ids are compared lower-cased, as Capgo stores them.
      - A device that never checked in with Capgo gives an empty RV(devices) list, because the API cannot show it.
    type: str
notes:
  - Devices appear in RV(devices) once they have checked in with Capgo; Capgo keeps a device about 90 days after
    its last contact. A device override set for a device that never checked in cannot be read back.
seealso:
  - module: capgo.cloud.capgo_channel
  - module: capgo.cloud.capgo_device_link
  - module: capgo.cloud.capgo_bundle
'''

EXAMPLES = r'''
- name: Read everything of an app
  capgo.cloud.capgo_info:
    app_id: com.example.app
  register: capgo

- name: Show which bundle production serves
  ansible.builtin.debug:
    msg: "{{ (capgo.channels | selectattr('name', 'equalto', 'production') | first).bundle }}"

- name: List the devices pinned to the beta channel
  capgo.cloud.capgo_info:
    app_id: com.example.app
    gather: [devices]
    channel: beta
  register: beta_testers

- name: Read one channel with connection options from module_defaults
  module_defaults:
    group/capgo.cloud.capgo:
      api_url: https://capgo.internal.example.com
  capgo.cloud.capgo_info:
    app_id: com.example.app
    gather: [channels]
    channel: production
'''

RETURN = r'''
channels:
  description: The app's channels, in creation order; empty when not gathered.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: Capgo's id of the channel.
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
        - The progressive rollout on the channel, or V(null) when none is running, in the suboption names of
          the O(capgo.cloud.capgo_channel#module:rollout) option.
        - Only present on API generations that have rollouts.
      type: dict
      contains:
        bundle:
          description: The candidate bundle served to a share of devices.
          type: str
        percentage:
          description: The share of devices that get the candidate, in percent.
          type: float
        paused:
          description: Whether the rollout is paused.
          type: bool
        cache_ttl:
          description: Seconds a device keeps its rollout decision.
          type: int
        auto_pause:
          description: The automatic pause policy, in the suboption names of O(capgo.cloud.capgo_channel#module:rollout.auto_pause).
          type: dict
    created_at:
      description: When the channel was created.
      type: str
    updated_at:
      description: When the channel was last changed.
      type: str
  sample:
    - id: 12
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
      created_at: "2026-01-01T00:00:00+00:00"
      updated_at: "2026-03-01T10:00:00+00:00"
devices:
  description: The devices that checked in with Capgo, each with its channel override; empty when not gathered.
  returned: success
  type: list
  elements: dict
  contains:
    device_id:
      description: The device id, lower-cased.
      type: str
    channel:
      description: The channel the device is pinned to by an override, or V(null) when it follows normal channel selection.
      type: str
    custom_id:
      description: The custom id the app set for the device, if any.
      type: str
    platform:
      description: V(ios), V(android) or V(electron).
      type: str
    bundle:
      description: The bundle the device last reported running.
      type: str
    native_version:
      description: The native app version the device reported.
      type: str
    is_prod:
      description: Whether the device runs a production build.
      type: bool
    is_emulator:
      description: Whether the device is an emulator.
      type: bool
    os_version:
      description: The operating system version the device reported.
      type: str
    plugin_version:
      description: The version of the Capgo updater plugin on the device.
      type: str
    updated_at:
      description: The device's last contact.
      type: str
  sample:
    - device_id: 00008030-001a2b3c4d5e
      channel: beta
      platform: ios
      bundle: 1.4.2
      native_version: 1.4.0
      is_prod: false
      is_emulator: false
bundles:
  description: The app's live (not deleted) bundles, newest first; empty when not gathered or when the app has none.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: Capgo's id of the bundle.
      type: int
    version:
      description: The bundle name (its version).
      type: str
    app_id:
      description: The app id.
      type: str
    created_at:
      description: When the bundle was uploaded.
      type: str
    external_url:
      description: Where an externally hosted bundle is downloaded from.
      type: str
    checksum:
      description: The bundle's checksum.
      type: str
    min_update_version:
      description: The lowest native version this bundle may be installed on, for the V(version_number) strategy.
      type: str
    encrypted:
      description: Whether the bundle is encrypted (the session key itself is never returned).
      type: bool
  sample:
    - id: 301
      version: 1.4.2
      app_id: com.example.app
      created_at: "2026-03-01T09:58:00+00:00"
      encrypted: false
'''

from ansible_collections.capgo.cloud.plugins.module_utils.base import CapgoModule
from ansible_collections.capgo.cloud.plugins.module_utils.resources import (
    get_channel,
    get_device,
    list_bundles,
    list_channels,
    list_devices,
    normalize_bundle,
    normalize_channel,
    normalize_device,
)


def gather_info(module):
    client = module.client
    params = module.params
    app_id = params['app_id']
    gather = set(params['gather'])
    wanted_channel = params['channel']
    wanted_device = params['device_id'].lower() if params['device_id'] else None
    result = dict(changed=False, channels=[], devices=[], bundles=[])

    if 'channels' in gather:
        if wanted_channel:
            item = get_channel(client, app_id, wanted_channel)
            result['channels'] = [normalize_channel(item)] if item else []
        else:
            result['channels'] = [normalize_channel(item) for item in list_channels(client, app_id)]

    if 'devices' in gather:
        if wanted_device:
            item = get_device(client, app_id, wanted_device)
            items = [item] if item else []
        else:
            items, dummy = list_devices(client, app_id)
        devices = [normalize_device(item) for item in items]
        if wanted_channel:
            devices = [device for device in devices if device['channel'] == wanted_channel]
        result['devices'] = devices

    if 'bundles' in gather:
        result['bundles'] = [normalize_bundle(item) for item in list_bundles(client, app_id)]

    return result


def main():
    module = CapgoModule(
        argument_spec=dict(
            app_id=dict(type='str', required=True),
            gather=dict(type='list', elements='str', choices=['channels', 'devices', 'bundles'],
                        default=['channels', 'devices', 'bundles']),
            channel=dict(type='str'),
            device_id=dict(type='str'),
        ),
        supports_check_mode=True,
    )
    module.run(gather_info)


if __name__ == '__main__':
    main()
