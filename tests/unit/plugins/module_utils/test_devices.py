# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""devices.py with HTTP faked by responses: every cost is counted in what reached the fake (responses.calls)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import math
import threading
import uuid

import pytest
import responses

try:
    from urllib.parse import parse_qsl, urlsplit
except ImportError:  # pragma: no cover - Python 2
    from urlparse import parse_qsl, urlsplit

from ansible_collections.capgo.cloud.plugins.module_utils import client as capgo_client
from ansible_collections.capgo.cloud.plugins.module_utils import devices
from ansible_collections.capgo.cloud.plugins.module_utils.client import CapgoClient, CapgoError
from ansible_collections.capgo.cloud.plugins.module_utils.devices import (
    DEVICE_LIST_LIMIT,
    DevicePool,
    DeviceState,
    RateGate,
    WorkerClient,
    classify_429,
    list_devices,
    rate_limit_backoff,
    read_states,
    remove_override,
    set_override,
)
from ansible_collections.capgo.cloud.tests.unit.plugins.module_utils.device_fake import APP, URL, FakeCapgo

KEY = 'c0ffee00-secret-key-0000-000000000007'


def ids(prefix, count):
    return ['%s-%05d' % (prefix, number) for number in range(count)]


def uuids(count):
    return sorted(str(uuid.UUID(int=number * 7919 + 1)) for number in range(count))


@pytest.fixture
def sleeps(monkeypatch):
    recorded = []
    monkeypatch.setattr(capgo_client, 'backoff_delay', lambda attempt, base=0.5: 0)
    return recorded


@pytest.fixture
def pool(sleeps):
    made = DevicePool(CapgoClient(KEY, api_url=URL, retries=3, sleep=sleeps.append), workers=4)
    yield made
    made.close()


def read(pool, wanted, page_size=DEVICE_LIST_LIMIT):
    return read_states(pool.client, pool, APP, wanted, page_size=page_size)


# -- reading -----------------------------------------------------------------------------------

@responses.activate
def test_one_device_is_one_single_read(pool):
    api = FakeCapgo(devices=ids('dev', 300), overrides={'dev-00007': 'beta'})
    states = read(pool, ['dev-00007'])
    assert api.calls() == [('GET', '/device', dict(app_id=APP, device_id='dev-00007'), None)]
    assert states['dev-00007'] == DeviceState('dev-00007', True, 'beta')


@responses.activate
def test_one_unknown_device_is_unverified(pool):
    FakeCapgo(devices=ids('dev', 3))
    assert read(pool, ['never-seen'])['never-seen'] == DeviceState('never-seen', False, None)


@pytest.mark.parametrize('total', [200, 201, 999, 1000])
@responses.activate
def test_app_of_about_the_wanted_size_reads_pages_of_at_most_100(pool, total):
    all_ids = ids('dev', total)
    api = FakeCapgo(devices=all_ids, overrides=dict((device_id, 'beta') for device_id in all_ids[::3]))
    states = read(pool, all_ids)
    assert api.list_limits() == [100] * int(math.ceil(total / 100.0))
    assert api.count('GET', single=True) == 0 and len(api.calls()) == len(api.list_limits())
    assert all(states[device_id].verified for device_id in all_ids)
    assert states[all_ids[0]].channel == 'beta' and states[all_ids[1]].channel is None


@responses.activate
def test_walk_stops_once_every_wanted_device_was_seen(pool):
    all_ids = ids('dev', 5000)
    api = FakeCapgo(devices=all_ids)
    read(pool, all_ids[:190])
    assert api.list_limits() == [100, 100] and api.count('GET', single=True) == 0


@responses.activate
def test_devices_no_page_showed_are_read_one_by_one_even_after_a_complete_list(pool):
    # a failed list query answers 200 with no devices and classic's cursor skips devices: absence proves nothing
    all_ids = ids('dev', 150)
    api = FakeCapgo(devices=all_ids)
    states = read(pool, all_ids[:10] + ['ghost-1', 'ghost-2'])
    assert len(api.list_limits()) == 2 and api.count('GET', single=True) == 2
    assert not states['ghost-1'].verified and states['dev-00003'].verified


