# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Channels: wire <-> option tables, normalise, validate, plan (pure), and the one reader and writer of /channel.

``read`` (GETs only) -> ``plan`` (pure, an engine.Plan) -> ``write`` (the POSTs and DELETEs), the three steps
``CapgoModule.run`` calls for capgo_channel. Nothing else in the collection POSTs or DELETEs ``/channel``.

Three API generations answer differently (docs/api-generations.md); this file tells them apart from the GET
answer itself (``api_generation``) and keeps each difference in one named place.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.capgo.cloud.plugins.module_utils.client import CapgoError, CapgoInputError
from ansible_collections.capgo.cloud.plugins.module_utils.engine import Plan, differences, merged
from ansible_collections.capgo.cloud.plugins.module_utils.rollouts import (  # noqa: F401 (bundle_name: shared)
    BUILTIN,
    bundle_name,
    has_rollouts,
    normalize_rollout,
    plan_rollout,
    rollout_holds,
    validate_rollout,
)

# Channel option name -> field name on the wire (POST body and GET item), for the plain settings.
CHANNEL_SETTINGS = (
    ('public', 'public'),
    ('disable_auto_update', 'disableAutoUpdate'),
    ('disable_auto_update_under_native', 'disableAutoUpdateUnderNative'),
    ('allow_device_self_set', 'allow_device_self_set'),
    ('allow_emulator', 'allow_emulator'),
    ('allow_dev', 'allow_dev'),
    ('allow_device', 'allow_device'),
    ('allow_prod', 'allow_prod'),
)
SETTING_OPTIONS = tuple(option for option, dummy in CHANNEL_SETTINGS)
# Settings only some generations return; a generation that does not return one cannot have it compared.
# Option -> wire name. ios/android: latest returns them (12.1 #7); update_package: latest only (12.1 #6).
READABLE_PLATFORMS = (('ios', 'ios'), ('android', 'android'))
UPDATE_PACKAGE = ('update_package', 'updatePackage')
UPDATE_PACKAGES = ('all', 'zip', 'delta', 'zip_from_builtin', 'delta_from_builtin')
# Accepted on POST; electron is never returned, ios/android only by latest.
CHANNEL_PLATFORMS = ('ios', 'android', 'electron')
DISABLE_AUTO_UPDATE = ('major', 'minor', 'patch', 'version_number', 'none')
# The Capgo CLI's names for the same policies.
DISABLE_AUTO_UPDATE_ALIASES = dict(metadata='version_number')
CHANNEL_FIELDS = ['bundle'] + list(SETTING_OPTIONS)
# What a channel created without a setting gets (the API's column defaults).
CREATE_DEFAULTS = dict(
    bundle=None, public=False, disable_auto_update='major', disable_auto_update_under_native=True,
    allow_device_self_set=False, allow_emulator=True, allow_dev=True, allow_device=True, allow_prod=True,
)
LATEST_CREATE_DEFAULTS = dict(ios=True, android=True, update_package='all')
# The bundle name every generation reads as "no bundle" (classic answers 500 to 'builtin').
WIRE_NO_BUNDLE = 'unknown'
# Classic demotes other public channels asynchronously after an update: how long to wait for it to show.
DEMOTION_WAIT = 10.0
DEMOTION_POLL = 0.5
# The right latest Capgo needs to make a channel public (capgo-api.md 12.1 #2, docs/authentication.md).
PUBLICIZE_RIGHT = 'app.update_settings'
PACKAGE_ERRORS = dict(
    channel_zip_required='a full zip archive',
    channel_delta_required='a delta manifest (a per-file upload, the Capgo CLI\'s --delta)',
)


# -- generations -----------------------------------------------------------------------------------

def api_generation(item):
    """'latest', 'current' or 'classic' from one GET /channel item; None without one.

    classic returns no rollout columns; latest adds ``updatePackage`` and ``ios``/``android`` (capgo-api.md 12.1).
    """
    if not item:
        return None
    if not has_rollouts(item):
        return 'classic'
    if UPDATE_PACKAGE[1] in item or 'ios' in item:
        return 'latest'
    return 'current'


