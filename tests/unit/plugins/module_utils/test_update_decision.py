# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""update_decision.py: the builtin answers when the plugin version is not known (capgo-update-decision.md 4, item 2),
and the HTTP 500 that a version that is not semver causes (2.5).

The table-driven integration test (tests/integration/test_capgo_update_check.py) covers every reason code with a
known plugin version; these cases need the plugin version left out, or an unknown_error answer, which no row of
that table has.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.capgo.cloud.plugins.module_utils import update_decision as ud

APP = 'com.example.app'
TOO_OLD = 'revert_to_builtin_plugin_version_too_old'


def builtin_channel(generation):
    item = dict(id=1, name='production', public=True, version=None, disable_auto_update='major',
                disable_auto_update_under_native=True, allow_dev=True, allow_emulator=True, allow_device=True,
                allow_prod=True, allow_device_self_set=False, rollout_enabled=False, rollout_version=None,
                rollout_percentage_bps=0)
    if generation == 'latest':
        item.update(ios=True, android=True, updatePackage='all')
    return item


def device(bundle, plugin_version=None):
    return ud.Device('00000000-0000-4000-8000-000000000001', 'ios', '1.0.0', bundle, True, False, plugin_version)


@pytest.mark.parametrize('generation, bundle, available, answer, possible', [
    # latest tells a device on an over-the-air bundle to go back to builtin: a success, unless the plugin is too old
    ('latest', '1.0.1', True, 'builtin', ['builtin', TOO_OLD]),
    ('latest', 'builtin', False, 'already_on_builtin', ['already_on_builtin', TOO_OLD]),
    ('current', '1.0.1', False, 'already_on_builtin', ['already_on_builtin', TOO_OLD]),
    ('current', 'builtin', False, 'already_on_builtin', ['already_on_builtin', TOO_OLD]),
])
def test_unknown_plugin_names_both_builtin_answers(generation, bundle, available, answer, possible):
    update = ud.decide(APP, device(bundle), [builtin_channel(generation)], [], generation=generation)
    assert update['available'] is available and update['answer'] == answer
    assert update['possible_answers'] == sorted(possible)
    assert TOO_OLD in update['message'] and '6.2.0' in update['message']
    assert [c['result'] for c in update['checks'] if c['name'] == 'builtin'] == ['unknown']


@pytest.mark.parametrize('plugin_version, answer', [('6.2.0', 'builtin'), ('6.1.9', TOO_OLD)])
def test_known_plugin_has_one_answer(plugin_version, answer):
    update = ud.decide(APP, device('1.0.1', plugin_version), [builtin_channel('latest')], [], generation='latest')
    assert update['answer'] == answer and update['possible_answers'] == [answer]


def served_channel(bundle, policy, under_native=False):
    item = builtin_channel('latest')
    # GET /channel spells these two in camelCase
    item.update(version=dict(id=7, name=bundle), disableAutoUpdate=policy, disableAutoUpdateUnderNative=under_native)
    return item


@pytest.mark.parametrize('policy, under_native, step', [
    # Capgo parses the name once, before its first version gate (major), under any comparing policy
    ('major', False, 'major'),
    ('minor', False, 'major'),
    ('none', True, 'under_native'),
])
def test_a_bundle_name_that_is_not_semver_fails_like_capgo(policy, under_native, step):
    # Capgo answers HTTP 500 unknown_error when a gate that compares versions meets a bundle name it cannot parse
    # (capgo-update-decision.md 2.5); the answer names the bundle and the way out
    update = ud.decide(APP, device('1.0.0', '7.0.0'), [served_channel('release-42', policy, under_native)],
                       [dict(id=7, name='release-42', r2_path='orgs/o/apps/a/42.zip')], generation='latest')
    assert update['available'] is False and update['reason'] == 'unknown_error'
    assert 'release-42' in update['message'] and 'X.Y.Z' in update['message']
    assert [c['result'] for c in update['checks'] if c['name'] == step] == ['fail']


def test_a_bundle_name_that_is_not_semver_passes_when_nothing_compares_versions():
    update = ud.decide(APP, device('1.0.0', '7.0.0'), [served_channel('release-42', 'none')],
                       [dict(id=7, name='release-42', r2_path='orgs/o/apps/a/42.zip')], generation='latest')
    assert update['reason'] is None and update['available'] is True and update['bundle'] == 'release-42'


def test_a_min_update_version_that_is_not_semver_fails_like_capgo():
    update = ud.decide(APP, device('1.0.0', '7.0.0'), [served_channel('1.0.1', 'version_number')],
                       [dict(id=7, name='1.0.1', min_update_version='one', r2_path='orgs/o/apps/a/101.zip')], generation='latest')
    assert update['reason'] == 'unknown_error' and 'min_update_version one' in update['message']
    assert [c['result'] for c in update['checks'] if c['name'] == 'version_number'] == ['fail']
