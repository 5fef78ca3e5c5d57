# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
requirements:
  - requests >= 2.25 (Python library) on the host that runs the module
options:
  api_key:
    description:
      - The Capgo API key, sent as the raw value of the C(authorization) header (no C(Bearer) prefix).
      - When not set, the module looks in this order at the environment variable E(CAPGO_API_KEY), the environment
        variable E(CAPGO_TOKEN) (the one the Capgo CLI reads), and the file C(~/.capgo) written by C(capgo login).
        If none of the four holds a key, the module fails before sending any request.
      - Surrounding whitespace (the newline a YAML block, a file or C(ansible-vault encrypt_string) leaves) is
        stripped. A key with a C(Bearer) prefix, whitespace inside or a control character is refused before any
        request, without showing it.
      - The key never appears in the module's output, diff, warnings or errors.
      - A rejected key (HTTP 401) is never retried, because Capgo blocks an IP address for 15 minutes after
        20 failed authentications.
    type: str
  api_url:
    description:
      - Base URL of the Capgo API. Set it for a self-hosted Capgo or for the local Capgo simulator used in tests.
      - It must be an C(https://) or C(http://) URL with a host name, for example V(https://api.capgo.app) or
        V(http://127.0.0.1:8080); anything else is refused before any request. A trailing slash is tolerated.
      - A connection failure names this URL; a stale E(CAPGO_API_URL) (for example an old simulator port) is the
        usual cause.
      - If not set, the environment variable E(CAPGO_API_URL) is used, then the default.
    type: str
    default: https://api.capgo.app
  validate_certs:
    description:
      - Whether to verify the API's TLS certificate. Only turn this off for a self-hosted test instance.
    type: bool
    default: true
  api_timeout:
    description:
      - Seconds to wait for each HTTP request before it counts as failed.
      - If not set, the environment variable E(CAPGO_API_TIMEOUT) is used, then the default.
    type: int
    default: 30
  api_retries:
    description:
      - How many times a request is retried after HTTP 429, 502, 503 or 504, a dropped connection or a timeout,
        waiting as long as the API asks (C(Retry-After)) or with a capped exponential backoff.
      - Authentication failures (401), other client errors (4xx), TLS certificate failures, proxy refusals and
        host names that do not resolve are never retried.
      - A write whose answer was lost (timeout, dropped connection, 5xx after it was sent) is not re-sent blindly; the
        module reads the resource back and decides from what the server holds.
      - A task that waited more than a few seconds on retries says so in a warning.
      - If not set, the environment variable E(CAPGO_API_RETRIES) is used, then the default.
    type: int
    default: 5
  api_retry_budget:
    description:
      - The most seconds one request may spend waiting between its retries, in total.
      - A rate limit (HTTP 429) or outage (503) that asks for a longer wait fails at once, naming the wait. The
        address block Capgo imposes after 20 failed authentications (about 15 minutes) always fails at once,
        saying until when, because only a corrected key helps.
      - If not set, the environment variable E(CAPGO_API_RETRY_BUDGET) is used, then the default.
    type: int
    default: 300
seealso:
  - name: Capgo public API
    description: The REST API these modules use.
    link: https://capgo.app/docs/public-api/
'''
