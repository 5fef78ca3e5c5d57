# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import threading

import pytest
import responses

from ansible.module_utils.six.moves.urllib.parse import parse_qsl, urlsplit
from ansible.module_utils.testing import patch_module_args

from ansible_collections.capgo.cloud.plugins.module_utils import devices as capgo_devices
from ansible_collections.capgo.cloud.plugins.modules import capgo_device_link
from ansible_collections.capgo.cloud.tests.unit.plugins.modules.module_exits import ModuleExit, patch_exits

URL = 'https://capgo.test'
KEY = 'c0ffee00-secret-key-0000-000000000099'
APP = 'com.example.app'


@pytest.fixture(autouse=True)
def fake_exits(monkeypatch):
    patch_exits(monkeypatch)
    monkeypatch.setattr(capgo_devices, 'rate_limit_backoff', lambda attempt: 0)
    monkeypatch.setattr(capgo_devices, 'RATE_LIMIT_BACKOFF_BASE', 0)


class FakeCapgo(object):
    """Just enough of /channel and /device: channels, checked-in devices, overrides, a request log, faults."""

    def __init__(self, channels=None, devices=None, overrides=None):
        self.channels = channels if channels is not None else {'beta': False, 'production': True, 'qa': False}
        self.devices = set(devices or [])
        self.overrides = dict(overrides or {})
        self.log = []
        self.faults = []  # (method, status, body): answered instead of the next matching request
        self.lock = threading.Lock()
        responses.add_callback(responses.GET, re.compile(URL + '/channel.*'), callback=self.get_channel)
        responses.add_callback(responses.GET, re.compile(URL + '/device.*'), callback=self.get_device)
        responses.add_callback(responses.POST, re.compile(URL + '/device.*'), callback=self.post_device)
        responses.add_callback(responses.DELETE, re.compile(URL + '/device.*'), callback=self.delete_device)

    @staticmethod
    def answer(status, body):
        return status, {}, json.dumps(body)

    def record(self, request):
        query = dict(parse_qsl(urlsplit(request.url).query))
        body = json.loads(request.body) if request.body else None
        with self.lock:
            self.log.append((request.method, urlsplit(request.url).path, query, body))
            for index, (method, status, fault_body) in enumerate(self.faults):
                if method == request.method:
                    del self.faults[index]
                    return query, body, (status, fault_body)
        return query, body, None

    def get_channel(self, request):
        query, dummy, fault = self.record(request)
        if fault:
            return self.answer(*fault)
        name = query.get('channel')
        if name not in self.channels:
            return self.answer(400, dict(error='cannot_find_version', message='Cannot find version'))
        return self.answer(200, dict(id=1, name=name, app_id=APP, public=self.channels[name]))

    def item(self, device_id):
        item = dict(device_id=device_id, app_id=APP, platform='android')
        if device_id in self.overrides:
            item['channel'] = self.overrides[device_id]
        return item

    def get_device(self, request):
        query, dummy, fault = self.record(request)
        if fault:
            return self.answer(*fault)
        if query.get('device_id'):
            if query['device_id'] not in self.devices:
                return self.answer(404, dict(error='device_not_found', message='Device not found'))
            return self.answer(200, self.item(query['device_id']))
        ordered = sorted(self.devices)
        limit = int(query['limit'])
        start = ordered.index(query['cursor'].split('|')[1]) + 1 if query.get('cursor') else 0
        page = ordered[start:start + limit]
        more = start + limit < len(ordered)
        body = dict(data=[self.item(device_id) for device_id in page], hasMore=more)
        if more:
            body['nextCursor'] = '2026-01-01 00:00:00|%s' % page[-1]
        return self.answer(200, body)

    def post_device(self, request):
        dummy, body, fault = self.record(request)
        if fault:
            return self.answer(*fault)
        if body['channel'] not in self.channels:
            return self.answer(404, dict(error='channel_not_found', message='Channel not found'))
        if self.channels[body['channel']]:
            return self.answer(400, dict(error='public_channel_override', message='Cannot set channel override for public channel'))
        with self.lock:
            self.overrides[body['device_id']] = body['channel']
        return self.answer(200, dict(status='ok'))

    def delete_device(self, request):
        query, body, fault = self.record(request)
        if fault:
            return self.answer(*fault)
        assert not query, 'DELETE parameters belong in the JSON body'
        with self.lock:
            self.overrides.pop(body['device_id'], None)
        return self.answer(200, dict(status='ok'))

    def writes(self):
        return [entry for entry in self.log if entry[0] != 'GET']

    def count(self, method, single=None):
        out = [entry for entry in self.log if entry[0] == method and entry[1] == '/device']
        if single is not None:
            out = [entry for entry in out if bool(entry[2].get('device_id')) == single]
        return len(out)


