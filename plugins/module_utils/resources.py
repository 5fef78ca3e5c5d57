# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Capgo's three resources as the modules speak of them.

Each resource has one reader (HTTP -> wire dict) and one normaliser (wire dict -> option names), shared by
the module that manages it and by capgo_info, so what is read can be written back unchanged.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.capgo.cloud.plugins.module_utils.client import CapgoError

# Bundle names that stand for "no bundle": the store build's own web assets.
NO_BUNDLE_NAMES = frozenset(('builtin', 'unknown'))
BUILTIN = 'builtin'

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
# Accepted on POST, never returned by GET: a client cannot read them back.
CHANNEL_PLATFORMS = ('ios', 'android', 'electron')

DEVICE_LIST_LIMIT = 500


def api_generation(channel_item):
    """'current' when a GET /channel item carries the rollout columns (2026-07 and later), else 'classic'."""
    if channel_item and ('rolloutPercentageBps' in channel_item or 'rollout_version' in channel_item):
        return 'current'
    return 'classic'


def bundle_name(version_field):
    """The bundle name of a GET /channel ``version`` object, None when the channel serves no bundle."""
    if isinstance(version_field, dict):
        name = version_field.get('name')
    else:
        name = version_field
    if not name or name in NO_BUNDLE_NAMES:
        return None
    return name


# Rollout option name -> GET/POST field, with the factor between the option's unit and the wire's.
# Percentages are basis points on the wire (1 % = 100 bps).
ROLLOUT_SETTINGS = (
    ('percentage', 'rolloutPercentageBps', 100),
    ('cache_ttl', 'rolloutCacheTtlSeconds', None),
)
AUTO_PAUSE_SETTINGS = (
    ('enabled', 'autoPauseEnabled', None),
    ('window_minutes', 'autoPauseWindowMinutes', None),
    ('failure_rate', 'autoPauseFailureRateBps', 100),
    ('confidence', 'autoPauseConfidence', None),
    ('min_attempts', 'autoPauseMinAttempts', None),
    ('min_failures', 'autoPauseMinFailures', None),
    ('action', 'autoPauseAction', None),
    ('cooldown_minutes', 'autoPauseCooldownMinutes', None),
)


def percent_to_bps(percent):
    """A percentage (0-100, to 0.01) in basis points, the unit the API stores."""
    return int(round(percent * 100))


def bps_to_percent(bps):
    return None if bps is None else round(bps / 100.0, 2)


def _from_wire(value, factor):
    if factor is None or value is None:
        return value
    return bps_to_percent(value)


def rollout_settings(item):
    """Every rollout setting of a current-generation GET /channel item, whether or not a rollout runs.

    ``bundle`` is the candidate bundle (None when none is set); the other keys keep their values between
    rollouts (the API stores them on the channel), which is what a new rollout starts from.
    """
    settings = dict(
        bundle=bundle_name(item.get('rollout_version_info')),
        paused=bool(item.get('rolloutPausedAt')),
    )
    for option, wire, factor in ROLLOUT_SETTINGS:
        settings[option] = _from_wire(item.get(wire), factor)
    settings['auto_pause'] = dict((option, _from_wire(item.get(wire), factor)) for option, wire, factor in AUTO_PAUSE_SETTINGS)
    if settings['auto_pause']['enabled'] is not None:
        settings['auto_pause']['enabled'] = bool(settings['auto_pause']['enabled'])
    return settings


def rollout_running(item):
    """Whether a GET /channel item serves a candidate bundle to a share of devices (set and enabled)."""
    return bool(item) and api_generation(item) == 'current' and bool(item.get('rolloutEnabled')) \
        and bundle_name(item.get('rollout_version_info')) is not None


def normalize_rollout(item):
    """The running rollout of a GET /channel item in the option names of capgo_channel's ``rollout``, or None.

    A candidate bundle left on a channel with the rollout disabled serves no device, so it reads as no rollout.
    """
    if not rollout_running(item):
        return None
    return rollout_settings(item)


def rollout_wire(option_values, table):
    """Rollout or auto-pause options (option name -> value, None = unset) as POST /channel fields."""
    body = {}
    for option, wire, factor in table:
        value = option_values.get(option)
        if value is None:
            continue
        body[wire] = percent_to_bps(value) if factor else value
    return body


