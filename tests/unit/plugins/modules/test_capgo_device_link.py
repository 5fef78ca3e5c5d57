# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools
import json

import pytest
import responses

from ansible.module_utils.testing import patch_module_args

from ansible_collections.capgo.cloud.plugins.module_utils import base as capgo_base
from ansible_collections.capgo.cloud.plugins.module_utils import devices as capgo_devices
from ansible_collections.capgo.cloud.plugins.module_utils.client import CapgoClient
from ansible_collections.capgo.cloud.plugins.modules import capgo_device_link
from ansible_collections.capgo.cloud.tests.unit.plugins.module_utils.device_fake import APP, URL, FakeCapgo
from ansible_collections.capgo.cloud.tests.unit.plugins.modules.module_exits import ModuleExit, patch_exits

KEY = 'c0ffee00-secret-key-0000-000000000099'


@pytest.fixture(autouse=True)
def sleeps(monkeypatch):
    """No real sleeping: every wait the module would do is recorded instead."""
    patch_exits(monkeypatch)
    recorded = []
    monkeypatch.setattr(capgo_base, 'CapgoClient', functools.partial(CapgoClient, sleep=recorded.append))
    monkeypatch.setattr(capgo_devices, 'rate_limit_backoff', lambda attempt: 0)
    monkeypatch.setattr(capgo_devices, 'RATE_LIMIT_BACKOFF_BASE', 0)
    return recorded


def run_module(check_mode=False, diff=False, **args):
    args.setdefault('app_id', APP)
    args.setdefault('api_url', URL)
    args.setdefault('api_key', KEY)
    args.setdefault('api_retries', 2)
    if check_mode:
        args['_ansible_check_mode'] = True
    if diff:
        args['_ansible_diff'] = True
    with patch_module_args(args):
        with pytest.raises(ModuleExit) as caught:
            capgo_device_link.main()
    result = caught.value.result
    assert KEY not in json.dumps(result)
    return result


# -- input checks: fail before any request --------------------------------------------------------

@pytest.mark.parametrize('args, message', [
    (dict(device_id='a', device_ids=['b'], channel='beta'), 'mutually exclusive'),
    (dict(channel='beta'), 'one of the following is required'),
    (dict(device_ids=[], channel='beta'), 'at least one device'),
    (dict(device_ids=['a', ' '], channel='beta'), 'must not be empty'),
    (dict(device_id='', channel='beta'), 'must not be empty'),
    (dict(device_id='a'), 'channel'),
    (dict(device_id='a', channel=''), 'channel must name a channel'),
    (dict(device_id='a', channel='beta', app_id='not-an-app'), 'reverse-domain'),
])
@responses.activate
def test_bad_input_fails_before_any_request(args, message):
    result = run_module(**args)
    assert result['failed'] and not result.get('changed')
    assert message in result['msg']
    assert not any(name in result for name in ('status', 'error', 'api_message'))
    assert len(responses.calls) == 0


# -- single device ----------------------------------------------------------------------------

@responses.activate
def test_link_one_device_then_rerun_sends_no_write():
    api = FakeCapgo(devices=['dev-1'])
    result = run_module(device_id='DEV-1', channel='beta')
    assert result['changed']
    assert result['devices'] == [dict(device_id='dev-1', channel='beta', previous_channel=None, changed=True, verified=True)]
    assert api.overrides == {'dev-1': 'beta'}
    assert api.writes() == [('POST', '/device', {}, dict(app_id=APP, device_id='dev-1', channel='beta'))]
    assert [entry[1] for entry in api.calls()] == ['/channel', '/device', '/device']

    responses.calls.reset()
    api.recent_sets.clear()
    result = run_module(device_id='dev-1', channel='beta')
    assert not result['changed'] and 'warnings' not in result
    assert result['devices'][0]['previous_channel'] == 'beta'
    assert api.writes() == [] and len(api.calls()) == 2


@responses.activate
def test_move_to_other_channel_reports_previous_and_diff():
    api = FakeCapgo(devices=['dev-1'], overrides={'dev-1': 'qa'})
    result = run_module(device_id='dev-1', channel='beta', diff=True)
    assert result['changed'] and api.overrides['dev-1'] == 'beta'
    assert result['devices'][0]['previous_channel'] == 'qa'
    assert result['diff'] == dict(before={'dev-1': 'qa'}, after={'dev-1': 'beta'})


@responses.activate
def test_check_mode_predicts_and_sends_no_write():
    api = FakeCapgo(devices=['dev-1', 'dev-2'], overrides={'dev-2': 'beta'})
    predicted = run_module(device_ids=['dev-1', 'dev-2', 'ghost'], channel='beta', check_mode=True, diff=True)
    assert api.writes() == [] and api.overrides == {'dev-2': 'beta'}
    real = run_module(device_ids=['dev-1', 'dev-2', 'ghost'], channel='beta', diff=True)
    assert predicted['changed'] is True and real['changed'] is True
    assert predicted['devices'] == real['devices']
    assert predicted['diff'] == real['diff']
    assert predicted['warnings'] == real['warnings']
    assert sorted(entry[3]['device_id'] for entry in api.writes()) == ['dev-1', 'ghost']


