# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""capgo_channel with the HTTP layer faked: the exact calls each situation sends, on the three API generations."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json

import pytest
import requests
import responses

from ansible.module_utils.six.moves.urllib.parse import parse_qs, urlparse
from ansible.module_utils.testing import patch_module_args

from ansible_collections.capgo.cloud.plugins.module_utils import channels
from ansible_collections.capgo.cloud.plugins.module_utils.channels import normalize_channel, normalize_rollout
from ansible_collections.capgo.cloud.plugins.modules import capgo_channel
from ansible_collections.capgo.cloud.tests.unit.plugins.modules.module_exits import ModuleExit, patch_exits

URL = 'https://capgo.test'
KEY = 'c0ffee00-secret-key-0000-000000000042'
APP = 'com.example.app'
GENERATIONS = ['latest', 'current', 'classic']


@pytest.fixture(autouse=True)
def fake_exits(monkeypatch):
    patch_exits(monkeypatch)
    monkeypatch.setattr(channels.time, 'sleep', lambda seconds: None)


def item(name, bundle='1.0.0', public=False, generation='current', rollout=None, ident=1, **settings):
    """A GET /channel item as the API of that generation returns it."""
    row = dict(id=ident, name=name, app_id=APP, created_at='2026-01-01T00:00:00+00:00', updated_at='2026-01-01T00:00:00+00:00',
               public=public, allow_device_self_set=False, allow_emulator=True, allow_dev=True, allow_device=True, allow_prod=True,
               disableAutoUpdate='major', disableAutoUpdateUnderNative=True)
    if generation == 'classic':
        row['version'] = dict(name=bundle or 'unknown', id=7)
        row.update(settings)
        return row
    row['version'] = dict(name=bundle, id=7) if bundle else None
    row.update(rollout_version=None, rollout_id='r-1', rollout_version_info=None, rolloutPercentageBps=0, rolloutEnabled=False,
               rolloutPausedAt=None, rolloutPauseReason=None, rolloutCacheTtlSeconds=2592000, autoPauseEnabled=False,
               autoPauseWindowMinutes=60, autoPauseFailureRateBps=None, autoPauseConfidence=0.95, autoPauseMinAttempts=None,
               autoPauseMinFailures=None, autoPauseAction='pause', autoPauseCooldownMinutes=60)
    if generation == 'latest':
        row.update(ios=True, android=True, updatePackage='all')
    if rollout:
        row.update(rollout_version=9, rollout_version_info=dict(name=rollout['bundle'], id=9), rolloutEnabled=True,
                   rolloutPercentageBps=rollout.get('bps', 500),
                   rolloutPausedAt='2026-02-01T00:00:00+00:00' if rollout.get('paused') else None)
    row.update(settings)
    return row


class FakeCapgo(object):
    """GET/POST/DELETE /channel and GET /bundle over a dict of channel items; POST applies the fields it knows.

    ``generation`` decides the rules that differ: latest ends a rollout when the stable bundle changes without the
    candidate being named, and knows advanceRollout. ``lose_answers``: how many POST/DELETE answers to lose
    (applied, then the connection drops). ``post_error``: an (status, body) answer to every POST.
    """

    def __init__(self, rsps, channels_=(), bundles=('1.0.0', '1.1.0'), generation='current', post_error=None,
                 delete_keeps=False, lose_answers=0):
        self.channels = dict((channel['name'], channel) for channel in channels_)
        self.bundles = list(bundles)
        self.generation = generation
        self.post_error = post_error
        self.delete_keeps = delete_keeps
        self.lose_answers = lose_answers
        self.calls = []
        for method in ('GET', 'POST', 'DELETE'):
            rsps.add_callback(method, URL + '/channel', callback=self.channel)
        rsps.add_callback('GET', URL + '/bundle', callback=self.bundle)

    def answer(self, status, body):
        if self.lose_answers:
            self.lose_answers -= 1
            raise requests.exceptions.ConnectionError('connection reset by peer')
        return status, {}, json.dumps(body)

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
            if self.post_error is not None:
                return self.post_error[0], {}, json.dumps(self.post_error[1])
            error = self.apply(body)
            if error:
                return 400, {}, json.dumps(dict(error=error, message=error))
            return self.answer(200, dict(status='ok'))
        if body['channel'] not in self.channels:
            return 400, {}, json.dumps(dict(error='cannot_find_channel', message='Cannot find channel'))
        if not self.delete_keeps:
            del self.channels[body['channel']]
        return self.answer(200, dict(status='ok'))

    def apply(self, body):
        name = body['channel']
        fresh = item(name, bundle=None, ident=len(self.channels) + 1, generation=self.generation)
        row = copy.deepcopy(self.channels.get(name) or fresh)
        target = row.get('rollout_version_info')
        if (body.get('promoteToStable') or body.get('rollback') or body.get('advanceRollout')) and not target:
            return 'missing_rollout_version'
        for key in ('public', 'allow_dev', 'allow_emulator', 'disableAutoUpdate', 'ios', 'android', 'updatePackage'):
            if key in body and (key in row or key == 'public'):
                row[key] = body[key]
        stable_before = row['version']
        if 'version' in body:
            row['version'] = None if body['version'] == 'unknown' else dict(name=body['version'], id=8)
        if body.get('public'):
            for other in self.channels.values():
                other['public'] = False
        if 'rolloutVersion' in body:
            if body.get('advanceRollout'):
                row['version'] = target
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
        if self.generation == 'latest' and row['version'] != stable_before and row['rollout_version_info'] == target \
                and target is not None:
            # 12.1 #3: a new stable bundle clears a leftover rollout (even one the write names again), keeping the percentage
            row.update(rollout_version=None, rollout_version_info=None, rolloutEnabled=False)
        self.channels[name] = row
        return None

    def bundle(self, request):
        self.calls.append(('GET /bundle', None))
        rows = [dict(id=index, app_id=APP, name=name) for index, name in enumerate(self.bundles)]
        return 200, {}, json.dumps(rows)

    def writes(self):
        return [(method, body) for method, body in self.calls if method in ('POST', 'DELETE')]

    def methods(self):
        return [method for method, dummy in self.calls]


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


