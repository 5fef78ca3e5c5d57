# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What every capgo.cloud module shares: connection options, credentials, validation, failure reporting."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.capgo.cloud.plugins.module_utils.client import (
    DEFAULT_API_URL,
    CapgoClient,
    CapgoError,
    api_key_from_file,
    validate_app_id,
)

SEMVER_RE = re.compile(
    r'^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)'
    r'(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?'
    r'(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$')

MISSING_KEY_MESSAGE = (
    'No Capgo API key found. Looked in, in this order: the api_key option, the CAPGO_API_KEY environment variable, '
    'the CAPGO_TOKEN environment variable, and the file ~/.capgo written by "capgo login"')


def connection_argument_spec():
    """The connection options of every module (documented by the capgo.cloud.connection fragment)."""
    return dict(
        api_key=dict(type='str', no_log=True, fallback=(env_fallback, ['CAPGO_API_KEY', 'CAPGO_TOKEN'])),
        api_url=dict(type='str', default=DEFAULT_API_URL, fallback=(env_fallback, ['CAPGO_API_URL'])),
        validate_certs=dict(type='bool', default=True),
        api_timeout=dict(type='int', default=30),
        api_retries=dict(type='int', default=5),
    )


class CapgoModule(AnsibleModule):
    """AnsibleModule plus the Capgo client, built only after every input check passed."""

    def __init__(self, argument_spec, **kwargs):
        spec = connection_argument_spec()
        spec.update(argument_spec)
        super(CapgoModule, self).__init__(argument_spec=spec, **kwargs)
        self._client = None
        self._api_key = self.params.get('api_key') or api_key_from_file()
        if not self._api_key:
            self.fail_json(msg=MISSING_KEY_MESSAGE)
        # A key from ~/.capgo is not an option value, so Ansible would not mask it by itself.
        self.no_log_values.add(self._api_key)
        if self.params['api_timeout'] <= 0:
            self.fail_json(msg='api_timeout must be a positive number of seconds, got %d' % self.params['api_timeout'])
        if self.params['api_retries'] < 0:
            self.fail_json(msg='api_retries must be 0 or more, got %d' % self.params['api_retries'])
        if 'app_id' in self.params and self.params['app_id'] is not None:
            try:
                validate_app_id(self.params['app_id'])
            except ValueError as exc:
                self.fail_json(msg=str(exc))

    @property
    def client(self):
        if self._client is None:
            self._client = CapgoClient(
                self._api_key,
                api_url=self.params['api_url'],
                validate_certs=self.params['validate_certs'],
                timeout=self.params['api_timeout'],
                retries=self.params['api_retries'],
            )
        return self._client

    def fail_api(self, error, **result):
        """Fail the task from a CapgoError, keeping whatever partial result the module had."""
        kwargs = error.fail_kwargs()
        kwargs.update(result)
        self.fail_json(**kwargs)

    def run(self, function):
        """Call function(module) and exit with its result dict, turning CapgoError into a failure."""
        try:
            result = function(self)
        except CapgoError as exc:
            self.fail_api(exc, changed=False)
        self.exit_json(**result)


def is_semver(version):
    return bool(version) and SEMVER_RE.match(version) is not None