def readable_settings(item, generation):
    """Option -> wire name of every setting this channel item (or, without one, this generation) returns."""
    table = list(CHANNEL_SETTINGS)
    if item is not None:
        table += [entry for entry in READABLE_PLATFORMS if entry[1] in item]
        if UPDATE_PACKAGE[1] in item:
            table.append(UPDATE_PACKAGE)
    elif generation == 'latest':
        table += list(READABLE_PLATFORMS) + [UPDATE_PACKAGE]
    return table


# -- normalise -------------------------------------------------------------------------------------

def normalize_disable_auto_update(value):
    return DISABLE_AUTO_UPDATE_ALIASES.get(value, value)


def normalize_channel(item):
    """A GET /channel item in the option names of capgo.cloud.capgo_channel (what is read can be written back)."""
    if item is None:
        return None
    channel = dict(
        id=item.get('id'),
        name=item.get('name'),
        app_id=item.get('app_id'),
        bundle=bundle_name(item.get('version')),
    )
    for option, wire in readable_settings(item, None):
        channel[option] = item.get(wire)
    channel['disable_auto_update'] = normalize_disable_auto_update(channel['disable_auto_update'])
    channel['created_at'] = item.get('created_at')
    channel['updated_at'] = item.get('updated_at')
    if has_rollouts(item):
        channel['rollout'] = normalize_rollout(item)
    return channel


# -- input checks (no request) ---------------------------------------------------------------------

def validate(params):
    """Everything that can be checked before any request; raises CapgoInputError."""
    if not params['name'] or not params['name'].strip():
        raise CapgoInputError('name must be a non-empty channel name')
    if params.get('bundle') is not None and not params['bundle'].strip():
        raise CapgoInputError("bundle must be a bundle name, or 'builtin' to unassign the channel's bundle")
    validate_rollout(params)


def desired_settings(params, settable):
    """The settings the task sets (option -> value), among the option names in ``settable``."""
    settings = {}
    for option in settable:
        value = params.get(option)
        if value is None:
            continue
        if option == 'disable_auto_update':
            value = normalize_disable_auto_update(value)
        settings[option] = value
    return settings


def _wire(settings):
    names = dict(CHANNEL_SETTINGS + READABLE_PLATFORMS + (UPDATE_PACKAGE,))
    return dict((names[option], value) for option, value in settings.items())


def bundles_to_check(params, item):
    """Bundle names the task would newly point the channel at: each must exist before a write."""
    names = []
    stable = bundle_name((item or {}).get('version'))
    candidate = bundle_name((item or {}).get('rollout_version_info'))
    bundle = params.get('bundle')
    if bundle is not None and bundle != BUILTIN and bundle not in (stable, candidate):
        names.append(bundle)
    rollout = params.get('rollout')
    if rollout and rollout['state'] == 'present' and rollout.get('bundle') and rollout['bundle'] != candidate:
        names.append(rollout['bundle'])
    return names


# -- read (GETs only) ------------------------------------------------------------------------------

def get_channel(client, app_id, name):
    """One channel's GET /channel item, or None when it does not exist (the API answers 400 cannot_find_version)."""
    body = client.request('GET', '/channel', params=dict(app_id=app_id, channel=name), ok_errors=('cannot_find_version',))
    if isinstance(body, dict) and body.get('error') == 'cannot_find_version':
        return None
    return body


def list_channels(client, app_id):
    return client.get_paged('/channel', dict(app_id=app_id), key='id')


def list_bundle_names(client, app_id):
    """The names of every live bundle of the app (an app without bundles: an empty set)."""
    rows = client.get_paged('/bundle', dict(app_id=app_id), key='id', empty_error='cannot_get_bundle')
    return set(row.get('name') for row in rows if isinstance(row, dict))


def read(module):
    """What capgo_channel needs to plan: the channel, and only where the plan needs them, its siblings and bundles.

    One GET when nothing changes. The app's channels are listed for a channel that does not exist (to tell the API
    generation, which channels are public, or which names exist) and for one that becomes public (which it demotes).
    """
    params = module.params
    validate(params)
    client = module.client
    app_id, name = params['app_id'], params['name']
    item = get_channel(client, app_id, name)
    current = dict(item=item, siblings=None, bundles=None)
    if params['state'] == 'absent':
        return current
    if item is None or (params.get('public') and not item.get('public')):
        current['siblings'] = [sibling for sibling in list_channels(client, app_id) if sibling.get('name') != name]
    if item is None and not params['create']:
        return current
    if bundles_to_check(params, item):
        current['bundles'] = list_bundle_names(client, app_id)
    return current


