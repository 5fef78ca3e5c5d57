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

from ansible.module_utils.testing import patch_module_args

from ansible_collections.capgo.cloud.plugins.module_utils.client import CapgoClient, CapgoError
from ansible_collections.capgo.cloud.plugins.module_utils.resources import delete_bundle, served_bundles
from ansible_collections.capgo.cloud.plugins.modules import capgo_bundle
from ansible_collections.capgo.cloud.tests.unit.plugins.modules.module_exits import ModuleExit, patch_exits

URL = 'https://capgo.test'
KEY = 'c0ffee00-secret-key-0000-000000000042'
APP = 'com.example.app'
SESSION_KEY = 'super-secret-session-key-value'


@pytest.fixture(autouse=True)
def fake_exits(monkeypatch):
    patch_exits(monkeypatch)


@pytest.fixture(autouse=True)
def no_delete_without_version():
    """Every test: whatever the module sent, no DELETE /bundle went out without a version in its JSON body."""
    yield
    for call in responses.calls:
        if call.request.method == 'DELETE' and '/bundle' in call.request.url:
            body = json.loads(call.request.body or b'{}')
            assert body.get('version'), 'DELETE /bundle without a version: %s' % call.request.body
            assert '?' not in call.request.url, 'DELETE parameters must all go in the JSON body'


def run_module(check_mode=False, **args):
    args.setdefault('app_id', APP)
    args.setdefault('api_url', URL)
    args.setdefault('api_key', KEY)
    args.setdefault('api_retries', 2)
    if check_mode:
        args['_ansible_check_mode'] = True
    with patch_module_args(args):
        with pytest.raises(ModuleExit) as caught:
            capgo_bundle.main()
    result = caught.value.result
    assert KEY not in json.dumps(result)
    assert SESSION_KEY not in json.dumps(result)
    return result


def bundle_row(ident, name, created_at, **extra):
    row = dict(id=ident, app_id=APP, name=name, created_at=created_at, updated_at=created_at, deleted=False,
               external_url=None, checksum='sum-%s' % name, session_key=None, min_update_version=None, comment=None, link=None)
    row.update(extra)
    return row


def channel_item(ident, name, bundle=None, rollout=None, current=True):
    item = dict(id=ident, name=name, app_id=APP, public=False,
                version=dict(name=bundle[0], id=bundle[1]) if bundle else (None if current else dict(name='unknown', id=1)))
    if current:
        item.update(rollout_version=rollout[1] if rollout else None,
                    rollout_version_info=dict(name=rollout[0], id=rollout[1]) if rollout else None,
                    rolloutPercentageBps=0)
    return item


SIX = [bundle_row(10 + day, '1.0.%d' % day, '2026-01-0%dT10:00:00+00:00' % (day + 1)) for day in range(6)]
# newest first, as GET /bundle answers
SIX_DESC = list(reversed(SIX))


def serve(bundles, channels=None):
    if bundles:
        responses.add(responses.GET, URL + '/bundle', json=bundles)
    else:
        responses.add(responses.GET, URL + '/bundle', status=400,
                      json=dict(error='cannot_get_bundle', message='Cannot get bundle', moreInfo=dict(supabaseError=None)))
    if channels is not None:
        responses.add(responses.GET, URL + '/channel', json=channels)
    responses.add(responses.DELETE, URL + '/bundle', json=dict(status='ok'))


def deletes():
    return [json.loads(call.request.body)['version'] for call in responses.calls if call.request.method == 'DELETE']


def methods():
    return [(call.request.method, call.request.url.split('?')[0].replace(URL, '')) for call in responses.calls]


# -- input validation: fails before any request -----------------------------------------------------------