@responses.activate
def test_repeated_cursor_means_incomplete_and_the_rest_is_read_one_by_one(pool):
    all_ids = ids('dev', 500)
    api = FakeCapgo(devices=all_ids, overrides={'dev-00450': 'qa'})
    api.repeat_cursor_after = 2  # page 3 hands out page 2's cursor again
    wanted = all_ids[::10]  # 50 wanted, 10 on every page of 100
    states = read(pool, wanted + ['ghost'])
    assert api.list_limits() == [100, 100, 100]
    # devices past the repeated cursor are not "never checked in": each is read, and is verified
    singles = sorted(entry[2]['device_id'] for entry in api.calls() if entry[2].get('device_id'))
    assert singles == sorted([device_id for device_id in wanted if device_id >= 'dev-00300'] + ['ghost'])
    assert states['dev-00450'] == DeviceState('dev-00450', True, 'qa')
    assert all(states[device_id].verified for device_id in wanted)
    assert not states['ghost'].verified


@pytest.mark.parametrize('wanted_count', [2, 5, 50])
@responses.activate
def test_far_larger_app_costs_at_most_one_request_more_than_single_reads(pool, wanted_count):
    api = FakeCapgo(devices=ids('aaa', 20000) + ids('zzz', wanted_count))
    read(pool, ids('zzz', wanted_count))
    assert api.list_limits() == [100]
    assert api.count('GET', single=True) == wanted_count
    assert len(api.calls()) <= wanted_count + 1


@responses.activate
def test_uuid_pages_of_100_keep_their_overrides_and_need_no_single_read(pool):
    all_ids = uuids(500)
    pinned = dict((device_id, 'beta') for device_id in all_ids)
    api = FakeCapgo(devices=all_ids, overrides=pinned)
    states = read(pool, all_ids)
    assert api.list_limits() == [100] * 5 and api.count('GET', single=True) == 0
    assert all(states[device_id].channel == 'beta' for device_id in all_ids)


@responses.activate
def test_guard_pages_that_lost_their_overrides_are_read_one_by_one(pool):
    """Plant what the page-size rule must catch: pages of 200 UUIDs, whose override lookup the fake loses."""
    all_ids = uuids(400)
    api = FakeCapgo(devices=all_ids, overrides=dict((device_id, 'beta') for device_id in all_ids))
    states = read(pool, all_ids, page_size=200)
    assert api.list_limits() == [200, 200]
    # the fake dropped every channel of both pages; each device was read again, and none reads as unpinned
    assert api.count('GET', single=True) == 400
    assert all(states[device_id] == DeviceState(device_id, True, 'beta') for device_id in all_ids)


@responses.activate
def test_long_ids_make_a_page_of_100_suspect_only_when_it_shows_no_override(pool):
    long_ids = ['device-%s-%s' % (number, 'x' * 70) for number in range(100, 300)]
    api = FakeCapgo(devices=long_ids, overrides={long_ids[150]: 'qa'})
    states = read(pool, long_ids)
    # both pages are past the fake's URL limit, so both lost their channels; both are read again
    assert api.list_limits() == [100, 100] and api.count('GET', single=True) == 200
    assert states[long_ids[150]].channel == 'qa'


@responses.activate
def test_list_devices_for_capgo_info_repairs_a_suspect_page(sleeps):
    all_ids = uuids(300)
    api = FakeCapgo(devices=all_ids, overrides={all_ids[5]: 'beta', all_ids[250]: 'qa'})
    client = CapgoClient(KEY, api_url=URL, retries=0, sleep=sleeps.append)
    items, complete = list_devices(client, APP)
    assert complete and api.list_limits() == [100, 100, 100] and api.count('GET', single=True) == 0
    assert dict((item['device_id'], item.get('channel')) for item in items if item.get('channel')) == \
        {all_ids[5]: 'beta', all_ids[250]: 'qa'}
    responses.calls.reset()
    items, complete = list_devices(client, APP, limit=300)
    assert api.count('GET', single=True) == 300
    assert dict((item['device_id'], item.get('channel')) for item in items if item.get('channel')) == \
        {all_ids[5]: 'beta', all_ids[250]: 'qa'}


@responses.activate
def test_single_read_failure_raises(pool):
    api = FakeCapgo(devices=ids('dev', 3))
    api.faults.append(dict(method='GET', status=400, body=dict(error='cannot_access_app', message="You can't access this app")))
    with pytest.raises(CapgoError) as caught:
        read(pool, ['dev-00001'])
    assert caught.value.error == 'cannot_access_app'


# -- writes: lost answers, the same-channel window ---------------------------------------------

def worker(sleeps, retries=3):
    return WorkerClient(KEY, api_url=URL, retries=retries, sleep=sleeps.append, gate=RateGate(sleep=sleeps.append))


