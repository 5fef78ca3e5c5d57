# -*- coding: utf-8 -*-
"""The simulator's /app routes (capgo-apps.md 0, 1.2-1.5, 1.7, 4) over HTTP, per profile."""

import json
import os
import sys
import urllib.error
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from capgo_simulator import start_simulator  # noqa: E402 pylint: disable=wrong-import-position

APP = 'com.example.app'
OTHER_ORG_APP = 'com.other.app'
KEY_ALL = 'a1111111-1111-4111-8111-111111111111'
KEY_WRITE = 'a2222222-2222-4222-8222-222222222222'
KEY_READ = 'a3333333-3333-4333-8333-333333333333'
KEY_LIMITED = 'a5555555-5555-4555-8555-555555555555'
SEED = {
    'apps': [{'app_id': APP, 'org': 'org1', 'name': 'Example App'}, {'app_id': OTHER_ORG_APP, 'org': 'org2', 'name': 'Other'}],
    'keys': [{'key': KEY_ALL, 'mode': 'all'}, {'key': KEY_WRITE, 'mode': 'write'}, {'key': KEY_READ, 'mode': 'read'},
             {'key': KEY_LIMITED, 'mode': 'all', 'apps': [APP]}],
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

    def raw(self, method, path, body=None, headers=None, data=None):
        if body is not None:
            data = json.dumps(body).encode('utf-8')
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read().decode('utf-8') or 'null'), dict(resp.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read().decode('utf-8') or 'null'), dict(exc.headers)

    def call(self, method, path, body=None, key=KEY_ALL, headers=None, data=None):
        hdrs = {'authorization': key} if key else {}
        hdrs.update(headers or {})
        status, payload = self.raw(method, path, body, hdrs, data)[:2]
        return status, payload

    def admin(self, method, path, body=None):
        status, payload = self.raw(method, '/_sim/' + path, body)[:2]
        assert status == 200, payload
        return payload


def make(server, profile):
    client = Client(server.url, profile)
    client.admin('POST', 'reset', {'profile': profile})
    client.admin('POST', 'seed', SEED)
    return client


@pytest.fixture(params=['latest', 'current', 'classic'])
def api(server, request):
    return make(server, request.param)


@pytest.fixture(params=['latest', 'current'])
def rbac(server, request):
    return make(server, request.param)


def err(result, status, code):
    assert result[0] == status, result
    assert result[1]['error'] == code, result
    assert set(result[1]) == {'error', 'message', 'moreInfo'}, result
    return result[1]


def test_get_one_row_shape(api):
    status, row = api.call('GET', '/app/' + APP)
    assert status == 200
    assert row['app_id'] == APP and row['owner_org'] == 'org1' and row['name'] == 'Example App'
    assert row['retention'] == 2592000 and row['allow_device_custom_id'] is True and row['block_provider_infra_requests'] is True
    assert row['expose_metadata'] is False and row['icon_url'] == '' and row['default_upload_channel'] == 'dev'
    if api.profile == 'latest':
        assert row['onboarding'] == {} and 'stats_updated_at' not in row
    else:
        assert 'onboarding' not in row and row['stats_updated_at'] is None


def test_absent_and_forbidden_look_the_same(api):
    absent = err(api.call('GET', '/app/com.nothing.here'), 401, 'cannot_access_app')
    other = err(api.call('GET', '/app/' + OTHER_ORG_APP), 401, 'cannot_access_app')
    assert absent['message'] == other['message']
    absent = err(api.call('PUT', '/app/com.nothing.here', {'name': 'x'}), 401, 'cannot_access_app')
    other = err(api.call('PUT', '/app/' + OTHER_ORG_APP, {'name': 'x'}), 401, 'cannot_access_app')
    assert absent['message'] == other['message']
    err(api.call('GET', '/app/not_reverse_domain'), 400, 'invalid_app_id')
    state = api.admin('GET', 'state')
    assert [a['app_id'] for a in state['apps']] == [APP, OTHER_ORG_APP]   # nothing was created