def check_then_apply(**args):
    predicted = run_module(check_mode=True, **args)
    real = run_module(**args)
    assert predicted['changed'] == real['changed']
    assert predicted['diff'] == real['diff']
    assert predicted['demoted'] == real['demoted']
    for key in set(predicted['channel'] or {}) - set(('id', 'created_at', 'updated_at')):
        assert predicted['channel'][key] == real['channel'][key], key
    return predicted, real


# -- plain channels --------------------------------------------------------------------------------

@pytest.mark.parametrize('generation', GENERATIONS)
def test_unchanged_is_one_get_and_no_write(rsps, generation):
    api = FakeCapgo(rsps, [item('production', generation=generation, public=True)], generation=generation)
    result = run_module(bundle='1.0.0', public=True, allow_dev=True, disable_auto_update='major')
    assert result['changed'] is False
    assert api.methods() == ['GET']
    assert result['diff'] == dict(before=dict(bundle='1.0.0', public=True, allow_dev=True, disable_auto_update='major'),
                                  after=dict(bundle='1.0.0', public=True, allow_dev=True, disable_auto_update='major'))


@pytest.mark.parametrize('generation', GENERATIONS)
def test_settings_only_update_keeps_the_bundle(rsps, generation):
    api = FakeCapgo(rsps, [item('production', generation=generation)], generation=generation)
    result = run_module(allow_dev=False)
    body = dict(app_id=APP, channel='production', allow_dev=False)
    if generation == 'classic':
        body['version'] = '1.0.0'
    assert api.writes() == [('POST', body)]
    assert result['changed'] is True
    assert result['channel']['bundle'] == '1.0.0'
    assert result['diff'] == dict(before=dict(allow_dev=True), after=dict(allow_dev=False))


def test_classic_channel_without_bundle_sends_unknown(rsps):
    api = FakeCapgo(rsps, [item('production', bundle=None, generation='classic')], generation='classic')
    run_module(allow_dev=False)
    assert api.writes()[0][1]['version'] == 'unknown'


@pytest.mark.parametrize('generation', GENERATIONS)
def test_builtin_unassigns_with_unknown(rsps, generation):
    api = FakeCapgo(rsps, [item('production', generation=generation)], generation=generation)
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


def test_metadata_is_version_number(rsps):
    api = FakeCapgo(rsps, [item('production', generation='latest')], generation='latest')
    predicted, real = check_then_apply(disable_auto_update='metadata')
    assert api.writes() == [('POST', dict(app_id=APP, channel='production', disableAutoUpdate='version_number'))]
    assert real['channel']['disable_auto_update'] == 'version_number'
    assert real['diff']['after'] == dict(disable_auto_update='version_number')
    assert run_module(disable_auto_update='metadata')['changed'] is False
    assert len(api.writes()) == 1


