#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: capgo_device_link
short_description: Pin Capgo devices to a channel, or release them back to normal channel selection
version_added: 1.0.0
description:
  - Sets or removes device overrides (forced devices) of one Capgo app, for one device or thousands in one task.
  - A device with an override always gets its updates from the override's channel. The override wins over the
    channel the app asks for with C(setChannel()) or C(defaultChannel) and over the default (public) channel, and
    it lets the device use a private channel that it could not select by itself.
  - Releasing a device (O(state=absent)) removes its override; the device then picks its channel as usual, which
    for most devices means the default channel.
  - The module reads the devices' current overrides first and writes only the devices that differ, so a run that
    changes nothing sends no write request. This also keeps clear of Capgo's rate limits on device writes
    (see the notes).
  - Many devices (O(device_ids)) are read with as few requests as the API allows and written concurrently by
    a small pool of workers. Every device is processed; if some fail (also for a reason other than an API error),
    the task fails after the others are done, reports every device in RV(devices) and lists the failed ones with
    their errors in RV(failed_devices).
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
  device_id:
    description:
      - One device id.
      - Exactly one of O(device_id) and O(device_ids) is required.
      - Device ids are compared and sent lower-cased, as Capgo stores them.
    type: str
  device_ids:
    description:
      - Many device ids, processed in one task.
      - Exactly one of O(device_id) and O(device_ids) is required. The list must not be empty.
      - Device ids are compared and sent lower-cased; ids that are equal once lower-cased are processed once.
    type: list
    elements: str
  channel:
    description:
      - The channel (by name) to pin the devices to. Required with O(state=present).
      - It must exist, and it must not be a public (default) channel, because Capgo only accepts overrides to
        non-public channels. Devices without an override already get the default channel, so use O(state=absent)
        to return a device to it.
      - Both are checked with one read before any write.
      - Ignored with O(state=absent), which releases the devices from whatever channel they are pinned to.
    type: str
  state:
    description:
      - V(present) pins the devices to O(channel), replacing any other override they have.
      - V(absent) removes their overrides.
    type: str
    choices: [present, absent]
    default: present
notes:
  - >-
    Devices that never checked in with Capgo (or that Capgo forgot, about 90 days after their last contact)
    cannot be read through the API, even when they have an override. Such a device is returned with
    RV(devices[].verified=false), and because its current override is unknown it is written on every run
    (pinned, or with O(state=absent) released; releasing is harmless when there is nothing to release) and
    reported as changed, so a play that names such devices never reports C(changed=0). Its
    RV(devices[].previous_channel) is V(null) because it is unknown. The task warns with the list of these devices.
  - >-
    Capgo answers HTTP 429 when a device is set to the same channel twice within 60 seconds. The module never
    waits that window out: it reads the device, and if the override holds (or the device cannot be read because
    it never checked in) the refusal itself says the device was set to the channel within the last minute, so the
    write already holds; the task warns naming such devices. Only when the device shows another channel is the
    wait real, and then it waits as asked. Capgo also allows only a few operations per second on each device
    (retried after a second); 429s that limit the whole key or address pause every worker of the task together.
    The classic API says neither which limit answered nor how long to wait; there the module backs off 2, 4, 8, 16
    and 30 seconds.
  - >-
    A write whose answer is lost (timeout, dropped connection, HTTP 502/503/504 after the request was sent) is
    decided by reading the device back: the override is as planned, so the write went through (reported as
    changed, not sent again); it is not, so the write is sent again (setting and removing an override are safe to
    repeat); the device cannot be read, so it is sent again, and Capgo's same-channel 429 then confirms it.
  - >-
    How long an override lasts depends on the API generation: on the newest (api.capgo.app) overrides set
    through the API never expire; self-hosted backends from July 2026 delete overrides older than one month,
    those from mid-August 2026 older than 90 days. Setting a device to the channel it is already pinned to does
    not renew the override; releasing and pinning it again does.
  - >-
    With O(device_ids), the module first reads the app's device list in pages of at most 100 devices, and stops as
    soon as every wanted device was seen. Capgo reads the overrides of a list page with one query that carries
    every device id of the page in its URL and ignores that query's errors, so a larger page can silently come
    back without any override; a page whose ids are long enough to risk it, and which shows no override, has its
    wanted devices read again one by one. When the app holds far more devices than the task names, the module
    switches to reading the remaining devices one by one as soon as the pages stop paying off, so reading costs
    at most one request more than reading every device one by one. A device list that ends early (Capgo hands
    out a cursor twice) is never taken to prove that a device is missing: the rest are read one by one.
  - >-
    Up to 8 devices are read and written at the same time, by worker threads that each keep one connection for the
    whole task.