def run_module(check_mode=False, diff=False, **args):
    args.setdefault('app_id', APP)
    args.setdefault('api_url', URL)
    args.setdefault('api_key', KEY)
    args.setdefault('api_retries', 2)
    if check_mode:
        args['_ansible_check_mode'] = True
    if diff:
        args['_ansible_diff'] = True
    with patch_module_args(args):
        with pytest.raises(ModuleExit) as caught:
            capgo_device_link.main()
    result = caught.value.result
    assert KEY not in json.dumps(result)
    return result


# -- input checks: fail before any request --------------------------------------------------------

@pytest.mark.parametrize('args, message', [
    (dict(device_id='a', device_ids=['b'], channel='beta'), 'mutually exclusive'),
    (dict(channel='beta'), 'one of the following is required'),
    (dict(device_ids=[], channel='beta'), 'at least one device'),
    (dict(device_ids=['a', ' '], channel='beta'), 'must not be empty'),
    (dict(device_id='', channel='beta'), 'must not be empty'),
    (dict(device_id='a'), 'channel'),
    (dict(device_id='a', channel=''), 'channel must name a channel'),
    (dict(device_id='a', channel='beta', app_id='not-an-app'), 'reverse-domain'),
])
@responses.activate
def test_bad_input_fails_before_any_request(args, message):
    result = run_module(**args)
    assert result['failed']
    assert message in result['msg']
    assert len(responses.calls) == 0


# -- single device ----------------------------------------------------------------------------

@responses.activate
def test_link_one_device_then_rerun_sends_no_write():
    api = FakeCapgo(devices=['dev-1'])
    result = run_module(device_id='DEV-1', channel='beta')
    assert result['changed']
    assert result['devices'] == [dict(device_id='dev-1', channel='beta', previous_channel=None, changed=True, verified=True)]
    assert api.overrides == {'dev-1': 'beta'}
    assert api.writes() == [('POST', '/device', {}, dict(app_id=APP, device_id='dev-1', channel='beta'))]
    assert len(api.log) == 3  # channel, device, write

    api.log[:] = []
    result = run_module(device_id='dev-1', channel='beta')
    assert not result['changed']
    assert result['devices'][0]['previous_channel'] == 'beta'
    assert api.writes() == [] and len(api.log) == 2


@responses.activate
def test_move_to_other_channel_reports_previous_and_diff():
    api = FakeCapgo(devices=['dev-1'], overrides={'dev-1': 'qa'})
    result = run_module(device_id='dev-1', channel='beta', diff=True)
    assert result['changed'] and api.overrides['dev-1'] == 'beta'
    assert result['devices'][0]['previous_channel'] == 'qa'
    assert result['diff'] == dict(before={'dev-1': 'qa'}, after={'dev-1': 'beta'})


@responses.activate
def test_check_mode_predicts_and_sends_no_write():
    api = FakeCapgo(devices=['dev-1', 'dev-2'], overrides={'dev-2': 'beta'})
    predicted = run_module(device_ids=['dev-1', 'dev-2', 'ghost'], channel='beta', check_mode=True, diff=True)
    assert api.writes() == [] and api.overrides == {'dev-2': 'beta'}
    real = run_module(device_ids=['dev-1', 'dev-2', 'ghost'], channel='beta', diff=True)
    assert predicted['changed'] is True and real['changed'] is True
    assert predicted['devices'] == real['devices']
    assert predicted['diff'] == real['diff']
    assert sorted(entry[3]['device_id'] for entry in api.writes()) == ['dev-1', 'ghost']


@responses.activate
def test_public_channel_is_refused_before_any_write():
    api = FakeCapgo(devices=['dev-1'])
    result = run_module(device_id='dev-1', channel='production')
    assert result['failed']
    assert 'non-public' in result['msg'] and 'state=absent' in result['msg']
    assert api.writes() == [] and len(api.log) == 1


@responses.activate
def test_unknown_channel_is_refused_before_any_write():
    api = FakeCapgo(devices=['dev-1'])
    result = run_module(device_ids=['dev-1', 'dev-2'], channel='nope')
    assert result['failed'] and 'does not exist' in result['msg']
    assert api.writes() == [] and len(api.log) == 1


@responses.activate
def test_never_seen_device_is_written_unverified_every_run():
    api = FakeCapgo(devices=[])
    for dummy in range(2):
        result = run_module(device_id='Ghost-9', channel='beta')
        assert result['changed']
        assert result['devices'] == [dict(device_id='ghost-9', channel='beta', previous_channel=None, changed=True, verified=False)]
    assert api.overrides == {'ghost-9': 'beta'}
    assert api.count('POST') == 2