def test_create_sends_platform_flags_and_predicts_defaults(rsps):
    api = FakeCapgo(rsps, [item('other')])
    predicted = run_module(check_mode=True, name='beta', bundle='1.0.0', ios=True, android=False)
    assert api.writes() == []
    assert predicted['channel']['allow_device_self_set'] is False and predicted['channel']['rollout'] is None
    assert 'ios' not in predicted['channel'] and 'update_package' not in predicted['channel']
    result = run_module(name='beta', bundle='1.0.0', ios=True, android=False)
    assert api.writes() == [('POST', dict(app_id=APP, channel='beta', version='1.0.0', ios=True, android=False))]
    assert result['diff']['before'] == {} and result['diff']['after']['bundle'] == '1.0.0'


def test_create_on_latest_predicts_platforms_and_update_package(rsps):
    api = FakeCapgo(rsps, [item('other', generation='latest')], generation='latest')
    predicted, real = check_then_apply(name='beta', bundle='1.0.0', android=False, update_package='delta')
    assert api.writes() == [('POST', dict(app_id=APP, channel='beta', version='1.0.0', android=False, updatePackage='delta'))]
    assert real['channel']['ios'] is True and real['channel']['android'] is False
    assert real['channel']['update_package'] == 'delta'
    assert real['diff']['after']['update_package'] == 'delta' and real['diff']['after']['android'] is False


@pytest.mark.parametrize('generation', ['current', 'classic'])
def test_platform_flags_on_existing_channel_warn_and_do_not_write(rsps, generation):
    api = FakeCapgo(rsps, [item('production', generation=generation)], generation=generation)
    result = run_module(ios=False)
    assert result['changed'] is False
    assert any('cannot be verified' in warning for warning in result.get('warnings', []))
    assert api.writes() == []


def test_platform_flags_on_latest_are_managed_without_warning(rsps):
    api = FakeCapgo(rsps, [item('production', generation='latest')], generation='latest')
    unchanged = run_module(ios=True, android=True)
    assert unchanged['changed'] is False and not unchanged.get('warnings') and api.writes() == []
    predicted, real = check_then_apply(android=False)
    assert real['diff'] == dict(before=dict(android=True), after=dict(android=False))
    assert api.writes() == [('POST', dict(app_id=APP, channel='production', android=False))]
    assert not real.get('warnings')
    # electron is never returned, even by latest: still create-only, and said so
    result = run_module(electron=False)
    assert result['changed'] is False and any('electron cannot be verified' in warning for warning in result['warnings'])


def test_update_package_is_managed_on_latest(rsps):
    api = FakeCapgo(rsps, [item('production', generation='latest')], generation='latest')
    predicted, real = check_then_apply(update_package='zip')
    assert api.writes() == [('POST', dict(app_id=APP, channel='production', updatePackage='zip'))]
    assert real['channel']['update_package'] == 'zip'
    again = run_module(update_package='zip')
    assert again['changed'] is False and len(api.writes()) == 1


@pytest.mark.parametrize('generation', ['current', 'classic'])
def test_update_package_fails_before_writing_where_the_api_has_none(rsps, generation):
    api = FakeCapgo(rsps, [item('production', generation=generation)], generation=generation)
    result = run_module(update_package='delta', allow_dev=False)
    assert result['failed'] and 'update_package is not supported by this Capgo (the %s API generation' % generation in result['msg']
    assert api.writes() == [] and result['changed'] is False
    # and for a new channel, told by the app's other channels
    result = run_module(name='beta', update_package='delta')
    assert result['failed'] and 'not supported' in result['msg'] and api.writes() == []


def test_update_package_on_the_first_channel_of_an_app(rsps):
    api = FakeCapgo(rsps, [])
    result = run_module(update_package='zip')
    assert result['failed'] and 'has no channel yet' in result['msg'] and api.writes() == []
    result = run_module(update_package='all')
    assert result['changed'] is True
    assert api.writes() == [('POST', dict(app_id=APP, channel='production'))]


@pytest.mark.parametrize('error, lacks', [('channel_zip_required', 'a full zip archive'),
                                          ('channel_delta_required', 'a delta manifest')])
def test_package_refusal_names_the_bundle_and_what_it_lacks(rsps, error, lacks):
    FakeCapgo(rsps, [item('production', generation='latest')], generation='latest',
              post_error=(400, dict(error=error, message='Bundle 1.1.0 is not compatible')))
    result = run_module(bundle='1.1.0', update_package='delta' if 'delta' in error else 'zip')
    assert result['failed'] and result['error'] == error and result['changed'] is True
    assert 'bundle 1.1.0 lacks %s' % lacks in result['msg']


