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
  - The device list is read in pages of at most 100 devices. Capgo reads a list page's overrides with one query
    that carries every device id of the page, and on larger pages that query fails silently and every override of
    the page disappears; at 100 devices a page it cannot.
  - On the classic API generation the device cursor keeps only a second and the last device id, so devices that
    share that second can be skipped. The module then asks again from the start of that second, with the page
    enlarged by the devices of that second it has already seen. A page that grows too large to keep its
    overrides has its new devices read one at a time, so the list is complete but costs more requests.
  - An app without bundles gives an empty RV(bundles) list on every API generation; a key that cannot see the app
    (Capgo answers C(400 cannot_get_bundle) or, on the newest generation, C(404 app_not_found)) fails instead.
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
    update_package:
      description:
        - What a device downloads from this channel (V(all), V(zip), V(delta), V(zip_from_builtin) or
          V(delta_from_builtin)), as O(capgo.cloud.capgo_channel#module:update_package) sets it.
        - Only present on API generations that have the setting (the newest one).
      type: str
    ios:
      description:
        - Whether iOS devices get updates from this channel.
        - Only present where the API returns it (the newest generation).
      type: bool
    android:
      description:
        - Whether Android devices get updates from this channel.
        - Only present where the API returns it (the newest generation).
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
      description:
        - The lowest native version this bundle may be installed on, for the V(version_number) strategy, or V(null)
          when the bundle sets none.
      type: str
    native_packages:
      description:
        - The native packages (Capacitor plugins) the bundle was built against, as Capgo stores them (each an item
          with the package C(name) and C(version)), or V(null) when Capgo holds no list for the bundle.
        - The C(capgo.cloud.release) role compares them with the served bundle's before releasing.
      type: list
      elements: dict
    encrypted:
      description: Whether the bundle is encrypted (the session key itself is never returned).
      type: bool
    updated_at:
      description: When the bundle was last changed.
      type: str
    comment:
      description: The bundle's comment.
      type: str
    link:
      description: The bundle's link.
      type: str
  sample:
    - id: 301
      version: 1.4.2
      app_id: com.example.app
      created_at: "2026-03-01T09:58:00+00:00"
      min_update_version: 1.4.0
      native_packages:
        - name: "@capacitor/camera"
          version: 6.0.1
      encrypted: false
'''

from ansible_collections.capgo.cloud.plugins.module_utils import bundles
from ansible_collections.capgo.cloud.plugins.module_utils.base import CapgoModule
from ansible_collections.capgo.cloud.plugins.module_utils.channels import get_channel, list_channels, normalize_channel
from ansible_collections.capgo.cloud.plugins.module_utils.devices import get_device, list_devices, normalize_device
from ansible_collections.capgo.cloud.plugins.module_utils.engine import Plan

GATHER = ['channels', 'devices', 'bundles']
ARGUMENT_SPEC = dict(
    app_id=dict(type='str', required=True),
    gather=dict(type='list', elements='str', choices=GATHER, default=GATHER),
    channel=dict(type='str'),
    device_id=dict(type='str'),
)


def read(module):
    """GETs only: the raw items of every kind asked for."""
    client = module.client
    params = module.params
    app_id = params['app_id']
    gather = set(params['gather'])
    current = dict(channels=[], devices=[], bundles=[])
    if 'channels' in gather:
        if params['channel']:
            item = get_channel(client, app_id, params['channel'])
            current['channels'] = [item] if item else []
        else:
            current['channels'] = list_channels(client, app_id)
    if 'devices' in gather:
        if params['device_id']:
            item = get_device(client, app_id, params['device_id'].lower())
            current['devices'] = [item] if item else []
        else:
            # pages of 100 devices (devices.DEVICE_LIST_LIMIT), so no page loses its overrides; on classic a page
            # may grow to mend the cursor, and the new devices of one that lost them are read one by one
            current['devices'], complete = list_devices(client, app_id)
            if not complete:
                module.warn('The device list is incomplete: Capgo handed out a cursor it had already given, or a page '
                            'asked again brought no new device, so paging stopped after %d devices'
                            % len(current['devices']))
    if 'bundles' in gather:
        current['bundles'] = bundles.newest_first(bundles.list_bundles(client, app_id), strict=False)
    return current


def plan(module, current):
    """Nothing to write: the items in the option names of the modules that manage them."""
    devices = [normalize_device(item) for item in current['devices']]
    if module.params['channel']:
        devices = [device for device in devices if device['channel'] == module.params['channel']]
    result = dict(changed=False, channels=[normalize_channel(item) for item in current['channels']], devices=devices,
                  bundles=[bundles.normalize_bundle(item) for item in current['bundles']])
    return Plan(None, None, None, (), result=result)


def main():
    module = CapgoModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.run(read, plan)


if __name__ == '__main__':
    main()