@pytest.mark.parametrize('args, fragment', [
    (dict(state='absent'), 'exactly one of version, versions or keep'),
    (dict(state='absent', version='1.0.0', keep=2), 'exactly one of'),
    (dict(state='absent', versions=['1.0.0'], keep=2), 'exactly one of'),
    (dict(state='absent', version=''), 'version must not be empty'),
    (dict(state='absent', version='   '), 'version must not be empty'),
    (dict(state='absent', versions=['1.0.0', '']), 'empty name'),
    (dict(state='absent', keep=-1), 'keep must be 0 or more'),
    (dict(state='absent', keep=2, external_url='https://x.example/a.zip'), 'only apply to state=present'),
    (dict(keep=2), 'need an explicit state=absent'),
    (dict(versions=['1.0.0']), 'need an explicit state=absent'),
    (dict(version='1.0.0'), 'missing: external_url, checksum'),
    (dict(version='1.0.0', external_url='https://cdn.example.com/a.zip'), 'missing: checksum'),
    (dict(external_url='https://cdn.example.com/a.zip', checksum='abc'), 'missing: version'),
    (dict(version='', external_url='https://cdn.example.com/a.zip', checksum='abc'), 'missing: version'),
    (dict(version='v1.0.0', external_url='https://cdn.example.com/a.zip', checksum='abc'), 'not a semantic version'),
    (dict(version='1.0', external_url='https://cdn.example.com/a.zip', checksum='abc'), 'not a semantic version'),
    (dict(version='1.0.0', external_url='http://cdn.example.com/a.zip', checksum='abc'), 'must be an https:// URL'),
    (dict(version='1.0.0', external_url='https://', checksum='abc'), 'must be an https:// URL'),
])
@responses.activate
def test_bad_input_fails_before_any_request(args, fragment):
    result = run_module(**args)
    assert result['failed']
    assert fragment in result['msg']
    assert len(responses.calls) == 0


@responses.activate
def test_bad_app_id_fails_before_any_request():
    result = run_module(app_id='not an app', state='absent', keep=1)
    assert result['failed'] and 'reverse-domain' in result['msg']
    assert len(responses.calls) == 0


# -- the guard: no DELETE /bundle without a version ---------------------------------------------------------

@pytest.mark.parametrize('version', ['', '  ', None, 0])
@responses.activate
def test_delete_bundle_refuses_to_send_without_version(version):
    client = CapgoClient(KEY, api_url=URL, retries=0)
    with pytest.raises(CapgoError) as caught:
        delete_bundle(client, APP, version)
    assert 'without a bundle version' in str(caught.value)
    assert len(responses.calls) == 0


@responses.activate
def test_delete_bundle_puts_every_parameter_in_the_json_body():
    responses.add(responses.DELETE, URL + '/bundle', json=dict(status='ok'))
    delete_bundle(CapgoClient(KEY, api_url=URL, retries=0), APP, '1.0.0')
    request = responses.calls[0].request
    assert request.url == URL + '/bundle'
    assert json.loads(request.body) == dict(app_id=APP, version='1.0.0')


# -- deleting named bundles ---------------------------------------------------------------------------------

@responses.activate
def test_delete_one_existing_bundle():
    serve(SIX_DESC, [channel_item(1, 'production', bundle=('1.0.5', 15))])
    result = run_module(state='absent', version='1.0.2')
    assert result['changed'] is True
    assert result['deleted'] == ['1.0.2']
    assert '1.0.2' not in result['kept'] and len(result['kept']) == 5
    assert result['protected'] == {'1.0.5': ['production']}
    assert result['diff']['before']['bundles'][0] == '1.0.5'
    assert result['diff']['after']['bundles'] == result['kept']
    assert methods() == [('GET', '/bundle'), ('GET', '/channel'), ('DELETE', '/bundle')]


@responses.activate
def test_delete_missing_bundle_is_unchanged_with_one_request():
    serve(SIX_DESC, [])
    result = run_module(state='absent', version='9.9.9')
    assert result['changed'] is False
    assert result['deleted'] == []
    assert methods() == [('GET', '/bundle')]


@responses.activate
def test_delete_from_app_without_bundles_is_unchanged():
    serve([], [])
    result = run_module(state='absent', versions=['1.0.0', '1.0.1'])
    assert result['changed'] is False and result['deleted'] == [] and result['kept'] == []
    assert methods() == [('GET', '/bundle')]


