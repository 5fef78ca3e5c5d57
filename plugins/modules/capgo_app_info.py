#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: capgo_app_info
short_description: List the Capgo apps an API key can see, with their settings
version_added: 2.0.0
description:
  - Without O(app_id), every app the key can see, in every organisation it belongs to (C(GET /app), every page).
    Capgo's pages have no order, so an app can come back on two pages; each app is returned once.
  - With O(app_id), that one app (C(GET /app/:id)). An app that does not exist and an app the key may not see look the
    same to Capgo's API, so the module fails saying both.
  - Each app is shaped like the RV(capgo.cloud.capgo_app#module:app) return value of M(capgo.cloud.capgo_app), plus
    its organisation and timestamps, so the list can drive a loop over every app of an organisation (for example with
    the C(capgo.cloud.channels) role).
author:
  - Capgo collection maintainers (@capgo-cloud)
extends_documentation_fragment:
  - capgo.cloud.connection
  - capgo.cloud.attributes.INFO_MODULE
options:
  app_id:
    description:
      - Only this app. Checked before any request.
    type: str
seealso:
  - module: capgo.cloud.capgo_app
  - module: capgo.cloud.capgo_info
'''

EXAMPLES = r'''
- name: Every app the key can see
  capgo.cloud.capgo_app_info:
  register: capgo_apps

- name: Apply the release lanes to every app of one organisation
  ansible.builtin.include_role:
    name: capgo.cloud.channels
  vars:
    channels_apps: "{{ capgo_apps.apps | selectattr('owner_org', 'equalto', 'b2a3c4d5-0000-4000-8000-000000000001') | list }}"
    channels_lanes:
      - name: production
        public: true
'''

RETURN = r'''
apps:
  description: The apps, sorted by app id, each once.
  returned: success
  type: list
  elements: dict
  contains:
    app_id:
      description: The app id.
      type: str
    owner_org:
      description: The id of the organisation that owns the app.
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
    created_at:
      description: When the app was created.
      type: str
    updated_at:
      description: When the app row last changed (Capgo also changes it by itself, so it does not tell drift).
      type: str
  sample:
    - app_id: com.example.app
      owner_org: b2a3c4d5-0000-4000-8000-000000000001
      name: Example
      retention_days: 30
      expose_metadata: false
      allow_device_custom_id: true
      ios_store_url: null
      android_store_url: null
      block_provider_infra_requests: true
      created_at: "2026-01-01T00:00:00+00:00"
      updated_at: "2026-03-01T10:00:00+00:00"
'''

from ansible_collections.capgo.cloud.plugins.module_utils.base import CapgoModule
from ansible_collections.capgo.cloud.plugins.module_utils import apps


def main():
    module = CapgoModule(
        argument_spec=dict(
            app_id=dict(type='str'),
        ),
        supports_check_mode=True,
    )
    module.run(apps.read_info)


if __name__ == '__main__':
    main()