def test_publicizing_without_the_right_names_it(rsps):
    FakeCapgo(rsps, [item('production', generation='latest')], generation='latest',
              post_error=(400, dict(error='cannot_access_app', message="You can't access this app")))
    result = run_module(public=True)
    assert result['failed'] and 'app.update_settings' in result['msg'] and result['error'] == 'cannot_access_app'
    assert result['msg'].startswith("Capgo API POST /channel failed: HTTP 400 cannot_access_app: You can't access this app")


DENIED = (400, dict(error='cannot_access_app', message="You can't access this app"))


@pytest.mark.parametrize('generation', ['current', 'latest'])
def test_changing_an_existing_channel_without_the_right_names_channel_update_settings(rsps, generation):
    FakeCapgo(rsps, [item('production', generation=generation)], generation=generation, post_error=DENIED)
    result = run_module(allow_dev=False)
    assert result['failed'] and result['changed'] is True and result['error'] == 'cannot_access_app'
    assert 'changing channel production needs the channel.update_settings right' in result['msg']
    assert 'promote_bundle' not in result['msg'] and 'app.update_settings' not in result['msg']


def test_publicizing_an_existing_channel_names_both_rights_on_latest(rsps):
    FakeCapgo(rsps, [item('production', generation='latest')], generation='latest', post_error=DENIED)
    result = run_module(public=True, bundle='1.1.0')
    assert 'channel.update_settings' in result['msg'] and 'channel.promote_bundle' in result['msg']
    assert 'making channel production public needs the app.update_settings right' in result['msg']


def test_creating_without_the_right_names_app_create_channel(rsps):
    FakeCapgo(rsps, [item('production')], post_error=DENIED)
    result = run_module(name='beta')
    assert 'creating channel beta needs the app.create_channel right' in result['msg']
    assert 'channel.update_settings' not in result['msg']


def test_classic_denial_has_no_rights_hint(rsps):
    FakeCapgo(rsps, [item('production', generation='classic')], generation='classic', post_error=DENIED)
    result = run_module(allow_dev=False)
    # classic has key modes, not rights: only the client's general advice
    assert result['msg'].startswith("Capgo API POST /channel failed: HTTP 400 cannot_access_app: You can't access this app")
    assert 'update_settings' not in result['msg'] and 'create_channel' not in result['msg']


def test_create_false_lists_the_existing_channels(rsps):
    api = FakeCapgo(rsps, [item('production'), item('beta', ident=2)])
    result = run_module(name='prodution', create=False, public=True)
    assert result['failed'] and 'create=false' in result['msg']
    assert 'Its channels: beta, production' in result['msg'] and result['channels'] == ['beta', 'production']
    assert 'status' not in result and 'error' not in result and 'api_message' not in result
    assert api.writes() == []
    FakeCapgo(rsps, [])
    rsps.reset()
    api = FakeCapgo(rsps, [])
    assert 'The app has no channels' in run_module(name='prodution', create=False)['msg']


@pytest.mark.parametrize('name', ['production', 'new'])
def test_unknown_bundle_fails_before_writing(rsps, name):
    api = FakeCapgo(rsps, [item('production')])
    result = run_module(name=name, bundle='9.9.9')
    assert result['failed']
    assert result['msg'].startswith('bundle 9.9.9 does not exist in app com.example.app')
    assert 'builtin' in result['msg']
    assert api.writes() == []


def test_unknown_rollout_bundle_gets_a_rollout_hint(rsps):
    api = FakeCapgo(rsps, [item('production')])
    result = run_module(rollout=dict(bundle='7.7.7', percentage=5))
    assert result['failed'] and result['msg'].startswith('bundle 7.7.7 does not exist in app com.example.app')
    assert 'rollout.bundle names the candidate' in result['msg'] and 'builtin' not in result['msg']
    assert api.writes() == []


@pytest.mark.parametrize('generation', ['latest', 'current'])
def test_public_reports_demoted_channels(rsps, generation):
    api = FakeCapgo(rsps, [item('production', generation=generation), item('legacy', public=True, ident=2, generation=generation)],
                    generation=generation)
    predicted = run_module(check_mode=True, public=True)
    assert predicted['demoted'] == ['legacy'] and api.writes() == []
    result = run_module(public=True)
    assert result['demoted'] == ['legacy']
    assert api.channels['legacy']['public'] is False
    assert api.methods() == ['GET', 'GET', 'GET', 'GET', 'POST', 'GET']


