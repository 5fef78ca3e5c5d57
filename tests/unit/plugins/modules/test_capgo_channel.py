# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""capgo_channel with the HTTP layer faked: the exact calls each situation sends."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json

import pytest
import requests
import responses

from ansible.module_utils.six.moves.urllib.parse import parse_qs, urlparse
from ansible.module_utils.testing import patch_module_args

from ansible_collections.capgo.cloud.plugins.module_utils.resources import normalize_channel, normalize_rollout
from ansible_collections.capgo.cloud.plugins.modules import capgo_channel
from ansible_collections.capgo.cloud.tests.unit.plugins.modules.module_exits import ModuleExit, patch_exits

URL = 'https://capgo.test'
KEY = 'c0ffee00-secret-key-0000-000000000042'
APP = 'com.example.app'


@pytest.fixture(autouse=True)
def fake_exits(monkeypatch):
    patch_exits(monkeypatch)
    monkeypatch.setattr(capgo_channel.time, 'sleep', lambda seconds: None)


def item(name, bundle='1.0.0', public=False, generation='current', rollout=None, ident=1, **settings):
    """A GET /channel item as the API of that generation returns it."""
    row = dict(id=ident, name=name, app_id=APP, created_at='2026-01-01T00:00:00+00:00', updated_at='2026-01-01T00:00:00+00:00',
               public=public, allow_device_self_set=False, allow_emulator=True, allow_dev=True, allow_device=True, allow_prod=True,
               disableAutoUpdate='major', disableAutoUpdateUnderNative=True)
    row.update(settings)
    if generation == 'classic':
        row['version'] = dict(name=bundle or 'unknown', id=7)
        return row
    row['version'] = dict(name=bundle, id=7) if bundle else None
    row.update(rollout_version=None, rollout_id='r-1', rollout_version_info=None, rolloutPercentageBps=0, rolloutEnabled=False,
               rolloutPausedAt=None, rolloutPauseReason=None, rolloutCacheTtlSeconds=2592000, autoPauseEnabled=False,
               autoPauseWindowMinutes=60, autoPauseFailureRateBps=None, autoPauseConfidence=0.95, autoPauseMinAttempts=None,
               autoPauseMinFailures=None, autoPauseAction='pause', autoPauseCooldownMinutes=60)
    if rollout:
        row.update(rollout_version=9, rollout_version_info=dict(name=rollout['bundle'], id=9), rolloutEnabled=True,
                   rolloutPercentageBps=rollout.get('bps', 500),
                   rolloutPausedAt='2026-02-01T00:00:00+00:00' if rollout.get('paused') else None)
    return row


