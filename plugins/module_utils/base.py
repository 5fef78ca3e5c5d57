# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What every capgo.cloud module shares: connection options, credentials, the one run and failure path."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import traceback

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.capgo.cloud.plugins.module_utils.client import (
    DEFAULT_API_URL,
    DEFAULT_RETRIES,
    DEFAULT_RETRY_BUDGET,
    DEFAULT_TIMEOUT,
    HAS_REQUESTS,
    MISSING_KEY_MESSAGE,
    REQUESTS_IMPORT_ERROR,
    CapgoClient,
    CapgoError,
    CapgoInputError,
    api_key_from_file,
    clean_api_key,
    validate_api_url,
    validate_app_id,
    validate_settings,
)

try:
    from urllib.parse import quote
except ImportError:  # pragma: no cover - Python 2
    from urllib import quote

SEMVER_RE = re.compile(
    r'^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)'
    r'(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?'
    r'(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$')

# A task that waited longer than this on rate limits and retries says so in a warning.
WAIT_WARNING_SECONDS = 5


def connection_argument_spec():
    """The connection options of every module (documented by the capgo.cloud.connection fragment)."""
    return dict(
        api_key=dict(type='str', no_log=True, fallback=(env_fallback, ['CAPGO_API_KEY', 'CAPGO_TOKEN'])),
        api_url=dict(type='str', default=DEFAULT_API_URL, fallback=(env_fallback, ['CAPGO_API_URL'])),
        validate_certs=dict(type='bool', default=True),
        api_timeout=dict(type='int', default=DEFAULT_TIMEOUT, fallback=(env_fallback, ['CAPGO_API_TIMEOUT'])),
        api_retries=dict(type='int', default=DEFAULT_RETRIES, fallback=(env_fallback, ['CAPGO_API_RETRIES'])),
        api_retry_budget=dict(type='int', default=DEFAULT_RETRY_BUDGET,
                              fallback=(env_fallback, ['CAPGO_API_RETRY_BUDGET'])),
    )


def secret_forms(value):
    """Every way a secret can show up in text: raw, stripped, escaped (repr, bytes repr, JSON), URL-quoted."""
    if not value:
        return set()
    forms = set()
    for text in (value, value.strip()):
        if not text:
            continue
        forms.add(text)
        forms.add(repr(text)[1:-1])
        forms.add(json.dumps(text)[1:-1])
        forms.add(quote(text, safe=''))
        try:
            encoded = text.encode('utf-8')
            forms.add(repr(encoded)[2:-1])
        except UnicodeError:  # pragma: no cover - a str always encodes to UTF-8
            pass
    return set(form for form in forms if len(form) >= 4)


def scrub(value, secrets):
    """``value`` (str, or lists/dicts of them) with every secret form replaced by ********."""
    if isinstance(value, str):
        for secret in sorted(secrets, key=len, reverse=True):
            if secret in value:
                value = value.replace(secret, '********')
        return value
    if isinstance(value, dict):
        return dict((key, scrub(item, secrets)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(scrub(item, secrets) for item in value)
    return value


class CapgoModule(AnsibleModule):
    """AnsibleModule plus the Capgo client, built only after every input check passed."""

    def __init__(self, argument_spec, **kwargs):
        spec = connection_argument_spec()
        spec.update(argument_spec)
        super(CapgoModule, self).__init__(argument_spec=spec, **kwargs)
        self._client = None
        self._secrets = set()
        raw_key = self.params.get('api_key')
        if raw_key is None or not str(raw_key).strip():
            raw_key = api_key_from_file()
        self._remember_secret(raw_key)
        if not HAS_REQUESTS:
            self.fail_json(msg=missing_required_lib('requests'), exception=REQUESTS_IMPORT_ERROR)
        try:
            self._api_key = clean_api_key(raw_key)
            if not self._api_key:
                raise CapgoInputError(MISSING_KEY_MESSAGE)
            self._api_url = validate_api_url(self.params['api_url'])
            validate_settings(self.params['api_timeout'], self.params['api_retries'], self.params['api_retry_budget'])
            if self.params.get('app_id') is not None:
                validate_app_id(self.params['app_id'])
        except CapgoInputError as exc:
            self._fail(exc.message, exc.result)

    def _remember_secret(self, value):
        if value:
            forms = secret_forms(str(value))
            self._secrets |= forms
            # Ansible masks no_log values in everything a module returns; give it the escaped forms too.
            self.no_log_values.update(forms)

    @property
    def client(self):
        if self._client is None:
            self._client = CapgoClient(
                self._api_key,
                api_url=self._api_url,
                validate_certs=self.params['validate_certs'],
                timeout=self.params['api_timeout'],
                retries=self.params['api_retries'],
                retry_budget=self.params['api_retry_budget'],
            )
        return self._client

    @property
    def writes_sent(self):
        return self._client.stats.writes_sent if self._client is not None else 0

    def _warn_about_waits(self):
        if self._client is not None and self._client.stats.waited > WAIT_WARNING_SECONDS:
            self.warn('This task waited %s for Capgo before its requests went through: rate limits (HTTP 429) or '
                      'transient failures, retried as api_retries and api_retry_budget allow'
                      % self._client.stats.wait_summary())

    def _fail(self, message, extra=None, **answer):
        result = dict(extra or {})
        result.update(answer)
        result['changed'] = self.writes_sent > 0 or bool(result.get('changed'))
        self._warn_about_waits()
        self.fail_json(msg=scrub(message, self._secrets), **scrub(result, self._secrets))

    def run(self, read, plan=None, write=None):
        """The one way a module runs: read the current state, plan, write (not in check mode), exit.

        ``read(module)`` sends GETs only; ``plan(module, current)`` is pure and returns an engine.Plan whose
        ``result`` is what check mode returns; ``write(module, plan)`` sends the plan's writes and returns the
        result.  Every failure ends here, once: scrubbed of the key in every form, with ``changed`` true as soon as
        a write was sent.
        """
        try:
            current = read(self)
            if plan is None:
                result = current
            else:
                planned = plan(self, current)
                if planned.changed and write is not None and not self.check_mode:
                    result = write(self, planned)
                else:
                    result = planned.result
            result = dict(result or {})
            if self.writes_sent:
                result['changed'] = True
            self._warn_about_waits()
        except CapgoInputError as exc:
            self._fail(exc.message, exc.result)
        except CapgoError as exc:
            answer = exc.fail_kwargs()
            message = answer.pop('msg')
            self._fail(message, exc.result, **answer)
        except Exception as exc:  # pylint: disable=broad-except
            # Anything else is a bug or an environment problem: still no secret, still the truth about writes.
            self._fail('capgo.cloud failed unexpectedly: %s: %s' % (type(exc).__name__, exc),
                       dict(exception=traceback.format_exc()))
        self.exit_json(**result)


def is_semver(version):
    return bool(version) and SEMVER_RE.match(version) is not None
