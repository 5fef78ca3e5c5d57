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
    CapgoInputError,
    api_key_from_file,
    clean_api_key,
    find_api_key,
    validate_api_url,
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
    with pytest.raises(CapgoError) as exc:
        client.request('POST', '/bundle', json={}, repeatable=False)
    assert len(responses.calls) == 1
    assert exc.value.outcome_unknown is True
    assert 'may have been applied' in str(exc.value)


def test_parse_retry_after_forms():
    assert parse_retry_after({'Retry-After': '7'}, None) == 7.0
    assert parse_retry_after({}, {'moreInfo': {'retryAfterSeconds': 3}}) == 3.0
    assert parse_retry_after({'Retry-After': 'Wed, 21 Oct 2015 07:28:05 GMT'}, None, now=1445412480.0) == 5.0
    assert parse_retry_after({'Retry-After': 'soon'}, None) is None
    assert parse_retry_after({'Retry-After': '900'}, None) == 900.0  # not capped: the retry budget decides
    assert parse_retry_after({'Retry-After': '0'}, None) == 0.0


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
        with pytest.raises(CapgoInputError):
            validate_app_id(bad)


def test_api_key_from_file(tmp_path):
    assert api_key_from_file(str(tmp_path)) is None
    (tmp_path / '.capgo').write_text(KEY + '\n')
    assert clean_api_key(api_key_from_file(str(tmp_path))) == KEY
    (tmp_path / '.capgo').write_text('  \n')
    assert api_key_from_file(str(tmp_path)) is None


# -- settings and key hygiene (before any request) ---------------------------------------------------------

def test_key_surrounding_whitespace_is_stripped():
    assert clean_api_key(KEY + '\n') == KEY
    assert clean_api_key('\t ' + KEY + ' \r\n') == KEY
    assert clean_api_key('  ') is None


@pytest.mark.parametrize('bad, words', [
    ('Bearer ' + KEY, 'Bearer'),
    ('bearer ' + KEY, 'Bearer'),
    (KEY[:8] + ' ' + KEY[8:], 'whitespace'),
    (KEY[:8] + '\n' + KEY[8:], 'whitespace'),
    (KEY[:8] + '\x00' + KEY[8:], 'control character'),
    (KEY[:8] + '\x1b' + KEY[8:], 'control character'),
])
def test_bad_keys_are_refused_without_echoing_them(bad, words):
    with pytest.raises(CapgoInputError) as exc:
        clean_api_key(bad)
    assert words in str(exc.value)
    for fragment in (KEY, KEY[:8], KEY[8:], repr(bad)[1:-1]):
        assert fragment not in str(exc.value)


def test_find_api_key_order(tmp_path):
    (tmp_path / '.capgo').write_text('from-file\n')
    env = dict(CAPGO_API_KEY='from-env', CAPGO_TOKEN='from-token')
    assert find_api_key('from-option', env, str(tmp_path)) == 'from-option'
    assert find_api_key(None, env, str(tmp_path)) == 'from-env'
    assert find_api_key(None, dict(CAPGO_TOKEN='from-token'), str(tmp_path)) == 'from-token'
    assert find_api_key(None, {}, str(tmp_path)).strip() == 'from-file'
    assert find_api_key(None, {}, str(tmp_path / 'nowhere')) is None


@pytest.mark.parametrize('url, suggestion', [
    ('api.capgo.app', 'https://api.capgo.app'),
    ('127.0.0.1:1', 'https://127.0.0.1:1'),
    ('ftp://api.capgo.app', 'https://api.capgo.app'),
    ('https://', 'https://api.capgo.app'),
    ('http://127.0.0.1:notaport', 'https://127.0.0.1:notaport'),
])
def test_bad_api_url_is_refused_with_the_value_and_a_fix(url, suggestion):
    with pytest.raises(CapgoInputError) as exc:
        validate_api_url(url)
    assert repr(url) in str(exc.value)
    assert suggestion in str(exc.value)


