# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
import requests
import responses

from ansible_collections.capgo.cloud.plugins.module_utils import client as capgo_client
from ansible_collections.capgo.cloud.plugins.module_utils.client import (
    CapgoClient,
    CapgoError,
    api_key_from_file,
    parse_retry_after,
    validate_app_id,
)

URL = 'https://capgo.test'
KEY = 'c0ffee00-secret-key-0000-000000000001'


class Sleeps(list):
    def __call__(self, seconds):
        self.append(seconds)


@pytest.fixture
def sleeps():
    return Sleeps()


@pytest.fixture
def client(sleeps):
    return CapgoClient(KEY, api_url=URL + '/', retries=3, sleep=sleeps)


def error_body(code, message, **more):
    return dict(error=code, message=message, moreInfo=more)


@responses.activate
def test_sends_raw_key_in_authorization_header(client):
    responses.add(responses.GET, URL + '/channel', json=[])
    assert client.request('GET', '/channel', params=dict(app_id='com.example.app')) == []
    assert responses.calls[0].request.headers['authorization'] == KEY
    assert 'app_id=com.example.app' in responses.calls[0].request.url


@responses.activate
def test_429_retry_after_is_honoured_then_success(client, sleeps):
    responses.add(responses.GET, URL + '/channel', status=429, headers={'Retry-After': '1'},
                  json=error_body('too_many_requests', 'Too many requests', retryAfterSeconds=1))
    responses.add(responses.GET, URL + '/channel', json=[{'id': 1}])
    assert client.request('GET', '/channel') == [{'id': 1}]
    assert len(responses.calls) == 2
    assert sleeps == [1.0]


@responses.activate
def test_429_without_retry_after_uses_backoff(client, sleeps):
    responses.add(responses.POST, URL + '/device', status=429, json=error_body('too_many_requests', 'You are being rate limited'))
    responses.add(responses.POST, URL + '/device', json={'status': 'ok'})
    assert client.request('POST', '/device', json={'app_id': 'a.b'}) == {'status': 'ok'}
    assert len(sleeps) == 1 and 0 < sleeps[0] <= 1.0


@responses.activate
def test_503_twice_then_success(client, sleeps):
    for dummy in range(2):
        responses.add(responses.GET, URL + '/bundle', status=503, json=error_body('service_unavailable', 'down'))
    responses.add(responses.GET, URL + '/bundle', json=[])
    assert client.request('GET', '/bundle') == []
    assert len(responses.calls) == 3
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0] * 0.9


@responses.activate
def test_dropped_connection_then_success(client):
    responses.add(responses.GET, URL + '/channel', body=requests.exceptions.ConnectionError('connection reset'))
    responses.add(responses.GET, URL + '/channel', json=[])
    assert client.request('GET', '/channel') == []
    assert len(responses.calls) == 2


@responses.activate
def test_401_is_never_retried_and_says_the_key_was_rejected(client, sleeps):
    responses.add(responses.GET, URL + '/channel', status=401, json=error_body('invalid_apikey', 'Invalid apikey'))
    with pytest.raises(CapgoError) as exc:
        client.request('GET', '/channel')
    assert len(responses.calls) == 1
    assert sleeps == []
    assert exc.value.status == 401 and exc.value.error == 'invalid_apikey'
    assert 'Capgo API GET /channel failed: HTTP 401 invalid_apikey: Invalid apikey' in str(exc.value)
    assert 'API key was rejected' in str(exc.value)
    assert KEY not in str(exc.value)


@responses.activate
def test_other_4xx_is_not_retried(client):
    responses.add(responses.POST, URL + '/channel', status=400, json=error_body('cannot_access_app', "You can't access this app"))
    with pytest.raises(CapgoError) as exc:
        client.request('POST', '/channel', json={})
    assert len(responses.calls) == 1
    assert str(exc.value).startswith("Capgo API POST /channel failed: HTTP 400 cannot_access_app: You can't access this app")
    assert exc.value.fail_kwargs()['api_message'] == "You can't access this app"


@responses.activate
def test_exhausted_retries_report_last_status_and_code(client, sleeps):
    for dummy in range(4):
        responses.add(responses.GET, URL + '/device', status=502, json=error_body('bad_gateway', 'upstream'))
    with pytest.raises(CapgoError) as exc:
        client.request('GET', '/device')
    assert len(responses.calls) == 4
    assert exc.value.status == 502 and exc.value.error == 'bad_gateway'
    assert 'gave up after 4 attempts' in str(exc.value)


@responses.activate
def test_malformed_json_is_retried_for_reads(client):
    responses.add(responses.GET, URL + '/channel', body='{"trunc')
    responses.add(responses.GET, URL + '/channel', json=[])
    assert client.request('GET', '/channel') == []


@responses.activate
def test_already_done_after_dropped_connection(client):
    responses.add(responses.DELETE, URL + '/channel', body=requests.exceptions.ConnectionError('dropped'))
    responses.add(responses.DELETE, URL + '/channel', status=400, json=error_body('cannot_find_channel', 'Cannot find channel'))
    body = client.request('DELETE', '/channel', json={'app_id': 'a.b', 'channel': 'x'}, done_errors=('cannot_find_channel',))
    assert body['error'] == 'cannot_find_channel'


@responses.activate
def test_done_error_on_first_attempt_is_still_an_error(client):
    responses.add(responses.DELETE, URL + '/channel', status=400, json=error_body('cannot_find_channel', 'Cannot find channel'))
    with pytest.raises(CapgoError):
        client.request('DELETE', '/channel', json={}, done_errors=('cannot_find_channel',))


