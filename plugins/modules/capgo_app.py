#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: capgo_app
short_description: Manage the settings of an existing Capgo app
version_added: 2.0.0
description:
  - Reads the app (C(GET /app/:id)), compares the settings you set with what Capgo holds, and sends one
    C(PUT /app/:id) with only the settings that differ. Nothing differs, nothing is sent (an identical C(PUT) would
    still change the app's C(updated_at) and can fire the organisation's webhooks).
  - Options you leave unset are left as they are.
  - It never creates or deletes apps. An app that does not exist and an app the API key may not see look the same
    to Capgo's API, so the module fails saying both.
  - Changing settings needs the C(app.update_settings) right (org_super_admin, org_admin or app_admin); reading needs
    C(app.read).
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
      - The app's display name. Capgo strips HTML tags and surrounding spaces; the module compares the name the same
        way.
    type: str
  retention_days:
    description:
      - Days after which Capgo deletes (soft-deletes, daily) the bundles that no channel serves, as their bundle or
        their rollout bundle. The API holds seconds; the module converts.
      - B(0 does not mean "keep forever". With 0 Capgo deletes every bundle no channel serves at its next daily run.)
        The Capgo CLI's help says otherwise; it is wrong for the API.
      - Never deleting cannot be set through the API; 730 (two years) is the longest it accepts.
      - A retention that is not a whole number of days (set elsewhere) reads as the days rounded down, and setting
        that value changes it.
    type: int
  expose_metadata:
    description:
      - Whether the bundles' C(link) and C(comment) are sent to devices in update answers.
    type: bool
  allow_device_custom_id:
    description:
      - Whether a C(custom_id) the app sets on a device is stored.
    type: bool
  ios_store_url:
    description:
      - The app's App Store URL. Capgo does not check it. An empty string clears it.
    type: str
  android_store_url:
    description:
      - The app's Google Play URL. Capgo does not check it. An empty string clears it.
    type: str
  block_provider_infra_requests:
    description:
      - Whether Capgo refuses update, stats and channel requests from Google and Apple data-centre addresses (store
        review and test bots). Also blocks C(capgo.cloud.capgo_update_check) with O(capgo.cloud.capgo_update_check#module:ask_server=true)
        from CI runners hosted there.
    type: bool
notes:
  - The app icon, the default upload channel, previews and build timeouts are not settable through Capgo's public
    API, so this module does not manage them.
seealso:
  - module: capgo.cloud.capgo_app_info
  - module: capgo.cloud.capgo_bundle
'''

EXAMPLES = r'''
- name: Keep unserved bundles for 90 days and show bundle notes on devices
  capgo.cloud.capgo_app:
    app_id: com.example.app
    retention_days: 90
    expose_metadata: true

- name: Name the app and set its store pages
  capgo.cloud.capgo_app:
    app_id: com.example.app
    name: Example
    ios_store_url: https://apps.apple.com/app/id1234567890
    android_store_url: https://play.google.com/store/apps/details?id=com.example.app
'''

RETURN = r'''
app:
  description: The app's settings after the task, in the option names.
  returned: success
  type: dict
  contains:
    app_id:
      description: The app id.
      type: str
    name:
      description: The display name.
      type: str
    retention_days:
      description: Days before Capgo deletes bundles no channel serves (0 deletes them daily).
      type: int
    expose_metadata:
      description: Whether bundle link and comment go to devices.
      type: bool
    allow_device_custom_id:
      description: Whether device custom ids are stored.
      type: bool
    ios_store_url:
      description: The App Store URL, or V(null).
      type: str
    android_store_url:
      description: The Google Play URL, or V(null).
      type: str
    block_provider_infra_requests:
      description: Whether requests from Google and Apple data centres are refused.
      type: bool
  sample:
    app_id: com.example.app
    name: Example
    retention_days: 30
    expose_metadata: false
    allow_device_custom_id: true
    ios_store_url: null
    android_store_url: null
    block_provider_infra_requests: true
diff:
  description: The managed settings before and after.
  returned: success
  type: dict
'''

from ansible_collections.capgo.cloud.plugins.module_utils.base import CapgoModule
from ansible_collections.capgo.cloud.plugins.module_utils import apps


def main():
    module = CapgoModule(
        argument_spec=dict(
            app_id=dict(type='str', required=True),
            name=dict(type='str'),
            retention_days=dict(type='int'),
            expose_metadata=dict(type='bool'),
            allow_device_custom_id=dict(type='bool'),
            ios_store_url=dict(type='str'),
            android_store_url=dict(type='str'),
            block_provider_infra_requests=dict(type='bool'),
        ),
        supports_check_mode=True,
    )
    module.run(apps.read, apps.plan, apps.write)


if __name__ == '__main__':
    main()
