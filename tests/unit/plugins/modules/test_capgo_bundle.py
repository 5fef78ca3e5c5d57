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

from ansible_collections.capgo.cloud.plugins.modules import capgo_bundle
from ansible_collections.capgo.cloud.tests.unit.plugins.modules.module_exits import ModuleExit, patch_exits

URL = 'https://capgo.test'
KEY = 'c0ffee00-secret-key-0000-000000000042'
APP = 'com.example.app'
SESSION_KEY = 'super-secret-session-key-value'


@pytest.fixture(autouse=True)
def fake_exits(monkeypatch):
    patch_exits(monkeypatch)


def bad_bundle_deletes(calls):
    """The DELETE /bundle calls that do not name exactly one bundle in their JSON body (or put anything in the query)."""
    bad = []
    for call in calls:
        request = call.request
        if request.method != 'DELETE' or request.url.split('?')[0].rstrip('/') != URL + '/bundle':
            continue
        try:
            body = json.loads(request.body or b'{}')
        except ValueError:
            body = {}
        version = body.get('version') if isinstance(body, dict) else None
        if not isinstance(version, str) or not version.strip() or '?' in request.url:
            bad.append('%s body=%r' % (request.url, request.body))
    return bad


def guarded_http():
    """Fake HTTP for one test; afterwards, fail if any DELETE /bundle went out without a version in its JSON body.

    The check runs while the mock still holds its calls (``@responses.activate`` clears them when the test
    function returns, before a fixture's teardown could read them).
    """
    mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    mock.start()
    try:
        yield mock
        bad = bad_bundle_deletes(mock.calls)
        assert not bad, 'DELETE /bundle without a version in the JSON body: %s' % '; '.join(bad)
    finally:
        mock.stop()
        mock.reset()


http = pytest.fixture(autouse=True, name='http')(guarded_http)


# -- the guard itself: planted bad DELETEs make it fire ---------------------------------------------------

@pytest.mark.parametrize('planted', [
    dict(json=dict(app_id=APP)),
    dict(json=dict(app_id=APP, version='')),
    dict(json=dict(app_id=APP, version='  ')),
    dict(json=dict(app_id=APP), params=dict(version='1.0.0')),
    dict(params=dict(app_id=APP, version='1.0.0')),
])
def test_the_guard_fires_on_a_planted_delete_without_version(planted):
    guard = guarded_http()
    mock = next(guard)
    mock.add(responses.DELETE, URL + '/bundle', json=dict(status='ok'))
    requests.delete(URL + '/bundle', **planted)
    with pytest.raises(AssertionError, match='DELETE /bundle without a version'):
        next(guard)


def test_the_guard_lets_a_delete_naming_one_bundle_pass():
    guard = guarded_http()
    mock = next(guard)
    mock.add(responses.DELETE, URL + '/bundle', json=dict(status='ok'))
    requests.delete(URL + '/bundle', json=dict(app_id=APP, version='1.0.0'))
    with pytest.raises(StopIteration):
        next(guard)


# -- helpers ----------------------------------------------------------------------------------------------

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
               external_url=None, checksum='sum-%s' % name, session_key=None, min_update_version=None, comment=None,
               link=None, native_packages=[dict(name='@capacitor/app', version='6.0.0')])
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
HEAD_EMPTY = dict(error='cannot_get_bundle', message='Cannot get bundle', moreInfo=dict(supabaseError=None))
NO_LOOKUP = dict(error='not_found', message='Not found')


def serve(http, bundles, channels=None, empty='head'):
    if bundles:
        http.add(responses.GET, URL + '/bundle', json=bundles)
    elif empty == 'head':
        http.add(responses.GET, URL + '/bundle', status=400, json=HEAD_EMPTY)
    else:
        http.add(responses.GET, URL + '/bundle', json=[])
    if channels is not None:
        http.add(responses.GET, URL + '/channel', json=channels)
    http.add(responses.DELETE, URL + '/bundle', json=dict(status='ok'))


def deletes(http):
    return [json.loads(call.request.body)['version'] for call in http.calls if call.request.method == 'DELETE']