@responses.activate
def test_same_channel_429_on_rerun_is_waited_out():
    api = FakeCapgo(devices=[])
    same_set = dict(error='too_many_requests', message='Too many requests', moreInfo=dict(app_id=APP, device_id='ghost', retryAfterSeconds=0))
    api.faults.append(('POST', 429, same_set))
    result = run_module(device_id='ghost', channel='beta')
    assert not result.get('failed') and result['changed']
    assert api.count('POST') == 2 and api.overrides == {'ghost': 'beta'}


@responses.activate
def test_release_deletes_only_existing_overrides_body_only():
    api = FakeCapgo(devices=['dev-1', 'dev-2'], overrides={'dev-1': 'beta'})
    result = run_module(device_ids=['dev-1', 'dev-2'], state='absent', diff=True)
    assert result['changed']
    assert result['devices'] == [
        dict(device_id='dev-1', channel=None, previous_channel='beta', changed=True, verified=True),
        dict(device_id='dev-2', channel=None, previous_channel=None, changed=False, verified=True),
    ]
    assert result['diff'] == dict(before={'dev-1': 'beta'}, after={'dev-1': None})
    assert api.writes() == [('DELETE', '/device', {}, dict(app_id=APP, device_id='dev-1'))]
    assert not any(entry[1] == '/channel' for entry in api.log)

    api.log[:] = []
    result = run_module(device_ids=['dev-1', 'dev-2'], state='absent', channel='ignored')
    assert not result['changed'] and api.writes() == []


@responses.activate
def test_release_of_never_seen_device_is_sent():
    api = FakeCapgo(devices=[], overrides={'ghost': 'beta'})
    result = run_module(device_id='ghost', state='absent')
    assert result['changed'] and not result['devices'][0]['verified']
    assert api.overrides == {}


# -- bulk -------------------------------------------------------------------------------------

@responses.activate
def test_bulk_dedupes_reads_by_list_and_writes_each_once():
    all_ids = ['dev-%04d' % number for number in range(1200)]
    api = FakeCapgo(devices=all_ids, overrides={'dev-0000': 'beta'})
    wanted = [device_id.upper() for device_id in all_ids] + ['DEV-0001', 'never-seen']
    result = run_module(device_ids=wanted, channel='beta')
    assert result['changed']
    assert len(result['devices']) == 1201
    assert [entry['device_id'] for entry in result['devices']] == all_ids + ['never-seen']
    assert api.count('GET', single=False) == 3 and api.count('GET', single=True) == 0
    assert api.count('POST') == 1200  # all but dev-0000, plus never-seen
    assert all(api.overrides[device_id] == 'beta' for device_id in all_ids + ['never-seen'])
    assert result['devices'][0]['changed'] is False

    api.log[:] = []
    result = run_module(device_ids=all_ids, channel='beta')
    assert not result['changed'] and api.writes() == []
    assert len(api.log) == 1 + 3


@responses.activate
def test_bulk_partial_failure_finishes_the_others_and_lists_failures():
    api = FakeCapgo(devices=['dev-%d' % number for number in range(10)])
    api.faults.append(('POST', 400, dict(error='cannot_access_channel', message="You can't access this channel")))
    result = run_module(device_ids=['dev-%d' % number for number in range(10)], channel='beta')
    assert result['failed']
    assert result['changed']
    assert result['error'] == 'cannot_access_channel' and result['status'] == 400
    assert result['msg'].startswith('1 of 10 devices failed')
    assert len(result['failed_devices']) == 1
    failed_id = result['failed_devices'][0]['device_id']
    assert 'cannot_access_channel' in result['failed_devices'][0]['msg']
    assert len(api.overrides) == 9 and failed_id not in api.overrides
    entry = [item for item in result['devices'] if item['device_id'] == failed_id][0]
    assert entry['changed'] is False and entry['channel'] is None
    assert sum(1 for item in result['devices'] if item['changed']) == 9


@responses.activate
def test_bulk_with_transient_faults_ends_right():
    all_ids = ['dev-%03d' % number for number in range(60)]
    api = FakeCapgo(devices=all_ids)
    for dummy in range(5):
        api.faults.append(('POST', 503, dict(error='service_unavailable', message='x')))
        api.faults.append(('POST', 429, dict(error='too_many_requests', message='You are being rate limited')))
    # one device may draw several faults in a row: give it more retries than there are faults
    result = run_module(device_ids=all_ids, channel='beta', api_retries=11)
    assert not result.get('failed')
    assert all(entry['changed'] for entry in result['devices'])
    assert api.overrides == dict((device_id, 'beta') for device_id in all_ids)
    assert api.count('POST') == 70


@responses.activate
def test_read_failure_fails_before_any_write():
    api = FakeCapgo(devices=['dev-1'])
    api.faults.append(('GET', 400, dict(error='cannot_access_app', message="You can't access this app")))
    result = run_module(device_ids=['dev-1', 'dev-2'], state='absent')
    assert result['failed'] and result['error'] == 'cannot_access_app'
    assert api.writes() == []
