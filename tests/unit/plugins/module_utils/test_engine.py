# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The desired-vs-current engine: comparison, merging and planning on plain dicts."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.capgo.cloud.plugins.module_utils.engine import (
    desired_from_params,
    differences,
    managed_view,
    merged,
    plan_absent,
    plan_present,
)

CURRENT = dict(id=3, name='beta', bundle='1.0.0', public=False, allow_dev=True,
               rollout=dict(bundle='1.1.0', percentage=5.0, paused=False, auto_pause=dict(enabled=False, action='pause')))


def test_desired_keeps_only_the_options_set():
    params = dict(public=False, allow_dev=None, bundle='1.0.0', other='x')
    assert desired_from_params(params, ['public', 'allow_dev', 'bundle']) == dict(public=False, bundle='1.0.0')


def test_false_and_zero_are_set_values_not_unset():
    assert desired_from_params(dict(public=False, percentage=0), ['public', 'percentage']) == dict(public=False, percentage=0)
    assert differences(dict(public=False), dict(public=True)) == ['public']


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


def test_plan_present_unchanged_is_no_action():
    plan = plan_present(CURRENT, dict(public=False, bundle='1.0.0'))
    assert plan.action is None and not plan.changed
    assert plan.diff() == dict(before=dict(bundle='1.0.0', public=False), after=dict(bundle='1.0.0', public=False))


def test_plan_present_update_diff_holds_only_managed_fields():
    plan = plan_present(CURRENT, dict(public=True, allow_dev=True))
    assert plan.action == 'update' and plan.changes == ['public']
    assert plan.diff() == dict(before=dict(allow_dev=True, public=False), after=dict(allow_dev=True, public=True))
    assert plan.after['bundle'] == '1.0.0'


def test_plan_present_create():
    plan = plan_present(None, dict(public=True, allow_dev=None))
    assert plan.action == 'create'
    assert plan.changes == ['public']
    assert plan.diff() == dict(before={}, after=dict(allow_dev=None, public=True))


def test_plan_present_with_explicit_fields():
    plan = plan_present(CURRENT, dict(public=True), fields=['bundle', 'public'])
    assert plan.diff() == dict(before=dict(bundle='1.0.0', public=False), after=dict(bundle='1.0.0', public=True))


def test_plan_absent():
    assert plan_absent(None, ['bundle']).action is None
    plan = plan_absent(CURRENT, ['bundle', 'public'])
    assert plan.action == 'delete' and plan.changed
    assert plan.diff() == dict(before=dict(bundle='1.0.0', public=False), after={})
