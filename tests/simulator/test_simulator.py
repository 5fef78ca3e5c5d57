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