# -- plan (pure) -----------------------------------------------------------------------------------

def _public_names(items):
    return sorted(item['name'] for item in items or () if item.get('public'))


def _result(plan, channel, demoted):
    return dict(changed=plan.changed, channel=channel, demoted=list(demoted), diff=plan.diff())


def plan_channel(params, current):
    """The engine.Plan of one capgo_channel task; ``plan.result`` is what check mode returns.

    Extra data: ``body`` (the one POST or DELETE body), ``repeatable``, ``generation``, ``warnings``, ``demote``
    (classic: explicit demotions after creating a public channel), ``await_demotion`` (classic: the channels its
    own demotion should reach), ``confirm_fields`` (what a lost answer's read-back compares).
    """
    item = current['item']
    if params['state'] == 'absent':
        return _plan_absent(params, item)
    if item is None:
        return _plan_create(params, current)
    return _plan_update(params, current)


def _plan_absent(params, item):
    channel = normalize_channel(item)
    fields = CHANNEL_FIELDS + (['rollout'] if has_rollouts(item) else [])
    if channel is None:
        plan = Plan(None, None, None, fields)
    else:
        plan = Plan('delete', channel, None, fields, body=dict(app_id=params['app_id'], channel=params['name']))
    plan.result = _result(plan, None, [])
    plan.warnings = []
    return plan


def _check_bundles(params, current):
    known = current.get('bundles')
    if known is None:
        return
    stable = params.get('bundle')
    for bundle in bundles_to_check(params, current['item']):
        if bundle in known:
            continue
        if bundle == stable:
            raise CapgoInputError("bundle %s does not exist in app %s (or was deleted): upload it first, or use "
                                  "bundle: builtin to unassign the channel's bundle" % (bundle, params['app_id']))
        raise CapgoInputError('bundle %s does not exist in app %s (or was deleted): rollout.bundle names the candidate '
                              'to roll out, so upload it first (capgo.cloud.capgo_bundle or the Capgo CLI)'
                              % (bundle, params['app_id']))


def _check_update_package(params, generation, item):
    if params.get('update_package') is None:
        return
    if item is not None and UPDATE_PACKAGE[1] in item:
        return
    if item is None and generation == 'latest':
        return
    if item is None and generation is None:
        if params['update_package'] == 'all':
            return  # what every generation does anyway: not sent
        raise CapgoInputError(
            'update_package=%s: app %s has no channel yet, so the module cannot tell whether this Capgo has the setting '
            '(only the latest API generation, api.capgo.app, has it). Create channel %s first without update_package, '
            'then set it' % (params['update_package'], params['app_id'], params['name']))
    raise CapgoInputError(
        'update_package is not supported by this Capgo (the %s API generation: GET /channel returns no updatePackage); '
        'only the latest generation (api.capgo.app) has it. Remove update_package for this Capgo (channel %s of app %s)'
        % (generation, params['name'], params['app_id']))