def methods(http):
    return [(call.request.method, call.request.url.split('?')[0].replace(URL, '')) for call in http.calls]


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
    (dict(keep=2), 'keep deletes bundles, which needs state=absent: add state: absent'),
    (dict(versions=['1.0.0']), 'versions deletes bundles, which needs state=absent'),
    (dict(version='1.0.0'), 'missing: external_url, checksum'),
    (dict(version='1.0.0', external_url='https://cdn.example.com/a.zip'), 'missing: checksum'),
    (dict(version='1.0.0', external_url='https://cdn.example.com/a.zip', checksum=''), 'missing: checksum'),
    (dict(external_url='https://cdn.example.com/a.zip', checksum='abc'), 'missing: version'),
    (dict(version='', external_url='https://cdn.example.com/a.zip', checksum='abc'), 'missing: version'),
    (dict(version='v1.0.0', external_url='https://cdn.example.com/a.zip', checksum='abc'), 'not a semantic version'),
    (dict(version='1.0', external_url='https://cdn.example.com/a.zip', checksum='abc'), 'not a semantic version'),
    (dict(version='1.0.0', external_url='http://cdn.example.com/a.zip', checksum='abc'), 'must be an https:// URL'),
    (dict(version='1.0.0', external_url='https://', checksum='abc'), 'must be an https:// URL'),
    (dict(version='1.0.0', external_url='HTTPS://cdn.example.com/a.zip', checksum='abc'), 'lower-case https://'),
    (dict(version='1.0.0', external_url='Https://cdn.example.com/a.zip', checksum='abc'), 'invalid_protocol'),
])
def test_bad_input_fails_before_any_request(http, args, fragment):
    result = run_module(**args)
    assert result['failed']
    assert fragment in result['msg']
    assert result['changed'] is False
    for empty in ('status', 'error', 'api_message'):
        assert empty not in result
    assert len(http.calls) == 0


def test_bad_app_id_fails_before_any_request(http):
    result = run_module(app_id='not an app', state='absent', keep=1)
    assert result['failed'] and 'reverse-domain' in result['msg']
    assert len(http.calls) == 0


# -- deleting named bundles ---------------------------------------------------------------------------------

def test_delete_one_existing_bundle(http):
    serve(http, SIX_DESC, [channel_item(1, 'production', bundle=('1.0.5', 15))])
    result = run_module(state='absent', version='1.0.2')
    assert result['changed'] is True
    assert result['deleted'] == ['1.0.2']
    assert '1.0.2' not in result['kept'] and len(result['kept']) == 5
    assert result['protected'] == {'1.0.5': ['production']}
    assert result['diff']['before']['bundles'][0] == '1.0.5'
    assert result['diff']['after']['bundles'] == result['kept']
    assert methods(http) == [('GET', '/bundle'), ('GET', '/channel'), ('DELETE', '/bundle')]
    delete = [call.request for call in http.calls if call.request.method == 'DELETE'][0]
    assert delete.url == URL + '/bundle' and json.loads(delete.body) == dict(app_id=APP, version='1.0.2')


def test_delete_missing_bundle_is_unchanged_with_one_request(http):
    serve(http, SIX_DESC, [])
    result = run_module(state='absent', version='9.9.9')
    assert result['changed'] is False
    assert result['deleted'] == []
    assert methods(http) == [('GET', '/bundle')]


@pytest.mark.parametrize('empty', ['head', 'latest'])
def test_delete_from_app_without_bundles_is_unchanged(http, empty):
    serve(http, [], [], empty=empty)
    result = run_module(state='absent', versions=['1.0.0', '1.0.1'])
    assert result['changed'] is False and result['deleted'] == [] and result['kept'] == []
    assert methods(http) == [('GET', '/bundle')]


def test_delete_several_skips_missing_and_goes_oldest_first(http):
    serve(http, SIX_DESC, [])
    result = run_module(state='absent', versions=['1.0.4', '7.0.0', '1.0.1', '1.0.4'])
    assert result['deleted'] == ['1.0.1', '1.0.4']
    assert deletes(http) == ['1.0.1', '1.0.4']


@pytest.mark.parametrize('channel', [
    channel_item(1, 'beta', bundle=('1.0.1', 11)),
    channel_item(1, 'beta', bundle=('1.0.5', 15), rollout=('1.0.1', 11)),
])
def test_deleting_a_served_bundle_fails_naming_the_channel(http, channel):
    serve(http, SIX_DESC, [channel])
    result = run_module(state='absent', versions=['1.0.0', '1.0.1'])
    assert result['failed'] and result['changed'] is False
    assert '1.0.1 is served by channel beta' in result['msg']
    assert 'nothing was deleted' in result['msg']
    assert 'status' not in result and 'error' not in result
    assert deletes(http) == []