@responses.activate
def test_post_whose_answer_was_lost_is_confirmed_by_a_read_not_resent(sleeps):
    api = FakeCapgo(devices=['dev-1'])
    api.faults.append(dict(method='POST', drop='after'))
    outcome = set_override(worker(sleeps), APP, 'dev-1', 'beta')
    assert outcome.confirmed and not outcome.held
    assert [(entry[0], entry[2].get('device_id') or entry[3]['device_id']) for entry in api.calls()] == \
        [('POST', 'dev-1'), ('GET', 'dev-1')]
    assert api.overrides == {'dev-1': 'beta'}


@responses.activate
def test_post_lost_before_it_was_applied_is_sent_again(sleeps):
    api = FakeCapgo(devices=['dev-1'])
    api.faults.append(dict(method='POST', drop='before'))
    outcome = set_override(worker(sleeps), APP, 'dev-1', 'beta')
    assert not outcome.held
    assert [entry[0] for entry in api.calls()] == ['POST', 'GET', 'POST']
    assert api.overrides == {'dev-1': 'beta'}


@pytest.mark.parametrize('classic', [False, True])
@responses.activate
def test_lost_answer_then_same_channel_429_on_a_device_that_never_checked_in_is_already_set(sleeps, classic):
    api = FakeCapgo(devices=[], classic=classic)
    api.faults.append(dict(method='POST', drop='after'))
    outcome = set_override(worker(sleeps), APP, 'ghost', 'beta')
    assert outcome.held
    # POST (lost), GET (404: cannot tell), POST again (429 window), GET (404): no wait for the window
    assert [entry[0] for entry in api.calls()] == ['POST', 'GET', 'POST', 'GET']
    assert all(seconds < 5 for seconds in sleeps)
    assert api.overrides == {'ghost': 'beta'}


@responses.activate
def test_same_channel_429_on_a_checked_in_device_is_confirmed_by_a_read(sleeps):
    api = FakeCapgo(devices=['dev-1'], overrides={'dev-1': 'beta'})
    api.recent_sets.add(('dev-1', 'beta'))  # someone set it a moment ago
    outcome = set_override(worker(sleeps), APP, 'dev-1', 'beta')
    assert outcome.confirmed and sleeps == []
    assert [entry[0] for entry in api.calls()] == ['POST', 'GET']


@responses.activate
def test_same_channel_429_when_the_device_shows_another_channel_is_waited_out(sleeps):
    api = FakeCapgo(devices=['dev-1'], overrides={'dev-1': 'qa'})
    api.recent_sets.add(('dev-1', 'beta'))  # the window of an earlier failed attempt (current counts those)

    def window_ends(seconds):
        sleeps.append(seconds)
        api.recent_sets.discard(('dev-1', 'beta'))

    client = WorkerClient(KEY, api_url=URL, retries=3, sleep=window_ends, gate=RateGate(sleep=window_ends))
    set_override(client, APP, 'dev-1', 'beta')
    assert sleeps == [60]
    assert [entry[0] for entry in api.calls()] == ['POST', 'GET', 'POST']
    assert api.overrides == {'dev-1': 'beta'}


@responses.activate
def test_same_channel_429_that_never_clears_fails_within_the_retries(sleeps):
    api = FakeCapgo(devices=['dev-1'], overrides={'dev-1': 'qa'})
    api.recent_sets.add(('dev-1', 'beta'))
    with pytest.raises(CapgoError) as caught:
        set_override(worker(sleeps, retries=2), APP, 'dev-1', 'beta')
    assert caught.value.status == 429 and 'refusal stands' in caught.value.message
    assert api.count('POST') == 3 and api.overrides == {'dev-1': 'qa'}


@responses.activate
def test_delete_whose_answer_was_lost_is_confirmed_by_a_read(sleeps):
    api = FakeCapgo(devices=['dev-1'], overrides={'dev-1': 'beta'})
    api.faults.append(dict(method='DELETE', drop='after'))
    outcome = remove_override(worker(sleeps), APP, 'dev-1')
    assert outcome.confirmed
    assert [(entry[0], entry[3]) for entry in api.calls()] == [('DELETE', dict(app_id=APP, device_id='dev-1')), ('GET', None)]
    assert api.overrides == {}