def _plan_create(params, current):
    app_id, name = params['app_id'], params['name']
    siblings = current['siblings'] or []
    if not params['create']:
        existing = sorted(sibling.get('name') for sibling in siblings)
        raise CapgoInputError('channel %s does not exist in app %s, and create=false forbids creating it. %s'
                              % (name, app_id, ('Its channels: %s' % ', '.join(existing)) if existing else 'The app has no channels'),
                              channels=existing)
    if params.get('rollout') is not None and params['rollout']['state'] == 'present':
        raise CapgoInputError('channel %s does not exist in app %s, and Capgo accepts rollout settings only for an '
                              'existing channel: create it with its stable bundle first, then start the rollout in a '
                              'later task' % (name, app_id))
    generation = api_generation(siblings[0]) if siblings else None
    _check_update_package(params, generation, None)
    _check_bundles(params, current)
    readable = [option for option, dummy in readable_settings(None, generation)]
    settings = desired_settings(params, readable)
    if generation is None:
        settings.pop('update_package', None)  # 'all' only, see _check_update_package
    after = dict(CREATE_DEFAULTS, id=None, name=name, app_id=app_id, created_at=None, updated_at=None)
    if generation == 'latest':
        after.update(LATEST_CREATE_DEFAULTS)
    if generation in ('current', 'latest'):
        after['rollout'] = None
    after.update(settings)
    body = dict(app_id=app_id, channel=name)
    body.update(_wire(settings))
    for platform in CHANNEL_PLATFORMS:
        if params.get(platform) is not None:
            body[platform] = params[platform]
    if params.get('bundle') is not None:
        after['bundle'] = None if params['bundle'] == BUILTIN else params['bundle']
        body['version'] = after['bundle'] or WIRE_NO_BUNDLE
    fields = CHANNEL_FIELDS + [option for option in ('ios', 'android', 'update_package') if option in after]
    plan = Plan('create', None, after, fields, body=body, repeatable=True, generation=generation,
                confirm_fields=sorted(set(settings) | set(['bundle'])), warnings=[], demote=[], await_demotion=[])
    others = _public_names(siblings) if after['public'] else []
    demoted = others
    if others and generation == 'classic':
        # Classic applies no demotion to a new channel, and skips a re-sent identical body: demote explicitly,
        # as its own rule would (a channel serving both platforms or neither demotes every other default).
        if _flag(params, 'ios') == _flag(params, 'android'):
            plan.demote = [_demotion_body(app_id, sibling) for sibling in siblings if sibling.get('public')]
        else:
            demoted = []
            plan.warnings.append(
                'channel %s is created public for one platform only, and the classic Capgo API does not show which '
                'platforms %s serve, so the module leaves them public: check them in the Capgo console'
                % (name, ', '.join(others)))
    plan.result = _result(plan, after, demoted)
    return plan


def _flag(params, platform):
    return params.get(platform) is not False  # Capgo's default: every platform


def _demotion_body(app_id, sibling):
    # Classic resets the bundle of a channel updated without one: name the one it serves.
    return dict(app_id=app_id, channel=sibling['name'], public=False,
                version=bundle_name(sibling.get('version')) or WIRE_NO_BUNDLE)


def _plan_update(params, current):
    item = current['item']
    app_id, name = params['app_id'], params['name']
    generation = api_generation(item)
    channel = normalize_channel(item)
    warnings = []
    if generation == 'classic' and params.get('rollout') is not None:
        raise CapgoInputError('channel %s of app %s is served by the classic Capgo API generation, which has no progressive '
                              'rollouts: remove the rollout option for this Capgo' % (name, app_id))
    _check_update_package(params, generation, item)
    readable = [option for option, dummy in readable_settings(item, generation)]
    unverifiable = [platform for platform in CHANNEL_PLATFORMS if params.get(platform) is not None and platform not in readable]
    if unverifiable:
        warnings.append('%s cannot be verified on the existing channel %s: this Capgo API does not return %s, so %s applied '
                        'only when the module creates a channel and %s neither compared nor sent'
                        % ('/'.join(unverifiable), name, 'that platform flag' if len(unverifiable) == 1 else 'these platform flags',
                           'it is' if len(unverifiable) == 1 else 'they are', 'was' if len(unverifiable) == 1 else 'were'))
    settings = desired_settings(params, readable)
    fields = sorted(settings)
    changes = differences(settings, channel)
    after = merged(channel, dict((option, settings[option]) for option in changes))
    bundle_set = params.get('bundle') is not None
    wanted_bundle = None if params.get('bundle') == BUILTIN else params.get('bundle')
    bundle_changes = bundle_set and wanted_bundle != channel['bundle']
    if bundle_set:
        fields.append('bundle')
    if bundle_changes:
        changes.append('bundle')
        after['bundle'] = wanted_bundle
    body_fields = _wire(dict((option, settings[option]) for option in changes if option != 'bundle'))
    rollout = None
    if generation in ('current', 'latest'):
        rollout = plan_rollout(params, item, after['bundle'], bundle_changes, generation)
        after['rollout'] = rollout.after
        if rollout.changed:
            changes.append('rollout')
        if params.get('rollout') is not None or rollout.changed:
            fields.append('rollout')
    _check_bundles(params, current)

    if not changes:
        plan = Plan(None, channel, channel, sorted(set(fields)), generation=generation, warnings=warnings)
        plan.result = _result(plan, channel, [])
        return plan
    body = dict(app_id=app_id, channel=name)
    body.update(body_fields)
    if rollout is not None:
        body.update(rollout.fields)
    if generation == 'classic':
        # Classic resets the bundle of any channel updated without one: always name the one it should serve.
        body['version'] = after['bundle'] or WIRE_NO_BUNDLE
    elif bundle_changes and not (rollout is not None and rollout.stable_by_server):
        body['version'] = wanted_bundle or WIRE_NO_BUNDLE
    becomes_public = after.get('public') and not channel.get('public')
    others = _public_names(current.get('siblings')) if becomes_public else []
    follow_ups = [dict(dict(app_id=app_id, channel=name), **fields_) for fields_ in (rollout.follow_up if rollout else [])]
    plan = Plan('update', channel, after, sorted(set(fields)), changes=sorted(changes), body=body, follow_ups=follow_ups,
                repeatable=rollout is None or rollout.repeatable, rollout_action=rollout.action if rollout else None,
                generation=generation, warnings=warnings, demote=[],
                await_demotion=others if generation == 'classic' else [],
                confirm_fields=sorted(set(changes) - set(['rollout'])), publicizing=bool(becomes_public))
    plan.result = _result(plan, after, others)
    return plan