seealso:
  - module: capgo.cloud.capgo_channel
  - module: capgo.cloud.capgo_info
    description: Lists the devices pinned to a channel (O(capgo.cloud.capgo_info#module:channel) with V(devices) gathered).
'''

EXAMPLES = r'''
- name: Pin a QA phone to the beta channel
  capgo.cloud.capgo_device_link:
    app_id: com.example.app
    device_id: 4F3C2A10-9B7E-4D6A-8C11-0A1B2C3D4E5F
    channel: beta

- name: Pin every QA device to the beta channel
  capgo.cloud.capgo_device_link:
    app_id: com.example.app
    device_ids: "{{ qa_device_ids }}"
    channel: beta
  register: pinned

- name: Show the devices that never checked in (their override cannot be read back yet)
  ansible.builtin.debug:
    msg: "{{ pinned.devices | rejectattr('verified') | map(attribute='device_id') | list }}"

- name: Release the QA devices back to the default channel
  capgo.cloud.capgo_device_link:
    app_id: com.example.app
    device_ids: "{{ qa_device_ids }}"
    state: absent
'''

RETURN = r'''
devices:
  description:
    - One entry per device, in the order given (duplicates removed), also when the task fails.
  returned: always
  type: list
  elements: dict
  contains:
    device_id:
      description: The device id, lower-cased.
      type: str
    channel:
      description:
        - The channel the device is pinned to after the task, or V(null) when it has no override.
        - For a device whose write failed, what it was before (V(null) when unknown), unless the outcome of the
          write is unknown; then the planned channel, which the device may hold.
      type: str
    previous_channel:
      description: The channel the device was pinned to before the task; V(null) when it had no override or when
        that is unknown (RV(devices[].verified=false)).
      type: str
    changed:
      description:
        - Whether a write was sent for this device (in check mode, whether one would be).
        - For a device whose write failed, V(false), unless the answer was lost and a read-back could not tell
          whether it was applied (RV(failed_devices[].outcome_unknown=true)).
      type: bool
    verified:
      description: V(false) when the device never checked in with Capgo, so the API cannot show its current override.
      type: bool
  sample:
    - device_id: 4f3c2a10-9b7e-4d6a-8c11-0a1b2c3d4e5f
      channel: beta
      previous_channel: null
      changed: true
      verified: true
failed_devices:
  description:
    - The devices whose write failed, each with its error, formatted like the task's own error. The other devices
      are still processed and reported in RV(devices).
  returned: failure
  type: list
  elements: dict
  contains:
    device_id:
      description: The device id, lower-cased.
      type: str
    msg:
      description: What failed, with the HTTP status and the API's error code and message.
      type: str
    status:
      description: The HTTP status; absent when no answer arrived.
      type: int
    error:
      description: The API's error code; absent when the API gave none.
      type: str
    api_message:
      description: The API's error message; absent when the API gave none.
      type: str
    outcome_unknown:
      description: V(true) when the write's answer was lost and a read-back could not tell whether it was applied.
      type: bool
  sample:
    - device_id: 4f3c2a10-9b7e-4d6a-8c11-0a1b2c3d4e5f
      msg: "Capgo API POST /device failed: HTTP 404 channel_not_found: Channel not found"
      status: 404
      error: channel_not_found
      api_message: Channel not found
      outcome_unknown: false
'''

from ansible_collections.capgo.cloud.plugins.module_utils import devices
from ansible_collections.capgo.cloud.plugins.module_utils.base import CapgoModule

ARGUMENT_SPEC = dict(
    app_id=dict(type='str', required=True),
    device_id=dict(type='str'),
    device_ids=dict(type='list', elements='str'),
    channel=dict(type='str'),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
)


def main():
    module = CapgoModule(
        argument_spec=ARGUMENT_SPEC,
        mutually_exclusive=[('device_id', 'device_ids')],
        required_one_of=[('device_id', 'device_ids')],
        required_if=[('state', 'present', ('channel',))],
        supports_check_mode=True,
    )
    module.run(devices.read, devices.plan, devices.write)


if __name__ == '__main__':
    main()