@responses.activate
def test_delete_several_skips_missing_and_goes_oldest_first():
    serve(SIX_DESC, [])
    result = run_module(state='absent', versions=['1.0.4', '7.0.0', '1.0.1', '1.0.4'])
    assert result['deleted'] == ['1.0.1', '1.0.4']
    assert deletes() == ['1.0.1', '1.0.4']


@pytest.mark.parametrize('channel', [
    channel_item(1, 'beta', bundle=('1.0.1', 11)),
    channel_item(1, 'beta', bundle=('1.0.5', 15), rollout=('1.0.1', 11)),
])
@responses.activate
def test_deleting_a_served_bundle_fails_naming_the_channel(channel):
    serve(SIX_DESC, [channel])
    result = run_module(state='absent', versions=['1.0.0', '1.0.1'])
    assert result['failed']
    assert '1.0.1 is served by channel beta' in result['msg']
    assert 'nothing was deleted' in result['msg']
    assert deletes() == []


@responses.activate
def test_check_mode_named_delete_sends_no_delete():
    serve(SIX_DESC, [])
    result = run_module(check_mode=True, state='absent', version='1.0.0')
    assert result['changed'] is True and result['deleted'] == ['1.0.0']
    assert deletes() == []


# -- retention ----------------------------------------------------------------------------------------------

@responses.activate
def test_keep_two_of_six_protects_linked_and_rollout_bundles():
    channels = [channel_item(1, 'production', bundle=('1.0.0', 10)),
                channel_item(2, 'beta', bundle=('1.0.5', 15), rollout=('1.0.2', 12))]
    serve(SIX_DESC, channels)
    result = run_module(state='absent', keep=2)
    assert result['changed'] is True
    assert result['deleted'] == ['1.0.1', '1.0.3']
    assert result['kept'] == ['1.0.5', '1.0.4', '1.0.2', '1.0.0']
    assert result['protected'] == {'1.0.5': ['beta'], '1.0.2': ['beta'], '1.0.0': ['production']}
    assert deletes() == ['1.0.1', '1.0.3']


@responses.activate
def test_rollout_named_only_by_id_is_protected():
    channel = channel_item(1, 'beta', bundle=('1.0.5', 15))
    channel.update(rollout_version=11, rollout_version_info=None)
    serve(SIX_DESC, [channel])
    result = run_module(state='absent', keep=0)
    assert '1.0.1' in result['kept'] and '1.0.5' in result['kept']
    assert sorted(result['deleted']) == ['1.0.0', '1.0.2', '1.0.3', '1.0.4']


@responses.activate
def test_keep_orders_by_created_at_not_by_answer_order():
    shuffled = [SIX[2], SIX[5], SIX[0], SIX[4], SIX[1], SIX[3]]
    serve(shuffled, [])
    result = run_module(state='absent', keep=3)
    assert result['kept'] == ['1.0.5', '1.0.4', '1.0.3']
    assert result['deleted'] == ['1.0.0', '1.0.1', '1.0.2']


@responses.activate
def test_keep_zero_on_classic_deletes_all_but_served_and_ignores_placeholder():
    channels = [channel_item(1, 'production', bundle=('1.0.3', 13), current=False),
                channel_item(2, 'empty', current=False)]
    serve(SIX_DESC, channels)
    result = run_module(state='absent', keep=0)
    assert result['kept'] == ['1.0.3']
    assert result['deleted'] == ['1.0.0', '1.0.1', '1.0.2', '1.0.4', '1.0.5']


@responses.activate
def test_keep_more_than_exist_reads_bundles_only():
    serve(SIX_DESC, [])
    result = run_module(state='absent', keep=6)
    assert result['changed'] is False and result['deleted'] == []
    assert methods() == [('GET', '/bundle')]


@responses.activate
def test_check_mode_keep_predicts_the_real_run():
    channels = [channel_item(1, 'production', bundle=('1.0.0', 10))]
    serve(SIX_DESC, channels)
    predicted = run_module(check_mode=True, state='absent', keep=2)
    assert deletes() == []
    responses.calls.reset()
    real = run_module(state='absent', keep=2)
    assert predicted == real
    assert deletes() == real['deleted'] == ['1.0.1', '1.0.2', '1.0.3']