def plan(module, current):
    """channels.plan for CapgoModule.run: the pure plan, and its warnings said through the module."""
    planned = plan_channel(module.params, current)
    for warning in planned.warnings:
        module.warn(warning)
    return planned


# -- write (the only POST and DELETE of /channel) --------------------------------------------------

def holds(item, planned, fields, rollout=True):
    """Whether a GET /channel item shows what ``planned`` (the channel after the run) says for ``fields``."""
    if item is None:
        return False
    channel = normalize_channel(item)
    for field in fields:
        if channel.get(field) != planned.get(field):
            return False
    if rollout and 'rollout' in planned:
        return rollout_holds(item, planned['rollout'])
    return True


def _follow_up_holds(item, body):
    have = normalize_rollout(item) if item is not None else None
    if have is None or have['bundle'] != body.get('rolloutVersion', have['bundle']):
        return False
    return 'rolloutPaused' not in body or have['paused'] == body['rolloutPaused']


def post_channel(client, body, confirm, repeatable=True, context=None):
    """POST /channel through client.write, with the messages a person can act on for the codes that need one."""
    try:
        return client.write('POST', '/channel', json=body, confirm=confirm, repeatable=repeatable)
    except CapgoError as exc:
        raise _explained(exc, body, context or {})


def _rights_hint(body, context):
    """What a 400 cannot_access_app to this POST /channel means: the rights it needs (capgo-api.md 12.1 #2, 12.2)."""
    name = body.get('channel')
    if context.get('action') == 'create':
        needs = ['creating channel %s needs the app.create_channel right (app_developer and up)' % name]
    else:
        needs = ['changing channel %s needs the channel.update_settings right (app_admin, org_admin, org_super_admin or '
                 'channel_admin; app_developer keys, which "write" mode keys became, lack it since 2026-07-13)' % name]
        if context.get('promotes'):
            needs.append('a bundle or rollout change also needs channel.promote_bundle')
    if context.get('publicizing') and context.get('generation') in (None, 'latest'):
        needs.append('making channel %s public needs the %s right on the app (latest Capgo, api.capgo.app), which '
                     'app_developer, app_uploader and app_preview keys lack' % (name, PUBLICIZE_RIGHT))
    return ('%s. Use a key with those rights (see docs/authentication.md). The current API also answers this when its '
            'permission check itself failed: if the key has the rights, run the task again' % '; '.join(needs))


def _explained(exc, body, context):
    hint = None
    if exc.error in PACKAGE_ERRORS:
        bundle = context.get('bundle') or body.get('version') or 'the bundle the channel serves'
        hint = ('bundle %s lacks %s, which channel %s needs for update_package=%s: upload the bundle with it, or choose '
                'another update_package' % (bundle, PACKAGE_ERRORS[exc.error], body.get('channel'),
                                            context.get('update_package') or 'its setting'))
    elif exc.error == 'cannot_access_app' and context.get('action') and context.get('generation') != 'classic':
        # classic has key modes, not rights; an app without channels does not say its generation (None)
        hint = _rights_hint(body, context)
    elif exc.status == 500 and exc.error == 'unknown_error' and body.get('version') not in (None, WIRE_NO_BUNDLE):
        hint = ('Capgo answers 500 when the bundle named does not exist: check that bundle %s exists in app %s'
                % (body.get('version'), body.get('app_id')))
    if hint is None:
        return exc
    explained = CapgoError('%s. %s' % (exc.message, hint), method=exc.method, path=exc.path, status=exc.status,
                           error=exc.error, api_message=exc.api_message, more_info=exc.more_info)
    for attribute in ('outcome_unknown', 'result'):
        if hasattr(exc, attribute):
            setattr(explained, attribute, getattr(exc, attribute))
    return explained