@responses.activate
def test_public_channel_is_refused_before_any_write():
    api = FakeCapgo(devices=['dev-1'])
    result = run_module(device_id='dev-1', channel='production')
    assert result['failed'] and result['changed'] is False
    assert 'non-public' in result['msg'] and 'state=absent' in result['msg']
    assert api.writes() == [] and len(api.calls()) == 1


@responses.activate
def test_unknown_channel_is_refused_before_any_write():
    api = FakeCapgo(devices=['dev-1'])
    result = run_module(device_ids=['dev-1', 'dev-2'], channel='nope')
    assert result['failed'] and 'does not exist' in result['msg']
    assert api.writes() == [] and len(api.calls()) == 1


@responses.activate
def test_never_seen_device_is_written_unverified_and_named_in_a_warning():
    api = FakeCapgo(devices=[])
    result = run_module(device_id='Ghost-9', channel='beta')
    assert result['changed']
    assert result['devices'] == [dict(device_id='ghost-9', channel='beta', previous_channel=None, changed=True, verified=False)]
    assert len(result['warnings']) == 1 and 'never checked in' in result['warnings'][0] and 'ghost-9' in result['warnings'][0]
    assert api.overrides == {'ghost-9': 'beta'}


@responses.activate
def test_quick_rerun_of_a_never_seen_device_does_not_wait_out_the_same_channel_window(sleeps):
    api = FakeCapgo(devices=[])
    run_module(device_id='ghost', channel='beta')
    responses.calls.reset()
    result = run_module(device_id='ghost', channel='beta')
    assert not result.get('failed')
    assert result['devices'] == [dict(device_id='ghost', channel='beta', previous_channel=None, changed=True, verified=False)]
    # one POST answered 429 (the window), one read to decide it, and no wait at all
    assert [(entry[0], entry[1]) for entry in api.calls()] == [('GET', '/channel'), ('GET', '/device'), ('POST', '/device'), ('GET', '/device')]
    assert sleeps == []
    assert any('60-second' in warning and 'ghost' in warning for warning in result['warnings'])
    assert api.overrides == {'ghost': 'beta'}


@responses.activate
def test_release_deletes_only_existing_overrides_body_only():
    api = FakeCapgo(devices=['dev-1', 'dev-2'], overrides={'dev-1': 'beta'})
    result = run_module(device_ids=['dev-1', 'dev-2'], state='absent', diff=True)
    assert result['changed']
    assert result['devices'] == [
        dict(device_id='dev-1', channel=None, previous_channel='beta', changed=True, verified=True),
        dict(device_id='dev-2', channel=None, previous_channel=None, changed=False, verified=True),
    ]
    assert result['diff'] == dict(before={'dev-1': 'beta'}, after={'dev-1': None})
    assert api.writes() == [('DELETE', '/device', {}, dict(app_id=APP, device_id='dev-1'))]
    assert not any(entry[1] == '/channel' for entry in api.calls())

    responses.calls.reset()
    result = run_module(device_ids=['dev-1', 'dev-2'], state='absent', channel='ignored')
    assert not result['changed'] and api.writes() == []


@responses.activate
def test_release_of_never_seen_device_is_sent():
    api = FakeCapgo(devices=[], overrides={'ghost': 'beta'})
    result = run_module(device_id='ghost', state='absent')
    assert result['changed'] and not result['devices'][0]['verified']
    assert api.overrides == {}


# -- lost answers ------------------------------------------------------------------------------

@responses.activate
def test_lost_answers_in_bulk_are_confirmed_not_resent_and_reported_changed():
    all_ids = ['dev-%03d' % number for number in range(30)]
    api = FakeCapgo(devices=all_ids)
    for device_id in all_ids[:5]:
        api.faults.append(dict(method='POST', device_id=device_id, drop='after'))
    result = run_module(device_ids=all_ids, channel='beta')
    assert not result.get('failed') and all(entry['changed'] for entry in result['devices'])
    assert api.count('POST') == 30  # each device exactly once: the five lost answers were read back, not re-sent
    assert api.overrides == dict((device_id, 'beta') for device_id in all_ids)


@responses.activate
def test_lost_release_answer_is_confirmed():
    api = FakeCapgo(devices=['dev-1', 'dev-2'], overrides={'dev-1': 'beta', 'dev-2': 'qa'})
    api.faults.append(dict(method='DELETE', device_id='dev-2', drop='after'))
    result = run_module(device_ids=['dev-1', 'dev-2'], state='absent')
    assert result['changed'] and api.overrides == {}
    assert api.count('DELETE') == 2