def test_classic_new_public_channel_demotes_the_others_explicitly(rsps, monkeypatch):
    api = FakeCapgo(rsps, [item('legacy', public=True, generation='classic', ident=2, bundle='1.0.0'),
                           item('beta', generation='classic', ident=3, bundle=None)], generation='classic')

    def classic_apply(body):
        # classic: an INSERT demotes nothing (and neither does anything else here)
        row = api.channels.get(body['channel']) or item(body['channel'], bundle=None, generation='classic', ident=5)
        for key in ('public', 'allow_dev'):
            if key in body:
                row[key] = body[key]
        row['version'] = dict(name=body['version'], id=8)
        api.channels[body['channel']] = row
    monkeypatch.setattr(api, 'apply', classic_apply)
    predicted = run_module(check_mode=True, bundle='1.0.0', public=True)
    result = run_module(bundle='1.0.0', public=True)
    assert [body for dummy, body in api.writes()] == [
        dict(app_id=APP, channel='production', version='1.0.0', public=True),
        dict(app_id=APP, channel='legacy', public=False, version='1.0.0')]
    assert predicted['demoted'] == result['demoted'] == ['legacy']
    assert api.channels['legacy']['public'] is False and api.channels['legacy']['version']['name'] == '1.0.0'


def test_classic_new_single_platform_public_channel_warns_instead(rsps):
    api = FakeCapgo(rsps, [item('legacy', public=True, generation='classic', ident=2)], generation='classic')

    def insert(body):
        api.channels[body['channel']] = item(body['channel'], public=True, generation='classic', ident=5)
    api.apply = insert
    result = run_module(public=True, ios=True, android=False)
    assert len(api.writes()) == 1 and result['demoted'] == []
    assert any('legacy' in warning and 'one platform only' in warning for warning in result['warnings'])


def test_lingering_public_channel_warns(rsps, monkeypatch):
    api = FakeCapgo(rsps, [item('production', generation='classic'), item('android-only', public=True, generation='classic', ident=2)],
                    generation='classic')
    monkeypatch.setattr(channels, 'DEMOTION_WAIT', 0)
    original = api.apply

    def no_demotion(body):
        others = dict((name, row['public']) for name, row in api.channels.items())
        original(body)
        for name, public in others.items():
            if name != body['channel']:
                api.channels[name]['public'] = public
    monkeypatch.setattr(api, 'apply', no_demotion)
    result = run_module(public=True)
    assert result['demoted'] == []
    assert any('android-only' in warning for warning in result['warnings'])


def test_api_error_keeps_the_client_format(rsps):
    FakeCapgo(rsps, [item('production')], post_error=(400, dict(error='cannot_access_app', message="You can't access this app")))
    result = run_module(allow_dev=False)
    assert result['failed']
    assert result['msg'].startswith("Capgo API POST /channel failed: HTTP 400 cannot_access_app: You can't access this app")
    assert 'app.update_settings' not in result['msg']
    assert (result['status'], result['error'], result['api_message']) == (400, 'cannot_access_app', "You can't access this app")
    assert result['changed'] is True  # the POST was sent: the module cannot know what a failed write left


def test_failed_read_back_after_a_write_is_changed(rsps):
    rsps.add('GET', URL + '/channel', json=item('production'))
    rsps.add('POST', URL + '/channel', json=dict(status='ok'))
    rsps.add('GET', URL + '/channel', status=400, json=dict(error='cannot_access_app', message="You can't access this app"))
    result = run_module(allow_dev=False)
    assert result['failed'] and result['changed'] is True


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
    (dict(rollout=dict(bundle='builtin', percentage=5)), 'rollout.bundle must be the name of an uploaded bundle'),
    (dict(state='absent', rollout=dict(state='absent')), 'state=absent'),
])
def test_bad_input_fails_before_any_request(rsps, args, message):
    api = FakeCapgo(rsps, [item('production')])
    result = run_module(**args)
    assert result['failed'] and message in result['msg'], result['msg']
    assert 'status' not in result and 'error' not in result
    assert api.calls == []


# -- delete ---------------------------------------------------------------------------------------

def test_delete_sends_one_json_body_and_verifies(rsps):
    api = FakeCapgo(rsps, [item('production')])
    result = run_module(state='absent')
    assert result['changed'] is True and result['channel'] is None
    assert api.writes() == [('DELETE', dict(app_id=APP, channel='production'))]
    assert api.methods() == ['GET', 'DELETE', 'GET']
    again = run_module(state='absent')
    assert again['changed'] is False and api.writes() == [('DELETE', dict(app_id=APP, channel='production'))]


def test_delete_in_check_mode_writes_nothing(rsps):
    api = FakeCapgo(rsps, [item('production')])
    result = run_module(check_mode=True, state='absent')
    assert result['changed'] is True and api.writes() == []
    assert result['diff']['before']['bundle'] == '1.0.0' and result['diff']['after'] == {}


