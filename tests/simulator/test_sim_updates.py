# -*- coding: utf-8 -*-
"""The simulator's POST /updates (capgo-update-decision.md) over HTTP: every scenario of update_scenarios.py on
`latest` and `current`, then parsing, answer shapes, side effects and rollout draws."""

import json
import os
import sys
import urllib.error
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from capgo_simulator import start_simulator  # noqa: E402 pylint: disable=wrong-import-position
from update_scenarios import APP_ID, REASONS, SCENARIOS  # noqa: E402 pylint: disable=wrong-import-position

KEY = 'b1111111-1111-4111-8111-111111111111'
BASE_SEED = {   # what the integration harness seeds before a scenario: apps and a key, no bundles or channels
    'apps': [{'app_id': APP_ID, 'org': 'org1', 'name': 'Example App'}, {'app_id': 'com.other.app', 'org': 'org2'}],
    'keys': [{'key': KEY, 'mode': 'all', 'org': 'org1'}],
}
KINDS = {'no_new_version_available': 'up_to_date', 'already_on_builtin': 'up_to_date'}
BLOCKED_PREFIXES = ('disabled_platform_', 'disable_')


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

    def admin(self, method, path, body=None):
        status, payload = self.raw(method, '/_sim/' + path, body)[:2]
        assert status == 200, payload
        return payload

    def updates(self, body, data=None):
        return self.raw('POST', '/updates', body, {'content-type': 'application/json'}, data)

    def device(self, device_id):
        return self.raw('GET', '/device?app_id=%s&device_id=%s' % (APP_ID, device_id), headers={'authorization': KEY})[:2]


def fresh(server, profile, seed=None):
    client = Client(server.url, profile)
    client.admin('POST', 'reset', {'profile': profile})
    client.admin('POST', 'seed', BASE_SEED)
    if seed:
        client.admin('POST', 'seed', seed)
    return client


def plugin_body(device):
    """The updater plugin's request for these inputs (what capgo probe sends, with the device's own values)."""
    return {'app_id': APP_ID, 'device_id': device['device_id'], 'version_name': device['bundle'],
            'version_build': device['native_version'], 'platform': device['platform'], 'is_prod': device['is_prod'],
            'is_emulator': device['is_emulator'], 'plugin_version': device['plugin_version'],
            'defaultChannel': device['default_channel'] or ''}


def base(profile='latest', **inputs):
    out = {'app_id': APP_ID, 'device_id': '00000000-0000-4000-8000-00000000abcd', 'version_name': 'builtin',
           'version_build': '1.0.0', 'platform': 'ios', 'is_prod': True, 'is_emulator': False, 'plugin_version': '7.30.0'}
    out.update(inputs)
    del profile
    return out


CASES = [(s['id'], p) for s in SCENARIOS for p in s['profiles']]


