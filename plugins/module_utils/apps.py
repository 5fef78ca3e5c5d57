# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Capgo apps (``GET /app``, ``GET /app/:id``, ``PUT /app/:id``, capgo-apps.md section 1) for capgo_app and capgo_app_info.

The app row is read, compared with the wanted settings in the modules' option names, and only the fields that
differ are sent: an identical PUT still bumps ``updated_at`` and can fire the organisation's webhooks.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.capgo.cloud.plugins.module_utils.client import CapgoError, CapgoInputError
from ansible_collections.capgo.cloud.plugins.module_utils.engine import Plan, differences, merged

DAY = 86400
MAX_RETENTION_DAYS = 730  # the API refuses 63113904 seconds and more (retention_to_big)
# Option name -> app row column, for the plain settings (retention_days is converted).
SETTINGS = (
    ('name', 'name'),
    ('expose_metadata', 'expose_metadata'),
    ('allow_device_custom_id', 'allow_device_custom_id'),
    ('ios_store_url', 'ios_store_url'),
    ('android_store_url', 'android_store_url'),
    ('block_provider_infra_requests', 'block_provider_infra_requests'),
)
FIELDS = ['name', 'retention_days', 'expose_metadata', 'allow_device_custom_id', 'ios_store_url', 'android_store_url',
          'block_provider_infra_requests']
# Answers that mean "no such app, or the key may not see it": Capgo answers both the same.
ABSENT_OR_FORBIDDEN = ('cannot_access_app', 'cannot_find_app', 'app_not_found', 'invalid_app_id')
LIST_PAGE_SIZE = 1000
MAX_PAGES = 10000

_TAG_RE = re.compile(r'<[^>]*>')


def clean_name(name):
    """The name as Capgo stores it: HTML tags stripped, then trimmed (a database trigger does this)."""
    if name is None:
        return None
    return _TAG_RE.sub('', name).strip()


def retention_seconds(row):
    """The app row's retention in seconds as an int; None when absent or not a number."""
    try:
        return int(row.get('retention'))
    except (TypeError, ValueError):
        return None


def retention_days(row):
    """Whole days of the app row's retention (rounded down); None when unknown."""
    seconds = retention_seconds(row)
    return None if seconds is None else seconds // DAY


def normalize_app(row, details=False):
    """A GET /app row in capgo_app's option names (plus app_id; with details owner_org, created_at, updated_at)."""
    if not isinstance(row, dict):
        return None
    app = dict(app_id=row.get('app_id'))
    for option, column in SETTINGS:
        app[option] = row.get(column)
    app['retention_days'] = retention_days(row)
    if details:
        app['owner_org'] = row.get('owner_org')
        app['created_at'] = row.get('created_at')
        app['updated_at'] = row.get('updated_at')
    return app


def _absent_message(app_id, error=None):
    code = ' (%s)' % error if error else ''
    return ('App %s does not exist, or the API key may not see it: Capgo answers both the same way%s. Check the app_id, '
            'and that the key has read access to the app (capgo_app only manages existing apps; create them in the Capgo '
            'console or with the CLI)' % (app_id, code))


def get_app(client, app_id):
    """The GET /app/:id row; CapgoInputError (saying both possibilities) when absent or forbidden."""
    body = client.request('GET', '/app/%s' % app_id, ok_errors=ABSENT_OR_FORBIDDEN)
    if isinstance(body, dict) and body.get('error') in ABSENT_OR_FORBIDDEN:
        extra = dict(error=body.get('error'))
        if body.get('message'):
            extra['api_message'] = body.get('message')
        raise CapgoInputError(_absent_message(app_id, body.get('error')), **extra)
    if not isinstance(body, dict) or not body.get('app_id'):
        raise CapgoError('Capgo API GET /app/%s returned something other than an app' % app_id, method='GET',
                         path='/app/%s' % app_id)
    return body


def list_apps(client, page_size=LIST_PAGE_SIZE):
    """Every app the key can see. GET /app pages are bare arrays with no order: read until a short page, de-duplicate."""
    apps = []
    seen = set()
    for page in range(MAX_PAGES):
        body = client.request('GET', '/app', params=dict(page=str(page), limit=str(page_size)))
        if not isinstance(body, list):
            raise CapgoError('Capgo API GET /app returned %s where a list was expected' % type(body).__name__,
                             method='GET', path='/app')
        for row in body:
            if isinstance(row, dict) and row.get('app_id') not in seen:
                seen.add(row.get('app_id'))
                apps.append(row)
        if len(body) < page_size:
            break
    return apps