class FakeCapgo(object):
    """GET/POST/DELETE /channel and GET /bundle over a dict of channel items; POST applies a few fields."""

    def __init__(self, rsps, channels=(), bundles=('1.0.0', '1.1.0'), post_status=200, post_body=None, delete_keeps=False):
        self.channels = dict((channel['name'], channel) for channel in channels)
        self.bundles = list(bundles)
        self.post_status = post_status
        self.post_body = post_body
        self.delete_keeps = delete_keeps
        self.calls = []
        for method in ('GET', 'POST', 'DELETE'):
            rsps.add_callback(method, URL + '/channel', callback=self.channel)
        rsps.add_callback('GET', URL + '/bundle', callback=self.bundle)

    def channel(self, request):
        body = json.loads(request.body) if request.body else None
        query = dict((key, values[0]) for key, values in parse_qs(urlparse(request.url).query).items())
        self.calls.append((request.method, body if body is not None else query))
        if request.method == 'GET':
            if 'channel' in query:
                if query['channel'] in self.channels:
                    return 200, {}, json.dumps(self.channels[query['channel']])
                return 400, {}, json.dumps(dict(error='cannot_find_version', message='Cannot find version'))
            return 200, {}, json.dumps(list(self.channels.values()))
        if request.method == 'POST':
            if self.post_status != 200:
                return self.post_status, {}, json.dumps(self.post_body)
            self.apply(body)
            return 200, {}, json.dumps(dict(status='ok'))
        if body['channel'] not in self.channels:
            return 400, {}, json.dumps(dict(error='cannot_find_channel', message='Cannot find channel'))
        if not self.delete_keeps:
            del self.channels[body['channel']]
        return 200, {}, json.dumps(dict(status='ok'))

    def apply(self, body):
        name = body['channel']
        row = self.channels.get(name) or item(name, bundle=None, ident=len(self.channels) + 1)
        for key in ('public', 'allow_dev', 'allow_emulator', 'disableAutoUpdate'):
            if key in body:
                row[key] = body[key]
        if 'version' in body:
            row['version'] = None if body['version'] == 'unknown' else dict(name=body['version'], id=8)
        if body.get('public'):
            for other in self.channels.values():
                other['public'] = False
        if 'rolloutVersion' in body:
            row.update(rollout_version=9, rollout_version_info=dict(name=body['rolloutVersion'], id=9))
        for wire in ('rolloutEnabled', 'rolloutPercentageBps', 'rolloutCacheTtlSeconds', 'autoPauseEnabled', 'autoPauseFailureRateBps'):
            if wire in body:
                row[wire] = body[wire]
        if 'rolloutPaused' in body:
            row['rolloutPausedAt'] = '2026-03-01T00:00:00+00:00' if body['rolloutPaused'] else None
        if body.get('promoteToStable'):
            row['version'] = row['rollout_version_info']
        if body.get('promoteToStable') or body.get('rollback'):
            row.update(rollout_version=None, rollout_version_info=None, rolloutEnabled=False, rolloutPercentageBps=0, rolloutPausedAt=None)
        self.channels[name] = row

    def bundle(self, request):
        self.calls.append(('GET /bundle', None))
        rows = [dict(id=index, app_id=APP, name=name) for index, name in enumerate(self.bundles)]
        return 200, {}, json.dumps(rows)

    def writes(self):
        return [(method, body) for method, body in self.calls if method in ('POST', 'DELETE')]


def run_module(check_mode=False, **args):
    args.setdefault('app_id', APP)
    args.setdefault('name', 'production')
    args.setdefault('api_url', URL)
    args.setdefault('api_key', KEY)
    args.setdefault('api_retries', 2)
    if check_mode:
        args['_ansible_check_mode'] = True
    with patch_module_args(args):
        with pytest.raises(ModuleExit) as caught:
            capgo_channel.main()
    result = caught.value.result
    assert KEY not in json.dumps(result)
    return result


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


# -- plain channels --------------------------------------------------------------------------------

@pytest.mark.parametrize('generation', ['current', 'classic'])
def test_unchanged_is_one_get_and_no_write(rsps, generation):
    api = FakeCapgo(rsps, [item('production', generation=generation, public=True)])
    result = run_module(bundle='1.0.0', public=True, allow_dev=True, disable_auto_update='major')
    assert result['changed'] is False
    assert [method for method, dummy in api.calls] == ['GET']
    assert result['diff'] == dict(before=dict(bundle='1.0.0', public=True, allow_dev=True, disable_auto_update='major'),
                                  after=dict(bundle='1.0.0', public=True, allow_dev=True, disable_auto_update='major'))


@pytest.mark.parametrize('generation', ['current', 'classic'])
def test_settings_only_update_keeps_the_bundle(rsps, generation):
    api = FakeCapgo(rsps, [item('production', generation=generation)])
    result = run_module(allow_dev=False)
    body = dict(app_id=APP, channel='production', allow_dev=False)
    if generation == 'classic':
        body['version'] = '1.0.0'
    assert api.writes() == [('POST', body)]
    assert result['changed'] is True
    assert result['channel']['bundle'] == '1.0.0'
    assert result['diff'] == dict(before=dict(allow_dev=True), after=dict(allow_dev=False))


def test_classic_channel_without_bundle_sends_unknown(rsps):
    api = FakeCapgo(rsps, [item('production', bundle=None, generation='classic')])
    run_module(allow_dev=False)
    assert api.writes()[0][1]['version'] == 'unknown'


