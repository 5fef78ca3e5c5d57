# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import threading

import pytest
import responses

from ansible_collections.capgo.cloud.plugins.module_utils import client as capgo_client
from ansible_collections.capgo.cloud.plugins.module_utils import devices
from ansible_collections.capgo.cloud.plugins.module_utils.client import CapgoClient, CapgoError
from ansible_collections.capgo.cloud.plugins.module_utils.devices import (
    DevicePool,
    RateGate,
    WorkerClient,
    rate_limit_backoff,
    read_states,
)

URL = 'https://capgo.test'
KEY = 'c0ffee00-secret-key-0000-000000000007'
APP = 'com.example.app'


class FakeDeviceList(object):
    """A client stand-in for read_states: a device list in cursor pages plus single reads, counting requests."""

    def __init__(self, device_ids, overrides=None):
        self.device_ids = sorted(device_ids)
        self.overrides = overrides or {}
        self.list_calls = 0
        self.single_calls = []
        self.sleep = lambda seconds: None
        self._lock = threading.Lock()

    def get_cursor(self, path, params, limit=500, key='device_id', stop=None):
        # the real walk lives in CapgoClient.get_cursor; same contract here
        items = []
        start = 0
        while True:
            self.list_calls += 1
            page = self.device_ids[start:start + limit]
            start += limit
            items.extend(self._item(device_id) for device_id in page)
            if start >= len(self.device_ids):
                return items, True
            if stop is not None and stop(items):
                return items, False

    def request(self, method, path, params=None, json=None, ok_errors=(), **kwargs):
        assert method == 'GET' and path == '/device' and 'device_id' in params
        with self._lock:
            self.single_calls.append(params['device_id'])
        if params['device_id'] not in self.device_ids:
            return dict(error='device_not_found', message='Device not found')
        return self._item(params['device_id'])

    def _item(self, device_id):
        item = dict(device_id=device_id, app_id=APP, platform='ios')
        if device_id in self.overrides:
            item['channel'] = self.overrides[device_id]
        return item


class InlinePool(object):
    """DevicePool's contract without threads, on the given client."""

    def __init__(self, client):
        self.client = client

    def run(self, function, items):
        out = []
        for item in items:
            try:
                out.append((item, function(self.client, item), None))
            except CapgoError as exc:
                out.append((item, None, exc))
        return out


def ids(prefix, count):
    return ['%s-%05d' % (prefix, number) for number in range(count)]


def test_one_device_is_one_single_read():
    api = FakeDeviceList(ids('dev', 2000), overrides={'dev-00007': 'beta'})
    report = read_states(api, InlinePool(api), APP, ['dev-00007'])
    assert api.list_calls == 0 and api.single_calls == ['dev-00007']
    state = report.states['dev-00007']
    assert state.verified and state.channel == 'beta'


def test_one_unknown_device_is_unverified():
    api = FakeDeviceList(ids('dev', 3))
    report = read_states(api, InlinePool(api), APP, ['never-seen'])
    assert not report.states['never-seen'].verified
    assert report.states['never-seen'].channel is None


@pytest.mark.parametrize('total, page_size', [(1000, 500), (1001, 500), (999, 250), (120, 50)])
def test_app_of_about_the_wanted_size_costs_ceil_n_over_page_list_pages(total, page_size):
    all_ids = ids('dev', total)
    api = FakeDeviceList(all_ids, overrides=dict((device_id, 'beta') for device_id in all_ids[::3]))
    report = read_states(api, InlinePool(api), APP, all_ids, page_size=page_size)
    assert api.list_calls == math.ceil(total / float(page_size))
    assert api.single_calls == []
    assert report.requests == api.list_calls
    assert all(report.states[device_id].verified for device_id in all_ids)
    assert report.states[all_ids[0]].channel == 'beta' and report.states[all_ids[1]].channel is None


def test_walk_stops_once_every_wanted_device_was_seen():
    all_ids = ids('dev', 5000)
    api = FakeDeviceList(all_ids)
    wanted = all_ids[:900]
    report = read_states(api, InlinePool(api), APP, wanted, page_size=500)
    assert api.list_calls == 2 and not report.list_complete
    assert api.single_calls == []