@responses.activate
def test_keep_fails_on_unreadable_created_at_before_deleting():
    rows = list(SIX_DESC)
    rows[3] = dict(rows[3], created_at='yesterday')
    serve(rows, [])
    result = run_module(state='absent', keep=1)
    assert result['failed'] and 'unreadable created_at' in result['msg']
    assert deletes() == []


@responses.activate
def test_retry_after_dropped_connection_treats_cannot_delete_version_as_done():
    responses.add(responses.GET, URL + '/bundle', json=SIX_DESC)
    responses.add(responses.GET, URL + '/channel', json=[])
    responses.add(responses.DELETE, URL + '/bundle', body=requests.exceptions.ConnectionError('reset by peer'))
    responses.add(responses.DELETE, URL + '/bundle', status=400,
                  json=dict(error='cannot_delete_version', message='Cannot delete version', moreInfo={}))
    result = run_module(state='absent', version='1.0.0')
    assert result['changed'] is True and result['deleted'] == ['1.0.0']
    assert deletes() == ['1.0.0', '1.0.0']


@responses.activate
def test_bundle_linked_meanwhile_fails_with_partial_result():
    responses.add(responses.GET, URL + '/bundle', json=SIX_DESC)
    responses.add(responses.GET, URL + '/channel', json=[])
    responses.add(responses.DELETE, URL + '/bundle', json=dict(status='ok'))
    responses.add(responses.DELETE, URL + '/bundle', status=400,
                  json=dict(error='cannot_delete_linked_version', message='Cannot delete a bundle linked to a channel', moreInfo={}))
    result = run_module(state='absent', keep=4)
    assert result['failed']
    assert 'a channel serves it' in result['msg'] and 'HTTP 400 cannot_delete_linked_version' in result['msg']
    assert result['error'] == 'cannot_delete_linked_version'
    assert result['changed'] is True and result['deleted'] == ['1.0.0']
    assert deletes() == ['1.0.0', '1.0.1']


@responses.activate
def test_access_error_on_read_is_reported():
    responses.add(responses.GET, URL + '/bundle', status=400,
                  json=dict(error='cannot_get_bundle', message="You can't access this app", moreInfo={}))
    result = run_module(state='absent', keep=1)
    assert result['failed'] and result['status'] == 400 and result['error'] == 'cannot_get_bundle'
    assert deletes() == []


# -- registering external bundles ---------------------------------------------------------------------------

REGISTER = dict(version='2.0.0', external_url='https://cdn.example.com/2.0.0.zip', checksum='abc123')


@responses.activate
def test_register_new_external_bundle():
    serve(SIX_DESC)
    created = bundle_row(99, '2.0.0', '2026-02-01T00:00:00+00:00', external_url=REGISTER['external_url'], checksum='abc123',
                         session_key=SESSION_KEY)
    responses.add(responses.POST, URL + '/bundle', json=dict(status='success', bundle=created))
    result = run_module(session_key=SESSION_KEY, **REGISTER)
    assert result['changed'] is True
    assert result['bundle']['id'] == 99 and result['bundle']['version'] == '2.0.0' and result['bundle']['encrypted'] is True
    assert result['diff']['after']['bundles'][0] == '2.0.0'
    post = [call.request for call in responses.calls if call.request.method == 'POST'][0]
    assert json.loads(post.body) == dict(app_id=APP, session_key=SESSION_KEY, **REGISTER)


@responses.activate
def test_register_check_mode_sends_nothing():
    serve(SIX_DESC)
    result = run_module(check_mode=True, **REGISTER)
    assert result['changed'] is True
    assert result['bundle']['version'] == '2.0.0' and result['bundle']['id'] is None
    assert methods() == [('GET', '/bundle')]


