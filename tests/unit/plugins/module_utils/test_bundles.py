# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""bundles.py: the pure planning, and the one DELETE /bundle."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
import responses

from ansible_collections.capgo.cloud.plugins.module_utils import bundles
from ansible_collections.capgo.cloud.plugins.module_utils.client import CapgoClient, CapgoError, CapgoInputError

URL = 'https://capgo.test'
KEY = 'c0ffee00-secret-key-0000-000000000042'
APP = 'com.example.app'
NAMES = ['1.0.5', '1.0.4', '1.0.3', '1.0.2', '1.0.1', '1.0.0']  # newest first


def client():
    return CapgoClient(KEY, api_url=URL, retries=0, sleep=lambda seconds: None)


def params(**values):
    base = dict(app_id=APP, state='present', version=None, versions=None, keep=None, external_url=None, checksum=None,
                session_key=None)
    base.update(values)
    return base


class FakeModule(object):
    def __init__(self, **values):
        self.params = params(**values)
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


def row(ident, name, created_at):
    return dict(id=ident, app_id=APP, name=name, created_at=created_at)


# -- timestamps and order ----------------------------------------------------------------------------

@pytest.mark.parametrize('value, expected', [
    ('2026-01-01T00:00:00+00:00', 1767225600.0),
    ('2026-01-01T00:00:00Z', 1767225600.0),
    ('2026-01-01 00:00:00', 1767225600.0),
    ('2026-01-01 02:00:00+02', 1767225600.0),
    ('2025-12-31T23:30:00-00:30', 1767225600.0),
    ('2026-01-01T00:00:00.250000+00:00', 1767225600.25),
    ('2026-02-31T00:00:00Z', None),
    ('not a date', None),
    (None, None),
    (12, None),
])
def test_created_at_seconds(value, expected):
    assert bundles.created_at_seconds(value) == expected


def test_newest_first_breaks_ties_by_id():
    rows = [row(3, 'b', '2026-01-01T00:00:00Z'), row(9, 'c', '2026-01-01T00:00:00Z'), row(1, 'a', '2026-01-02T00:00:00Z')]
    assert [item['name'] for item in bundles.newest_first(rows)] == ['a', 'c', 'b']


def test_newest_first_strict_refuses_an_unreadable_date_and_lenient_sorts_it_last():
    rows = [row(1, 'odd', 'yesterday'), row(2, 'ok', '2026-01-01T00:00:00Z')]
    with pytest.raises(CapgoInputError, match='unreadable created_at'):
        bundles.newest_first(rows)
    assert [item['name'] for item in bundles.newest_first(rows, strict=False)] == ['ok', 'odd']


# -- planning ------------------------------------------------------------------------------------------

def test_plan_retention_counts_served_bundles_in_addition():
    delete, kept = bundles.plan_retention(['5', '4', '3', '2', '1'], 1, {'3': ['prod']})
    assert delete == ['1', '2', '4'] and kept == ['5', '3']


def test_plan_named_keeps_only_existing_names_oldest_first():
    delete, kept = bundles.plan_named(NAMES, ['1.0.4', '9.9.9', '1.0.0'])
    assert delete == ['1.0.0', '1.0.4'] and kept == ['1.0.5', '1.0.3', '1.0.2', '1.0.1']


@pytest.mark.parametrize('delete, served, expected', [
    (['1.0.0', '1.0.2', '1.0.3'], {'1.0.1': ['production']}, ['1.0.3', '1.0.2']),
    (['1.0.0'], {'1.0.1': ['production']}, []),
    (['1.0.3', '1.0.4'], {'1.0.5': ['beta']}, []),
    (['1.0.0', '1.0.1'], {}, []),
])
def test_unreleased_doomed(delete, served, expected):
    assert bundles.unreleased_doomed(NAMES, delete, served) == expected