def test_api_url_trailing_slash_is_tolerated():
    assert validate_api_url('https://api.capgo.app/') == 'https://api.capgo.app'
    assert validate_api_url('http://127.0.0.1:8080') == 'http://127.0.0.1:8080'


# -- what is retried, and for how long --------------------------------------------------------------------

@responses.activate
def test_retry_after_longer_than_the_budget_fails_at_once_naming_the_wait(sleeps):
    client = CapgoClient(KEY, api_url=URL, retries=5, retry_budget=60, sleep=sleeps)
    responses.add(responses.GET, URL + '/channel', status=429, headers={'Retry-After': '120'},
                  json=error_body('too_many_requests', 'Too many requests'))
    with pytest.raises(CapgoError) as exc:
        client.request('GET', '/channel')
    assert len(responses.calls) == 1 and sleeps == []
    assert '120 s' in str(exc.value) and 'api_retry_budget (60 s)' in str(exc.value)


@responses.activate
def test_the_budget_counts_every_wait_of_one_request(sleeps):
    client = CapgoClient(KEY, api_url=URL, retries=5, retry_budget=10, sleep=sleeps)
    for dummy in range(6):
        responses.add(responses.GET, URL + '/channel', status=503, headers={'Retry-After': '4'},
                      json=error_body('service_unavailable', 'down'))
    with pytest.raises(CapgoError) as exc:
        client.request('GET', '/channel')
    assert sleeps == [4.0, 4.0]  # a third wait would make 12 s > 10 s
    assert len(responses.calls) == 3
    assert 'api_retry_budget (10 s)' in str(exc.value)
    assert client.stats.waited == 8.0


@responses.activate
def test_failed_login_block_fails_in_seconds_and_says_fix_the_key_first(client, sleeps):
    responses.add(responses.GET, URL + '/channel', status=429, headers={'Retry-After': '900'},
                  json=error_body('too_many_requests', 'Too many failed attempts',
                                  reason='too_many_failed_auth_attempts', retryAfterSeconds=900))
    with pytest.raises(CapgoError) as exc:
        client.request('GET', '/channel')
    assert len(responses.calls) == 1 and sleeps == []
    message = str(exc.value)
    assert 'blocked requests from this address' in message and '900 s' in message
    assert 'Fix the API key first' in message and 'UTC' in message


@pytest.mark.parametrize('exc, words', [
    (requests.exceptions.SSLError('certificate verify failed: self signed certificate'), 'TLS failed'),
    (requests.exceptions.ConnectionError("Failed to resolve 'capgo.test' ([Errno -2] Name or service not known)"),
     'cannot resolve'),
    (requests.exceptions.ProxyError('Tunnel connection failed: 407 Proxy Authentication Required'), 'proxy'),
])
@responses.activate
def test_tls_dns_and_proxy_failures_are_never_retried(client, sleeps, exc, words):
    responses.add(responses.GET, URL + '/channel', body=exc)
    with pytest.raises(CapgoError) as raised:
        client.request('GET', '/channel')
    assert len(responses.calls) == 1 and sleeps == []
    assert words in str(raised.value)
    assert URL in str(raised.value)


@responses.activate
def test_connection_failures_name_the_base_url(client):
    for dummy in range(4):
        responses.add(responses.GET, URL + '/channel', body=requests.exceptions.ConnectionError('refused'))
    with pytest.raises(CapgoError) as exc:
        client.request('GET', '/channel')
    assert URL in str(exc.value)


def test_proxy_credentials_never_reach_a_message():
    failure = capgo_client.classify_transport_error(
        requests.exceptions.ProxyError('Cannot connect to proxy http://alice:s3cret@proxy.local:3128'), 30, URL)
    assert 's3cret' not in failure.text and 'alice' not in failure.text


def test_a_refused_connection_was_not_sent():
    import urllib3
    refused = requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(
        None, '/device', urllib3.exceptions.NewConnectionError(None, 'Failed to establish a new connection: refused')))
    failure = capgo_client.classify_transport_error(refused, 30, URL)
    assert failure.sent is False and failure.retryable is True


