# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The stdlib transport against a real local HTTP server (the Capgo simulator)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import sys
import urllib.request

import pytest

from ansible_collections.capgo.cloud.plugins.module_utils.client import CapgoClient, CapgoError
from ansible_collections.capgo.cloud.plugins.module_utils.transport import HttpSession

SIMULATOR_DIR = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'simulator')
KEY = 'transport-test-key-0001'
APP = 'com.example.app'

pytestmark = pytest.mark.stdlib_transport


def admin(url, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, method=method, headers={'Content-Type': 'application/json'})
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request) as response:
        text = response.read()
    return json.loads(text) if text else None


@pytest.fixture(scope='module')
def simulator():
    sys.path.insert(0, os.path.abspath(SIMULATOR_DIR))
    from capgo_simulator import start_simulator  # pylint: disable=import-error
    server = start_simulator(profile='current', db=':memory:', port=0)
    yield server
    server.stop()


@pytest.fixture
def sim_url(simulator, monkeypatch):
    monkeypatch.setenv('no_proxy', '127.0.0.1,localhost')
    url = simulator.url.rstrip('/')
    admin(url, 'POST', '/_sim/reset')
    admin(url, 'POST', '/_sim/seed', {'keys': [{'key': KEY, 'mode': 'all'}], 'apps': [{'app_id': APP}],
                                      'channels': [{'app_id': APP, 'name': 'production'}]})
    return url


def test_client_uses_the_stdlib_session_by_default():
    assert isinstance(CapgoClient(KEY).session, HttpSession)


def test_reads_and_writes_over_one_kept_alive_connection(sim_url):
    client = CapgoClient(KEY, api_url=sim_url + '/')
    assert [c['name'] for c in client.request('GET', '/channel', params={'app_id': APP})] == ['production']
    assert client.request('POST', '/channel', json={'app_id': APP, 'channel': 'beta'}) == {'status': 'ok'}
    assert client.request('GET', '/channel', params={'app_id': APP, 'channel': 'beta'})['name'] == 'beta'
    assert len(client.session._connections) == 1  # pylint: disable=protected-access
    log = admin(sim_url, 'GET', '/_sim/requests')
    assert [(e['method'], e['path'], e['status']) for e in log] == [('GET', '/channel', 200), ('POST', '/channel', 200), ('GET', '/channel', 200)]
    assert log[1]['body'] == {'app_id': APP, 'channel': 'beta'}
    assert KEY not in json.dumps(log)


def test_error_body_and_status_reach_the_error(sim_url):
    client = CapgoClient('wrong-key', api_url=sim_url)
    with pytest.raises(CapgoError) as exc:
        client.request('GET', '/channel', params={'app_id': APP})
    assert exc.value.status == 401 and exc.value.error == 'invalid_apikey'


def test_dropped_connection_and_retry_after_are_handled(sim_url):
    admin(sim_url, 'POST', '/_sim/faults', {'faults': [{'type': 'drop'}, {'type': '429', 'retry_after': 0}]})
    waits = []
    client = CapgoClient(KEY, api_url=sim_url, sleep=waits.append)
    assert client.request('GET', '/channel', params={'app_id': APP})[0]['name'] == 'production'
    assert len(waits) == 2 and waits[1] == 0
    assert [e['fault'] for e in admin(sim_url, 'GET', '/_sim/requests')] == ['drop', '429', None]


def test_server_closing_an_idle_connection_is_not_an_error(sim_url):
    client = CapgoClient(KEY, api_url=sim_url, retries=0)
    client.request('GET', '/channel', params={'app_id': APP})
    connection = list(client.session._connections.values())[0][0]  # pylint: disable=protected-access
    connection.sock.close()
    client.request('GET', '/channel', params={'app_id': APP})


def test_timeout_is_reported_as_no_answer(sim_url):
    admin(sim_url, 'POST', '/_sim/faults', {'faults': [{'type': 'delay', 'delay': 1.5}]})
    client = CapgoClient(KEY, api_url=sim_url, timeout=0.3, retries=0)
    with pytest.raises(CapgoError) as exc:
        client.request('GET', '/channel', params={'app_id': APP})
    assert 'no answer within 0.3 seconds' in str(exc.value)