def test_served_bundles_ignores_placeholders_and_resolves_rollouts_by_id():
    channels = [dict(name='a', version=dict(name='unknown', id=1)), dict(name='b', version=dict(name='builtin', id=2)),
                dict(name='c', version=dict(name='1.0.0', id=10)), dict(name='d', version=dict(name='1.0.0', id=10)),
                dict(name='e', version=None, rollout_version=11, rollout_version_info=None)]
    served = bundles.served_bundles(channels, [dict(id=11, name='1.0.1')])
    assert served == {'1.0.0': ['c', 'd'], '1.0.1': ['e']}


@pytest.mark.parametrize('values, fragment', [
    (dict(state='absent'), 'exactly one of version, versions or keep (got none)'),
    (dict(state='absent', versions=['a'], keep=1), 'got versions, keep'),
    (dict(state='absent', version=' '), 'version must not be empty'),
    (dict(state='absent', versions=[None]), 'empty name'),
    (dict(state='absent', keep=-2), 'keep must be 0 or more, got -2'),
    (dict(state='absent', keep=1, checksum='x', session_key='s'), 'checksum, session_key only apply to state=present'),
    (dict(keep=1, versions=['a']), 'versions and keep delete bundles, which needs state=absent'),
    (dict(version='1.0.0', external_url='https://x.example/a.zip'), 'missing: checksum'),
    (dict(version='1.0.0', external_url='HTTPS://x.example/a.zip', checksum='c'), 'lower-case https://'),
    (dict(version='1.0.0', external_url='ftp://x.example/a.zip', checksum='c'), 'must be an https:// URL'),
])
def test_validate_refuses(values, fragment):
    with pytest.raises(CapgoInputError) as caught:
        bundles.validate(params(**values))
    assert fragment in caught.value.message
    assert caught.value.result == {}


@pytest.mark.parametrize('values', [
    dict(state='absent', keep=0),
    dict(state='absent', versions=[]),
    dict(state='absent', version='1.0.0'),
    dict(version='1.0.0', external_url='https://x.example/a.zip', checksum='c', session_key='s'),
])
def test_validate_accepts(values):
    bundles.validate(params(**values))


def test_plan_absent_predicts_result_and_diff():
    current = dict(bundles=[row(15 - index, name, '2026-01-0%dT00:00:00Z' % (6 - index)) for index, name in enumerate(NAMES)],
                   channels=[dict(name='production', version=dict(name='1.0.4', id=14))])
    module = FakeModule(state='absent', keep=1)
    planned = bundles.plan(module, current)
    assert planned.changed and planned.action == 'delete'
    assert planned.delete == ['1.0.0', '1.0.1', '1.0.2', '1.0.3']
    assert planned.result == dict(changed=True, deleted=['1.0.0', '1.0.1', '1.0.2', '1.0.3'], kept=['1.0.5', '1.0.4'],
                                  protected={'1.0.4': ['production']},
                                  diff=dict(before=dict(bundles=NAMES), after=dict(bundles=['1.0.5', '1.0.4'])))
    assert module.warnings == []


def test_plan_absent_without_deletes_is_unchanged():
    module = FakeModule(state='absent', version='7.7.7')
    planned = bundles.plan(module, dict(bundles=[row(1, '1.0.0', '2026-01-01T00:00:00Z')], channels=None))
    assert not planned.changed and planned.result['deleted'] == [] and planned.result['kept'] == ['1.0.0']


def test_plan_present_creates_with_the_body_and_no_secret_in_the_result():
    module = FakeModule(version='2.0.0', external_url='https://x.example/a.zip', checksum='c', session_key='s3cr3t')
    planned = bundles.plan(module, dict(bundles=[], lookup=None))
    assert planned.action == 'create'
    assert planned.body == dict(app_id=APP, version='2.0.0', external_url='https://x.example/a.zip', checksum='c',
                                session_key='s3cr3t')
    assert 's3cr3t' not in json.dumps(planned.result)
    assert planned.result['bundle']['encrypted'] is True and planned.result['changed'] is True