def test_delete_that_the_api_ignores_fails_clearly(rsps):
    FakeCapgo(rsps, [item('production', generation='classic')], delete_keeps=True, generation='classic')
    result = run_module(state='absent')
    assert result['failed'] and 'still exists' in result['msg'] and result['changed'] is True


def test_delete_whose_answer_is_lost_is_confirmed_by_a_read(rsps):
    api = FakeCapgo(rsps, [item('production')], lose_answers=1)
    result = run_module(state='absent')
    assert result['changed'] is True and not result.get('failed')
    assert api.methods() == ['GET', 'DELETE', 'GET']
    assert 'production' not in api.channels


def test_deleting_a_missing_channel_the_first_time_is_unchanged(rsps):
    api = FakeCapgo(rsps, [])
    assert run_module(state='absent')['changed'] is False
    assert api.writes() == []


# -- lost answers ---------------------------------------------------------------------------------

def test_settings_post_whose_answer_is_lost_is_confirmed_not_resent(rsps):
    api = FakeCapgo(rsps, [item('production')], lose_answers=1)
    result = run_module(allow_dev=False)
    assert result['changed'] is True and not result.get('failed')
    assert api.methods() == ['GET', 'POST', 'GET', 'GET']
    assert api.channels['production']['allow_dev'] is False


def test_settings_post_lost_before_it_applied_is_sent_again(rsps):
    rsps.add('GET', URL + '/channel', json=item('production'))
    rsps.add('POST', URL + '/channel', status=502, json=dict(error='bad_gateway', message='Bad gateway'))
    rsps.add('GET', URL + '/channel', json=item('production'))
    rsps.add('POST', URL + '/channel', json=dict(status='ok'))
    rsps.add('GET', URL + '/channel', json=item('production', allow_dev=False))
    result = run_module(allow_dev=False)
    assert result['changed'] is True and not result.get('failed')
    assert [call.request.method for call in rsps.calls] == ['GET', 'POST', 'GET', 'POST', 'GET']


@pytest.mark.parametrize('generation', ['latest', 'current'])
@pytest.mark.parametrize('args, body', [
    (dict(bundle='1.1.0', rollout=dict(state='absent')), dict(promoteToStable=True)),
    (dict(rollout=dict(state='absent')), dict(rollback=True)),
])
def test_promote_or_rollback_whose_answer_is_lost_is_confirmed_never_resent(rsps, generation, args, body):
    api = FakeCapgo(rsps, [item('production', rollout=dict(bundle='1.1.0', bps=2500), generation=generation)],
                    generation=generation, lose_answers=1)
    result = run_module(**args)
    assert result['changed'] is True and not result.get('failed'), result.get('msg')
    assert api.writes() == [('POST', dict(app_id=APP, channel='production', **body))]
    assert api.channels['production']['rollout_version_info'] is None


def test_promote_lost_before_it_applied_fails_without_resending(rsps):
    row = item('production', rollout=dict(bundle='1.1.0', bps=2500))
    rsps.add('GET', URL + '/channel', json=row)
    rsps.add('POST', URL + '/channel', status=504, json=dict(error='gateway_timeout', message='Gateway timeout'))
    rsps.add('GET', URL + '/channel', json=row)
    result = run_module(bundle='1.1.0', rollout=dict(state='absent'))
    assert result['failed'] and result['changed'] is True
    assert 'not applied' in result['msg'] and 'not safe' in result['msg']
    assert [call.request.method for call in rsps.calls] == ['GET', 'POST', 'GET']


# -- rollouts -------------------------------------------------------------------------------------

def test_normalize_rollout_reads_option_names():
    row = item('production', rollout=dict(bundle='1.1.0', bps=2550, paused=True))
    row.update(autoPauseEnabled=True, autoPauseFailureRateBps=250)
    row['rolloutPauseReason'] = 'failure rate 4.2 % above 2.5 %'
    assert normalize_rollout(row) == dict(bundle='1.1.0', percentage=25.5, paused=True, cache_ttl=2592000, auto_pause=dict(
        enabled=True, window_minutes=60, failure_rate=2.5, confidence=0.95, min_attempts=None, min_failures=None,
        action='pause', cooldown_minutes=60), pause_reason='failure rate 4.2 % above 2.5 %')
    disabled = item('production', rollout=dict(bundle='1.1.0'))
    disabled['rolloutEnabled'] = False
    assert normalize_rollout(disabled) is None
    assert normalize_rollout(item('production', generation='classic')) is None
    assert 'rollout' not in normalize_channel(item('production', generation='classic'))