def test_check_mode_named_delete_sends_no_delete(http):
    serve(http, SIX_DESC, [])
    result = run_module(check_mode=True, state='absent', version='1.0.0')
    assert result['changed'] is True and result['deleted'] == ['1.0.0']
    assert deletes(http) == []


# -- retention ----------------------------------------------------------------------------------------------

def test_keep_two_of_six_protects_linked_and_rollout_bundles(http):
    channels = [channel_item(1, 'production', bundle=('1.0.0', 10)),
                channel_item(2, 'beta', bundle=('1.0.5', 15), rollout=('1.0.2', 12))]
    serve(http, SIX_DESC, channels)
    result = run_module(state='absent', keep=2)
    assert result['changed'] is True
    assert result['deleted'] == ['1.0.1', '1.0.3']
    assert result['kept'] == ['1.0.5', '1.0.4', '1.0.2', '1.0.0']
    assert result['protected'] == {'1.0.5': ['beta'], '1.0.2': ['beta'], '1.0.0': ['production']}
    assert deletes(http) == ['1.0.1', '1.0.3']
    # 1.0.5 is served, so nothing deleted is newer than every served bundle: no warning
    assert 'warnings' not in result


def test_keep_that_deletes_unreleased_bundles_warns_naming_them(http):
    serve(http, SIX_DESC, [channel_item(1, 'production', bundle=('1.0.1', 11))])
    result = run_module(state='absent', keep=2)
    assert result['deleted'] == ['1.0.0', '1.0.2', '1.0.3']
    assert result['kept'] == ['1.0.5', '1.0.4', '1.0.1']
    assert len(result['warnings']) == 1
    warning = result['warnings'][0]
    assert '1.0.3, 1.0.2' in warning and '1.0.0' not in warning
    assert 'newest served is 1.0.1, on production' in warning
    assert deletes(http) == ['1.0.0', '1.0.2', '1.0.3']


def test_check_mode_warns_the_same_way(http):
    serve(http, SIX_DESC, [channel_item(1, 'production', bundle=('1.0.3', 13))])
    result = run_module(check_mode=True, state='absent', keep=1)
    assert result['deleted'] == ['1.0.0', '1.0.1', '1.0.2', '1.0.4']
    assert len(result['warnings']) == 1 and '1.0.4' in result['warnings'][0] and '1.0.2' not in result['warnings'][0]
    assert deletes(http) == []


def test_no_warning_when_no_channel_serves_a_bundle(http):
    serve(http, SIX_DESC, [channel_item(1, 'production')])
    result = run_module(state='absent', keep=3)
    assert result['deleted'] == ['1.0.0', '1.0.1', '1.0.2']
    assert 'warnings' not in result


def test_rollout_named_only_by_id_is_protected(http):
    channel = channel_item(1, 'beta', bundle=('1.0.5', 15))
    channel.update(rollout_version=11, rollout_version_info=None)
    serve(http, SIX_DESC, [channel])
    result = run_module(state='absent', keep=0)
    assert '1.0.1' in result['kept'] and '1.0.5' in result['kept']
    assert sorted(result['deleted']) == ['1.0.0', '1.0.2', '1.0.3', '1.0.4']


def test_keep_orders_by_created_at_not_by_answer_order(http):
    shuffled = [SIX[2], SIX[5], SIX[0], SIX[4], SIX[1], SIX[3]]
    serve(http, shuffled, [])
    result = run_module(state='absent', keep=3)
    assert result['kept'] == ['1.0.5', '1.0.4', '1.0.3']
    assert result['deleted'] == ['1.0.0', '1.0.1', '1.0.2']


def test_keep_zero_on_classic_deletes_all_but_served_and_ignores_placeholder(http):
    channels = [channel_item(1, 'production', bundle=('1.0.3', 13), current=False),
                channel_item(2, 'empty', current=False)]
    serve(http, SIX_DESC, channels)
    result = run_module(state='absent', keep=0)
    assert result['kept'] == ['1.0.3']
    assert result['deleted'] == ['1.0.0', '1.0.1', '1.0.2', '1.0.4', '1.0.5']


def test_keep_more_than_exist_reads_bundles_only(http):
    serve(http, SIX_DESC, [])
    result = run_module(state='absent', keep=6)
    assert result['changed'] is False and result['deleted'] == []
    assert methods(http) == [('GET', '/bundle')]