# -- capgo_app ---------------------------------------------------------------------------------------------------

def validate(params):
    days = params.get('retention_days')
    if days is not None and not 0 <= days <= MAX_RETENTION_DAYS:
        raise CapgoInputError('retention_days must be between 0 and %d, got %d (Capgo refuses %d seconds and more)'
                              % (MAX_RETENTION_DAYS, days, 63113904))


def desired(params):
    """The wanted settings in option names; None = not set.  Empty store URLs clear them (null)."""
    wanted = {}
    for option, dummy in SETTINGS:
        value = params.get(option)
        if value is None:
            continue
        if option == 'name':
            value = clean_name(value)
        wanted[option] = value
    if params.get('retention_days') is not None:
        wanted['retention_days'] = params['retention_days']
    return wanted


def _comparable(app):
    """Store URLs: '' and null both mean none."""
    view = dict(app)
    for option in ('ios_store_url', 'android_store_url'):
        if view.get(option) == '':
            view[option] = None
    return view


def read(module):
    validate(module.params)
    return get_app(module.client, module.params['app_id'])


def plan(module, row):
    params = module.params
    before = normalize_app(row)
    wanted = desired(params)
    for option in ('ios_store_url', 'android_store_url'):
        if wanted.get(option) == '':
            wanted[option] = None
    changes = [name for name in differences(wanted, _comparable(before)) if name in wanted]
    # differences() skips None values (unset); a store URL the user clears is a wanted None: compare it here.
    for option in ('ios_store_url', 'android_store_url'):
        if params.get(option) == '' and _comparable(before).get(option) is not None and option not in changes:
            changes.append(option)
    # Days are compared as the seconds Capgo stores: a retention set elsewhere to a part of a day reads as whole
    # days, yet asking for those days rewrites it to them.
    days = wanted.get('retention_days')
    if days is not None and retention_seconds(row) != days * DAY:
        changes.append('retention_days')
    changes = sorted(set(changes))
    after = merged(before, dict((k, v) for k, v in wanted.items() if v is not None))
    for option in changes:
        if wanted.get(option) is None:
            after[option] = None
    if not changes:
        return Plan(None, before, before, FIELDS, result=dict(changed=False, app=before, diff=dict(
            before=_view(before), after=_view(before))))
    body = {}
    for option in changes:
        if option == 'retention_days':
            body['retention'] = wanted['retention_days'] * DAY
        else:
            body[dict(SETTINGS)[option]] = wanted.get(option)
    planned = Plan('update', before, after, FIELDS, changes=changes, body=body)
    planned.result = dict(changed=True, app=after, diff=planned.diff())
    return planned


def _view(app):
    return dict((name, app.get(name)) for name in FIELDS)


def _holds(client, app_id, planned):
    """Whether the app holds every planned value (the read-back after a lost PUT answer)."""
    try:
        row = get_app(client, app_id)
    except CapgoInputError:
        return None
    now = _comparable(normalize_app(row))
    for name in planned.changes:
        if name == 'retention_days':
            if retention_seconds(row) != planned.body['retention']:
                return False
        elif now.get(name) != planned.after.get(name):
            return False
    return True


def write(module, planned):
    client = module.client
    app_id = module.params['app_id']
    path = '/app/%s' % app_id
    answer = client.write('PUT', path, json=planned.body, confirm=lambda: _holds(client, app_id, planned),
                          ok_errors=ABSENT_OR_FORBIDDEN)
    if isinstance(answer, dict) and answer.get('error') in ABSENT_OR_FORBIDDEN:
        raise CapgoInputError('Capgo refused to change app %s (%s): the key may read the app but lacks the right to change '
                              'its settings (app.update_settings: org_super_admin, org_admin or app_admin), or the app '
                              'was deleted meanwhile' % (app_id, answer.get('error')), error=answer.get('error'))
    app = normalize_app(answer) if isinstance(answer, dict) and answer.get('app_id') else None
    if app is None:
        app = planned.after
    return dict(changed=True, app=app, diff=planned.diff())


# -- capgo_app_info ----------------------------------------------------------------------------------------------

def read_info(module):
    app_id = module.params.get('app_id')
    if app_id:
        rows = [get_app(module.client, app_id)]
    else:
        rows = list_apps(module.client)
    apps = [normalize_app(row, details=True) for row in rows]
    apps.sort(key=lambda app: str(app.get('app_id')))
    return dict(changed=False, apps=apps)
