# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: channel
short_description: Read Capgo channels by name, for templates and conditions
version_added: 2.0.0
description:
  - Returns, for each channel name given, the channel as M(capgo.cloud.capgo_channel) returns it in
    RV(capgo.cloud.capgo_channel#module:channel) (the bundle it serves, its settings, its rollout), read with one
    C(GET /channel) per name.
  - A channel that does not exist fails the lookup with a message naming it.
  - Lookups run on the controller and take no C(module_defaults); give the options here, or use the environment
    variables and the C(~/.capgo) file the modules use as well.
  - A lookup runs again every time its value is templated. To read once and use the result several times, store it
    with M(ansible.builtin.set_fact).
author:
  - Capgo collection maintainers (@capgo-cloud)
options:
  _terms:
    description: The channel names.
    required: true
    type: list
    elements: str
  app_id:
    description:
      - The app's reverse-domain id, for example V(com.example.app). Checked before any request.
    type: str
    required: true
  api_key:
    description:
      - The Capgo API key, sent as the raw value of the C(authorization) header.
      - When not set, the lookup looks in this order at the environment variables E(CAPGO_API_KEY) and E(CAPGO_TOKEN),
        then the file C(~/.capgo) written by C(capgo login), on the controller. If none holds a key, it fails before
        any request.
      - The key never appears in the lookup's result or errors.
    type: str
  api_url:
    description:
      - Base URL of the Capgo API, for a self-hosted Capgo or the local simulator. A trailing slash is tolerated.
    type: str
    default: https://api.capgo.app
    env:
      - name: CAPGO_API_URL
  validate_certs:
    description:
      - Whether to verify the API's TLS certificate.
    type: bool
    default: true
  api_timeout:
    description:
      - Seconds to wait for each HTTP request.
    type: int
    default: 30
notes:
  - Requests that meet HTTP 429 or a transient failure are retried as the modules do, with their default retry settings.
seealso:
  - module: capgo.cloud.capgo_channel
  - module: capgo.cloud.capgo_info
'''

EXAMPLES = r'''
- name: Read the production channel once
  ansible.builtin.set_fact:
    production: "{{ lookup('capgo.cloud.channel', 'production', app_id='com.example.app') }}"

- name: Only release when production serves the bundle we expect
  ansible.builtin.debug:
    msg: "production serves {{ production.bundle }}"
  when: production.bundle == '1.4.2'

- name: Read two channels as a list
  ansible.builtin.set_fact:
    lanes: "{{ query('capgo.cloud.channel', 'production', 'beta', app_id='com.example.app') }}"

- name: Announce the running rollout
  ansible.builtin.debug:
    msg: "beta rolls out {{ lanes[1].rollout.bundle }} to {{ lanes[1].rollout.percentage }} %"
  when: lanes[1].rollout
'''

RETURN = r'''
_raw:
  description:
    - One channel dict per name, in the order given, shaped like RV(capgo.cloud.capgo_channel#module:channel).
  type: list
  elements: dict
  contains:
    id:
      description: Capgo's id of the channel.
      type: int
    name:
      description: The channel name.
      type: str
    bundle:
      description: The bundle the channel serves, or V(null) for the store build's own bundle.
      type: str
    public:
      description: Whether this is a default channel.
      type: bool
    disable_auto_update:
      description: Which updates are blocked compared to the native version.
      type: str
    rollout:
      description: The running rollout, or V(null); on API generations with rollouts.
      type: dict
'''

import os

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.capgo.cloud.plugins.module_utils.base import scrub, secret_forms
from ansible_collections.capgo.cloud.plugins.module_utils.client import (
    HAS_REQUESTS,
    MISSING_KEY_MESSAGE,
    CapgoClient,
    CapgoError,
    CapgoInputError,
    clean_api_key,
    find_api_key,
    validate_api_url,
    validate_app_id,
    validate_settings,
)
from ansible_collections.capgo.cloud.plugins.module_utils.channels import normalize_channel

MISSING_KEY_FOR_LOOKUP = MISSING_KEY_MESSAGE.replace('the api_key option', 'the api_key option of the lookup')


def read_channel(client, app_id, name):
    """One channel's GET /channel item, or None when it does not exist (400 cannot_find_version)."""
    body = client.request('GET', '/channel', params=dict(app_id=app_id, channel=name), ok_errors=('cannot_find_version',))
    if isinstance(body, dict) and body.get('error') == 'cannot_find_version':
        return None
    return body


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        raw_key = find_api_key(self.get_option('api_key'), os.environ)
        secrets = secret_forms(str(raw_key)) if raw_key else set()
        try:
            return self._read(terms, raw_key)
        except (CapgoInputError, CapgoError) as exc:
            raise AnsibleLookupError(scrub('capgo.cloud.channel: %s' % exc.message, secrets))
        except AnsibleLookupError:
            raise
        except Exception as exc:  # pylint: disable=broad-except
            raise AnsibleLookupError(scrub('capgo.cloud.channel failed unexpectedly: %s: %s' % (type(exc).__name__, exc),
                                           secrets))

    def _read(self, terms, raw_key):
        if not HAS_REQUESTS:
            raise CapgoInputError('the Python library requests is required on the controller: pip install requests')
        app_id = self.get_option('app_id')
        validate_app_id(app_id)
        names = []
        for term in terms:
            if not isinstance(term, str) or not term.strip():
                raise CapgoInputError('channel names must be non-empty strings, got %r' % (term,))
            names.append(term)
        if not names:
            raise CapgoInputError('give at least one channel name')
        api_key = clean_api_key(raw_key)
        if not api_key:
            raise CapgoInputError(MISSING_KEY_FOR_LOOKUP)
        api_url = validate_api_url(self.get_option('api_url'))
        timeout = self.get_option('api_timeout')
        validate_settings(timeout, 5, 300)
        client = CapgoClient(api_key, api_url=api_url, validate_certs=self.get_option('validate_certs'), timeout=timeout)
        try:
            found = {}
            for name in names:
                if name not in found:
                    found[name] = read_channel(client, app_id, name)
        finally:
            client.close()
        missing = [name for name in names if found[name] is None]
        if missing:
            raise CapgoInputError('app %s has no channel %s (or the API key may not see it)' % (
                app_id, ', '.join(sorted(set(missing)))))
        return [normalize_channel(found[name]) for name in names]