def test_check_mode_keep_predicts_the_real_run(http):
    channels = [channel_item(1, 'production', bundle=('1.0.0', 10))]
    serve(http, SIX_DESC, channels)
    predicted = run_module(check_mode=True, state='absent', keep=2)
    assert deletes(http) == []
    http.calls.reset()
    real = run_module(state='absent', keep=2)
    assert predicted == real
    assert deletes(http) == real['deleted'] == ['1.0.1', '1.0.2', '1.0.3']


def test_keep_fails_on_unreadable_created_at_before_deleting(http):
    rows = list(SIX_DESC)
    rows[3] = dict(rows[3], created_at='yesterday')
    serve(http, rows, [])
    result = run_module(state='absent', keep=1)
    assert result['failed'] and 'unreadable created_at' in result['msg']
    assert deletes(http) == []


# -- lost answers -------------------------------------------------------------------------------------------

def test_lost_answer_of_an_applied_delete_is_confirmed_by_a_read_not_resent(http):
    http.add(responses.GET, URL + '/bundle', json=SIX_DESC)
    http.add(responses.GET, URL + '/channel', json=[])
    http.add(responses.DELETE, URL + '/bundle', body=requests.exceptions.ConnectionError('reset by peer'))
    http.add(responses.GET, URL + '/bundle/lookup', status=404, json=NO_LOOKUP)
    http.add(responses.GET, URL + '/bundle', json=SIX_DESC[:-1])  # the read-back: 1.0.0 is gone
    result = run_module(state='absent', version='1.0.0')
    assert result['changed'] is True and result['deleted'] == ['1.0.0']
    assert deletes(http) == ['1.0.0']
    assert methods(http) == [('GET', '/bundle'), ('GET', '/channel'), ('DELETE', '/bundle'), ('GET', '/bundle/lookup'),
                             ('GET', '/bundle')]


def test_lost_answer_confirmed_by_bundle_lookup_where_it_exists(http):
    http.add(responses.GET, URL + '/bundle', json=SIX_DESC)
    http.add(responses.GET, URL + '/channel', json=[])
    http.add(responses.DELETE, URL + '/bundle', status=502, json=dict(error='bad_gateway', message='Bad gateway'))
    http.add(responses.GET, URL + '/bundle/lookup', json=dict(exists=True, id=10, name='1.0.0', deleted=True))
    result = run_module(state='absent', version='1.0.0')
    assert result['changed'] is True and result['deleted'] == ['1.0.0']
    assert deletes(http) == ['1.0.0']


def test_lost_answer_of_a_delete_not_applied_is_sent_again(http):
    http.add(responses.GET, URL + '/bundle', json=SIX_DESC)
    http.add(responses.GET, URL + '/channel', json=[])
    http.add(responses.DELETE, URL + '/bundle', body=requests.exceptions.ReadTimeout('no answer'))
    http.add(responses.DELETE, URL + '/bundle', json=dict(status='ok'))
    http.add(responses.GET, URL + '/bundle/lookup', json=dict(exists=True, id=10, name='1.0.0', deleted=False))
    result = run_module(state='absent', version='1.0.0')
    assert result['changed'] is True and result['deleted'] == ['1.0.0']
    assert deletes(http) == ['1.0.0', '1.0.0']


def test_bundle_linked_meanwhile_fails_with_partial_result(http):
    http.add(responses.GET, URL + '/bundle', json=SIX_DESC)
    http.add(responses.GET, URL + '/channel', json=[])
    http.add(responses.DELETE, URL + '/bundle', json=dict(status='ok'))
    http.add(responses.DELETE, URL + '/bundle', status=400,
             json=dict(error='cannot_delete_linked_version', message='Cannot delete a bundle linked to a channel', moreInfo={}))
    result = run_module(state='absent', keep=4)
    assert result['failed']
    assert 'a channel serves it' in result['msg'] and 'HTTP 400 cannot_delete_linked_version' in result['msg']
    assert result['error'] == 'cannot_delete_linked_version'
    assert result['changed'] is True and result['deleted'] == ['1.0.0']
    assert '1.0.0' not in result['kept'] and '1.0.1' in result['kept']
    assert deletes(http) == ['1.0.0', '1.0.1']