@responses.activate
def test_upstream_unavailable_is_transient_and_known_not_applied(client):
    responses.add(responses.POST, URL + '/channel', status=503, json=error_body('upstream_unavailable', 'retry'))
    responses.add(responses.POST, URL + '/channel', json={'status': 'ok'})
    assert client.request('POST', '/channel', json={}, repeatable=False) == {'status': 'ok'}


def test_fail_kwargs_carry_no_empty_keys():
    assert CapgoError('local refusal').fail_kwargs() == dict(msg='local refusal')


# -- writes whose answer was lost -------------------------------------------------------------------------

@responses.activate
def test_lost_answer_confirmed_by_a_read_is_a_success_without_resending(client):
    responses.add(responses.POST, URL + '/channel', body=requests.exceptions.ConnectionError('dropped'))
    reads = []
    assert client.write('POST', '/channel', json={'promoteToStable': True}, confirm=lambda: reads.append(1) or True,
                        repeatable=False) == {'confirmed': True}
    assert len(responses.calls) == 1 and reads == [1]
    assert client.stats.lost_answers_confirmed == 1 and client.write_count == 1


@responses.activate
def test_lost_answer_not_applied_is_resent_when_repeatable(client):
    responses.add(responses.POST, URL + '/channel', status=502, json=error_body('bad_gateway', 'upstream'))
    responses.add(responses.POST, URL + '/channel', json={'status': 'ok'})
    assert client.write('POST', '/channel', json={'public': True}, confirm=lambda: False) == {'status': 'ok'}
    assert len(responses.calls) == 2


@pytest.mark.parametrize('state, words', [(False, 'was not applied'), (None, 'cannot tell')])
@responses.activate
def test_lost_answer_of_an_unrepeatable_write_is_never_resent(client, state, words):
    responses.add(responses.POST, URL + '/channel', body=requests.exceptions.ReadTimeout('timed out'))
    with pytest.raises(CapgoError) as exc:
        client.write('POST', '/channel', json={'rollback': True}, confirm=lambda: state, repeatable=False)
    assert len(responses.calls) == 1
    assert words in str(exc.value) and 'not repeated automatically' in str(exc.value)


@responses.activate
def test_delete_sends_every_parameter_in_the_body(client):
    responses.add(responses.DELETE, URL + '/bundle', json={'status': 'ok'})
    client.delete('/bundle', dict(app_id='com.example.app', version='1.0.0'))
    request = responses.calls[0].request
    assert '?' not in request.url
    assert json.loads(request.body) == dict(app_id='com.example.app', version='1.0.0')


@responses.activate
def test_clones_share_stats_but_not_sessions(client):
    responses.add(responses.GET, URL + '/device', json={'data': [], 'hasMore': False})
    responses.add(responses.POST, URL + '/device', json={'status': 'ok'})
    clone = client.clone()
    assert clone.session is not client.session
    assert clone.session.headers['authorization'] == KEY
    clone.request('GET', '/device')
    client.request('POST', '/device', json={})
    assert client.request_count == 2 and clone.write_count == 1


@responses.activate
def test_bundle_list_empty_page_as_200_empty_list(client):
    responses.add(responses.GET, URL + '/bundle', json=[])
    assert client.get_paged('/bundle', {}, empty_error='cannot_get_bundle') == []
    assert len(responses.calls) == 1


@responses.activate
def test_a_repeated_cursor_means_the_list_is_incomplete(client):
    def callback(request):
        return 200, {}, json.dumps({'data': [{'device_id': 'd1'}], 'hasMore': True, 'nextCursor': 'same|d1'})
    responses.add_callback(responses.GET, URL + '/device', callback=callback)
    items, complete = client.get_cursor('/device', {}, limit=100)
    assert complete is False
    assert len(items) == 1 and len(responses.calls) == 2