@pytest.mark.parametrize('generation', ['current', 'classic'])
def test_builtin_unassigns_with_unknown(rsps, generation):
    api = FakeCapgo(rsps, [item('production', generation=generation)])
    result = run_module(bundle='builtin')
    assert api.writes() == [('POST', dict(app_id=APP, channel='production', version='unknown'))]
    assert result['diff'] == dict(before=dict(bundle='1.0.0'), after=dict(bundle=None))
    assert ('GET /bundle', None) not in api.calls  # nothing to look up


def test_builtin_on_a_channel_without_bundle_is_unchanged(rsps):
    api = FakeCapgo(rsps, [item('production', bundle=None)])
    assert run_module(bundle='builtin')['changed'] is False
    assert api.writes() == []


def test_check_mode_predicts_without_writing(rsps):
    api = FakeCapgo(rsps, [item('production')])
    predicted = run_module(check_mode=True, bundle='1.1.0', disable_auto_update='none')
    assert api.writes() == []
    real = run_module(bundle='1.1.0', disable_auto_update='none')
    assert predicted['changed'] is True and real['changed'] is True
    assert predicted['diff'] == real['diff']
    for key in ('bundle', 'disable_auto_update', 'public', 'allow_dev', 'rollout'):
        assert predicted['channel'][key] == real['channel'][key]


def test_create_sends_platform_flags_and_predicts_defaults(rsps):
    api = FakeCapgo(rsps, [item('other')])
    predicted = run_module(check_mode=True, name='beta', bundle='1.0.0', ios=True, android=False)
    assert api.writes() == []
    assert predicted['channel']['allow_device_self_set'] is False and predicted['channel']['rollout'] is None
    result = run_module(name='beta', bundle='1.0.0', ios=True, android=False)
    assert api.writes() == [('POST', dict(app_id=APP, channel='beta', version='1.0.0', ios=True, android=False))]
    assert result['diff']['before'] == {} and result['diff']['after']['bundle'] == '1.0.0'


def test_platform_flags_on_existing_channel_warn_and_do_not_write(rsps):
    api = FakeCapgo(rsps, [item('production')])
    with pytest.raises(ModuleExit) as caught:
        with patch_module_args(dict(app_id=APP, name='production', api_url=URL, api_key=KEY, ios=False)):
            capgo_channel.main()
    assert caught.value.result['changed'] is False
    assert any('cannot be verified' in warning for warning in caught.value.result.get('warnings', []))
    assert api.writes() == []


def test_create_false_fails_without_writing(rsps):
    api = FakeCapgo(rsps, [])
    result = run_module(name='prodution', create=False, public=True)
    assert result['failed'] and 'create=false' in result['msg']
    assert api.writes() == []


@pytest.mark.parametrize('name', ['production', 'new'])
def test_unknown_bundle_fails_before_writing(rsps, name):
    api = FakeCapgo(rsps, [item('production')])
    result = run_module(name=name, bundle='9.9.9')
    assert result['failed']
    assert result['msg'].startswith('bundle 9.9.9 does not exist in app com.example.app')
    assert api.writes() == []


def test_public_reports_demoted_channels(rsps):
    api = FakeCapgo(rsps, [item('production'), item('legacy', public=True, ident=2)])
    predicted = run_module(check_mode=True, public=True)
    assert predicted['demoted'] == ['legacy'] and api.writes() == []
    result = run_module(public=True)
    assert result['demoted'] == ['legacy']
    assert api.channels['legacy']['public'] is False


def test_classic_new_public_channel_is_nudged_and_awaited(rsps, monkeypatch):
    api = FakeCapgo(rsps, [item('legacy', public=True, generation='classic', ident=2)])
    original = api.apply

    def classic_apply(body):
        # classic: an INSERT demotes nothing; an UPDATE demotes the others (immediately, here)
        if body['channel'] in api.channels:
            original(body)
        else:
            api.channels[body['channel']] = item(body['channel'], bundle=body.get('version'), public=body.get('public', False),
                                                 generation='classic', ident=5)
    monkeypatch.setattr(api, 'apply', classic_apply)
    result = run_module(bundle='1.0.0', public=True)
    assert [body for dummy, body in api.writes()] == [dict(app_id=APP, channel='production', version='1.0.0', public=True)] * 2
    assert result['demoted'] == ['legacy']