@pytest.mark.parametrize('generation', ['latest', 'current'])
def test_start_rollout_sends_one_post(rsps, generation):
    api = FakeCapgo(rsps, [item('production', generation=generation)], generation=generation)
    rollout = dict(bundle='1.1.0', percentage=5, auto_pause=dict(enabled=True, failure_rate=2.5))
    predicted, result = check_then_apply(rollout=rollout)
    assert api.writes() == [('POST', dict(app_id=APP, channel='production', rolloutVersion='1.1.0', rolloutEnabled=True,
                                          rolloutPaused=False, rolloutPercentageBps=500, autoPauseEnabled=True,
                                          autoPauseFailureRateBps=250))]
    assert result['diff']['before'] == dict(rollout=None)
    assert result['channel']['rollout']['percentage'] == 5.0 and result['channel']['rollout']['bundle'] == '1.1.0'
    assert predicted['channel']['rollout'] == result['channel']['rollout']


def test_ramp_pause_and_rerun(rsps):
    api = FakeCapgo(rsps, [item('production', rollout=dict(bundle='1.1.0', bps=500))])
    assert run_module(rollout=dict(bundle='1.1.0', percentage=5.0))['changed'] is False
    assert api.writes() == []
    run_module(rollout=dict(bundle='1.1.0', percentage=25))
    run_module(rollout=dict(paused=True))
    run_module(rollout=dict(paused=False))
    assert [body for dummy, body in api.writes()] == [
        dict(app_id=APP, channel='production', rolloutPercentageBps=2500),
        dict(app_id=APP, channel='production', rolloutPaused=True),
        dict(app_id=APP, channel='production', rolloutPaused=False)]
    assert not any('rolloutEnabled' in body for dummy, body in api.writes())


@pytest.mark.parametrize('generation', ['latest', 'current'])
def test_promote(rsps, generation):
    api = FakeCapgo(rsps, [item('production', rollout=dict(bundle='1.1.0', bps=2500), generation=generation)], generation=generation)
    result = run_module(bundle='1.1.0', rollout=dict(state='absent'))
    assert api.writes() == [('POST', dict(app_id=APP, channel='production', promoteToStable=True))]
    assert api.methods() == ['GET', 'POST', 'GET']  # the candidate needs no bundle lookup
    running = normalize_rollout(item('production', rollout=dict(bundle='1.1.0', bps=2500)))
    assert result['diff'] == dict(before=dict(bundle='1.0.0', rollout=running), after=dict(bundle='1.1.0', rollout=None))
    assert run_module(bundle='1.1.0', rollout=dict(state='absent'))['changed'] is False


def test_rollback(rsps):
    api = FakeCapgo(rsps, [item('production', rollout=dict(bundle='1.1.0'))])
    result = run_module(rollout=dict(state='absent'))
    assert api.writes() == [('POST', dict(app_id=APP, channel='production', rollback=True))]
    assert result['channel']['bundle'] == '1.0.0' and result['channel']['rollout'] is None


def test_new_stable_bundle_ends_a_running_rollout_explicitly_on_current(rsps):
    api = FakeCapgo(rsps, [item('production', rollout=dict(bundle='1.1.0'))], bundles=('1.0.0', '1.0.1', '1.1.0'))
    predicted, result = check_then_apply(bundle='1.0.1')
    assert api.writes() == [('POST', dict(app_id=APP, channel='production', version='1.0.1', rollback=True))]
    assert result['diff']['after'] == dict(bundle='1.0.1', rollout=None)


def test_new_stable_bundle_on_latest_lets_capgo_end_the_rollout(rsps):
    api = FakeCapgo(rsps, [item('production', rollout=dict(bundle='1.1.0', bps=3000), generation='latest')],
                    bundles=('1.0.0', '1.0.1', '1.1.0'), generation='latest')
    predicted, result = check_then_apply(bundle='1.0.1')
    assert api.writes() == [('POST', dict(app_id=APP, channel='production', version='1.0.1'))]
    assert predicted['diff']['after'] == result['diff']['after'] == dict(bundle='1.0.1', rollout=None)
    row = api.channels['production']
    assert row['rolloutPercentageBps'] == 3000 and row['rollout_version_info'] is None and row['rolloutEnabled'] is False


