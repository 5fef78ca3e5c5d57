# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
import responses

from ansible.module_utils.testing import patch_module_args

from ansible_collections.capgo.cloud.plugins.modules import capgo_info
from ansible_collections.capgo.cloud.tests.unit.plugins.modules.module_exits import ModuleExit, patch_exits

URL = 'https://capgo.test'
KEY = 'c0ffee00-secret-key-0000-000000000042'
APP = 'com.example.app'
HEAD_EMPTY = dict(error='cannot_get_bundle', message='Cannot get bundle', moreInfo=dict(supabaseError=None))


@pytest.fixture(autouse=True)
def fake_exits(monkeypatch):
    patch_exits(monkeypatch)


@pytest.fixture(autouse=True, name='http')
def fake_http():
    """Fake HTTP; afterwards, fail if capgo_info sent anything but GETs."""
    mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    mock.start()
    try:
        yield mock
        assert [call.request.method for call in mock.calls if call.request.method != 'GET'] == []
    finally:
        mock.stop()
        mock.reset()


def run_module(check_mode=False, **args):
    args.setdefault('app_id', APP)
    args.setdefault('api_url', URL)
    args.setdefault('api_key', KEY)
    args.setdefault('api_retries', 0)
    if check_mode:
        args['_ansible_check_mode'] = True
    with patch_module_args(args):
        with pytest.raises(ModuleExit) as caught:
            capgo_info.main()
    result = caught.value.result
    assert KEY not in json.dumps(result)
    return result


def calls(http, path):
    return [call.request for call in http.calls if call.request.url.split('?')[0] == URL + path]


def query(request):
    return dict(pair.split('=', 1) for pair in request.url.split('?', 1)[1].split('&')) if '?' in request.url else {}


def device(index, channel=None):
    item = dict(device_id='DEV-%04d' % index, app_id=APP, platform='ios', version_name='1.0.0', version_build='1.0.0',
                is_prod=True, is_emulator=False, updated_at='2026-01-01T00:00:00Z')
    if channel:
        item['channel'] = channel
    return item


# -- bundles --------------------------------------------------------------------------------------------

def test_bundles_carry_native_packages_and_min_update_version(http):
    http.add(responses.GET, URL + '/bundle', json=[
        dict(id=2, app_id=APP, name='1.0.1', created_at='2026-01-02T00:00:00Z', min_update_version='1.0.0',
             native_packages=[dict(name='@capacitor/camera', version='6.0.1')], session_key='secret-session'),
        dict(id=1, app_id=APP, name='1.0.0', created_at='2026-01-01T00:00:00Z', min_update_version=None,
             native_packages=None),
    ])
    result = run_module(gather=['bundles'])
    assert result['changed'] is False
    assert [item['version'] for item in result['bundles']] == ['1.0.1', '1.0.0']
    assert result['bundles'][0]['native_packages'] == [dict(name='@capacitor/camera', version='6.0.1')]
    assert result['bundles'][0]['min_update_version'] == '1.0.0'
    assert result['bundles'][0]['encrypted'] is True
    assert 'secret-session' not in json.dumps(result)
    assert result['bundles'][1]['native_packages'] is None and result['bundles'][1]['min_update_version'] is None
    assert result['channels'] == [] and result['devices'] == []


@pytest.mark.parametrize('answer', [dict(json=[]), dict(status=400, json=HEAD_EMPTY)])
def test_app_without_bundles_is_an_empty_list_on_every_generation(http, answer):
    http.add(responses.GET, URL + '/bundle', **answer)
    result = run_module(gather=['bundles'])
    assert result['bundles'] == [] and 'failed' not in result
    assert len(http.calls) == 1


@pytest.mark.parametrize('status, body', [
    (400, dict(error='cannot_get_bundle', message="You can't access this app", moreInfo={})),
    (404, dict(error='app_not_found', message='App not found', moreInfo={})),
])
def test_no_access_fails_instead_of_an_empty_list(http, status, body):
    http.add(responses.GET, URL + '/bundle', status=status, json=body)
    result = run_module(gather=['bundles'])
    assert result['failed'] and result['status'] == status and result['error'] == body['error']
    assert 'rights' in result['msg']


# -- devices ---------------------------------------------------------------------------------------------