# -- access -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('status, body', [
    (400, dict(error='cannot_get_bundle', message="You can't access this app", moreInfo={})),
    (404, dict(error='app_not_found', message='App not found', moreInfo={})),
])
def test_no_access_on_read_fails_clearly(http, status, body):
    http.add(responses.GET, URL + '/bundle', status=status, json=body)
    result = run_module(state='absent', keep=1)
    assert result['failed'] and result['status'] == status and result['error'] == body['error']
    assert result['changed'] is False
    assert 'rights' in result['msg']
    assert deletes(http) == []
    assert len(http.calls) == 1


def test_database_error_on_read_is_not_taken_for_an_empty_app(http):
    http.add(responses.GET, URL + '/bundle', status=400,
             json=dict(error='cannot_get_bundle', message='Cannot get bundle', moreInfo=dict(supabaseError=dict(code='22P02'))))
    result = run_module(state='absent', keep=0)
    assert result['failed'] and result['error'] == 'cannot_get_bundle'


# -- registering external bundles ---------------------------------------------------------------------------

REGISTER = dict(version='2.0.0', external_url='https://cdn.example.com/2.0.0.zip', checksum='abc123')


def created_row(**extra):
    values = dict(external_url=REGISTER['external_url'], checksum='abc123')
    values.update(extra)
    return bundle_row(99, '2.0.0', '2026-02-01T00:00:00+00:00', **values)


@pytest.mark.parametrize('lookup', [
    dict(status=404, json=NO_LOOKUP),
    dict(json=dict(exists=False, id=None, name='2.0.0', deleted=False)),
])
def test_register_new_external_bundle(http, lookup):
    serve(http, SIX_DESC)
    http.add(responses.GET, URL + '/bundle/lookup', **lookup)
    http.add(responses.POST, URL + '/bundle', json=dict(status='success', bundle=created_row(session_key=SESSION_KEY)))
    result = run_module(session_key=SESSION_KEY, **REGISTER)
    assert result['changed'] is True
    assert result['bundle']['id'] == 99 and result['bundle']['version'] == '2.0.0' and result['bundle']['encrypted'] is True
    assert result['bundle']['native_packages'] == [dict(name='@capacitor/app', version='6.0.0')]
    assert result['diff']['after']['bundles'][0] == '2.0.0'
    assert methods(http) == [('GET', '/bundle'), ('GET', '/bundle/lookup'), ('POST', '/bundle')]
    lookup_call = http.calls[1].request
    assert 'name=2.0.0' in lookup_call.url and 'app_id=%s' % APP in lookup_call.url
    post = [call.request for call in http.calls if call.request.method == 'POST'][0]
    assert json.loads(post.body) == dict(app_id=APP, session_key=SESSION_KEY, **REGISTER)


def test_register_name_held_by_a_deleted_bundle_fails_before_the_post(http):
    serve(http, SIX_DESC)
    http.add(responses.GET, URL + '/bundle/lookup', json=dict(exists=True, id=7, name='2.0.0', deleted=True))
    result = run_module(**REGISTER)
    assert result['failed'] and result['changed'] is False
    assert 'a deleted bundle used this version' in result['msg'] and 'Register a new version' in result['msg']
    assert methods(http) == [('GET', '/bundle'), ('GET', '/bundle/lookup')]


def test_register_check_mode_sends_nothing(http):
    serve(http, SIX_DESC)
    http.add(responses.GET, URL + '/bundle/lookup', status=404, json=NO_LOOKUP)
    result = run_module(check_mode=True, **REGISTER)
    assert result['changed'] is True
    assert result['bundle']['version'] == '2.0.0' and result['bundle']['id'] is None
    assert methods(http) == [('GET', '/bundle'), ('GET', '/bundle/lookup')]


def test_register_same_bundle_again_is_unchanged_with_one_request(http):
    serve(http, [created_row()] + SIX_DESC)
    result = run_module(**REGISTER)
    assert result['changed'] is False and result['bundle']['id'] == 99
    assert methods(http) == [('GET', '/bundle')]


@pytest.mark.parametrize('field, value', [('checksum', 'other'), ('external_url', 'https://cdn.example.com/elsewhere.zip')])
def test_register_conflicting_bundle_fails(http, field, value):
    existing = created_row()
    existing[field] = value
    serve(http, [existing])
    result = run_module(**REGISTER)
    assert result['failed'] and 'already exists' in result['msg'] and field in result['msg']
    assert methods(http) == [('GET', '/bundle')]


