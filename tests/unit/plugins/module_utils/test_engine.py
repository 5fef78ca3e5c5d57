# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The desired-vs-current engine: comparison, merging and planning on plain dicts."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.capgo.cloud.plugins.module_utils.engine import (
    Plan,
    differences,
    managed_view,
    merged,
)

CURRENT = dict(id=3, name='beta', bundle='1.0.0', public=False, allow_dev=True,
               rollout=dict(bundle='1.1.0', percentage=5.0, paused=False, auto_pause=dict(enabled=False, action='pause')))


def test_false_and_zero_are_set_values_not_unset():
    assert differences(dict(public=False), dict(public=True)) == ['public']
    assert differences(dict(percentage=0), dict(percentage=None)) == ['percentage']


def test_differences_compare_only_the_desired_fields():
    assert differences(dict(public=False), CURRENT) == []
    assert differences(dict(public=True, allow_dev=False, bundle='1.0.0'), CURRENT) == ['allow_dev', 'public']
    assert differences(dict(public=None), CURRENT) == []


def test_nested_dicts_compare_only_the_keys_set():
    assert differences(dict(rollout=dict(percentage=5.0)), CURRENT) == []
    assert differences(dict(rollout=dict(auto_pause=dict(action='pause'))), CURRENT) == []
    assert differences(dict(rollout=dict(auto_pause=dict(action='notify'))), CURRENT) == ['rollout']
    # a wanted dict against nothing is a difference
    assert differences(dict(rollout=dict(percentage=5.0)), dict(rollout=None)) == ['rollout']


def test_int_and_float_percentages_compare_equal():
    assert differences(dict(rollout=dict(percentage=5)), CURRENT) == []


def test_missing_current_field_differs():
    assert differences(dict(allow_prod=True), CURRENT) == ['allow_prod']
    assert differences(dict(allow_prod=True), None) == ['allow_prod']


def test_merged_is_deep_and_leaves_the_inputs_alone():
    result = merged(CURRENT, dict(allow_dev=False, rollout=dict(percentage=25.0, auto_pause=dict(enabled=True))))
    assert result['allow_dev'] is False
    assert result['rollout'] == dict(bundle='1.1.0', percentage=25.0, paused=False, auto_pause=dict(enabled=True, action='pause'))
    assert CURRENT['allow_dev'] is True and CURRENT['rollout']['percentage'] == 5.0
    assert merged(None, dict(public=True, bundle=None)) == dict(public=True)


def test_managed_view():
    assert managed_view(CURRENT, ['bundle', 'public']) == dict(bundle='1.0.0', public=False)
    assert managed_view(None, ['bundle']) == {}
    assert managed_view(dict(bundle='1.0.0'), ['bundle', 'public']) == dict(bundle='1.0.0', public=None)


def test_plan_without_action_is_unchanged_and_its_result_says_so():
    plan = Plan(None, CURRENT, CURRENT, ['bundle', 'public'])
    assert not plan.changed
    same = dict(bundle='1.0.0', public=False)
    assert plan.result == dict(changed=False, diff=dict(before=same, after=same))


def test_plan_diff_holds_only_managed_fields():
    after = merged(CURRENT, dict(public=True))
    plan = Plan('update', CURRENT, after, ['allow_dev', 'public'], changes=['public'])
    assert plan.changed and plan.changes == ['public']
    assert plan.diff() == dict(before=dict(allow_dev=True, public=False), after=dict(allow_dev=True, public=True))


def test_plan_delete_diff_after_is_empty():
    plan = Plan('delete', CURRENT, None, ['bundle'])
    assert plan.diff() == dict(before=dict(bundle='1.0.0'), after={})


def test_plan_keeps_an_explicit_result_and_extra_data():
    plan = Plan('create', None, dict(public=True), ['public'], result=dict(changed=True, channel=dict(public=True)),
                body=dict(public=True))
    assert plan.result == dict(changed=True, channel=dict(public=True))
    assert plan.body == dict(public=True)