def test_lingering_public_channel_warns(rsps, monkeypatch):
    api = FakeCapgo(rsps, [item('production', generation='classic'), item('android-only', public=True, generation='classic', ident=2)])
    monkeypatch.setattr(capgo_channel, 'DEMOTION_WAIT', 0)
    original = api.apply

    def no_demotion(body):
        others = dict((name, row['public']) for name, row in api.channels.items())
        original(body)
        for name, public in others.items():
            if name != body['channel']:
                api.channels[name]['public'] = public
    monkeypatch.setattr(api, 'apply', no_demotion)
    with pytest.raises(ModuleExit) as caught:
        with patch_module_args(dict(app_id=APP, name='production', api_url=URL, api_key=KEY, public=True)):
            capgo_channel.main()
    result = caught.value.result
    assert result['demoted'] == []
    assert any('android-only' in warning for warning in result['warnings'])


def test_api_error_keeps_the_client_format(rsps):
    FakeCapgo(rsps, [item('production')], post_status=400,
              post_body=dict(error='cannot_access_app', message="You can't access this app"))
    result = run_module(allow_dev=False)
    assert result['failed']
    assert result['msg'].startswith("Capgo API POST /channel failed: HTTP 400 cannot_access_app: You can't access this app")
    assert (result['status'], result['error'], result['api_message']) == (400, 'cannot_access_app', "You can't access this app")


@pytest.mark.parametrize('args, message', [
    (dict(app_id='nope'), 'reverse-domain'),
    (dict(name=' '), 'non-empty channel name'),
    (dict(bundle=''), 'bundle must be a bundle name'),
    (dict(rollout=dict(bundle='1.1.0', percentage=100.5)), 'from 0 to 100'),
    (dict(rollout=dict(bundle='1.1.0', percentage=5.555)), 'at most two decimals'),
    (dict(rollout=dict(bundle='1.1.0', percentage=5, cache_ttl=59)), 'rollout.cache_ttl must be from 60 to 31536000'),
    (dict(rollout=dict(bundle='1.1.0', percentage=5, auto_pause=dict(confidence=1.0))), 'strictly between 0 and 1'),
    (dict(rollout=dict(bundle='1.1.0', percentage=5, auto_pause=dict(window_minutes=0))), 'window_minutes must be from 1 to 10080'),
    (dict(rollout=dict(bundle='1.1.0', percentage=5, auto_pause=dict(cooldown_minutes=10081))), 'cooldown_minutes'),
    (dict(rollout=dict(bundle='1.1.0', percentage=5, auto_pause=dict(min_failures=-1))), 'min_failures must be 0 or more'),
    (dict(rollout=dict(bundle='1.1.0', percentage=5, auto_pause=dict(failure_rate=101))), 'failure_rate'),
    (dict(rollout=dict(state='absent', percentage=5)), 'takes no other rollout option (got percentage)'),
    (dict(bundle='1.1.0', rollout=dict(bundle='1.1.0', percentage=5)), 'must differ from the stable bundle'),
    (dict(bundle='builtin', rollout=dict(bundle='1.1.0', percentage=5)), 'needs a stable bundle'),
    (dict(state='absent', rollout=dict(state='absent')), 'state=absent'),
])
def test_bad_input_fails_before_any_request(rsps, args, message):
    api = FakeCapgo(rsps, [item('production')])
    result = run_module(**args)
    assert result['failed'] and message in result['msg'], result['msg']
    assert api.calls == []


# -- delete ---------------------------------------------------------------------------------------