def normalize_channel(item):
    """A GET /channel item in the option names of capgo.cloud.capgo_channel."""
    if item is None:
        return None
    channel = dict(
        id=item.get('id'),
        name=item.get('name'),
        app_id=item.get('app_id'),
        bundle=bundle_name(item.get('version')),
    )
    for option, wire in CHANNEL_SETTINGS:
        channel[option] = item.get(wire)
    channel['created_at'] = item.get('created_at')
    channel['updated_at'] = item.get('updated_at')
    if api_generation(item) == 'current':
        channel['rollout'] = normalize_rollout(item)
    return channel


def normalize_device(item):
    """A GET /device item in the option names of capgo.cloud.capgo_device_link, plus what the device reported."""
    return dict(
        device_id=(item.get('device_id') or '').lower(),
        channel=item.get('channel') or None,
        custom_id=item.get('custom_id') or None,
        platform=item.get('platform'),
        bundle=item.get('version_name'),
        native_version=item.get('version_build'),
        is_prod=item.get('is_prod'),
        is_emulator=item.get('is_emulator'),
        os_version=item.get('os_version'),
        plugin_version=item.get('plugin_version'),
        updated_at=item.get('updated_at'),
    )


def normalize_bundle(item):
    """A GET /bundle row in the option names of capgo.cloud.capgo_bundle (the session key is never returned)."""
    return dict(
        id=item.get('id'),
        version=item.get('name'),
        app_id=item.get('app_id'),
        created_at=item.get('created_at'),
        updated_at=item.get('updated_at'),
        external_url=item.get('external_url'),
        checksum=item.get('checksum'),
        min_update_version=item.get('min_update_version'),
        encrypted=bool(item.get('session_key')),
        comment=item.get('comment'),
        link=item.get('link'),
    )


# -- readers ------------------------------------------------------------------------------------

def get_channel(client, app_id, name):
    """One channel's GET /channel item, or None when it does not exist (the API answers 400 cannot_find_version)."""
    body = client.request('GET', '/channel', params=dict(app_id=app_id, channel=name), ok_errors=('cannot_find_version',))
    if isinstance(body, dict) and body.get('error') == 'cannot_find_version':
        return None
    return body


def list_channels(client, app_id):
    return client.get_paged('/channel', dict(app_id=app_id), key='id')


def list_bundles(client, app_id):
    """Every live bundle; an app without bundles is an empty list, a key without access an error."""
    return client.get_paged('/bundle', dict(app_id=app_id), key='id', empty_error='cannot_get_bundle')


def get_device(client, app_id, device_id):
    """One device's GET /device item, or None when the device never checked in (404 device_not_found)."""
    body = client.request('GET', '/device', params=dict(app_id=app_id, device_id=device_id.lower()), ok_errors=('device_not_found',))
    if isinstance(body, dict) and body.get('error') == 'device_not_found':
        return None
    return body


def list_devices(client, app_id, limit=DEVICE_LIST_LIMIT, stop=None):
    """(devices, complete): the device list by cursor; ``stop(items)`` may end it early (complete is then False)."""
    return client.get_cursor('/device', dict(app_id=app_id), limit=limit, key='device_id', stop=stop)


# -- bundles: what channels serve, and the one place a bundle is deleted -----------------------------

def served_bundles(channel_items, bundle_items=()):
    """Bundle name -> sorted names of the channels serving it (as their bundle or their rollout bundle).

    ``bundle_items`` (GET /bundle rows) resolve a rollout bundle the channel item names only by id.
    """
    names_by_id = dict((item.get('id'), item.get('name')) for item in bundle_items or () if isinstance(item, dict))
    served = {}
    for item in channel_items or ():
        candidates = [bundle_name(item.get('version')), bundle_name(item.get('rollout_version_info'))]
        if item.get('rollout_version') is not None:
            candidates.append(bundle_name(names_by_id.get(item.get('rollout_version'))))
        for name in set(candidate for candidate in candidates if candidate):
            served.setdefault(name, set()).add(item.get('name'))
    return dict((name, sorted(channels)) for name, channels in served.items())


def delete_bundle(client, app_id, version):
    """Soft-delete one bundle by name.

    ``DELETE /bundle`` without a version deletes every bundle of the app, and a JSON body silently wins over
    the query string, so every parameter goes in the body and an empty version is refused here, before sending.
    ``cannot_delete_version`` met on a retry after a dropped connection means the first attempt went through.
    """
    if not isinstance(version, str) or not version.strip() or not app_id:
        raise CapgoError('Refusing to send DELETE /bundle without a bundle version: the API would delete every bundle of the app',
                         method='DELETE', path='/bundle')
    return client.request('DELETE', '/bundle', json=dict(app_id=app_id, version=version), done_errors=('cannot_delete_version',))
