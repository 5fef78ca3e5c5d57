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

# Moved to channels.py (the one home of /channel); re-exported only until every importer imports from there.
from ansible_collections.capgo.cloud.plugins.module_utils.channels import (  # noqa: F401 pylint: disable=unused-import
    bundle_name,
    get_channel,
    list_channels,
    normalize_channel,
)
from ansible_collections.capgo.cloud.plugins.module_utils.client import CapgoError
# Moved to devices.py (the one home of /device); re-exported only until every importer imports from there.
from ansible_collections.capgo.cloud.plugins.module_utils.devices import (  # noqa: F401 pylint: disable=unused-import
    DEVICE_LIST_LIMIT,
    get_device,
    list_devices,
    normalize_device,
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

def list_bundles(client, app_id):
    """Every live bundle; an app without bundles is an empty list, a key without access an error."""
    return client.get_paged('/bundle', dict(app_id=app_id), key='id', empty_error='cannot_get_bundle')


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
