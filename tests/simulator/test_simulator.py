# -*- coding: utf-8 -*-
"""Tests proving the simulator's Capgo behaviours and quirks (run: python -m pytest -q tests/simulator)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from capgo_simulator import start_simulator  # noqa: E402 pylint: disable=wrong-import-position

APP = 'com.example.app'
OTHER_APP = 'com.other.app'
KEY_ALL = '11111111-1111-4111-8111-111111111111'
KEY_WRITE = '22222222-2222-4222-8222-222222222222'
KEY_READ = '33333333-3333-4333-8333-333333333333'
KEY_UPLOAD = '44444444-4444-4444-8444-444444444444'
KEY_LIMITED = '55555555-5555-4555-8555-555555555555'
KEY_ORG2 = '66666666-6666-4666-8666-666666666666'
BASE_SEED = {
    'apps': [{'app_id': APP}, {'app_id': OTHER_APP}],
    'keys': [
        {'key': KEY_ALL, 'mode': 'all'},
        {'key': KEY_WRITE, 'mode': 'write'},
        {'key': KEY_READ, 'mode': 'read'},
        {'key': KEY_UPLOAD, 'mode': 'upload'},
        {'key': KEY_LIMITED, 'mode': 'all', 'apps': [OTHER_APP]},
        {'key': KEY_ORG2, 'mode': 'all', 'org': 'org2'},
    ],
}


@pytest.fixture(scope='module')
def server():
    sim = start_simulator(profile='current', db=':memory:', port=0)
    yield sim
    sim.stop()


class Client(object):
    def __init__(self, url, profile):
        self.url = url
        self.profile = profile
        self.http = requests.Session()

    def admin(self, method, path, body=None):
        resp = self.http.request(method, self.url + '/_sim/' + path, json=body, timeout=10)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def seed(self, **extra):
        seed = json.loads(json.dumps(BASE_SEED))
        for name, items in extra.items():
            if isinstance(items, list):
                seed.setdefault(name, []).extend(items)
            else:
                seed[name] = items
        return self.admin('POST', 'seed', seed)

    def call(self, method, path, key=KEY_ALL, params=None, body=None, headers=None, data=None):
        hdrs = {'authorization': key} if key else {}
        hdrs.update(headers or {})
        kwargs = {'params': params, 'headers': hdrs, 'timeout': 10}
        if body is not None:
            kwargs['json'] = body
        if data is not None:
            kwargs['data'] = data
        return self.http.request(method, self.url + path, **kwargs)

    def state(self):
        return self.admin('GET', 'state')

    def channel(self, name):
        return [c for c in self.state()['channels'] if c['name'] == name][0]


@pytest.fixture(params=['latest', 'current', 'classic'])
def api(server, request):
    client = Client(server.url, request.param)
    client.admin('POST', 'reset', {'profile': request.param})
    client.seed()
    return client


@pytest.fixture
def cur(server):
    client = Client(server.url, 'current')
    client.admin('POST', 'reset', {'profile': 'current'})
    client.seed()
    return client


@pytest.fixture
def lat(server):
    client = Client(server.url, 'latest')
    client.admin('POST', 'reset', {'profile': 'latest'})
    client.seed()
    return client


@pytest.fixture(params=['latest', 'current'])
def head(server, request):
    """The two RBAC generations (HEAD and latest)."""
    client = Client(server.url, request.param)
    client.admin('POST', 'reset', {'profile': request.param})
    client.seed()
    return client


@pytest.fixture
def classic(server):
    client = Client(server.url, 'classic')
    client.admin('POST', 'reset', {'profile': 'classic'})
    client.seed()
    return client


def err(resp, status, code):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body['error'] == code, body
    return body


# ---------------------------------------------------------------------------------------------- auth

def test_auth_headers(api):
    api.seed(channels=[{'app_id': APP, 'name': 'production'}])
    err(api.call('GET', '/channel', key=None, params={'app_id': APP}), 401, 'no_key_provided')
    err(api.call('GET', '/channel', key=None, params={'app_id': APP}, headers={'x-api-key': KEY_ALL}), 401, 'no_key_provided')
    err(api.call('GET', '/channel', key='Bearer ' + KEY_ALL, params={'app_id': APP}), 401, 'invalid_apikey')
    err(api.call('GET', '/channel', key='nope', params={'app_id': APP}), 401, 'invalid_apikey')
    assert api.call('GET', '/channel', key=None, params={'app_id': APP}, headers={'capgkey': KEY_ALL}).status_code == 200
    # capgkey wins over authorization
    assert api.call('GET', '/channel', key='nope', params={'app_id': APP}, headers={'capgkey': KEY_ALL}).status_code == 200


def test_classic_key_modes(classic):
    err(classic.call('GET', '/channel', key=KEY_UPLOAD, params={'app_id': APP}), 401, 'invalid_apikey')
    err(classic.call('POST', '/channel', key=KEY_READ, body={'app_id': APP, 'channel': 'x'}), 401, 'invalid_apikey')
    assert classic.call('GET', '/channel', key=KEY_READ, params={'app_id': APP}).status_code == 200
    assert classic.call('POST', '/channel', key=KEY_WRITE, body={'app_id': APP, 'channel': 'x'}).status_code == 200


def test_current_rbac(cur):
    cur.seed(bundles=[{'app_id': APP, 'name': '1.0.0'}])
    assert cur.call('GET', '/channel', key=KEY_UPLOAD, params={'app_id': APP}).status_code == 200
    assert cur.call('POST', '/channel', key=KEY_WRITE, body={'app_id': APP, 'channel': 'beta'}).status_code == 200
    err(cur.call('POST', '/channel', key=KEY_WRITE, body={'app_id': APP, 'channel': 'beta', 'allow_dev': False}), 400, 'cannot_access_app')
    err(cur.call('DELETE', '/channel', key=KEY_WRITE, body={'app_id': APP, 'channel': 'beta'}), 400, 'cannot_access_app')
    err(cur.call('DELETE', '/bundle', key=KEY_WRITE, body={'app_id': APP, 'version': '1.0.0'}), 400, 'cannot_delete_bundle')
    err(cur.call('POST', '/channel', key=KEY_READ, body={'app_id': APP, 'channel': 'c'}), 400, 'cannot_access_app')


def test_app_access(api):
    err(api.call('GET', '/channel', key=KEY_LIMITED, params={'app_id': APP}), 400, 'cannot_access_app')
    err(api.call('GET', '/channel', key=KEY_ORG2, params={'app_id': APP}), 400, 'cannot_access_app')
    err(api.call('GET', '/channel', params={'app_id': 'com.unknown.app'}), 400, 'cannot_access_app')
    body = err(api.call('GET', '/bundle', key=KEY_LIMITED, params={'app_id': APP}), 400, 'cannot_get_bundle')
    assert body['message'] == "You can't access this app"
    err(api.call('DELETE', '/bundle', key=KEY_LIMITED, body={'app_id': APP, 'version': '1.0.0'}), 400, 'cannot_delete_bundle')


def test_failed_auth_block(api):
    api.admin('POST', 'config', {'failed_auth_limit': 3})
    for dummy in range(3):
        err(api.call('GET', '/channel', key='bad', params={'app_id': APP}), 401, 'invalid_apikey')
    resp = api.call('GET', '/channel', params={'app_id': APP})
    err(resp, 429, 'too_many_requests')
    if api.profile != 'classic':
        assert resp.json()['moreInfo']['reason'] == 'too_many_failed_auth_attempts'


def test_key_rate_limit(api):
    api.admin('POST', 'config', {'key_rate_limit': 3})
    assert api.call('GET', '/channel', params={'app_id': APP}).status_code == 200
    assert api.call('GET', '/channel', params={'app_id': APP}).status_code == 200
    resp = api.call('GET', '/channel', params={'app_id': APP})
    err(resp, 429, 'too_many_requests')
    if api.profile != 'classic':
        assert resp.json()['moreInfo']['reason'] == 'api_key_rate_limit_exceeded'
        assert 'Retry-After' in resp.headers
    else:
        assert 'moreInfo' not in resp.json() and 'Retry-After' not in resp.headers


# ---------------------------------------------------------------------------------------------- envelopes

def test_envelopes(api):
    body = err(api.call('GET', '/nope', params={'app_id': APP}), 404, 'not_found')
    assert body['message'] == 'Not found'
    err(api.call('GET', '/channel'), 400, 'missing_app_id')
    body = err(api.call('GET', '/channel', params={'app_id': 'bad app'}), 400, 'invalid_app_id')
    assert set(body) == {'error', 'message', 'moreInfo'}
    err(api.call('POST', '/channel', data='{not json'), 400, 'invalid_json_parse_body')
    assert api.call('GET', '/channel/', params={'app_id': APP}).status_code == 200
    err(api.call('POST', '/channel', body={'app_id': APP, 'channel': 'c', 'disableAutoUpdate': 'sometimes'}), 500, 'unknown_error')


def test_channel_fields(api):
    api.seed(bundles=[{'app_id': APP, 'name': '1.0.0'}], channels=[{'app_id': APP, 'name': 'production', 'version': '1.0.0'}])
    chan = api.call('GET', '/channel', params={'app_id': APP, 'channel': 'production'}).json()
    for hidden in ('electron', 'owner_org'):
        assert hidden not in chan
    # 12.1 #7: latest returns ios/android (and 12.1 #6 updatePackage); HEAD and classic do not
    assert (chan.get('ios'), chan.get('android')) == ((True, True) if api.profile == 'latest' else (None, None))
    assert chan.get('updatePackage') == ('all' if api.profile == 'latest' else None)
    assert chan['version']['name'] == '1.0.0'
    assert chan['disableAutoUpdate'] == 'major' and chan['disableAutoUpdateUnderNative'] is True
    assert ('rolloutPercentageBps' in chan) == (api.profile != 'classic')
    body = err(api.call('GET', '/channel', params={'app_id': APP, 'channel': 'missing'}), 400, 'cannot_find_version')
    assert body['moreInfo']['supabaseError']['code'] == 'PGRST116'


# ---------------------------------------------------------------------------------------------- paging

def test_channel_page_arithmetic(api):
    api.seed(generate={'app_id': APP, 'channels': 1234})

    def page(value):
        params = {'app_id': APP}
        if value is not None:
            params['page'] = value
        resp = api.call('GET', '/channel', params=params)
        assert resp.status_code == 200, resp.text
        return [c['name'] for c in resp.json()]
    assert page(None) == ['ch-%04d' % i for i in range(1, 51)]
    assert page('0') == page(None)
    if api.profile == 'latest':
        # 12.1 #7: Math.trunc(Number(page)); invalid or negative -> 0; clean 50-row windows
        assert page('1') == ['ch-%04d' % i for i in range(51, 101)]
        assert page('1.7') == page('1') and page('abc') == page(None) and page('-3') == page(None)
        assert len(page('24')) == 34 and page('25') == []
        return
    one = page('1')
    assert len(one) == 500 and one[0] == 'ch-0051' and one[-1] == 'ch-0550'
    two = page('2')
    assert len(two) == 950 and two[0] == 'ch-0101'
    three = page('3')
    assert len(three) == 1000 and three[0] == 'ch-0151'
    assert len(page('24')) == 34
    assert page('30') == []
    err(api.call('GET', '/channel', params={'app_id': APP, 'page': 'abc'}), 400, 'cannot_find_channels')
    # a JSON-number page in a GET body is a clean 50-row page
    resp = api.call('GET', '/channel', body={'app_id': APP, 'page': 1})
    assert [c['name'] for c in resp.json()] == ['ch-%04d' % i for i in range(51, 101)]


def test_bundle_get_empty_and_paging(api):
    if api.profile == 'latest':   # 12.1 #1
        resp = api.call('GET', '/bundle', params={'app_id': APP})
        assert resp.status_code == 200 and resp.json() == []
    else:
        body = err(api.call('GET', '/bundle', params={'app_id': APP}), 400, 'cannot_get_bundle')
        assert body['message'] == 'Cannot get bundle' and body['moreInfo']['supabaseError'] is None
    api.seed(generate={'app_id': APP, 'bundles': 120}, bundles=[{'app_id': APP, 'name': '0.0.1', 'deleted': True}])
    first = api.call('GET', '/bundle', params={'app_id': APP}).json()
    assert len(first) == 50 and first[0]['name'] == '1.0.120'
    assert len(api.call('GET', '/bundle', params={'app_id': APP, 'page': '1'}).json()) == 70
    if api.profile == 'latest':
        assert api.call('GET', '/bundle', params={'app_id': APP, 'page': '5'}).json() == []
    else:
        body = err(api.call('GET', '/bundle', params={'app_id': APP, 'page': '5'}), 400, 'cannot_get_bundle')
        assert body['moreInfo']['supabaseError'] is None
    body = err(api.call('GET', '/bundle', params={'app_id': APP, 'page': 'x'}), 400, 'cannot_get_bundle')
    assert body['moreInfo']['supabaseError'] is not None


# ---------------------------------------------------------------------------------------------- devices

def test_device_get_single(api):
    api.seed(channels=[{'app_id': APP, 'name': 'beta'}], devices=[{'app_id': APP, 'device_id': 'seen', 'updated_at': '2026-01-02T03:04:05Z'}],
             overrides=[{'app_id': APP, 'device_id': 'seen', 'channel': 'beta'}, {'app_id': APP, 'device_id': 'ghost', 'channel': 'beta'}])
    err(api.call('GET', '/device', params={'app_id': APP, 'device_id': 'ghost'}), 404, 'device_not_found')
    dev = api.call('GET', '/device', params={'app_id': APP, 'device_id': 'SEEN'}).json()
    assert dev['device_id'] == 'seen' and dev['channel'] == 'beta'
    expected = '2026-01-02T03:04:05.000Z' if api.profile != 'classic' else '2026-01-02 03:04:05'
    assert dev['updated_at'] == expected


def test_device_list_cursor_current(cur):
    cur.seed(generate={'app_id': APP, 'devices': 120}, channels=[{'app_id': APP, 'name': 'beta'}],
             overrides=[{'app_id': APP, 'device_id': 'device-000002', 'channel': 'beta'}])
    seen = []
    params = {'app_id': APP}
    pages = 0
    while True:
        body = cur.call('GET', '/device', params=params).json()
        pages += 1
        seen += [d['device_id'] for d in body['data']]
        if not body['hasMore']:
            assert 'nextCursor' not in body
            break
        assert '|' in body['nextCursor'] and ' ' in body['nextCursor']
        params = {'app_id': APP, 'cursor': body['nextCursor']}
    assert pages == 3 and seen == sorted(seen) and len(set(seen)) == 120
    first = cur.call('GET', '/device', params={'app_id': APP, 'limit': '5'}).json()['data']
    assert first[1]['channel'] == 'beta' and 'channel' not in first[0]
    again = cur.call('GET', '/device', params={'app_id': APP, 'limit': '5', 'cursor': 'garbage'}).json()['data']
    assert [d['device_id'] for d in again] == [d['device_id'] for d in first]
    err(cur.call('GET', '/device', params={'app_id': APP, 'limit': '0'}), 400, 'invalid_limit')
    err(cur.call('GET', '/device', params={'app_id': APP, 'order': 'up'}), 400, 'invalid_order')
    assert cur.call('GET', '/device', params={'app_id': APP, 'limit': '60000'}).json()['hasMore'] is False


def test_device_list_classic(classic):
    classic.seed(generate={'app_id': APP, 'devices': 60})
    body = classic.call('GET', '/device', params={'app_id': APP}).json()
    assert body['data'][0]['device_id'] == 'device-000060'   # updated_at DESC
    assert 'T' not in body['data'][0]['updated_at'] and body['hasMore'] is True
    body = classic.call('GET', '/device', params={'app_id': APP, 'limit': '0'}).json()
    assert body == {'data': [], 'hasMore': True}


def test_post_device_rules(api):
    api.seed(channels=[{'app_id': APP, 'name': 'production', 'public': True}, {'app_id': APP, 'name': 'beta'}])
    err(api.call('POST', '/device', body={'app_id': APP, 'device_id': 'd1', 'channel': 'nope'}), 404, 'channel_not_found')
    err(api.call('POST', '/device', body={'app_id': APP, 'device_id': 'd2', 'channel': 'production'}), 400, 'public_channel_override')
    err(api.call('POST', '/device', body={'app_id': APP, 'device_id': 'd3', 'version_id': 5}), 400, 'invalid_version_id')
    err(api.call('POST', '/device', body={'app_id': APP}), 400, 'missing_device_id_or_app_id')
    assert api.call('POST', '/device', body={'app_id': APP, 'device_id': 'd4'}).json() == {'status': 'ok'}
    assert api.call('POST', '/device', body={'app_id': APP, 'device_id': 'MiXeD', 'channel': 'beta'}).status_code == 200
    assert api.state()['overrides'][0]['device_id'] == 'mixed'
    assert api.call('DELETE', '/device', body={'app_id': APP, 'device_id': 'never'}).json() == {'status': 'ok'}
    assert api.call('DELETE', '/device', body={'app_id': APP, 'device_id': 'mixed'}).status_code == 200
    assert api.state()['overrides'] == []


def test_same_set_429(api):
    api.admin('POST', 'config', {'device_ops_per_second': 100})   # isolate the same-set window from the per-op limit
    api.seed(channels=[{'app_id': APP, 'name': 'beta'}])
    body = {'app_id': APP, 'device_id': 'dev1', 'channel': 'beta'}
    assert api.call('POST', '/device', body=body).status_code == 200
    assert api.call('DELETE', '/device', body={'app_id': APP, 'device_id': 'dev1'}).status_code == 200
    resp = api.call('POST', '/device', body=body)
    err(resp, 429, 'too_many_requests')
    if api.profile != 'classic':
        info = resp.json()['moreInfo']
        assert info['device_id'] == 'dev1' and info['retryAfterSeconds'] > 0
        assert int(resp.headers['Retry-After']) > 0
    else:
        assert resp.json() == {'error': 'too_many_requests', 'message': 'You are being rate limited'}
        assert 'Retry-After' not in resp.headers
    # failed first call: current records it (429 next), classic does not
    failing = {'app_id': APP, 'device_id': 'dev2', 'channel': 'later'}
    err(api.call('POST', '/device', body=failing), 404, 'channel_not_found')
    api.seed(channels=[{'app_id': APP, 'name': 'later'}])
    expected = 429 if api.profile != 'classic' else 200
    assert api.call('POST', '/device', body=failing).status_code == expected


def test_device_ops_per_second(api):
    api.seed(devices=[{'app_id': APP, 'device_id': 'fast'}])
    params = {'app_id': APP, 'device_id': 'fast'}
    limit = 5 if api.profile != 'classic' else 1
    codes = [api.call('GET', '/device', params=params).status_code for dummy in range(limit + 1)]
    assert codes == [200] * limit + [429]
    # failed ops count in current only (try/finally), so a never-seen device trips the limit there
    codes = [api.call('GET', '/device', params={'app_id': APP, 'device_id': 'ghost'}).status_code for dummy in range(limit + 1)]
    assert codes == ([404] * limit + [429] if api.profile != 'classic' else [404] * (limit + 1))


# ---------------------------------------------------------------------------------------------- channels

def test_public_demotion_current(cur):
    cur.seed(channels=[{'app_id': APP, 'name': 'production', 'public': True}])
    assert cur.call('POST', '/channel', body={'app_id': APP, 'channel': 'next', 'public': True}).status_code == 200
    assert cur.channel('production')['public'] is False and cur.channel('next')['public'] is True
    # split iOS/Android defaults coexist thanks to the electron inference rule
    cur.call('POST', '/channel', body={'app_id': APP, 'channel': 'ios-only', 'public': True, 'ios': True, 'android': False})
    cur.call('POST', '/channel', body={'app_id': APP, 'channel': 'android-only', 'public': True, 'ios': False, 'android': True})
    assert cur.channel('ios-only')['public'] and cur.channel('android-only')['public'] and cur.channel('ios-only')['electron'] is False


def test_public_demotion_classic_eventual(classic):
    classic.seed(channels=[{'app_id': APP, 'name': 'production', 'public': True}, {'app_id': APP, 'name': 'next'}])
    assert classic.call('POST', '/channel', body={'app_id': APP, 'channel': 'brand-new', 'public': True}).status_code == 200
    assert classic.call('POST', '/channel', body={'app_id': APP, 'channel': 'next', 'public': True}).status_code == 200
    assert classic.channel('production')['public'] is True   # not yet
    time.sleep(0.8)
    assert classic.channel('production')['public'] is False
    assert classic.channel('brand-new')['public'] is False and classic.channel('next')['public'] is True


def test_version_omitted(api):
    api.seed(bundles=[{'app_id': APP, 'name': '1.0.0'}], channels=[{'app_id': APP, 'name': 'production', 'version': '1.0.0'}])
    assert api.call('POST', '/channel', body={'app_id': APP, 'channel': 'production', 'allow_dev': False}).status_code == 200
    chan = api.call('GET', '/channel', params={'app_id': APP, 'channel': 'production'}).json()
    if api.profile != 'classic':
        assert chan['version']['name'] == '1.0.0'
    else:
        assert chan['version']['name'] == 'unknown'


def test_version_special_values(api):
    api.seed(bundles=[{'app_id': APP, 'name': '1.0.0'}], channels=[{'app_id': APP, 'name': 'production', 'version': '1.0.0'}])
    resp = api.call('POST', '/channel', body={'app_id': APP, 'channel': 'production', 'version': 'builtin'})
    if api.profile != 'classic':
        assert resp.status_code == 200
        assert api.call('GET', '/channel', params={'app_id': APP, 'channel': 'production'}).json()['version'] is None
    else:
        err(resp, 500, 'unknown_error')
    err(api.call('POST', '/channel', body={'app_id': APP, 'channel': 'production', 'version': '9.9.9'}), 500, 'unknown_error')
    resp = api.call('POST', '/channel', body={'app_id': APP, 'channel': 'fresh', 'version': '9.9.9'})
    if api.profile != 'classic':
        err(resp, 400, 'cannot_find_version')
    else:
        err(resp, 500, 'unknown_error')
    assert not [c for c in api.state()['channels'] if c['name'] == 'fresh']
    resp = api.call('POST', '/channel', body={'app_id': APP, 'channel': 'fresh', 'version': '1.0.0'})
    expected = {'status', 'id', 'public'} if api.profile != 'classic' else {'status'}
    assert set(resp.json()) == expected


def test_rollout_current(cur):
    cur.seed(bundles=[{'app_id': APP, 'name': '1.0.0'}, {'app_id': APP, 'name': '1.1.0'}, {'app_id': APP, 'name': '1.2.0'}],
             channels=[{'app_id': APP, 'name': 'production', 'version': '1.0.0'}])
    err(cur.call('POST', '/channel', body={'app_id': APP, 'channel': 'new', 'rolloutVersion': '1.1.0'}), 400, 'cannot_find_channel')
    err(cur.call('POST', '/channel', body={'app_id': APP, 'channel': 'production', 'rolloutPercentage': 101}), 400, 'invalid_rollout_percentage')
    err(cur.call('POST', '/channel', body={'app_id': APP, 'channel': 'production', 'rolloutCacheTtlSeconds': 5}), 400, 'invalid_rollout_config')
    err(cur.call('POST', '/channel', body={'app_id': APP, 'channel': 'production', 'rolloutVersion': 'nope'}), 500, 'unknown_error')
    ok = cur.call('POST', '/channel', body={'app_id': APP, 'channel': 'production', 'rolloutVersion': '1.1.0',
                                            'rolloutPercentage': 12.5, 'rolloutEnabled': True})
    assert ok.status_code == 200, ok.text
    chan = cur.call('GET', '/channel', params={'app_id': APP, 'channel': 'production'}).json()
    assert chan['rolloutPercentageBps'] == 1250 and chan['rollout_version_info']['name'] == '1.1.0' and chan['rolloutEnabled']
    err(cur.call('DELETE', '/bundle', body={'app_id': APP, 'version': '1.1.0'}), 400, 'cannot_delete_linked_version')
    assert cur.call('POST', '/channel', body={'app_id': APP, 'channel': 'production', 'promoteToStable': True}).status_code == 200
    chan = cur.call('GET', '/channel', params={'app_id': APP, 'channel': 'production'}).json()
    assert chan['version']['name'] == '1.1.0' and chan['rollout_version'] is None and not chan['rolloutEnabled']
    cur.call('POST', '/channel', body={'app_id': APP, 'channel': 'production', 'rolloutVersion': '1.2.0', 'rolloutEnabled': True})
    cur.call('POST', '/channel', body={'app_id': APP, 'channel': 'production', 'version': '1.0.0'})
    chan = cur.call('GET', '/channel', params={'app_id': APP, 'channel': 'production'}).json()
    assert chan['version']['name'] == '1.0.0' and chan['rollout_version_info']['name'] == '1.2.0'   # HEAD keeps it (12.1 #3)


def test_delete_channel_current(cur):
    cur.seed(channels=[{'app_id': APP, 'name': 'beta'}], overrides=[{'app_id': APP, 'device_id': 'd1', 'channel': 'beta'}])
    assert cur.call('DELETE', '/channel', body={'app_id': APP, 'channel': 'beta'}).json() == {'status': 'ok'}
    assert cur.state()['overrides'] == []
    err(cur.call('DELETE', '/channel', body={'app_id': APP, 'channel': 'beta'}), 400, 'cannot_find_channel')
    err(cur.call('DELETE', '/channel', body={'app_id': APP}), 400, 'missing_channel_name')


def test_delete_channel_classic_silent(classic):
    classic.seed(channels=[{'app_id': APP, 'name': 'beta'}, {'app_id': APP, 'name': 'forced'}],
                 overrides=[{'app_id': APP, 'device_id': 'd1', 'channel': 'forced'}])
    assert classic.call('DELETE', '/channel', key=KEY_WRITE, body={'app_id': APP, 'channel': 'beta'}).status_code == 200
    assert classic.call('DELETE', '/channel', body={'app_id': APP, 'channel': 'forced'}).status_code == 200
    names = {c['name'] for c in classic.state()['channels']}
    assert names == {'beta', 'forced'}
    assert classic.call('DELETE', '/channel', body={'app_id': APP, 'channel': 'beta'}).status_code == 200
    assert classic.call('DELETE', '/channel', body={'app_id': APP, 'channel': 'beta'}).status_code == 200
    assert {c['name'] for c in classic.state()['channels']} == {'forced'}


# ---------------------------------------------------------------------------------------------- bundles

def test_delete_bundle(api):
    api.seed(bundles=[{'app_id': APP, 'name': n} for n in ('1.0.0', '1.0.1', '1.0.2')],
             channels=[{'app_id': APP, 'name': 'production', 'version': '1.0.0'}])
    err(api.call('DELETE', '/bundle', body={'app_id': APP, 'version': '9.9.9'}), 400, 'cannot_delete_version')
    assert api.call('DELETE', '/bundle', body={'app_id': APP, 'version': '1.0.1'}).status_code == 200
    second = api.call('DELETE', '/bundle', body={'app_id': APP, 'version': '1.0.1'})
    linked = api.call('DELETE', '/bundle', body={'app_id': APP, 'version': '1.0.0'})
    if api.profile != 'classic':
        err(second, 400, 'cannot_delete_version')
        err(linked, 400, 'cannot_delete_linked_version')
    else:
        assert second.status_code == 200 and linked.status_code == 200


def test_delete_body_wins_over_query(api):
    api.seed(bundles=[{'app_id': APP, 'name': n} for n in ('1.0.0', '1.0.1')], channels=[{'app_id': APP, 'name': 'production', 'version': '1.0.0'}])
    resp = api.call('DELETE', '/bundle', params={'version': '1.0.1'}, body={'app_id': APP})
    assert resp.json() == {'status': 'ok'}
    live = {b['name'] for b in api.state()['bundles'] if not b['deleted'] and b['app_id'] == APP}
    assert live == ({'1.0.0'} if api.profile != 'classic' else set())
    err(api.call('DELETE', '/bundle'), 400, 'invalid_json_parse_body')
    assert api.call('DELETE', '/device', params={'app_id': APP, 'device_id': 'x'}).status_code == 200


def test_post_bundle(api):
    good = {'app_id': APP, 'version': '1.0.0', 'external_url': 'https://example.com/b.zip', 'checksum': 'abc'}
    resp = api.call('POST', '/bundle', body=good)
    if api.profile == 'classic':
        err(resp, 404, 'not_found')
        return
    assert resp.json()['status'] == 'success' and resp.json()['bundle']['name'] == '1.0.0'
    err(api.call('POST', '/bundle', body=dict(good, version='v1.0.1')), 400, 'invalid_version_format')
    err(api.call('POST', '/bundle', body=dict(good, version='1.0.1', external_url='http://x/b.zip')), 400, 'invalid_protocol')
    err(api.call('POST', '/bundle', body=good), 400, 'version_already_exists')
    assert api.call('DELETE', '/bundle', body={'app_id': APP, 'version': '1.0.0'}).status_code == 200
    err(api.call('POST', '/bundle', body=good), 400, 'cannot_create_bundle')


# ---------------------------------------------------------------------------------------------- faults

def test_fault_429(api):
    api.admin('POST', 'faults', {'faults': [{'type': '429', 'retry_after': 3, 'path': '/channel'}]})
    resp = api.call('GET', '/channel', params={'app_id': APP})
    err(resp, 429, 'too_many_requests')
    if api.profile != 'classic':
        assert resp.headers['Retry-After'] == '3' and resp.json()['moreInfo']['retryAfterSeconds'] == 3
    else:
        assert 'Retry-After' not in resp.headers and 'moreInfo' not in resp.json()
    assert api.call('GET', '/channel', params={'app_id': APP}).status_code == 200


def test_fault_status_skips_handler(cur):
    cur.admin('POST', 'faults', {'faults': [{'type': 'status', 'status': 503, 'method': 'POST', 'count': 2}]})
    assert cur.call('GET', '/channel', params={'app_id': APP}).status_code == 200   # method filter
    for dummy in range(2):
        err(cur.call('POST', '/channel', body={'app_id': APP, 'channel': 'x'}), 503, 'service_unavailable')
    assert cur.state()['channels'] == []
    assert cur.admin('GET', 'faults') == []
    log = cur.admin('GET', 'requests')
    assert [e['fault'] for e in log] == [None, 'status', 'status']


def test_fault_delay_drop_malformed(cur):
    cur.admin('POST', 'faults', {'faults': [{'type': 'delay', 'delay': 0.3}, {'type': 'drop'}, {'type': 'malformed'}]})
    start = time.time()
    assert cur.call('GET', '/channel', params={'app_id': APP}).status_code == 200
    assert time.time() - start >= 0.3
    with pytest.raises(requests.ConnectionError):
        cur.call('POST', '/channel', body={'app_id': APP, 'channel': 'dropped'})
    resp = cur.call('GET', '/channel', params={'app_id': APP})
    assert resp.status_code == 200
    with pytest.raises(ValueError):
        resp.json()
    assert cur.state()['channels'] == []
    assert [e['fault'] for e in cur.admin('GET', 'requests')] == ['delay', 'drop', 'malformed']
    assert cur.admin('DELETE', 'faults') == {'status': 'ok'}


# ---------------------------------------------------------------------------------------------- log

def test_request_log_hides_key(cur):
    cur.seed(channels=[{'app_id': APP, 'name': 'beta'}])
    cur.call('GET', '/channel', params={'app_id': APP, 'page': '0'})
    cur.call('GET', '/channel', key=None, params={'app_id': APP}, headers={'capgkey': KEY_WRITE})
    cur.call('POST', '/device', body={'app_id': APP, 'device_id': 'X', 'channel': 'beta'})
    cur.call('GET', '/channel', key='wrong-key', params={'app_id': APP})
    log = cur.admin('GET', 'requests')
    assert [e['path'] for e in log] == ['/channel', '/channel', '/device', '/channel']   # admin calls not logged
    assert log[0]['query'] == {'app_id': APP, 'page': '0'} and log[0]['key_id'] == 1 and log[1]['key_id'] == 2
    assert log[2]['body'] == {'app_id': APP, 'device_id': 'X', 'channel': 'beta'}
    assert log[3]['error'] == 'invalid_apikey' and log[3]['key_id'] is None
    dump = json.dumps(log) + json.dumps(cur.state())
    for key in (KEY_ALL, KEY_WRITE, 'wrong-key'):
        assert key not in dump
    assert [e['seq'] for e in cur.admin('GET', 'requests?since=2')] == [3, 4]
    cur.admin('DELETE', 'requests')
    assert cur.admin('GET', 'requests') == []


# ---------------------------------------------------------------------------------------------- CLI

def start_cli(tmp_path, *extra):
    port_file = str(tmp_path / 'url')
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, 'capgo_simulator.py'), '--port', '0', '--port-file', port_file] + list(extra),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    with open(port_file, 'r', encoding='utf-8') as handle:
        url = handle.read()
    return proc, line, url


def test_cli_sigterm(tmp_path):
    proc, line, url = start_cli(tmp_path, '--profile', 'classic', '--seed', os.path.join(HERE, 'demo_seed.json'))
    try:
        assert line == 'capgo-simulator listening on %s profile=classic' % url
        assert url.startswith('http://127.0.0.1:')
        assert requests.get(url + '/_sim/state', timeout=5).json()['channels']
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0


def test_cli_shutdown_endpoint(tmp_path):
    proc, line, url = start_cli(tmp_path)
    assert line.endswith('profile=latest')
    assert requests.post(url + '/_sim/shutdown', timeout=5).json() == {'status': 'ok'}
    assert proc.wait(timeout=5) == 0


# ---------------------------------------------------------------------------------------------- generations (issue 13)

ROLLOUT_SEED = {
    'bundles': [{'app_id': APP, 'name': n} for n in ('1.0.0', '1.1.0', '1.2.0', '1.3.0')],
    'channels': [{'app_id': APP, 'name': 'production', 'version': '1.0.0', 'rollout_version': '1.1.0',
                  'rollout_percentage_bps': 2500, 'rollout_enabled': True}],
}


def seed_rollout(client):
    client.seed(bundles=ROLLOUT_SEED['bundles'], channels=ROLLOUT_SEED['channels'])
    return client.channel('production')


def get_chan(client, name='production'):
    resp = client.call('GET', '/channel', params={'app_id': APP, 'channel': name})
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_rules_table_per_profile(api):
    rules = api.admin('GET', 'rules')
    assert rules['profile'] == api.profile
    holds = dict((name, spec['holds']) for name, spec in rules['rules'].items())
    assert holds['bundle_list_empty_ok'] == (api.profile == 'latest')
    assert holds['post_bundle_checksum_required'] == (api.profile != 'classic')
    assert holds['classic_api'] == (api.profile == 'classic')
    assert all(spec['source'] and spec['doc'] for spec in rules['rules'].values())
    # a test can flip one rule; reset restores the profile's own
    api.admin('POST', 'config', {'rules': {'bundle_list_empty_ok': True}})
    assert api.call('GET', '/bundle', params={'app_id': APP}).json() == []
    api.admin('POST', 'reset', {'profile': api.profile})
    assert api.admin('GET', 'rules')['rules']['bundle_list_empty_ok']['holds'] == (api.profile == 'latest')


def test_bundle_app_not_found_switch(lat):
    err(lat.call('GET', '/bundle', key=KEY_LIMITED, params={'app_id': APP}), 400, 'cannot_get_bundle')
    lat.admin('POST', 'config', {'bundle_app_not_found_404': True})
    err(lat.call('GET', '/bundle', key=KEY_LIMITED, params={'app_id': APP}), 404, 'app_not_found')
    err(lat.call('GET', '/bundle', params={'app_id': 'com.unknown.app'}), 404, 'app_not_found')


def test_publicize_needs_update_settings(head):
    resp = head.call('POST', '/channel', key=KEY_WRITE, body={'app_id': APP, 'channel': 'store', 'public': True})
    if head.profile == 'latest':   # 12.1 #2: app_developer lacks app.update_settings
        err(resp, 400, 'cannot_access_app')
        assert head.state()['channels'] == []
        assert head.call('POST', '/channel', key=KEY_WRITE, body={'app_id': APP, 'channel': 'store', 'public': False}).status_code == 200
    else:
        assert resp.status_code == 200
    assert head.call('POST', '/channel', body={'app_id': APP, 'channel': 'store', 'public': True}).status_code == 200
    assert head.call('POST', '/channel', body={'app_id': APP, 'channel': 'store', 'public': True}).status_code == 200


def test_reset_rollout_on_stable_bundle(head):
    before = seed_rollout(head)
    assert head.call('POST', '/channel', body={'app_id': APP, 'channel': 'production', 'version': '1.2.0'}).status_code == 200
    after = head.channel('production')
    assert after['version_name'] == '1.2.0'
    if head.profile == 'latest':   # 12.1 #3: target cleared, rollout_id rotated, percentage kept
        assert after['rollout_version'] is None and after['rollout_enabled'] is False
        assert after['rollout_percentage_bps'] == 2500 and after['rollout_id'] != before['rollout_id']
    else:
        assert after['rollout_version_name'] == '1.1.0' and after['rollout_enabled'] is True and after['rollout_id'] == before['rollout_id']
    # naming the same candidate again in that write does not keep it: the trigger compares OLD and NEW
    # rollout_version, and an unchanged value is "not distinct" (migration 20260817183821)
    head.seed(channels=ROLLOUT_SEED['channels'])
    body = {'app_id': APP, 'channel': 'production', 'version': '1.3.0', 'rolloutVersion': '1.1.0'}
    assert head.call('POST', '/channel', body=body).status_code == 200
    assert head.channel('production')['rollout_version_name'] == (None if head.profile == 'latest' else '1.1.0')
    # a different candidate in the same write is kept
    head.seed(channels=ROLLOUT_SEED['channels'])
    body = {'app_id': APP, 'channel': 'production', 'version': '1.3.0', 'rolloutVersion': '1.2.0'}
    assert head.call('POST', '/channel', body=body).status_code == 200
    assert head.channel('production')['rollout_version_name'] == '1.2.0'
    # PUT /bundle is another write path of the same trigger
    head.seed(channels=ROLLOUT_SEED['channels'])
    chan = head.channel('production')
    bundle = [b for b in head.state()['bundles'] if b['name'] == '1.2.0'][0]
    resp = head.call('PUT', '/bundle', body={'app_id': APP, 'version_id': bundle['id'], 'channel_id': chan['id'], 'target': 'stable'})
    assert resp.status_code == 200, resp.text
    after = head.channel('production')
    assert after['version_name'] == '1.2.0'
    assert (after['rollout_version'] is None) == (head.profile == 'latest')


def test_put_bundle_target(head):
    chan = seed_rollout(head)
    ids = dict((b['name'], b['id']) for b in head.state()['bundles'])
    resp = head.call('PUT', '/bundle', body={'app_id': APP, 'version_id': ids['1.3.0'], 'channel_id': chan['id']})
    assert resp.status_code == 200, resp.text
    after = head.channel('production')
    if head.profile == 'latest':   # 12.1 #4: auto on a channel with a rollout -> the rollout target
        assert resp.json()['assignmentTarget'] == 'rollout' and 'rollout target' in resp.json()['message']
        assert after['version_name'] == '1.0.0' and after['rollout_version_name'] == '1.3.0'
        err(head.call('PUT', '/bundle', body={'app_id': APP, 'version_id': ids['1.3.0'], 'channel_id': chan['id'], 'target': 'x'}),
            400, 'invalid_target')
        head.seed(channels=[{'app_id': APP, 'name': 'empty', 'version': None}])
        empty = head.channel('empty')
        err(head.call('PUT', '/bundle', body={'app_id': APP, 'version_id': ids['1.3.0'], 'channel_id': empty['id'], 'target': 'rollout'}),
            400, 'cannot_set_rollout_without_stable')
    else:
        assert 'assignmentTarget' not in resp.json() and after['version_name'] == '1.3.0'
    err(head.call('PUT', '/bundle', body={'app_id': APP, 'version_id': 'abc', 'channel_id': chan['id']}), 400, 'cannot_set_bundle_to_channel')
    err(head.call('PUT', '/bundle', body={'app_id': APP, 'version_id': 99999, 'channel_id': chan['id']}), 400, 'cannot_find_version')


def test_rollout_disable_and_advance(head):
    seed_rollout(head)
    body = {'app_id': APP, 'channel': 'production', 'rolloutEnabled': False}
    assert head.call('POST', '/channel', body=body).status_code == 200
    after = head.channel('production')
    assert after['rollout_enabled'] is False
    assert (after['rollout_version'] is None) == (head.profile == 'latest')   # 12.1 #5: disabling unlinks
    assert head.call('POST', '/channel', body={'app_id': APP, 'channel': 'new', 'rolloutEnabled': False}).status_code == 200
    head.seed(channels=ROLLOUT_SEED['channels'])
    resp = head.call('POST', '/channel', body={'app_id': APP, 'channel': 'production', 'advanceRollout': True, 'rolloutVersion': '1.2.0'})
    assert resp.status_code == 200, resp.text
    after = head.channel('production')
    if head.profile == 'latest':   # the candidate becomes stable, the new bundle the candidate
        assert (after['version_name'], after['rollout_version_name'], after['rollout_enabled']) == ('1.1.0', '1.2.0', True)
        err(head.call('POST', '/channel', body={'app_id': APP, 'channel': 'production', 'advanceRollout': True}), 400, 'missing_rollout_version')
    else:                          # HEAD ignores the unknown field
        assert (after['version_name'], after['rollout_version_name']) == ('1.0.0', '1.2.0')


def test_update_package(head):
    head.seed(bundles=[{'app_id': APP, 'name': '1.0.0'}, {'app_id': APP, 'name': '2.0.0', 'zip': False, 'delta': True},
                       {'app_id': APP, 'name': '3.0.0'}],
              channels=[{'app_id': APP, 'name': 'production', 'version': '1.0.0'}])
    body = {'app_id': APP, 'channel': 'production', 'updatePackage': 'zip'}
    if head.profile == 'current':
        assert head.call('POST', '/channel', body=body).status_code == 200
        assert 'updatePackage' not in get_chan(head) and head.channel('production')['update_package'] == 'all'
        return
    err(head.call('POST', '/channel', body=dict(body, updatePackage='tar')), 400, 'invalid_update_package')
    assert head.call('POST', '/channel', body=body).status_code == 200
    assert get_chan(head)['updatePackage'] == 'zip'
    # the guard names the channel and the bundle and says what is missing
    resp = head.call('POST', '/channel', body={'app_id': APP, 'channel': 'production', 'version': '2.0.0'})
    msg = err(resp, 400, 'channel_zip_required')['message']
    assert '"production"' in msg and '"2.0.0"' in msg and 'no zip' in msg
    assert head.channel('production')['version_name'] == '1.0.0'
    resp = head.call('POST', '/channel', body={'app_id': APP, 'channel': 'production', 'updatePackage': 'delta'})
    assert '"1.0.0"' in err(resp, 400, 'channel_delta_required')['message']
    ids = dict((b['name'], b['id']) for b in head.state()['bundles'])
    chan = head.channel('production')
    err(head.call('PUT', '/bundle', body={'app_id': APP, 'version_id': ids['2.0.0'], 'channel_id': chan['id'], 'target': 'stable'}),
        400, 'channel_zip_required')
    assert head.call('PUT', '/bundle', body={'app_id': APP, 'version_id': ids['3.0.0'], 'channel_id': chan['id']}).status_code == 200
    assert head.call('POST', '/channel', body={'app_id': APP, 'channel': 'd', 'updatePackage': 'delta_from_builtin', 'version': '2.0.0'}).status_code == 200
    err(head.call('POST', '/channel', body={'app_id': APP, 'channel': 'z', 'updatePackage': 'zip', 'version': '2.0.0'}), 400, 'channel_zip_required')
    assert not [c for c in head.state()['channels'] if c['name'] == 'z']   # create-and-promote rolled back


def test_permission_error_fault(api):
    api.admin('POST', 'faults', {'faults': [{'type': 'permission_error', 'path': '/channel'}]})
    resp = api.call('GET', '/channel', params={'app_id': APP})
    if api.profile == 'latest':   # 12.1 #9
        err(resp, 503, 'upstream_unavailable')
    else:
        err(resp, 400, 'cannot_access_app')
    assert api.call('GET', '/channel', params={'app_id': APP}).status_code == 200
    assert [e['fault'] for e in api.admin('GET', 'requests')] == ['permission_error', None]


def test_device_custom_id_filter(head):
    head.seed(devices=[{'app_id': APP, 'device_id': 'd%d' % i, 'custom_id': 'alice' if i == 2 else '', 'updated_at': '2026-01-01T00:00:0%dZ' % i}
                       for i in range(1, 4)])
    resp = head.call('GET', '/device', params={'app_id': APP, 'custom_id': '  alice '})
    ids = [d['device_id'] for d in resp.json()['data']]
    if head.profile == 'latest':   # 12.1 #10
        assert ids == ['d2']
        err(head.call('GET', '/device', params={'app_id': APP, 'custom_id': 'x' * 37}), 400, 'invalid_custom_id')
    else:
        assert ids == ['d1', 'd2', 'd3']


def test_current_bundle_and_lookup_routes(api):
    natives = [{'name': '@capacitor/camera', 'version': '7.0.1'}]
    api.seed(bundles=[{'app_id': APP, 'name': '1.0.0', 'native_packages': natives, 'min_update_version': '1.0.0'},
                      {'app_id': APP, 'name': '0.9.0', 'deleted': True}],
             channels=[{'app_id': APP, 'name': 'production', 'version': '1.0.0', 'disable_auto_update': 'minor'}])
    cur_b = api.call('GET', '/channel/current-bundle', params={'app_id': APP, 'channel': 'production'})
    found = api.call('GET', '/bundle/lookup', params={'app_id': APP, 'name': '0.9.0'})
    if api.profile != 'latest':   # 12.1 #11: routes of latest only
        err(cur_b, 404, 'not_found')
        err(found, 404, 'not_found')
        return
    bundle_id = [b['id'] for b in api.state()['bundles'] if b['name'] == '1.0.0'][0]
    assert cur_b.json() == {'bundle_name': '1.0.0', 'bundle_id': bundle_id, 'min_update_version': '1.0.0',
                            'native_packages': natives, 'disable_auto_update': 'minor'}
    assert found.json()['exists'] is True and found.json()['deleted'] is True and found.json()['name'] == '0.9.0'
    free = api.call('GET', '/bundle/lookup', params={'app_id': APP, 'name': '5.0.0'}).json()
    assert free == {'exists': False, 'id': None, 'name': None, 'deleted': None}
    assert api.call('GET', '/bundle/lookup', params={'app_id': APP, 'latest': 'true'}).json() == {'name': '1.0.0'}
    err(api.call('GET', '/bundle/lookup', params={'app_id': APP}), 400, 'missing_version')
    err(api.call('GET', '/bundle/lookup', key=KEY_LIMITED, params={'app_id': APP, 'name': 'x'}), 400, 'cannot_lookup_bundle')
    err(api.call('GET', '/channel/current-bundle', params={'app_id': APP}), 400, 'missing_channel')
    err(api.call('GET', '/channel/current-bundle', params={'app_id': APP, 'channel': 'nope'}), 400, 'cannot_find_channel')


def test_native_packages_in_bundle_rows(api):
    natives = [{'name': '@capacitor/camera', 'version': '7.0.1'}, {'name': '@capgo/capacitor-updater', 'version': '7.4.0'}]
    api.seed(bundles=[{'app_id': APP, 'name': '1.0.0', 'native_packages': natives, 'min_update_version': '0.9.0'}])
    row = api.call('GET', '/bundle', params={'app_id': APP}).json()[0]
    assert row['native_packages'] == natives and row['min_update_version'] == '0.9.0'


def test_encryption_required(head):
    head.seed(orgs=[{'org': 'org1', 'enforce_encrypted_bundles': True, 'required_encryption_key': 'abcdefghij'}])
    good = {'app_id': APP, 'version': '1.0.0', 'external_url': 'https://example.com/b.zip', 'checksum': 'abc'}
    err(head.call('POST', '/bundle', body=good), 400, 'encryption_required')
    resp = head.call('POST', '/bundle', body=dict(good, session_key='sk', key_id='abcdefghij'))
    if head.profile == 'latest':   # 12.1 #12: every external-URL bundle is refused
        err(resp, 400, 'encryption_required')
    else:
        assert resp.status_code == 200, resp.text
        err(head.call('POST', '/bundle', body=dict(good, version='1.0.1', session_key='sk')), 400, 'encryption_key_required')
        err(head.call('POST', '/bundle', body=dict(good, version='1.0.1', session_key='sk', key_id='zzz')), 400, 'encryption_key_mismatch')


def test_post_bundle_head_corrections(head):
    good = {'app_id': APP, 'version': '1.0.0', 'external_url': 'https://example.com/b.zip', 'checksum': 'abc'}
    nochk = dict(good)
    del nochk['checksum']
    err(head.call('POST', '/bundle', body=nochk), 400, 'missing_checksum')                                   # 12.2 #1
    err(head.call('POST', '/bundle', body=dict(good, external_url='HTTPS://example.com/b.zip')), 400, 'invalid_protocol')
    err(head.call('POST', '/bundle', key=KEY_READ, body=dict(good, version='v1')), 400, 'invalid_version_format')  # before permission
    body = err(head.call('POST', '/bundle', key=KEY_READ, body=good), 400, 'cannot_create_bundle')
    assert body['message'] == "You can't access this app"
    assert head.call('POST', '/bundle', key=KEY_UPLOAD, body=good).status_code == 200


def test_updated_at_filter_formats(head):
    head.seed(devices=[{'app_id': APP, 'device_id': 'd1', 'updated_at': '2026-01-01T00:00:00Z'},
                       {'app_id': APP, 'device_id': 'd2', 'updated_at': '2026-02-01T00:00:00Z'}])
    for good in ('2026-01-15T00:00:00Z', '2026-01-15T00:00:00.123Z', '2026-01-15 00:00:00'):
        resp = head.call('GET', '/device', params={'app_id': APP, 'updated_at': good})
        assert [d['device_id'] for d in resp.json()['data']] == ['d2'], good
    for bad_value in ('2026-01-15T00:00:00+00:00', '2026-01-15', '2024-02-31T00:00:00Z', '2026-01-15T00:00:00'):
        err(head.call('GET', '/device', params={'app_id': APP, 'updated_at': bad_value}), 400, 'invalid_updated_at')
    assert len(head.call('GET', '/device', params={'app_id': APP, 'limit': '1e2'}).json()['data']) == 2   # 12.2 #6: Number()
    err(head.call('GET', '/device', params={'app_id': APP, 'limit': '1.5'}), 400, 'invalid_limit')


def test_keyless_requests_count_as_failed_auth(api):
    api.admin('POST', 'config', {'failed_auth_limit': 3})
    for dummy in range(3):
        err(api.call('GET', '/channel', key=None, params={'app_id': APP}), 401, 'no_key_provided')   # 12.2 #3
    err(api.call('GET', '/channel', params={'app_id': APP}), 429, 'too_many_requests')
    api.admin('POST', 'reset', {'profile': api.profile})
    api.seed()
    # capgkey ?? authorization: an empty capgkey header is "no key" (12.2 #6)
    err(api.call('GET', '/channel', params={'app_id': APP}, headers={'capgkey': ''}), 401, 'no_key_provided')
    resp = api.call('GET', '/channel', params={'app_id': APP}, headers={'x-limited-key-id': 'abc'})
    if api.profile == 'classic':
        assert resp.status_code == 200   # classic ignores a malformed sub-key id (11.1 #18)
    else:
        err(resp, 401, 'invalid_subkey')


def test_rollout_rules_head(head):
    seed_rollout(head)
    chan = {'app_id': APP, 'channel': 'production'}
    err(head.call('POST', '/channel', body=dict(chan, rolloutPercentageBps=10001)), 400, 'invalid_rollout_config')
    err(head.call('POST', '/channel', body=dict(chan, rolloutPercentage=100.5)), 400, 'invalid_rollout_percentage')
    # validation before cannot_find_channel
    err(head.call('POST', '/channel', body={'app_id': APP, 'channel': 'new', 'rolloutVersion': '1.1.0', 'rolloutPercentageBps': -1}),
        400, 'invalid_rollout_config')
    assert head.call('POST', '/channel', body={'app_id': APP, 'channel': 'n2', 'rolloutEnabled': True}).status_code == 200
    assert head.call('POST', '/channel', body={'app_id': APP, 'channel': 'n3', 'rollback': False, 'promoteToStable': False}).status_code == 200
    assert head.call('POST', '/channel', body=dict(chan, rolloutPercentage=0.125)).status_code == 200
    assert head.channel('production')['rollout_percentage_bps'] == 13   # half up
    before = head.channel('production')
    head.call('POST', '/channel', body=dict(chan, rolloutPaused=True, rolloutPauseReason='manual'))
    paused = head.channel('production')
    assert paused['rollout_paused_at'] and paused['rollout_pause_reason'] == 'manual' and paused['rollout_id'] == before['rollout_id']
    head.call('POST', '/channel', body=dict(chan, rolloutVersion='1.2.0'))
    moved = head.channel('production')
    assert moved['rollout_paused_at'] is None and moved['rollout_pause_reason'] is None and moved['rollout_id'] != before['rollout_id']
    assert head.call('POST', '/channel', body=dict(chan, promoteToStable=True)).status_code == 200
    assert head.channel('production')['version_name'] == '1.2.0'
    err(head.call('POST', '/channel', body=dict(chan, promoteToStable=True)), 400, 'missing_rollout_version')   # repeated
    head.call('POST', '/channel', body=dict(chan, rolloutVersion='1.3.0'))
    assert head.call('POST', '/channel', body=dict(chan, rollback=True)).status_code == 200
    err(head.call('POST', '/channel', body=dict(chan, rollback=True)), 400, 'missing_rollout_version')          # repeated
    head.admin('POST', 'config', {'rollback_requires_target': False})
    assert head.call('POST', '/channel', body=dict(chan, rollback=True)).status_code == 200


def test_override_expiry_per_generation(api):
    api.seed(channels=[{'app_id': APP, 'name': 'beta'}], overrides=[{'app_id': APP, 'device_id': 'd1', 'channel': 'beta'}])
    assert api.admin('POST', 'advance_clock', {'days': 20})['expired'] == 0
    expired = api.admin('POST', 'advance_clock', {'days': 20})['expired']
    if api.profile == 'latest':   # 12.1 #8: API overrides never expire
        assert expired == 0 and len(api.state()['overrides']) == 1
    else:                         # HEAD and classic: older than one month
        assert expired == 1 and api.state()['overrides'] == []


def test_soft_deleted_bundle_purge(api):
    api.seed(bundles=[{'app_id': APP, 'name': '0.9.0', 'deleted': True}, {'app_id': APP, 'name': '0.8.0', 'deleted': True}])
    purged = api.admin('POST', 'advance_clock', {'days': 100})['purged_bundles']
    names = set(b['name'] for b in api.state()['bundles'] if b['app_id'] == APP)
    if api.profile == 'classic':   # one year
        assert purged == 0 and {'0.9.0', '0.8.0'} <= names
        assert api.admin('POST', 'advance_clock', {'days': 300})['purged_bundles'] == 2
    else:                          # 90 days at HEAD (12.2 #7): the name can be reused
        assert purged == 2 and not {'0.9.0', '0.8.0'} & names
        good = {'app_id': APP, 'version': '0.9.0', 'external_url': 'https://example.com/b.zip', 'checksum': 'abc'}
        assert api.call('POST', '/bundle', body=good).status_code == 200


# ---------------------------------------------------------------------------------------------- device list URL size (issue 12)

def test_device_list_override_lookup_url_limit(api):
    ids = ['3f1b6e2a-0000-4000-8000-%012d' % i for i in range(300)]
    api.seed(channels=[{'app_id': APP, 'name': 'beta'}],
             devices=[{'app_id': APP, 'device_id': d, 'updated_at': '2026-01-01T00:00:00Z'} for d in ids],
             overrides=[{'app_id': APP, 'device_id': d, 'channel': 'beta'} for d in ids])
    small = api.call('GET', '/device', params={'app_id': APP, 'limit': 100}).json()['data']
    assert len(small) == 100 and all(d['channel'] == 'beta' for d in small)
    big = api.call('GET', '/device', params={'app_id': APP, 'limit': 300}).json()['data']
    assert len(big) == 300 and not [d for d in big if 'channel' in d]   # silently lost (12.2 #4)
    log = api.admin('GET', 'requests')
    assert [e.get('override_lookup_failed', False) for e in log] == [False, True]
    one = api.call('GET', '/device', params={'app_id': APP, 'device_id': ids[250]}).json()
    assert one['channel'] == 'beta'   # single reads are unaffected
    api.admin('POST', 'config', {'device_override_url_limit': 0})
    assert all(d['channel'] == 'beta' for d in api.call('GET', '/device', params={'app_id': APP, 'limit': 300}).json()['data'])


def test_override_lookup_url_arithmetic():
    from sim_api import Api   # pylint: disable=import-outside-toplevel
    uuid_ids = ['3f1b6e2a-0000-4000-8000-%012d' % i for i in range(200)]
    base = Api.override_lookup_request_bytes(APP, uuid_ids[:1]) - 36
    assert Api.override_lookup_request_bytes(APP, uuid_ids) == base + 36 * 200 + 3 * 199   # 39 bytes per further UUID
    assert Api.override_lookup_request_bytes(APP, uuid_ids + uuid_ids) == Api.override_lookup_request_bytes(APP, uuid_ids)


# ---------------------------------------------------------------------------------------------- applied-then-lost faults, chaos

def test_drop_after_applies_the_write(api):
    api.seed(channels=[{'app_id': APP, 'name': 'beta'}])
    api.admin('POST', 'faults', {'faults': [{'type': 'drop_after', 'method': 'POST', 'path': '/device'}]})
    with pytest.raises(requests.ConnectionError):
        api.call('POST', '/device', body={'app_id': APP, 'device_id': 'd1', 'channel': 'beta'})
    assert api.state()['overrides'][0]['channel'] == 'beta'
    entry = api.admin('GET', 'requests')[-1]
    assert (entry['fault'], entry['applied'], entry['status'], entry['handler_status']) == ('drop_after', True, None, 200)


def test_status_after_and_delay_after(head):
    head.admin('POST', 'faults', {'faults': [{'type': 'status_after', 'status': 504, 'path': '/channel', 'method': 'POST'},
                                             {'type': 'delay_after', 'delay': 1.0, 'path': '/channel', 'method': 'POST'}]})
    err(head.call('POST', '/channel', body={'app_id': APP, 'channel': 'a'}), 504, 'gateway_timeout')
    with pytest.raises(requests.exceptions.ReadTimeout):
        head.http.post(head.url + '/channel', json={'app_id': APP, 'channel': 'b'}, headers={'authorization': KEY_ALL}, timeout=0.3)
    names = sorted(c['name'] for c in head.state()['channels'])
    assert names == ['a', 'b']
    log = [e for e in head.admin('GET', 'requests') if e['method'] == 'POST']
    assert [(e['fault'], e['applied']) for e in log] == [('status_after', True), ('delay_after', True)]


def test_fault_skip_and_failed_write_not_applied(cur):
    cur.admin('POST', 'faults', {'faults': [{'type': 'status', 'status': 502, 'path': '/channel', 'skip': 2}]})
    codes = [cur.call('GET', '/channel', params={'app_id': APP}).status_code for dummy in range(4)]
    assert codes == [200, 200, 502, 200]
    cur.admin('POST', 'faults', {'faults': [{'type': 'drop_after', 'path': '/channel', 'method': 'POST'}]})
    with pytest.raises(requests.ConnectionError):
        cur.call('POST', '/channel', body={'app_id': APP, 'channel': 'x', 'rolloutVersion': 'nope'})   # handler fails: nothing applied
    entry = cur.admin('GET', 'requests')[-1]
    assert entry['applied'] is False and entry['handler_error'] == 'cannot_find_channel' and cur.state()['channels'] == []


def test_chaos_is_seeded_and_counted(head):
    def run():
        head.admin('POST', 'reset', {'profile': head.profile})
        head.seed()
        head.admin('POST', 'chaos', {'rate': 0.4, 'seed': 11, 'kinds': ['429', '429_no_retry_after', '503']})
        out = []
        for dummy in range(30):
            resp = head.call('GET', '/channel', params={'app_id': APP})
            out.append((resp.status_code, resp.headers.get('Retry-After')))
        return out, head.admin('DELETE', 'chaos')['chaos']
    first, report = run()
    again, dummy = run()
    assert first == again
    faulted = [s for s in first if s[0] != 200]
    assert 0 < len(faulted) == sum(report['injected'].values()) and report['requests'] == 30
    assert set(s[0] for s in faulted) <= {429, 503}
    assert (429, None) in first and (429, '1') in first   # with and without Retry-After
    log = head.admin('GET', 'requests')
    assert len([e for e in log if e['fault_source'] == 'chaos']) == len(faulted)
    assert head.admin('GET', 'chaos')['chaos'] is None


def test_chaos_does_not_depend_on_arrival_order(cur):
    def statuses(order):
        cur.admin('POST', 'reset', {'profile': 'current'})
        cur.seed()
        cur.admin('POST', 'chaos', {'rate': 0.5, 'seed': 3, 'kinds': ['503']})
        out = {}
        for dev in order:
            out.setdefault(dev, []).append(cur.call('DELETE', '/device', body={'app_id': APP, 'device_id': dev}).status_code)
        return out
    devices = ['dev-%02d' % i for i in range(12)]
    assert statuses(devices) == statuses(list(reversed(devices)))


def test_auto_pause_admin(head):
    before = seed_rollout(head)
    body = {'app_id': APP, 'channel': 'production', 'action': 'pause', 'reason': 'crash rate 9% > 5%'}
    resp = head.http.post(head.url + '/_sim/rollout/auto_pause', json=body, timeout=5)
    assert resp.status_code == 200, resp.text
    chan = get_chan(head)
    assert chan['rolloutPausedAt'] and chan['rolloutPauseReason'] == 'crash rate 9% > 5%' and chan['autoPauseLastTriggeredAt']
    assert chan['rollout_version_info']['name'] == '1.1.0' and chan['rollout_id'] == before['rollout_id']
    head.admin('POST', 'rollout/auto_pause', {'app_id': APP, 'channel': 'production', 'action': 'rollback', 'reason': 'too many failures'})
    chan = get_chan(head)
    assert chan['rollout_version'] is None and not chan['rolloutEnabled'] and chan['rolloutPercentageBps'] == 0
    assert chan['rolloutPauseReason'] == 'too many failures' and chan['rolloutPausedAt'] is None and chan['rollout_id'] != before['rollout_id']
    assert chan['version']['name'] == '1.0.0'
    assert head.http.post(head.url + '/_sim/rollout/auto_pause', json={'app_id': APP, 'channel': 'production'}, timeout=5).status_code == 400