def test_plan_present_refuses_a_name_held_by_a_deleted_bundle():
    module = FakeModule(version='2.0.0', external_url='https://x.example/a.zip', checksum='c')
    with pytest.raises(CapgoInputError, match='a deleted bundle used this version'):
        bundles.plan(module, dict(bundles=[], lookup=dict(exists=True, id=3, name='2.0.0', deleted=True)))


def test_normalize_bundle_returns_native_packages_and_min_update_version_but_no_session_key():
    item = dict(id=1, name='1.0.0', app_id=APP, session_key='k', min_update_version='1.0.0',
                native_packages=[dict(name='@capacitor/camera', version='6.0.1')])
    shaped = bundles.normalize_bundle(item)
    assert shaped['min_update_version'] == '1.0.0'
    assert shaped['native_packages'] == [dict(name='@capacitor/camera', version='6.0.1')]
    assert shaped['encrypted'] is True and 'session_key' not in shaped
    assert bundles.normalize_bundle(dict(name='1.0.1'))['native_packages'] is None


# -- the one DELETE /bundle ------------------------------------------------------------------------------

@pytest.mark.parametrize('version', ['', '  ', None, 0, b'1.0.0'])
@responses.activate
def test_delete_bundle_refuses_to_send_without_version(version):
    with pytest.raises(CapgoError) as caught:
        bundles.delete_bundle(client(), APP, version)
    assert 'without a bundle version' in str(caught.value)
    assert len(responses.calls) == 0


@responses.activate
def test_delete_bundle_refuses_without_app_id():
    with pytest.raises(CapgoError):
        bundles.delete_bundle(client(), '', '1.0.0')
    assert len(responses.calls) == 0


@responses.activate
def test_delete_bundle_puts_every_parameter_in_the_json_body():
    responses.add(responses.DELETE, URL + '/bundle', json=dict(status='ok'))
    bundles.delete_bundle(client(), APP, '1.0.0')
    request = responses.calls[0].request
    assert request.url == URL + '/bundle'
    assert json.loads(request.body) == dict(app_id=APP, version='1.0.0')


# -- reads ------------------------------------------------------------------------------------------------

@responses.activate
def test_lookup_absent_route_reads_as_none():
    responses.add(responses.GET, URL + '/bundle/lookup', status=404, json=dict(error='not_found', message='Not found'))
    assert bundles.lookup_bundle(client(), APP, '1.0.0') is None


@responses.activate
def test_lookup_other_errors_fail():
    responses.add(responses.GET, URL + '/bundle/lookup', status=400,
                  json=dict(error='cannot_lookup_bundle', message='Cannot lookup bundle'))
    with pytest.raises(CapgoError) as caught:
        bundles.lookup_bundle(client(), APP, '1.0.0')
    assert caught.value.error == 'cannot_lookup_bundle'


@pytest.mark.parametrize('answers, gone', [
    ([dict(json=dict(exists=False, id=None, name='1.0.0', deleted=False))], True),
    ([dict(json=dict(exists=True, id=3, name='1.0.0', deleted=True))], True),
    ([dict(json=dict(exists=True, id=3, name='1.0.0', deleted=False))], False),
])
@responses.activate
def test_bundle_gone_from_the_lookup(answers, gone):
    for answer in answers:
        responses.add(responses.GET, URL + '/bundle/lookup', **answer)
    assert bundles.bundle_gone(client(), APP, '1.0.0') is gone
    assert len(responses.calls) == 1


@pytest.mark.parametrize('listing, gone', [([], True), ([dict(id=3, name='1.0.0')], False)])
@responses.activate
def test_bundle_gone_falls_back_to_the_list(listing, gone):
    responses.add(responses.GET, URL + '/bundle/lookup', status=404, json=dict(error='not_found', message='Not found'))
    responses.add(responses.GET, URL + '/bundle', json=listing)
    assert bundles.bundle_gone(client(), APP, '1.0.0') is gone