def test_list_is_a_bare_array_of_visible_apps(api):
    api.admin('POST', 'seed', {'apps': [{'app_id': 'com.example.two'}]})
    status, rows = api.call('GET', '/app')
    assert status == 200 and isinstance(rows, list)
    assert sorted(r['app_id'] for r in rows) == [APP, 'com.example.two']
    status, rows = api.call('GET', '/app?org_id=org1')
    assert status == 200 and len(rows) == 2
    err(api.call('GET', '/app?org_id=org2'), 400, 'user_does_not_have_access_to_this_organization')
    err(api.call('GET', '/app?page=abc'), 400, 'cannot_get_apps')
    assert api.call('GET', '/app?page=9')[1] == []
    if api.profile != 'classic':
        status, rows = api.call('GET', '/app', key=KEY_LIMITED)
        assert status == 200 and [r['app_id'] for r in rows] == [APP]


def page_through(api, limit, between=None):
    seen, page = [], 0
    while True:
        status, rows = api.call('GET', '/app?limit=%d&page=%d' % (limit, page))
        assert status == 200
        seen.extend(r['app_id'] for r in rows)
        if len(rows) < limit:
            return seen
        if between is not None:
            between(page)
        page += 1


def test_list_paging_needs_de_duplication(rbac):
    names = ['com.example.a%02d' % i for i in range(7)]
    rbac.admin('POST', 'seed', {'apps': [{'app_id': n} for n in names]})
    every = sorted(names + [APP])
    quiet = page_through(rbac, 3)
    assert sorted(quiet) == every                        # no write in between: each app once
    assert quiet != every                                # but in no particular order (no ORDER BY)
    first_page = quiet[:3]

    def touch(page):
        if page == 0:                                    # another writer updates an app already listed
            assert rbac.call('PUT', '/app/' + first_page[0], {'name': 'renamed'})[0] == 200

    busy = page_through(rbac, 3, touch)
    assert busy.count(first_page[0]) == 2, busy          # the updated row moved: a client must de-duplicate
    rbac.admin('POST', 'config', {'app_list_order': 'shuffle'})
    orders = set(tuple(r['app_id'] for r in rbac.call('GET', '/app?limit=50')[1]) for dummy in range(4))
    assert len(orders) > 1


def test_put_validation_and_retention_seconds(rbac):
    def put(body, **kw):
        return rbac.call('PUT', '/app/' + APP, body, **kw)

    err(put({'retention': 63113904}), 400, 'retention_to_big')
    err(put({'retention': -1}), 400, 'retention_to_small')
    for bad_value in (1.5, '100', None, True):
        err(put({'retention': bad_value}), 400, 'cannot_update_app')
    err(put({'expose_metadata': None}), 400, 'cannot_update_app')
    err(put({}), 400, 'cannot_update_app')
    err(put({'owner_org': 'org2', 'default_upload_channel': 'x'}), 400, 'cannot_update_app')   # only ignored fields
    err(rbac.call('PUT', '/app/' + APP, data=b'not json', headers={'content-type': 'application/json'}), 400, 'invalid_json_parse_body')
    assert rbac.call('GET', '/app/' + APP)[1]['retention'] == 2592000              # nothing above changed it
    status, row = put({'retention': 0, 'name': ' <b>Shop</b> ', 'ios_store_url': 'anything', 'expose_metadata': True})
    assert status == 200
    assert row['retention'] == 0 and row['name'] == 'Shop' and row['ios_store_url'] == 'anything' and row['expose_metadata'] is True
    assert put({'retention': 63113903})[1]['retention'] == 63113903
    status, row = put({'name': None, 'ios_store_url': None})
    assert status == 200 and row['name'] is None and row['ios_store_url'] is None
    assert rbac.call('GET', '/app/' + APP)[1]['retention'] == 63113903


def test_identical_put_still_bumps_updated_at(rbac):
    first = rbac.call('PUT', '/app/' + APP, {'retention': 86400})[1]
    second = rbac.call('PUT', '/app/' + APP, {'retention': 86400})[1]
    assert second['retention'] == first['retention'] == 86400
    assert second['updated_at'] > first['updated_at']
    log = [e for e in rbac.admin('GET', 'requests') if e['path'].startswith('/app/')]
    assert [(e['method'], e['status'], e['key_id']) for e in log] == [('PUT', 200, 1), ('PUT', 200, 1)]