@responses.activate
def test_delete_lost_before_it_was_applied_is_sent_again(sleeps):
    api = FakeCapgo(devices=['dev-1'], overrides={'dev-1': 'beta'})
    api.faults.append(dict(method='DELETE', drop='before'))
    remove_override(worker(sleeps), APP, 'dev-1')
    assert [entry[0] for entry in api.calls()] == ['DELETE', 'GET', 'DELETE']
    assert api.overrides == {}


# -- the 429 kinds, the gate, backoff ---------------------------------------------------------

@pytest.mark.parametrize('body, kind', [
    (dict(error='too_many_requests', message='You are being rate limited'), 'unknown'),
    (dict(error='too_many_requests', moreInfo=dict(app_id=APP, device_id='a', retryAfterSeconds=60)), 'window'),
    (dict(error='too_many_requests', moreInfo=dict(app_id=APP, device_id='a', retryAfterSeconds=1)), 'device'),
    (dict(error='too_many_requests', moreInfo=dict(reason='api_key_rate_limit_exceeded', apikey_id=1)), 'wide'),
    (dict(error='too_many_requests', moreInfo=dict(reason='ip_rate_limit_exceeded')), 'wide'),
    (dict(error='too_many_requests', moreInfo=dict(reason='too_many_failed_auth_attempts')), 'auth_block'),
])
def test_classify_429(body, kind):
    assert classify_429(body) == kind


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


def test_gate_with_a_sleep_that_does_not_advance_the_clock_returns():
    sleeps = []
    gate = RateGate(sleep=sleeps.append)
    gate.hold(30)
    gate.wait()
    assert sleeps and 29 < sleeps[0] <= 30


def test_rate_limit_backoff_grows_to_the_cap():
    for dummy in range(50):
        waits = [rate_limit_backoff(attempt) for attempt in range(1, 6)]
        assert sum(waits) >= 60
        assert max(waits) <= capgo_client.MAX_BACKOFF * 1.25


@responses.activate
def test_worker_waits_long_after_a_429_without_retry_after(sleeps, monkeypatch):
    monkeypatch.setattr(devices, 'rate_limit_backoff', lambda attempt: 100 + attempt)
    responses.add(responses.DELETE, URL + '/device', status=429, json=dict(error='too_many_requests', message='You are being rate limited'))
    responses.add(responses.DELETE, URL + '/device', json=dict(status='ok'))
    client = worker(sleeps)
    assert client.request('DELETE', '/device', json=dict(app_id=APP, device_id='a')) == dict(status='ok')
    assert 101 in sleeps


@responses.activate
def test_key_wide_429_holds_the_gate_for_every_worker_but_device_429_does_not():
    clock = Clock()
    gate = RateGate(sleep=clock.sleep, clock=clock.time)
    client = WorkerClient(KEY, api_url=URL, retries=0, sleep=clock.sleep, gate=gate)
    responses.add(responses.GET, URL + '/device', status=429, headers={'Retry-After': '1'},
                  json=dict(error='too_many_requests', message='Too many requests',
                            moreInfo=dict(app_id=APP, device_id='a', retryAfterSeconds=1)))
    with pytest.raises(CapgoError):
        client.request('GET', '/device', params=dict(app_id=APP, device_id='a'))
    assert gate.remaining() <= 0
    responses.replace(responses.GET, URL + '/device', status=429, headers={'Retry-After': '30'},
                      json=dict(error='too_many_requests', message='Too many requests',
                                moreInfo=dict(reason='api_key_rate_limit_exceeded', apikey_id=1)))
    with pytest.raises(CapgoError):
        client.request('GET', '/device', params=dict(app_id=APP, device_id='a'))
    assert gate.remaining() == pytest.approx(30)
    other = client.clone()
    assert other.gate is gate and other.stats is client.stats and other.session is not client.session
    responses.replace(responses.GET, URL + '/device', json=dict(device_id='b'))
    other.request('GET', '/device', params=dict(app_id=APP, device_id='b'))
    assert clock.sleeps == [30]


@responses.activate
def test_classic_429_on_a_pin_holds_the_gate_before_the_same_channel_read():
    """classic's 429 says nothing of what it limits: it may be the key's limit, so every worker pauses, also while
    this worker goes on to check the same-channel window."""
    clock = Clock()
    gate = RateGate(sleep=clock.sleep, clock=clock.time)
    client = WorkerClient(KEY, api_url=URL, retries=0, sleep=clock.sleep, gate=gate)
    responses.add(responses.POST, URL + '/device', status=429,
                  json=dict(error='too_many_requests', message='You are being rate limited'))
    with pytest.raises(devices.SameChannelWindow):
        client.request('POST', '/device', json=dict(app_id=APP, device_id='a', channel='beta'))
    assert gate.remaining() == pytest.approx(devices.RATE_LIMIT_BACKOFF_BASE)