def test_register_over_uploaded_bundle_fails(http):
    serve(http, [bundle_row(99, '2.0.0', '2026-02-01T00:00:00+00:00')])
    result = run_module(**REGISTER)
    assert result['failed'] and 'different external_url' in result['msg']


@pytest.mark.parametrize('message, fragment', [
    ('Cannot create bundle', "keeps a deleted bundle's name reserved"),
    ("You can't access this app", 'app.upload_bundle'),
])
def test_register_cannot_create_bundle_is_explained(http, message, fragment):
    serve(http, SIX_DESC)
    http.add(responses.GET, URL + '/bundle/lookup', status=404, json=NO_LOOKUP)
    http.add(responses.POST, URL + '/bundle', status=400, json=dict(error='cannot_create_bundle', message=message, moreInfo={}))
    result = run_module(**REGISTER)
    assert result['failed'] and fragment in result['msg']
    assert result['status'] == 400 and result['error'] == 'cannot_create_bundle'
    assert result['changed'] is True  # the POST was sent


def test_register_encryption_required_says_what_to_do(http):
    serve(http, SIX_DESC)
    http.add(responses.GET, URL + '/bundle/lookup', status=404, json=NO_LOOKUP)
    http.add(responses.POST, URL + '/bundle', status=400,
             json=dict(error='encryption_required', message='Encryption is required', moreInfo={}))
    result = run_module(session_key=SESSION_KEY, **REGISTER)
    assert result['failed'] and result['error'] == 'encryption_required'
    assert 'requires encrypted bundles' in result['msg'] and 'with or without session_key' in result['msg']
    assert 'Capgo CLI' in result['msg']


def test_register_on_api_without_endpoint_is_explained(http):
    serve(http, SIX_DESC)
    http.add(responses.GET, URL + '/bundle/lookup', status=404, json=NO_LOOKUP)
    http.add(responses.POST, URL + '/bundle', status=404, json=NO_LOOKUP)
    result = run_module(**REGISTER)
    assert result['failed'] and 'no POST /bundle endpoint' in result['msg'] and result['status'] == 404


def test_register_lost_answer_confirmed_by_a_read_is_not_resent(http):
    http.add(responses.GET, URL + '/bundle', json=SIX_DESC)
    http.add(responses.GET, URL + '/bundle/lookup', status=404, json=NO_LOOKUP)
    http.add(responses.POST, URL + '/bundle', body=requests.exceptions.ConnectionError('reset'))
    http.add(responses.GET, URL + '/bundle', json=[created_row()] + SIX_DESC)
    result = run_module(**REGISTER)
    assert result['changed'] is True and result['bundle']['id'] == 99
    assert [method for method, path in methods(http)].count('POST') == 1


def test_register_lost_answer_not_applied_is_sent_again(http):
    http.add(responses.GET, URL + '/bundle', json=SIX_DESC)
    http.add(responses.GET, URL + '/bundle/lookup', status=404, json=NO_LOOKUP)
    http.add(responses.POST, URL + '/bundle', status=503, json=dict(error='service_unavailable', message='Unavailable'))
    http.add(responses.POST, URL + '/bundle', json=dict(status='success', bundle=created_row()))
    result = run_module(**REGISTER)
    assert result['changed'] is True and result['bundle']['id'] == 99
    assert [method for method, path in methods(http)].count('POST') == 2


def test_register_lost_answer_holding_other_content_fails(http):
    http.add(responses.GET, URL + '/bundle', json=SIX_DESC)
    http.add(responses.GET, URL + '/bundle/lookup', status=404, json=NO_LOOKUP)
    http.add(responses.POST, URL + '/bundle', body=requests.exceptions.ConnectionError('reset'))
    http.add(responses.GET, URL + '/bundle', json=[created_row(checksum='someone-else')] + SIX_DESC)
    result = run_module(**REGISTER)
    assert result['failed'] and 'already exists' in result['msg'] and result['changed'] is True


def test_register_encryption_required_without_session_key_says_to_encrypt(http):
    serve(http, SIX_DESC)
    http.add(responses.GET, URL + '/bundle/lookup', status=404, json=NO_LOOKUP)
    http.add(responses.POST, URL + '/bundle', status=400,
             json=dict(error='encryption_required', message='Please upload an encrypted bundle with a session_key.', moreInfo={}))
    result = run_module(**REGISTER)
    assert result['failed'] and result['error'] == 'encryption_required'
    assert 'register it with the session_key the CLI prints' in result['msg']