def test_new_stable_bundle_keeps_a_rollout_the_task_keeps(rsps):
    api = FakeCapgo(rsps, [item('production', rollout=dict(bundle='1.1.0'))], bundles=('1.0.0', '1.0.1', '1.1.0'))
    predicted, result = check_then_apply(bundle='1.0.1', rollout=dict(bundle='1.1.0'))
    assert api.writes() == [('POST', dict(app_id=APP, channel='production', version='1.0.1', rolloutVersion='1.1.0'))]
    assert result['channel']['rollout']['bundle'] == '1.1.0' and result['channel']['bundle'] == '1.0.1'


@pytest.mark.parametrize('paused', [False, True])
def test_new_stable_bundle_on_latest_relinks_a_rollout_the_task_keeps(rsps, paused):
    # latest drops the candidate on any stable-bundle change, even when the write names it again: link it again
    api = FakeCapgo(rsps, [item('production', rollout=dict(bundle='1.1.0', bps=2500, paused=paused), generation='latest')],
                    bundles=('1.0.0', '1.0.1', '1.1.0'), generation='latest')
    predicted, result = check_then_apply(bundle='1.0.1', rollout=dict(bundle='1.1.0', percentage=30))
    expected = [('POST', dict(app_id=APP, channel='production', version='1.0.1')),
                ('POST', dict(app_id=APP, channel='production', rolloutVersion='1.1.0', rolloutEnabled=True,
                              rolloutPercentageBps=3000))]
    if paused:
        expected.append(('POST', dict(app_id=APP, channel='production', rolloutPaused=True)))
    assert api.writes() == expected
    assert result['channel']['rollout']['bundle'] == '1.1.0' and result['channel']['bundle'] == '1.0.1'
    assert result['channel']['rollout']['paused'] is paused and result['channel']['rollout']['percentage'] == 30.0
    assert run_module(bundle='1.0.1', rollout=dict(bundle='1.1.0', percentage=30))['changed'] is False


@pytest.mark.parametrize('generation', ['latest', 'current'])
def test_shipping_the_next_candidate(rsps, generation):
    api = FakeCapgo(rsps, [item('production', rollout=dict(bundle='1.1.0', bps=5000), generation=generation)],
                    bundles=('1.0.0', '1.1.0', '1.2.0'), generation=generation)
    predicted, result = check_then_apply(bundle='1.1.0', rollout=dict(bundle='1.2.0', percentage=10))
    body = dict(app_id=APP, channel='production', rolloutVersion='1.2.0', rolloutEnabled=True, rolloutPaused=False,
                rolloutPercentageBps=1000)
    if generation == 'latest':
        body['advanceRollout'] = True
    else:
        body['version'] = '1.1.0'
    assert api.writes() == [('POST', body)]
    assert result['channel']['bundle'] == '1.1.0' and result['channel']['rollout']['bundle'] == '1.2.0'
    assert run_module(bundle='1.1.0', rollout=dict(bundle='1.2.0', percentage=10))['changed'] is False


def test_advance_whose_answer_is_lost_is_confirmed_never_resent(rsps):
    api = FakeCapgo(rsps, [item('production', rollout=dict(bundle='1.1.0', bps=5000), generation='latest')],
                    bundles=('1.0.0', '1.1.0', '1.2.0'), generation='latest', lose_answers=1)
    result = run_module(bundle='1.1.0', rollout=dict(bundle='1.2.0', percentage=10))
    assert result['changed'] is True and not result.get('failed')
    assert len(api.writes()) == 1


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
    api = FakeCapgo(rsps, [item('production', generation='classic')], generation='classic')
    result = run_module(rollout=dict(bundle='1.1.0', percentage=5))
    assert result['failed'] and 'classic Capgo API generation' in result['msg']
    assert api.writes() == []


def test_rollout_on_a_channel_to_create_fails(rsps):
    api = FakeCapgo(rsps, [])
    result = run_module(rollout=dict(bundle='1.1.0', percentage=5), bundle='1.0.0')
    assert result['failed'] and 'only for an existing channel' in result['msg']
    assert api.writes() == []


@pytest.mark.parametrize('generation', GENERATIONS)
def test_the_channel_returned_can_be_written_back(rsps, generation):
    rollout = dict(bundle='1.1.0', bps=1234) if generation != 'classic' else None
    api = FakeCapgo(rsps, [item('production', rollout=rollout, generation=generation)], generation=generation)
    first = run_module()
    channel = copy.deepcopy(first['channel'])
    args = dict((key, value) for key, value in channel.items() if key not in ('id', 'app_id', 'created_at', 'updated_at'))
    if args.get('rollout'):
        del args['rollout']['pause_reason']  # read-only, documented so
    assert run_module(**args)['changed'] is False
    assert api.writes() == []