@pytest.mark.parametrize('sid,profile', CASES, ids=['%s-%s' % c for c in CASES])
def test_scenario(server, sid, profile):
    scenario = [s for s in SCENARIOS if s['id'] == sid][0]
    expected = scenario['expected'][profile]
    client = fresh(server, profile, scenario['seed'])
    device = scenario['device']
    status, answer, headers = client.updates(plugin_body(device))
    assert status == 200, answer
    assert headers.get('X-Replication-Lag') == 'ok'
    server_expect = expected['server']
    if 'version' in server_expect:
        assert 'error' not in answer, answer
        assert answer['version'] == server_expect['version'] == expected['bundle']
        assert expected['available'] is True and expected['reason'] is None
        if answer['version'] != 'builtin':
            assert answer['url'].startswith('https://') and 'session_key' in answer and 'checksum' in answer
            assert device['device_id'] in answer['url']
        else:
            assert answer == {'version': 'builtin'}
    else:
        code = server_expect['error']
        assert answer['error'] == code == expected['reason'], answer
        assert expected['available'] is False
        kind = KINDS.get(code, 'blocked' if code.startswith(BLOCKED_PREFIXES) else 'failed')
        assert answer['kind'] == kind and answer['message']
        if code.startswith(('disable_auto_update_to_',)):
            assert answer['major'] is True and answer['version'] == expected['target'] and answer['old'] == device['native_version']
        plain_codes = ('disable_prod_build', 'disable_dev_build', 'disable_device', 'disable_emulator', 'disable_auto_update_under_native')
        if code.startswith('disabled_platform_') or code in plain_codes:
            assert answer['version'] == expected['target']
            assert answer['old'] == (device['native_version'] if device['bundle'] == 'builtin' else device['bundle'])
        if code == 'already_on_builtin':
            assert ('version' in answer) == (profile == 'current')
    # side effect: every answer that writes stats also writes the device row GET /device shows
    stats = client.admin('GET', 'update_stats')['stats']
    status, row = client.device(device['device_id'])
    assert status == 200
    assert row['platform'] == device['platform'] and row['version_build'] == device['native_version']
    if stats:
        assert row['plugin_version'] == device['plugin_version'] and row['is_prod'] == device['is_prod']
        if expected['available'] and profile == 'current':
            assert row['version_name'] == expected['bundle']          # HEAD: the row shows the offered bundle
        elif device['bundle'] != 'builtin':
            assert row['version_name'] == device['bundle']
        else:
            assert row['version_name'] == device['native_version']   # `builtin` is replaced by version_build
    if scenario.get('bucket') is not None:
        state = client.admin('GET', 'state')
        chan = [c for c in state['channels'] if c['name'] == 'production'][0]
        assert (chan['id'], chan['rollout_version']) == (1, 2)        # the ids the table's buckets assume


def test_table_covers_the_reachable_codes():
    wanted = {'no_channel', 'no_new_version_available', 'disabled_platform_ios', 'disabled_platform_android',
              'disable_auto_update_to_major', 'disable_auto_update_to_minor', 'disable_auto_update_to_patch',
              'misconfigured_channel', 'disable_auto_update_to_metadata', 'disable_auto_update_under_native',
              'disable_prod_build', 'disable_dev_build', 'disable_device', 'disable_emulator', 'already_on_builtin',
              'no_bundle', 'no_bundle_url', 'revert_to_builtin_plugin_version_too_old', 'unsupported_plugin_version'}
    assert wanted <= set(REASONS)
    sources = set(e['channel_source'] for s in SCENARIOS for e in s['expected'].values())
    assert sources == {'override', 'default_channel', 'cloud_default', None}
    for scenario in SCENARIOS:
        assert set(scenario['expected']) == set(scenario['profiles'])
        assert set(scenario['device']) == {'device_id', 'platform', 'native_version', 'bundle', 'is_prod', 'is_emulator',
                                           'plugin_version', 'default_channel'}


def test_bucket_values_are_the_documented_hash():
    from sim_updates import rollout_bucket   # pylint: disable=import-outside-toplevel
    # reference value computed independently (JavaScript Math.imul over charCodeAt, as section 4 #1 describes)
    assert rollout_bucket(APP_ID, 1, '0f5b8a4e-2c61-4d8e-9a37-5e1c0d9b7a21', 2, '00000000-0000-4000-8000-000000950001') == 4099
    for scenario in SCENARIOS:
        if scenario.get('bucket') is not None:
            rid = scenario['seed']['channels'][0]['rollout_id']
            assert rollout_bucket(APP_ID, 1, rid, 2, scenario['device']['device_id'].upper()) == scenario['bucket']