def test_delete_sends_one_json_body_and_verifies(rsps):
    api = FakeCapgo(rsps, [item('production')])
    result = run_module(state='absent')
    assert result['changed'] is True and result['channel'] is None
    assert api.writes() == [('DELETE', dict(app_id=APP, channel='production'))]
    assert [method for method, dummy in api.calls] == ['GET', 'DELETE', 'GET']
    again = run_module(state='absent')
    assert again['changed'] is False and api.writes() == [('DELETE', dict(app_id=APP, channel='production'))]


def test_delete_in_check_mode_writes_nothing(rsps):
    api = FakeCapgo(rsps, [item('production')])
    result = run_module(check_mode=True, state='absent')
    assert result['changed'] is True and api.writes() == []
    assert result['diff']['before']['bundle'] == '1.0.0' and result['diff']['after'] == {}


def test_delete_that_the_api_ignores_fails_clearly(rsps):
    FakeCapgo(rsps, [item('production', generation='classic')], delete_keeps=True)
    result = run_module(state='absent')
    assert result['failed'] and 'still exists' in result['msg']


def test_delete_after_dropped_connection_counts_as_done(rsps):
    channels = [item('production')]
    rsps.add('GET', URL + '/channel', json=channels[0])
    rsps.add('DELETE', URL + '/channel', body=requests.exceptions.ConnectionError('connection reset'))
    rsps.add('DELETE', URL + '/channel', status=400, json=dict(error='cannot_find_channel', message='Cannot find channel'))
    rsps.add('GET', URL + '/channel', status=400, json=dict(error='cannot_find_version', message='Cannot find version'))
    result = run_module(state='absent')
    assert result['changed'] is True and not result.get('failed')
    assert [call.request.method for call in rsps.calls] == ['GET', 'DELETE', 'DELETE', 'GET']


def test_deleting_a_missing_channel_the_first_time_is_unchanged(rsps):
    api = FakeCapgo(rsps, [])
    assert run_module(state='absent')['changed'] is False
    assert api.writes() == []


# -- rollouts -------------------------------------------------------------------------------------

def test_normalize_rollout_reads_option_names():
    row = item('production', rollout=dict(bundle='1.1.0', bps=2550, paused=True))
    row.update(autoPauseEnabled=True, autoPauseFailureRateBps=250)
    assert normalize_rollout(row) == dict(bundle='1.1.0', percentage=25.5, paused=True, cache_ttl=2592000, auto_pause=dict(
        enabled=True, window_minutes=60, failure_rate=2.5, confidence=0.95, min_attempts=None, min_failures=None,
        action='pause', cooldown_minutes=60))
    disabled = item('production', rollout=dict(bundle='1.1.0'))
    disabled['rolloutEnabled'] = False
    assert normalize_rollout(disabled) is None
    assert normalize_rollout(item('production', generation='classic')) is None
    assert 'rollout' not in normalize_channel(item('production', generation='classic'))


def test_start_rollout_sends_one_post(rsps):
    api = FakeCapgo(rsps, [item('production')])
    predicted = run_module(check_mode=True, rollout=dict(bundle='1.1.0', percentage=5, auto_pause=dict(enabled=True, failure_rate=2.5)))
    result = run_module(rollout=dict(bundle='1.1.0', percentage=5, auto_pause=dict(enabled=True, failure_rate=2.5)))
    assert api.writes() == [('POST', dict(app_id=APP, channel='production', rolloutVersion='1.1.0', rolloutEnabled=True,
                                          rolloutPaused=False, rolloutPercentageBps=500, autoPauseEnabled=True,
                                          autoPauseFailureRateBps=250))]
    assert predicted['diff'] == result['diff']
    assert result['diff']['before'] == dict(rollout=None)
    assert result['channel']['rollout']['percentage'] == 5.0 and result['channel']['rollout']['bundle'] == '1.1.0'
    assert predicted['channel']['rollout'] == result['channel']['rollout']