def test_complete_list_proves_never_seen_devices_without_single_reads():
    all_ids = ids('dev', 700)
    api = FakeDeviceList(all_ids)
    wanted = all_ids[:10] + ['ghost-1', 'ghost-2']
    report = read_states(api, InlinePool(api), APP, wanted, page_size=500)
    assert api.list_calls == 2 and report.list_complete
    assert api.single_calls == []
    assert not report.states['ghost-1'].verified and report.states['dev-00003'].verified


@pytest.mark.parametrize('wanted_count', [2, 5, 50, 1000])
def test_far_larger_app_costs_at_most_one_request_more_than_single_reads(wanted_count):
    # the wanted devices sit at the very end of a 200 000-device list: pages find nothing
    all_ids = ids('aaa', 200000) + ids('zzz', wanted_count)
    api = FakeDeviceList(all_ids)
    wanted = ids('zzz', wanted_count)
    report = read_states(api, InlinePool(api), APP, wanted, page_size=500)
    assert api.list_calls == 1
    assert len(api.single_calls) == wanted_count
    assert report.requests <= wanted_count + 1


def test_far_larger_app_with_spread_devices_keeps_paging_while_pages_pay_off():
    all_ids = ids('dev', 20000)
    wanted = all_ids[::20]  # 1000 wanted, 25 on every page of 500
    api = FakeDeviceList(all_ids)
    report = read_states(api, InlinePool(api), APP, wanted, page_size=500)
    assert api.list_calls == 40 and api.single_calls == []
    assert report.requests < len(wanted)


def test_sparse_devices_switch_to_single_reads_within_budget():
    all_ids = ids('dev', 100000)
    wanted = all_ids[::5000] + ['ghost']  # 20 checked-in devices, one per 10 pages, plus one never seen
    api = FakeDeviceList(all_ids)
    report = read_states(api, InlinePool(api), APP, wanted, page_size=500)
    assert report.requests <= len(wanted) + 1
    assert not report.states['ghost'].verified
    assert all(report.states[device_id].verified for device_id in wanted if device_id != 'ghost')


def test_single_read_failure_raises():
    class Broken(FakeDeviceList):
        def request(self, method, path, params=None, json=None, ok_errors=(), **kwargs):
            raise CapgoError('Capgo API GET /device failed: HTTP 400 cannot_access_app', status=400, error='cannot_access_app')

    api = Broken(ids('dev', 3))
    with pytest.raises(CapgoError):
        read_states(api, InlinePool(api), APP, ['dev-00001'])


# -- gate, backoff, worker clients, pool --------------------------------------------------------

class Clock(object):
    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_gate_holds_until_the_latest_time_asked():
    clock = Clock()
    gate = RateGate(sleep=clock.sleep, clock=clock.time)
    gate.wait()
    assert clock.sleeps == []
    gate.hold(5)
    gate.hold(2)  # never earlier
    gate.wait()
    assert clock.sleeps == [5]


def test_rate_limit_backoff_outlasts_the_same_channel_window_over_five_retries():
    for dummy in range(50):
        waits = [rate_limit_backoff(attempt) for attempt in range(1, 6)]
        assert sum(waits) >= 60
        assert max(waits) <= capgo_client.MAX_BACKOFF * 1.25


@pytest.fixture
def sleeps(monkeypatch):
    recorded = []
    monkeypatch.setattr(devices, 'rate_limit_backoff', lambda attempt: 100 + attempt)
    monkeypatch.setattr(capgo_client, 'backoff_delay', lambda attempt, base=0.5: 0)
    return recorded


def worker(sleeps, retries=3):
    return WorkerClient(KEY, RateGate(sleep=sleeps.append), api_url=URL, retries=retries, sleep=sleeps.append)