# ---------------------------------------------------------------------------------------------- parsing and shapes
@pytest.mark.parametrize('profile', ['latest', 'current'])
def test_parsing_errors(server, profile):
    client = fresh(server, profile, {'bundles': [{'app_id': APP_ID, 'name': '1.0.1', 'r2_path': 'x.zip'}],
                                     'channels': [{'app_id': APP_ID, 'name': 'production', 'version': '1.0.1', 'public': True}]})

    def code(body=None, data=None):
        status, answer = client.updates(body, data)[:2]
        return status, answer.get('error')

    assert code(data=b'{nope') == (400, 'invalid_json_parse_body')
    assert code(dict((k, v) for k, v in base().items() if k != 'app_id')) == (400, 'missing_app_id')
    assert code(dict((k, v) for k, v in base().items() if k != 'device_id')) == (400, 'missing_device_id')
    assert code(base(device_id='not-a-uuid')) == (400, 'invalid_json_body')
    assert code(base(platform='windows')) == (400, 'invalid_json_body')
    assert code(base(is_prod='yes')) == (400, 'invalid_json_body')
    assert code(base(plugin_version='seven')) == (400, 'invalid_json_body')
    assert code(base(version_build='1.2.3.4')) == (400, 'semver_error')
    assert client.admin('GET', 'update_stats')['stats'] == []          # a 400 writes nothing
    # upper-case device id and a short version_build are normalised
    status, answer = client.updates(base(device_id='00000000-0000-4000-8000-00000000ABCD', version_build='1.0'))[:2]
    assert status == 200 and answer['version'] == '1.0.1'
    row = client.device('00000000-0000-4000-8000-00000000abcd')[1]
    assert row['version_build'] == '1.0.0'
    assert client.raw('GET', '/updates')[:2] == (200, {'status': 'ok'})


@pytest.mark.parametrize('profile', ['latest', 'current'])
def test_unknown_app_and_enumeration_guard(server, profile):
    client = fresh(server, profile)
    client.admin('POST', 'config', {'updates_enumeration_limit': 3})
    status, answer, headers = client.updates(base(app_id='com.typo.app'))
    assert status == 429 and answer['error'] == 'on_premise_app' and answer['message']
    if profile == 'latest':
        assert answer['moreInfo']['retryAfterSeconds'] > 0 and headers['Cache-Control'].startswith('public')
    else:
        assert 'moreInfo' not in answer
    client.updates(base(app_id='com.typo2.app'))
    client.updates(base(app_id='com.typo3.app'))
    status, answer, headers = client.updates(base())                  # a known app, now from a blocked address
    assert status == 429 and answer['error'] == 'on_premise_app'
    if profile == 'current':
        assert answer == {'error': 'on_premise_app'}
    else:
        assert headers['Cache-Control'] == 'private, no-store'
    client.admin('POST', 'reset', {'profile': profile})                # a reset lifts the block
    client.admin('POST', 'seed', BASE_SEED)
    assert client.updates(base())[1]['error'] == 'no_channel'


def test_classic_has_no_updates_endpoint(server):
    client = fresh(server, 'classic')
    status, answer = client.updates(base())[:2]
    assert status == 404 and answer['error'] == 'not_found' and 'classic' in answer['message']


@pytest.mark.parametrize('profile', ['latest', 'current'])
def test_offer_shape_and_side_effects(server, profile):
    manifest = [{'file_name': 'index.js', 'file_hash': 'h1', 's3_path': 'orgs/org1/files/index.js'}]
    client = fresh(server, profile, {
        'apps': [{'app_id': APP_ID, 'settings': {'expose_metadata': True, 'allow_device_custom_id': False}}],
        'bundles': [{'app_id': APP_ID, 'name': '1.0.1', 'r2_path': 'orgs/org1/1.0.1.zip', 'checksum': 'c1',
                     'session_key': 'sk', 'link': 'https://l', 'comment': 'hello', 'manifest': manifest, 'manifest_count': 1}],
        'channels': [{'app_id': APP_ID, 'name': 'production', 'version': '1.0.1', 'public': True}]})
    body = base(plugin_version='8.40.0', custom_id='ignored', defaultChannel='', version_os='17.1', install_source=' TestFlight ')
    status, answer = client.updates(body)[:2]
    assert status == 200
    assert answer['version'] == '1.0.1' and answer['session_key'] == 'sk' and answer['checksum'] == 'c1'
    assert answer['url'].endswith('/files/read/attachments/orgs/org1/1.0.1.zip?key=c1&device_id=' + body['device_id'])
    assert answer['manifest'][0]['file_name'] == 'index.js' and answer['manifest'][0]['download_url'].startswith('https://')
    assert answer['link'] == 'https://l' and answer['comment'] == 'hello'
    # an older plugin: no manifest (< 7.0.35) and no link/comment (< 7.35)
    older = client.updates(base(device_id='00000000-0000-4000-8000-00000000abce', plugin_version='7.0.30'))[1]
    assert 'manifest' not in older and 'link' not in older and older['version'] == '1.0.1'
    row = client.device(body['device_id'])[1]
    assert row['custom_id'] == '' and row['os_version'] == '17.1'
    assert row['version_name'] == ('1.0.1' if profile == 'current' else '1.0.0')
    stats = client.admin('GET', 'update_stats')
    assert [s['action'] for s in stats['stats']] == ['get', 'get']
    assert stats['version_get'] == {APP_ID + ':1.0.1': 2} and len(stats['mau']) == 2
    log = [e for e in client.admin('GET', 'requests') if e['path'] == '/updates']
    assert [(e['method'], e['status'], e['key_id']) for e in log] == [('POST', 200, None), ('POST', 200, None)]