@responses.activate
def test_register_same_bundle_again_is_unchanged():
    existing = bundle_row(99, '2.0.0', '2026-02-01T00:00:00+00:00', external_url=REGISTER['external_url'], checksum='abc123')
    serve([existing] + SIX_DESC)
    result = run_module(**REGISTER)
    assert result['changed'] is False and result['bundle']['id'] == 99
    assert methods() == [('GET', '/bundle')]


@pytest.mark.parametrize('field, value', [('checksum', 'other'), ('external_url', 'https://cdn.example.com/elsewhere.zip')])
@responses.activate
def test_register_conflicting_bundle_fails(field, value):
    existing = bundle_row(99, '2.0.0', '2026-02-01T00:00:00+00:00', external_url=REGISTER['external_url'], checksum='abc123')
    existing[field] = value
    serve([existing])
    result = run_module(**REGISTER)
    assert result['failed'] and 'already exists' in result['msg'] and field in result['msg']
    assert methods() == [('GET', '/bundle')]


@responses.activate
def test_register_over_uploaded_bundle_fails():
    serve([bundle_row(99, '2.0.0', '2026-02-01T00:00:00+00:00')])
    result = run_module(**REGISTER)
    assert result['failed'] and 'different external_url' in result['msg']


@responses.activate
def test_register_name_of_deleted_bundle_is_explained():
    serve(SIX_DESC)
    responses.add(responses.POST, URL + '/bundle', status=400,
                  json=dict(error='cannot_create_bundle', message='Cannot create bundle', moreInfo={}))
    result = run_module(**REGISTER)
    assert result['failed'] and 'never frees a bundle name' in result['msg']
    assert result['status'] == 400 and result['error'] == 'cannot_create_bundle'


@responses.activate
def test_register_on_api_without_endpoint_is_explained():
    serve(SIX_DESC)
    responses.add(responses.POST, URL + '/bundle', status=404, json=dict(error='not_found', message='Not found'))
    result = run_module(**REGISTER)
    assert result['failed'] and 'no POST /bundle endpoint' in result['msg'] and result['status'] == 404


@responses.activate
def test_register_retry_meeting_own_bundle_is_done():
    created = bundle_row(99, '2.0.0', '2026-02-01T00:00:00+00:00', external_url=REGISTER['external_url'], checksum='abc123')
    responses.add(responses.GET, URL + '/bundle', json=SIX_DESC)
    responses.add(responses.POST, URL + '/bundle', body=requests.exceptions.ConnectionError('reset'))
    responses.add(responses.POST, URL + '/bundle', status=400,
                  json=dict(error='version_already_exists', message='Version already exists', moreInfo={}))
    responses.add(responses.GET, URL + '/bundle', json=[created] + SIX_DESC)
    result = run_module(**REGISTER)
    assert result['changed'] is True and result['bundle']['id'] == 99


# -- pure helpers ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize('value, expected', [
    ('2026-01-01T00:00:00+00:00', 1767225600.0),
    ('2026-01-01T00:00:00Z', 1767225600.0),
    ('2026-01-01 00:00:00', 1767225600.0),
    ('2026-01-01 02:00:00+02', 1767225600.0),
    ('2025-12-31T23:30:00-00:30', 1767225600.0),
    ('2026-01-01T00:00:00.250000+00:00', 1767225600.25),
    ('not a date', None),
    (None, None),
])
def test_created_at_seconds(value, expected):
    assert capgo_bundle.created_at_seconds(value) == expected


def test_plan_retention_counts_served_bundles_in_addition():
    delete, kept = capgo_bundle.plan_retention(['5', '4', '3', '2', '1'], 1, {'3': ['prod']})
    assert delete == ['1', '2', '4'] and kept == ['5', '3']


def test_served_bundles_ignores_placeholders():
    channels = [channel_item(1, 'a', current=False), dict(name='b', version=dict(name='builtin', id=2)),
                channel_item(3, 'c', bundle=('1.0.0', 10)), channel_item(4, 'd', bundle=('1.0.0', 10))]
    assert served_bundles(channels) == {'1.0.0': ['c', 'd']}