def test_ramp_pause_and_rerun(rsps):
    api = FakeCapgo(rsps, [item('production', rollout=dict(bundle='1.1.0', bps=500))])
    assert run_module(rollout=dict(bundle='1.1.0', percentage=5.0))['changed'] is False
    assert api.writes() == []
    run_module(rollout=dict(bundle='1.1.0', percentage=25))
    run_module(rollout=dict(paused=True))
    assert [body for dummy, body in api.writes()] == [
        dict(app_id=APP, channel='production', rolloutPercentageBps=2500),
        dict(app_id=APP, channel='production', rolloutPaused=True)]


def test_promote(rsps):
    api = FakeCapgo(rsps, [item('production', rollout=dict(bundle='1.1.0', bps=2500))])
    result = run_module(bundle='1.1.0', rollout=dict(state='absent'))
    assert api.writes() == [('POST', dict(app_id=APP, channel='production', promoteToStable=True))]
    assert [method for method, dummy in api.calls] == ['GET', 'POST', 'GET']  # the candidate needs no bundle lookup
    assert result['diff'] == dict(before=dict(bundle='1.0.0', rollout=normalize_rollout(item('production', rollout=dict(bundle='1.1.0', bps=2500)))),
                                  after=dict(bundle='1.1.0', rollout=None))
    assert run_module(bundle='1.1.0', rollout=dict(state='absent'))['changed'] is False


def test_rollback(rsps):
    api = FakeCapgo(rsps, [item('production', rollout=dict(bundle='1.1.0'))])
    result = run_module(rollout=dict(state='absent'))
    assert api.writes() == [('POST', dict(app_id=APP, channel='production', rollback=True))]
    assert result['channel']['bundle'] == '1.0.0' and result['channel']['rollout'] is None


def test_new_stable_bundle_ends_a_running_rollout_explicitly(rsps):
    api = FakeCapgo(rsps, [item('production', rollout=dict(bundle='1.1.0'))], bundles=('1.0.0', '1.0.1', '1.1.0'))
    result = run_module(bundle='1.0.1')
    assert api.writes() == [('POST', dict(app_id=APP, channel='production', version='1.0.1', rollback=True))]
    assert result['diff']['after'] == dict(bundle='1.0.1', rollout=None)


def test_new_stable_bundle_keeps_a_rollout_the_task_keeps(rsps):
    api = FakeCapgo(rsps, [item('production', rollout=dict(bundle='1.1.0'))], bundles=('1.0.0', '1.0.1', '1.1.0'))
    run_module(bundle='1.0.1', rollout=dict(bundle='1.1.0'))
    assert api.writes() == [('POST', dict(app_id=APP, channel='production', version='1.0.1', rolloutVersion='1.1.0'))]


@pytest.mark.parametrize('rollout, message', [
    (dict(percentage=5), 'rollout.bundle is required to start a rollout'),
    (dict(bundle='1.1.0'), 'rollout.percentage is required'),
    (dict(bundle='1.0.0', percentage=5), 'must differ from the stable bundle'),
])
def test_rollout_checks_against_the_channel(rsps, rollout, message):
    api = FakeCapgo(rsps, [item('production')])
    result = run_module(rollout=rollout)
    assert result['failed'] and message in result['msg']
    assert api.writes() == []


def test_rollout_on_classic_fails_clearly(rsps):
    api = FakeCapgo(rsps, [item('production', generation='classic')])
    result = run_module(rollout=dict(bundle='1.1.0', percentage=5))
    assert result['failed'] and 'classic Capgo API generation' in result['msg']
    assert api.writes() == []


def test_rollout_on_a_channel_to_create_fails(rsps):
    api = FakeCapgo(rsps, [])
    result = run_module(rollout=dict(bundle='1.1.0', percentage=5), bundle='1.0.0')
    assert result['failed'] and 'only for an existing channel' in result['msg']
    assert api.writes() == []


def test_the_channel_returned_can_be_written_back(rsps):
    api = FakeCapgo(rsps, [item('production', rollout=dict(bundle='1.1.0', bps=1234))])
    first = run_module()
    channel = copy.deepcopy(first['channel'])
    args = dict((key, value) for key, value in channel.items() if key not in ('id', 'app_id', 'created_at', 'updated_at'))
    assert run_module(**args)['changed'] is False
    assert api.writes() == []