def test_head_rollout_draw_is_random_sticky_and_seedable(server):
    seed = {'bundles': [{'app_id': APP_ID, 'name': n, 'r2_path': n + '.zip'} for n in ('1.0.1', '1.0.2')],
            'channels': [{'app_id': APP_ID, 'name': 'production', 'version': '1.0.1', 'public': True,
                          'rollout_version': '1.0.2', 'rollout_enabled': True, 'rollout_percentage_bps': 5000}]}

    def run():
        client = fresh(server, 'current', seed)
        client.admin('POST', 'config', {'updates_rollout_seed': 42})
        got = []
        for i in range(60):
            body = base(device_id='00000000-0000-4000-8000-%012d' % (700000 + i))
            got.append(client.updates(body)[1]['version'])
            assert client.updates(body)[1]['version'] == got[-1]     # sticky: the cached draw is reused
        return client, got

    client, first = run()
    assert 10 < first.count('1.0.2') < 50                              # a draw, not all or nothing
    assert run()[1] == first                                           # the same seed gives the same draws
    stats = client.admin('GET', 'update_stats')
    assert stats['rollout_cache'] == 60


def test_latest_rollout_is_the_bucket_not_a_draw(server):
    seed = {'bundles': [{'app_id': APP_ID, 'name': n, 'r2_path': n + '.zip'} for n in ('1.0.1', '1.0.2')],
            'channels': [{'app_id': APP_ID, 'name': 'production', 'version': '1.0.1', 'public': True,
                          'rollout_version': '1.0.2', 'rollout_enabled': True, 'rollout_percentage_bps': 5000,
                          'rollout_id': '0f5b8a4e-2c61-4d8e-9a37-5e1c0d9b7a21'}]}
    from sim_updates import rollout_bucket   # pylint: disable=import-outside-toplevel
    client = fresh(server, 'latest', seed)
    for i in range(30):
        dev = '00000000-0000-4000-8000-%012d' % (950000 + i)
        want = '1.0.2' if rollout_bucket(APP_ID, 1, seed['channels'][0]['rollout_id'], 2, dev) < 5000 else '1.0.1'
        assert client.updates(base(device_id=dev))[1]['version'] == want
    assert client.admin('GET', 'update_stats')['rollout_cache'] == 0


@pytest.mark.parametrize('profile', ['latest', 'current'])
def test_provider_block_and_non_semver_bundle(server, profile):
    client = fresh(server, profile, {'bundles': [{'app_id': APP_ID, 'name': 'release-7', 'r2_path': 'r.zip'}],
                                     'channels': [{'app_id': APP_ID, 'name': 'production', 'version': 'release-7', 'public': True}]})
    status, answer = client.updates(base())[:2]
    assert status == 500 and answer['error'] == 'unknown_error'        # a semver gate cannot parse `release-7`
    client.admin('POST', 'config', {'updates_provider': 'google'})
    status, answer = client.updates(base())[:2]
    assert status == 200 and answer['error'] == 'provider_infrastructure_request_blocked'
    assert answer['kind'] == 'blocked' and answer['provider'] == 'google'