def test_devices_are_read_in_pages_of_at_most_100_and_every_override_is_listed(http):
    fleet = [device(index, channel='beta' if index % 3 == 0 else None) for index in range(250)]
    pages = [fleet[0:100], fleet[100:200], fleet[200:250]]
    for number, page in enumerate(pages):
        body = dict(data=page, hasMore=number < 2)
        if number < 2:
            body['nextCursor'] = 'cursor-%d' % number
        http.add(responses.GET, URL + '/device', json=body)
    result = run_module(gather=['devices'])
    requests_sent = calls(http, '/device')
    assert len(requests_sent) == 3
    assert all(int(query(request)['limit']) <= 100 for request in requests_sent)
    assert len(result['devices']) == 250
    pinned = [item['device_id'] for item in result['devices'] if item['channel'] == 'beta']
    assert pinned == ['dev-%04d' % index for index in range(0, 250, 3)]


def test_channel_filter_keeps_the_devices_pinned_to_it(http):
    http.add(responses.GET, URL + '/channel', status=400,
             json=dict(error='cannot_find_version', message='Cannot find version', moreInfo={}))
    http.add(responses.GET, URL + '/device', json=dict(data=[device(1, 'beta'), device(2), device(3, 'alpha')], hasMore=False))
    result = run_module(gather=['channels', 'devices'], channel='beta')
    assert result['channels'] == []
    assert [item['device_id'] for item in result['devices']] == ['dev-0001']


def test_one_device_is_one_single_read(http):
    http.add(responses.GET, URL + '/device', json=device(7, 'beta'))
    result = run_module(gather=['devices'], device_id='DEV-0007')
    assert [(item['device_id'], item['channel']) for item in result['devices']] == [('dev-0007', 'beta')]
    assert query(calls(http, '/device')[0])['device_id'] == 'dev-0007'


def test_a_device_that_never_checked_in_is_an_empty_list(http):
    http.add(responses.GET, URL + '/device', status=404, json=dict(error='device_not_found', message='Device not found'))
    assert run_module(gather=['devices'], device_id='ghost')['devices'] == []


def test_a_repeated_cursor_warns_that_the_list_is_incomplete(http):
    http.add(responses.GET, URL + '/device', json=dict(data=[device(1)], hasMore=True, nextCursor='same'))
    http.add(responses.GET, URL + '/device', json=dict(data=[device(2)], hasMore=True, nextCursor='same'))
    result = run_module(gather=['devices'])
    assert [item['device_id'] for item in result['devices']] == ['dev-0001', 'dev-0002']
    assert any('incomplete' in warning for warning in result['warnings'])


# -- channels, and everything at once --------------------------------------------------------------------

def test_check_mode_reads_everything_and_changes_nothing(http):
    http.add(responses.GET, URL + '/channel', json=[dict(id=1, name='production', app_id=APP, public=True,
                                                         version=dict(name='1.0.0', id=5), disableAutoUpdate='major')])
    http.add(responses.GET, URL + '/device', json=dict(data=[device(1, 'beta')], hasMore=False))
    http.add(responses.GET, URL + '/bundle', json=[dict(id=5, app_id=APP, name='1.0.0', created_at='2026-01-01T00:00:00Z')])
    result = run_module(check_mode=True)
    assert result['changed'] is False
    assert [item['name'] for item in result['channels']] == ['production']
    assert result['channels'][0]['bundle'] == '1.0.0' and result['channels'][0]['disable_auto_update'] == 'major'
    assert len(result['devices']) == 1 and len(result['bundles']) == 1
    assert [call.request.url.split('?')[0].replace(URL, '') for call in http.calls] == ['/channel', '/device', '/bundle']


def test_latest_channels_carry_update_package_and_platforms(http):
    latest = dict(id=1, name='production', app_id=APP, public=True, version=dict(name='1.0.0', id=5),
                  disableAutoUpdate='major', rollout_version=None, rolloutPercentageBps=0, updatePackage='delta',
                  ios=True, android=False)
    current = dict(id=2, name='beta', app_id=APP, public=False, version=None, disableAutoUpdate='none',
                   rollout_version=None, rolloutPercentageBps=0)
    http.add(responses.GET, URL + '/channel', json=[latest, current])
    result = run_module(gather=['channels'])
    production, beta = result['channels']
    assert production['update_package'] == 'delta' and production['ios'] is True and production['android'] is False
    # a generation without these fields: not invented
    assert 'update_package' not in beta and 'ios' not in beta and 'android' not in beta