# -- bulk -------------------------------------------------------------------------------------

@responses.activate
def test_bulk_dedupes_reads_by_list_and_writes_each_once():
    all_ids = ['dev-%04d' % number for number in range(1200)]
    api = FakeCapgo(devices=all_ids, overrides={'dev-0000': 'beta'})
    wanted = [device_id.upper() for device_id in all_ids] + ['DEV-0001', 'never-seen']
    result = run_module(device_ids=wanted, channel='beta')
    assert result['changed']
    assert len(result['devices']) == 1201
    assert [entry['device_id'] for entry in result['devices']] == all_ids + ['never-seen']
    assert api.list_limits() == [100] * 12 and api.count('GET', single=True) == 1  # never-seen: no page showed it
    assert api.count('POST') == 1200  # all but dev-0000, plus never-seen
    assert all(api.overrides[device_id] == 'beta' for device_id in all_ids + ['never-seen'])
    assert result['devices'][0]['changed'] is False

    responses.calls.reset()
    result = run_module(device_ids=all_ids, channel='beta')
    assert not result['changed'] and api.writes() == []
    assert len(api.calls()) == 1 + 12


@responses.activate
def test_bulk_partial_failure_finishes_the_others_and_lists_failures():
    all_ids = ['dev-%d' % number for number in range(10)]
    api = FakeCapgo(devices=all_ids)
    api.faults.append(dict(method='POST', device_id='dev-4', status=400,
                           body=dict(error='cannot_access_channel', message="You can't access this channel")))
    result = run_module(device_ids=all_ids, channel='beta')
    assert result['failed'] and result['changed']
    assert result['error'] == 'cannot_access_channel' and result['status'] == 400
    assert result['msg'].startswith('1 of 10 devices failed; first: dev-4')
    assert result['failed_devices'] == [dict(
        device_id='dev-4', msg=result['failed_devices'][0]['msg'], status=400, error='cannot_access_channel',
        api_message="You can't access this channel", outcome_unknown=False)]
    assert len(api.overrides) == 9 and 'dev-4' not in api.overrides
    entry = [item for item in result['devices'] if item['device_id'] == 'dev-4'][0]
    assert entry['changed'] is False and entry['channel'] is None
    assert sum(1 for item in result['devices'] if item['changed']) == 9


@responses.activate
def test_non_api_exception_in_one_worker_keeps_the_report_of_the_others(monkeypatch):
    all_ids = ['dev-%d' % number for number in range(12)]
    api = FakeCapgo(devices=all_ids)
    real = capgo_devices.set_override

    def flaky(client, app_id, device_id, channel):
        if device_id == 'dev-3':
            raise ValueError('something unexpected with %s' % KEY)
        return real(client, app_id, device_id, channel)

    monkeypatch.setattr(capgo_devices, 'set_override', flaky)
    result = run_module(device_ids=all_ids, channel='beta')
    assert result['failed'] and result['changed']
    assert len(result['devices']) == 12
    assert sum(1 for item in result['devices'] if item['changed']) == 11
    assert [item['device_id'] for item in result['failed_devices']] == ['dev-3']
    assert 'ValueError' in result['failed_devices'][0]['msg'] and '********' in result['failed_devices'][0]['msg']
    assert len(api.overrides) == 11


@responses.activate
def test_bulk_with_transient_faults_ends_right():
    all_ids = ['dev-%03d' % number for number in range(60)]
    api = FakeCapgo(devices=all_ids)
    for number in range(5):
        api.faults.append(dict(method='POST', device_id=all_ids[number], status=503,
                               body=dict(error='service_unavailable', message='x')))
        api.faults.append(dict(method='POST', device_id=all_ids[10 + number], status=429,
                               body=dict(error='too_many_requests', message='Too many requests',
                                         moreInfo=dict(reason='api_key_rate_limit_exceeded'))))
    result = run_module(device_ids=all_ids, channel='beta', api_retries=3)
    assert not result.get('failed')
    assert all(entry['changed'] for entry in result['devices'])
    assert api.overrides == dict((device_id, 'beta') for device_id in all_ids)
    # a 503 after sending may have been applied: read back (not applied here) and sent again; a 429 is sent again
    assert api.count('POST') == 70
    assert api.count('GET', single=True) == 5


@responses.activate
def test_read_failure_fails_before_any_write():
    api = FakeCapgo(devices=['dev-1'])
    api.faults.append(dict(method='GET', status=400, body=dict(error='cannot_access_app', message="You can't access this app")))
    result = run_module(device_ids=['dev-1', 'dev-2'], state='absent')
    assert result['failed'] and result['error'] == 'cannot_access_app' and result['changed'] is False
    assert api.writes() == []