def test_put_needs_update_settings(rbac):
    assert rbac.call('GET', '/app/' + APP, key=KEY_READ)[0] == 200
    err(rbac.call('PUT', '/app/' + APP, {'name': 'x'}, key=KEY_READ), 401, 'cannot_access_app')
    err(rbac.call('PUT', '/app/' + APP, {'name': 'x'}, key=KEY_WRITE), 401, 'cannot_access_app')     # app_developer
    assert rbac.call('PUT', '/app/' + APP, {'name': 'x'}, key=KEY_LIMITED)[0] == 200                 # app_admin
    # latest checks the retention bounds before the permission (section 4 #2)
    result = rbac.call('PUT', '/app/' + APP, {'retention': 63113904}, key=KEY_READ)
    if rbac.profile == 'latest':
        err(result, 400, 'retention_to_big')
    else:
        err(result, 401, 'cannot_access_app')


def test_auth_headers_per_generation(rbac):
    xkey = {'x-api-key': KEY_ALL}
    err(rbac.call('GET', '/app/' + APP, key=None, headers=xkey), 401, 'no_key_provided')     # middlewareKey everywhere
    err(rbac.call('GET', '/app/' + APP, key='Bearer ' + KEY_ALL), 401, 'invalid_apikey')
    assert rbac.call('GET', '/app/' + APP, key=None, headers={'capgkey': KEY_ALL})[0] == 200
    err(rbac.call('GET', '/app/' + APP, key=KEY_ALL, headers={'capgkey': ''}), 401, 'no_key_provided')
    put_x = rbac.call('PUT', '/app/' + APP, {'name': 'x'}, key=None, headers=xkey)
    put_bearer = rbac.call('PUT', '/app/' + APP, {'name': 'x'}, key='Bearer ' + KEY_ALL)
    put_none = rbac.call('PUT', '/app/' + APP, {'name': 'x'}, key=None)
    if rbac.profile == 'latest':            # middlewareAuth(preferApiKey)
        assert put_x[0] == 200
        err(put_bearer, 401, 'invalid_jwt')
        err(put_none, 401, 'no_jwt_apikey_or_subkey')
        assert rbac.call('PUT', '/app/' + APP, {'name': 'y'}, key='Bearer whatever', headers={'capgkey': KEY_ALL})[0] == 200
    else:
        err(put_x, 401, 'no_key_provided')
        err(put_bearer, 401, 'invalid_apikey')
        err(put_none, 401, 'no_key_provided')


def test_icon_rules(rbac):
    own = rbac.call('PUT', '/app/' + APP, {'icon': 'org/org1/%s/icon' % APP})
    assert own[0] == 200 and own[1]['icon_url'].startswith('https://') and '?token=' in own[1]['icon_url']
    again = rbac.call('GET', '/app/' + APP)[1]['icon_url']
    assert again != own[1]['icon_url']                  # a fresh signed URL on every read: never diff icon_url
    external = rbac.call('PUT', '/app/' + APP, {'icon': 'https://cdn.example.com/i.png'})[1]['icon_url']
    assert external == 'https://cdn.example.com/i.png'
    foreign = rbac.call('PUT', '/app/' + APP, {'icon': 'org/org2/x/icon'})
    if rbac.profile == 'latest':
        err(foreign, 400, 'invalid_icon_path')
    else:
        assert foreign[0] == 200


def test_app_settings_seed_and_unknown_routes(api):
    api.admin('POST', 'seed', {'apps': [{'app_id': APP, 'settings': {'retention': 0, 'expose_metadata': True}}]})
    row = api.call('GET', '/app/' + APP)[1]
    assert row['retention'] == 0 and row['expose_metadata'] is True and row['name'] == 'Example App'
    assert api.call('DELETE', '/app/' + APP)[0] == 404
    assert api.call('GET', '/app/%s/extra' % APP)[0] == 404
    assert api.call('GET', '/app/' + APP)[0] == 200      # still there