def delete_channel(client, app_id, name):
    """DELETE /channel (every parameter in the JSON body, see client.delete); a retry meeting cannot_find_channel is done."""
    return client.delete('/channel', dict(app_id=app_id, channel=name),
                         confirm=lambda: get_channel(client, app_id, name) is None,
                         done_errors=('cannot_find_channel',))


def write(module, planned):
    """Carry out a changed plan; returns the result of the task. Raises (CapgoError, CapgoInputError) on failure."""
    client = module.client
    params = module.params
    app_id, name = params['app_id'], params['name']
    if planned.action == 'delete':
        answer = delete_channel(client, app_id, name)
        # A lost answer was already decided by reading the channel back; otherwise classic's 200 proves nothing.
        if answer != {'confirmed': True} and get_channel(client, app_id, name) is not None:
            raise CapgoInputError(
                'Capgo answered DELETE /channel with success, but channel %s of app %s still exists. The classic Capgo API '
                'does this when the API key is not an "all" mode key, or when devices are still pinned to the channel: '
                'remove those overrides (capgo.cloud.capgo_device_link state=absent) and use a key with full rights'
                % (name, app_id))
        return planned.result

    fields = planned.confirm_fields
    context = dict(publicizing=planned.after.get('public') and not (planned.before or {}).get('public'),
                   action=planned.action, generation=planned.generation,
                   promotes=bool(set(planned.changes or ()) & set(['bundle', 'rollout'])),
                   bundle=planned.after.get('bundle'), update_package=planned.after.get('update_package'))
    follow_ups = getattr(planned, 'follow_ups', [])
    post_channel(client, planned.body,
                 confirm=lambda: holds(get_channel(client, app_id, name), planned.after, fields, rollout=not follow_ups),
                 repeatable=planned.repeatable, context=context)
    for follow_up in follow_ups:
        post_channel(client, follow_up, repeatable=True, context=context,
                     confirm=lambda body=follow_up: _follow_up_holds(get_channel(client, app_id, name), body))
    for demotion in planned.demote:
        other = demotion['channel']
        post_channel(client, demotion, repeatable=True,
                     confirm=lambda other=other: _is_private(get_channel(client, app_id, other)))

    result = dict(planned.result)
    others = list(planned.result['demoted'])
    if others:
        items = list_channels(client, app_id)
        if planned.await_demotion:
            items = _await_classic_demotion(client, app_id, name, items, planned.await_demotion)
        final = _find(items, name)
        still_public = [other for other in _public_names(items) if other != name]
        result['demoted'] = sorted(set(others) - set(still_public))
        lingering = sorted(set(others) & set(still_public))
        if lingering:
            module.warn('channel %s is public, and Capgo still shows %s as public too. Capgo keeps one public channel per '
                        'platform, so they serve other platforms, or (classic API) the demotion has not been applied yet'
                        % (name, ', '.join(lingering)))
    else:
        final = get_channel(client, app_id, name)
    if final is None:
        raise CapgoError('Capgo accepted POST /channel for channel %s of app %s, but the channel cannot be read back'
                         % (name, app_id), method='GET', path='/channel')
    result['channel'] = normalize_channel(final)
    return result


def _is_private(item):
    return item is not None and not item.get('public')


def _find(items, name):
    for item in items:
        if item.get('name') == name:
            return item
    return None


def _await_classic_demotion(client, app_id, name, items, others):
    """Classic demotes the other defaults asynchronously after an update: wait a bounded time for it to show."""
    deadline = time.time() + DEMOTION_WAIT
    while set(others) & set(_public_names(items)) and time.time() < deadline:
        time.sleep(DEMOTION_POLL)
        items = list_channels(client, app_id)
    return items
