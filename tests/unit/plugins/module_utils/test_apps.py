# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""apps.py: planning of capgo_app (only differing settings sent, retention in seconds) and the lost-answer check."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
import responses

from ansible_collections.capgo.cloud.plugins.module_utils import apps
from ansible_collections.capgo.cloud.plugins.module_utils.client import CapgoClient, CapgoInputError

URL = 'https://capgo.test'
KEY = 'c0ffee00-secret-key-0000-000000000042'
APP = 'com.example.app'
DAY = 86400


def row(**values):
    base = dict(app_id=APP, name='Example App', retention=30 * DAY, expose_metadata=False, allow_device_custom_id=True,
                ios_store_url=None, android_store_url='', block_provider_infra_requests=True)
    base.update(values)
    return base


class FakeModule(object):
    def __init__(self, **values):
        self.params = dict((name, None) for name in apps.FIELDS)
        self.params['app_id'] = APP
        self.params.update(values)


def test_nothing_set_plans_nothing():
    planned = apps.plan(FakeModule(), row())
    assert planned.action is None and planned.result['changed'] is False


def test_only_differing_settings_are_sent_retention_in_seconds():
    planned = apps.plan(FakeModule(name=' <i>Example</i> App ', retention_days=90, expose_metadata=True), row())
    assert planned.changes == ['expose_metadata', 'retention_days']
    assert planned.body == {'retention': 90 * DAY, 'expose_metadata': True}
    assert planned.diff()['before']['retention_days'] == 30 and planned.diff()['after']['retention_days'] == 90


@pytest.mark.parametrize('stored, changed', [(100000, True), (DAY, False), (2 * DAY - 1, True), (None, True)])
def test_retention_compared_in_seconds(stored, changed):
    planned = apps.plan(FakeModule(retention_days=1), row(retention=stored))
    assert (planned.action == 'update') is changed
    if changed:
        assert planned.body == {'retention': DAY}


def test_empty_store_url_clears_only_a_set_one():
    assert apps.plan(FakeModule(android_store_url=''), row()).action is None  # '' and null are both "none"
    planned = apps.plan(FakeModule(ios_store_url=''), row(ios_store_url='https://apps.apple.com/app/id1'))
    assert planned.body == {'ios_store_url': None}


@pytest.mark.parametrize('days', [-1, 731])
def test_retention_out_of_range(days):
    with pytest.raises(CapgoInputError, match='between 0 and 730'):
        apps.validate(dict(retention_days=days))


@responses.activate
@pytest.mark.parametrize('seconds_after, holds', [(DAY, True), (100000, False)])
def test_lost_answer_read_back_compares_seconds(seconds_after, holds):
    planned = apps.plan(FakeModule(retention_days=1), row(retention=100000))
    responses.get(URL + '/app/' + APP, json=row(retention=seconds_after))
    client = CapgoClient(KEY, api_url=URL, retries=0, sleep=lambda seconds: None)
    assert apps._holds(client, APP, planned) is holds  # pylint: disable=protected-access
    assert json.loads(json.dumps(planned.body)) == {'retention': DAY}