# -- the pool ----------------------------------------------------------------------------------

@responses.activate
def test_pool_keeps_one_clone_per_thread_for_reads_and_writes(sleeps, monkeypatch):
    """Issue 11: one Session per worker thread for the whole task, not a new set per phase."""
    used = {}
    lock = threading.Lock()
    real_send = CapgoClient._send_once

    def send_once(client, method, path, params, json_body):
        with lock:
            used.setdefault(id(client.session), set()).add((threading.current_thread().ident, method))
        return real_send(client, method, path, params, json_body)

    monkeypatch.setattr(CapgoClient, '_send_once', send_once)
    api = FakeCapgo(devices=ids('aaa', 1000))
    template = CapgoClient(KEY, api_url=URL, retries=0, sleep=sleeps.append)
    pool = DevicePool(template, workers=4)
    wanted = ['d%02d' % number for number in range(40)]
    read_states(pool.client, pool, APP, wanted)  # one list page that finds none of them, then 40 single reads
    pool.run(lambda client, device_id: set_override(client, APP, device_id, 'beta'), wanted)
    clients = pool.sessions
    pool.close()
    assert 1 <= len(clients) <= 4
    worker_sessions = set(id(client.session) for client in clients)
    assert len(worker_sessions) == len(clients)
    for session_id in worker_sessions:
        threads = set(thread for thread, dummy in used[session_id])
        assert len(threads) == 1  # each session belongs to one thread
    # every session (but the calling thread's, which read the list) sent both reads and writes
    assert set(method for session_id in worker_sessions for dummy, method in used[session_id]) == {'GET', 'POST'}
    assert api.count('POST') == 40 and api.count('GET', single=True) == 40
    assert template.stats.requests == len(responses.calls)
    for call in responses.calls:
        assert call.request.headers['authorization'] == KEY


@responses.activate
def test_pool_results_in_order_and_a_non_api_exception_keeps_the_others(pool):
    api = FakeCapgo(devices=[])

    def write(client, device_id):
        if device_id == 'd07':
            raise KeyError('boom')
        if device_id == 'd09':
            raise CapgoError('Capgo API POST /device failed: HTTP 400 cannot_access_channel', status=400,
                             error='cannot_access_channel')
        return set_override(client, APP, device_id, 'beta')

    items = ['d%02d' % number for number in range(20)]
    outcomes = pool.run(write, items)
    assert [item for item, dummy, dummy2 in outcomes] == items
    assert isinstance(outcomes[7][2], KeyError) and outcomes[9][2].error == 'cannot_access_channel'
    assert sorted(api.overrides) == [item for item in items if item not in ('d07', 'd09')]


# -- classic's cursor (capgo-api.md 11.1 #4) ----------------------------------------------------------------------

def classic_list(rows, lost_overrides_above=None):
    """GET /device as classic answers it: newest first by a time finer than the second its stamps and cursor show.

    ``rows``: (second, fraction, device_id, channel).  The cursor keeps the second and the last id only, so the
    devices of that second that come later and have a lower id are never reached by following it."""
    ordered = sorted(rows, key=lambda row: (-row[1], row[2]))
    ordered = sorted(ordered, key=lambda row: row[0], reverse=True)

    def callback(request):
        query = dict(parse_qsl(urlsplit(request.url).query))
        if query.get('device_id'):
            row = next(row for row in rows if row[2] == query['device_id'])
            return 200, {}, json.dumps(dict(device_id=row[2], updated_at=row[0], channel=row[3]))
        limit = int(query['limit'])
        chosen = ordered
        if query.get('cursor'):
            second, last = query['cursor'].split('|', 1)
            chosen = [row for row in ordered if row[0] < second or (row[0] == second and row[2] > last)]
        page = chosen[:limit]
        lost = lost_overrides_above is not None and len(page) > lost_overrides_above
        body = dict(data=[dict(device_id=row[2], updated_at=row[0], channel=None if lost else row[3]) for row in page],
                    hasMore=len(chosen) > limit)
        if body['hasMore']:
            body['nextCursor'] = '%s|%s' % (page[-1][0], page[-1][2])
        return 200, {}, json.dumps(body)
    return callback