@responses.activate
def test_unsafe_write_is_not_repeated_after_ambiguous_failure(client):
    responses.add(responses.POST, URL + '/bundle', body=requests.exceptions.ConnectionError('dropped'))
    with pytest.raises(CapgoError):
        client.request('POST', '/bundle', json={}, retry=False)
    assert len(responses.calls) == 1


def test_parse_retry_after_forms():
    assert parse_retry_after({'Retry-After': '7'}, None) == 7.0
    assert parse_retry_after({}, {'moreInfo': {'retryAfterSeconds': 3}}) == 3.0
    assert parse_retry_after({'Retry-After': 'Wed, 21 Oct 2015 07:28:05 GMT'}, None, now=1445412480.0) == 5.0
    assert parse_retry_after({'Retry-After': 'soon'}, None) is None
    assert parse_retry_after({'Retry-After': '100000'}, None) == capgo_client.MAX_RETRY_AFTER


def quirky_pages(rows):
    """A callback reproducing the real server's page windows for a query-string page (capgo-api.md 10.6)."""
    def callback(request):
        page = request.params.get('page')
        if page is None or page == '0':
            start, end = 0, 49
        else:
            start = int(page) * 50
            end = int(page + '1') * 50 - 1
            end = min(end, start + 999)
        window = rows[start:end + 1]
        return 200, {}, json.dumps(window)
    return callback


@responses.activate
def test_paged_list_returns_each_item_once_in_few_requests(client):
    rows = [{'id': i, 'name': 'ch-%04d' % i} for i in range(1234)]
    responses.add_callback(responses.GET, URL + '/channel', callback=quirky_pages(rows))
    items = client.get_paged('/channel', dict(app_id='com.example.app'))
    assert [item['id'] for item in items] == list(range(1234))
    assert len(responses.calls) <= 6


@responses.activate
def test_paged_list_with_clean_pages_still_works(client):
    rows = [{'id': i} for i in range(120)]

    def callback(request):
        page = int(request.params.get('page', '0'))
        return 200, {}, json.dumps(rows[page * 50:page * 50 + 50])
    responses.add_callback(responses.GET, URL + '/channel', callback=callback)
    assert [item['id'] for item in client.get_paged('/channel', {})] == list(range(120))


@responses.activate
def test_paged_list_exact_page_boundary(client):
    rows = [{'id': i} for i in range(50)]
    responses.add_callback(responses.GET, URL + '/channel', callback=quirky_pages(rows))
    assert len(client.get_paged('/channel', {})) == 50
    assert len(responses.calls) == 2


@responses.activate
def test_bundle_list_empty_page_is_an_empty_list(client):
    responses.add(responses.GET, URL + '/bundle', status=400, json=error_body('cannot_get_bundle', 'Cannot get bundle', supabaseError=None))
    assert client.get_paged('/bundle', {}, empty_error='cannot_get_bundle') == []


@responses.activate
def test_bundle_list_without_access_is_an_error(client):
    responses.add(responses.GET, URL + '/bundle', status=400, json=error_body('cannot_get_bundle', "You can't access this app"))
    with pytest.raises(CapgoError) as exc:
        client.get_paged('/bundle', {}, empty_error='cannot_get_bundle')
    assert "You can't access this app" in str(exc.value)


@responses.activate
def test_bundle_list_database_error_is_an_error(client):
    responses.add(responses.GET, URL + '/bundle', status=400,
                  json=error_body('cannot_get_bundle', 'Cannot get bundle', supabaseError={'code': '22P02'}))
    with pytest.raises(CapgoError):
        client.get_paged('/bundle', {}, empty_error='cannot_get_bundle')


def cursor_pages(devices, repeat_first_on_later_pages=False):
    def callback(request):
        limit = int(request.params['limit'])
        cursor = request.params.get('cursor')
        start = int(cursor.split('|')[1]) if cursor else 0
        data = devices[start:start + limit]
        if repeat_first_on_later_pages and start:
            data = [devices[0]] + data
        body = {'data': data, 'hasMore': start + limit < len(devices)}
        if body['hasMore']:
            body['nextCursor'] = '2026-01-01 00:00:00|%d' % (start + limit)
        return 200, {}, json.dumps(body)
    return callback


@responses.activate
def test_cursor_list_reads_every_device_once(client):
    devices = [{'device_id': 'd%05d' % i} for i in range(3000)]
    responses.add_callback(responses.GET, URL + '/device', callback=cursor_pages(devices, repeat_first_on_later_pages=True))
    items, complete = client.get_cursor('/device', dict(app_id='a.b'), limit=500)
    assert complete
    assert [item['device_id'] for item in items] == [d['device_id'] for d in devices]
    assert len(responses.calls) == 6
    assert '%7C' in responses.calls[1].request.url  # the opaque cursor is URL-encoded


@responses.activate
def test_cursor_list_can_stop_early(client):
    devices = [{'device_id': 'd%05d' % i} for i in range(3000)]
    responses.add_callback(responses.GET, URL + '/device', callback=cursor_pages(devices))
    items, complete = client.get_cursor('/device', {}, limit=500, stop=lambda found: len(found) >= 600)
    assert not complete
    assert len(items) == 1000 and len(responses.calls) == 2


def test_validate_app_id():
    validate_app_id('com.example.app')
    validate_app_id('ee.forgr.capacitor_go')
    for bad in ('', 'app', 'com', 'com..x', '.com.x', 'com.example/app'):
        with pytest.raises(ValueError):
            validate_app_id(bad)


def test_api_key_from_file(tmp_path):
    assert api_key_from_file(str(tmp_path)) is None
    (tmp_path / '.capgo').write_text(KEY + '\n')
    assert api_key_from_file(str(tmp_path)) == KEY