@responses.activate
def test_worker_waits_long_after_a_429_without_retry_after(sleeps):
    responses.add(responses.POST, URL + '/device', status=429, json=dict(error='too_many_requests', message='You are being rate limited'))
    responses.add(responses.POST, URL + '/device', json=dict(status='ok'))
    client = worker(sleeps)
    assert client.request('POST', '/device', json=dict(app_id=APP, device_id='a', channel='beta')) == dict(status='ok')
    assert 101 in sleeps


@responses.activate
def test_worker_honours_retry_after(sleeps):
    responses.add(responses.POST, URL + '/device', status=429, headers={'Retry-After': '7'},
                  json=dict(error='too_many_requests', message='Too many requests',
                            moreInfo=dict(app_id=APP, device_id='a', retryAfterSeconds=7)))
    responses.add(responses.POST, URL + '/device', json=dict(status='ok'))
    client = worker(sleeps)
    client.request('POST', '/device', json=dict(app_id=APP, device_id='a', channel='beta'))
    assert sleeps == [7]


@responses.activate
def test_worker_503_keeps_the_ordinary_backoff(sleeps):
    responses.add(responses.DELETE, URL + '/device', status=503, json=dict(error='service_unavailable', message='x'))
    responses.add(responses.DELETE, URL + '/device', json=dict(status='ok'))
    client = worker(sleeps)
    client.request('DELETE', '/device', json=dict(app_id=APP, device_id='a'))
    assert sleeps == [0]


@responses.activate
def test_key_wide_429_holds_the_gate_for_every_worker_but_device_429_does_not():
    clock = Clock()
    gate = RateGate(sleep=clock.sleep, clock=clock.time)
    client = WorkerClient(KEY, gate, api_url=URL, retries=0, sleep=clock.sleep)
    responses.add(responses.POST, URL + '/device', status=429, headers={'Retry-After': '30'},
                  json=dict(error='too_many_requests', message='Too many requests', moreInfo=dict(app_id=APP, device_id='a')))
    with pytest.raises(CapgoError):
        client.request('POST', '/device', json=dict(app_id=APP, device_id='a', channel='beta'))
    assert gate.remaining() <= 0
    responses.replace(responses.POST, URL + '/device', status=429, headers={'Retry-After': '30'},
                      json=dict(error='too_many_requests', message='Too many requests',
                                moreInfo=dict(reason='api_key_rate_limit_exceeded', apikey_id=1)))
    with pytest.raises(CapgoError):
        client.request('POST', '/device', json=dict(app_id=APP, device_id='a', channel='beta'))
    assert gate.remaining() == pytest.approx(30)
    other = WorkerClient(KEY, gate, api_url=URL, retries=0, sleep=clock.sleep)
    responses.replace(responses.POST, URL + '/device', json=dict(status='ok'))
    other.request('POST', '/device', json=dict(app_id=APP, device_id='b', channel='beta'))
    assert clock.sleeps == [30]


@responses.activate
def test_pool_one_client_per_thread_results_in_order_errors_kept(sleeps):
    def callback(request):
        import json as _json
        body = _json.loads(request.body)
        if body['device_id'] == 'bad':
            return 400, {}, _json.dumps(dict(error='cannot_access_app', message="You can't access this app"))
        return 200, {}, _json.dumps(dict(status='ok', seen=body['device_id']))

    responses.add_callback(responses.POST, URL + '/device', callback=callback)
    template = CapgoClient(KEY, api_url=URL, retries=0, sleep=sleeps.append)
    pool = DevicePool(template, workers=4)
    items = ['d%02d' % number for number in range(40)] + ['bad']
    outcomes = pool.run(lambda client, device_id: client.request('POST', '/device', json=dict(app_id=APP, device_id=device_id)), items)
    pool.close()
    assert [item for item, dummy, dummy2 in outcomes] == items
    assert outcomes[3][1] == dict(status='ok', seen='d03')
    assert outcomes[-1][2].error == 'cannot_access_app'
    assert 1 <= len(pool._clients) <= 4
    assert len(set(id(client.session) for client in pool._clients)) == len(pool._clients)
    assert pool.request_count == 41 and pool.write_count == 41
    assert template.request_count == 0
    for call in responses.calls:
        assert call.request.headers['authorization'] == KEY