def one_second_rows(count, name=lambda number: 'dev-%05d' % number):
    # the later a device came within the second, the lower its id: the cursor's worst case
    return [('2026-01-21 10:00:00', number / 1000.0, name(number), 'beta') for number in range(count)]


@responses.activate
def test_classic_devices_sharing_a_second_are_all_listed():
    rows = one_second_rows(250) + [('2026-01-21 09:59:59', 0.5, 'old-%03d' % n, None) for n in range(30)]
    responses.add_callback(responses.GET, URL + '/device', callback=classic_list(rows))
    client = CapgoClient(KEY, api_url=URL)
    items, complete = list_devices(client, APP)
    assert complete
    assert sorted(item['device_id'] for item in items) == sorted(row[2] for row in rows)
    queries = [dict(parse_qsl(urlsplit(call.request.url).query)) for call in responses.calls]
    # every page after the first starts again at the second's first device, enlarged by the ones already seen
    assert [(query.get('cursor'), query['limit']) for query in queries] == [
        (None, '100'), ('2026-01-21 10:00:00|', '200'), ('2026-01-21 10:00:00|', '300')]


@responses.activate
def test_following_classic_cursor_as_given_loses_devices():
    # the planted walk: the server's cursor as it is (what the module did before) misses most of the second
    rows = one_second_rows(250)
    responses.add_callback(responses.GET, URL + '/device', callback=classic_list(rows))
    items, complete = CapgoClient(KEY, api_url=URL).get_cursor('/device', dict(app_id=APP), limit=100)
    assert complete and len(items) == 100


@responses.activate
def test_classic_enlarged_pages_that_lose_overrides_are_read_again():
    # UUIDs: a page of more than 136 makes the override lookup's URL too long (devices.OVERRIDE_LOOKUP_BUDGET)
    rows = one_second_rows(200, name=lambda number: str(uuid.UUID(int=number + 1)))
    responses.add_callback(responses.GET, URL + '/device', callback=classic_list(rows, lost_overrides_above=136))
    client = CapgoClient(KEY, api_url=URL)
    items, complete = list_devices(client, APP)
    assert complete and len(items) == 200 and all(item['channel'] == 'beta' for item in items)
    singles = [call for call in responses.calls if 'device_id=' in call.request.url]
    assert len(singles) == 100  # only the 100 new devices of the page of 200; the first 100 came with their overrides


@responses.activate
def test_read_states_keeps_classic_pages_within_the_lookup_budget():
    rows = one_second_rows(250, name=lambda number: str(uuid.UUID(int=number + 1)))
    responses.add_callback(responses.GET, URL + '/device', callback=classic_list(rows, lost_overrides_above=136))
    wanted = [row[2] for row in rows]
    made = DevicePool(CapgoClient(KEY, api_url=URL), workers=2)
    try:
        states = read_states(made.client, made, APP, wanted)
    finally:
        made.close()
    assert all(states[device_id] == DeviceState(device_id, True, 'beta') for device_id in wanted)
    limits = [int(dict(parse_qsl(urlsplit(call.request.url).query)).get('limit', 0)) for call in responses.calls
              if 'device_id=' not in call.request.url]
    assert limits and max(limits) <= 136


@responses.activate
def test_current_pages_follow_the_server_cursor():
    # ISO stamps and device-id order (the current API): the cursor is followed as given
    devices_ = [dict(device_id='d%03d' % n, updated_at='2026-07-24T10:00:00.000Z') for n in range(150)]

    def callback(request):
        query = dict(parse_qsl(urlsplit(request.url).query))
        start = 0
        if query.get('cursor'):
            start = [d['device_id'] for d in devices_].index(query['cursor'].split('|')[1]) + 1
        page = devices_[start:start + int(query['limit'])]
        body = dict(data=page, hasMore=start + len(page) < len(devices_))
        if body['hasMore']:
            body['nextCursor'] = '2026-07-24 10:00:00|%s' % page[-1]['device_id']
        return 200, {}, json.dumps(body)
    responses.add_callback(responses.GET, URL + '/device', callback=callback)
    items, complete = list_devices(CapgoClient(KEY, api_url=URL), APP)
    assert complete and len(items) == 150
    assert [dict(parse_qsl(urlsplit(call.request.url).query)).get('cursor') for call in responses.calls] == [
        None, '2026-07-24 10:00:00|d099']
