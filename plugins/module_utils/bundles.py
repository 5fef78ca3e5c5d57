# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Bundles: read and write /bundle, and plan retention, named deletes and registration (pure).

This file is the only place that sends ``DELETE /bundle``. That call without a ``version`` soft-deletes every
bundle of the app, and a JSON body silently wins over the query string (capgo-api.md 7.2, 11.2 #1), so
``delete_bundle`` refuses a missing or blank version before anything is sent and puts every parameter in the
JSON body (``client.delete``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible_collections.capgo.cloud.plugins.module_utils.base import is_semver
from ansible_collections.capgo.cloud.plugins.module_utils.client import CapgoError, CapgoInputError
from ansible_collections.capgo.cloud.plugins.module_utils.engine import Plan
from ansible_collections.capgo.cloud.plugins.module_utils.channels import bundle_name, list_channels

BUNDLE_PATH = '/bundle'
LOOKUP_PATH = '/bundle/lookup'
DELETE_SELECTORS = ('version', 'versions', 'keep')
REGISTER_OPTIONS = ('external_url', 'checksum', 'session_key')
# Capgo compares the scheme case-sensitively: HTTPS://... is refused with invalid_protocol (capgo-api.md 12.2 #1).
EXTERNAL_URL_RE = re.compile(r'^https://[^/\s]+')
TIMESTAMP_RE = re.compile(
    r'^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$', re.IGNORECASE)
EPOCH = datetime.datetime(1970, 1, 1)
# How many bundle names a retention warning lists before it says "and N more".
WARN_NAMES_MAX = 20


# -- the wire row in option names ---------------------------------------------------------------

def normalize_bundle(item):
    """A GET /bundle row in the option names of capgo.cloud.capgo_bundle (the session key is never returned)."""
    native = item.get('native_packages')
    return dict(
        id=item.get('id'),
        version=item.get('name'),
        app_id=item.get('app_id'),
        created_at=item.get('created_at'),
        updated_at=item.get('updated_at'),
        external_url=item.get('external_url'),
        checksum=item.get('checksum'),
        min_update_version=item.get('min_update_version'),
        native_packages=list(native) if isinstance(native, (list, tuple)) else native,
        encrypted=bool(item.get('session_key')),
        comment=item.get('comment'),
        link=item.get('link'),
    )


# -- ordering -------------------------------------------------------------------------------------

def created_at_seconds(value):
    """Seconds since the epoch (UTC) of a created_at as Postgres or JavaScript writes it, None if unreadable."""
    match = TIMESTAMP_RE.match((value or '').strip()) if isinstance(value, str) else None
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        moment = datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                                   int((fraction or '0')[:6].ljust(6, '0')))
    except ValueError:
        return None
    seconds = (moment - EPOCH).total_seconds()
    if offset and offset.upper() != 'Z':
        sign = -1 if offset[0] == '-' else 1
        digits = offset[1:].replace(':', '')
        seconds -= sign * (int(digits[:2]) * 3600 + int(digits[2:4] or '0') * 60)
    return seconds


def newest_first(bundles, strict=True):
    """GET /bundle rows ordered newest first by created_at, ties broken by id (the later upload has the higher id).

    An unreadable created_at fails when ``strict`` (retention must not guess ages), else sorts as the oldest.
    """
    keyed = []
    for item in bundles:
        seconds = created_at_seconds(item.get('created_at'))
        if seconds is None and strict:
            raise CapgoInputError('Cannot order the bundles by upload time: bundle %s has an unreadable created_at %r; '
                                  'nothing was deleted' % (item.get('name'), item.get('created_at')))
        if seconds is None:
            seconds = float('-inf')
        ident = item.get('id')
        keyed.append(((seconds, ident if isinstance(ident, int) else -1), item))
    keyed.sort(key=lambda pair: pair[0], reverse=True)
    return [item for dummy, item in keyed]


# -- what channels serve --------------------------------------------------------------------------

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


# -- pure planning --------------------------------------------------------------------------------

def plan_retention(ordered_names, keep, served):
    """(delete, kept) for "keep the newest ``keep``": ``ordered_names`` newest first; served bundles always stay.

    ``delete`` is oldest first (the order the deletes are sent in), ``kept`` newest first.
    """
    delete = [name for index, name in enumerate(ordered_names) if index >= keep and name not in served]
    doomed = set(delete)
    kept = [name for name in ordered_names if name not in doomed]
    return list(reversed(delete)), kept


def plan_named(ordered_names, wanted):
    """(delete, kept) for explicitly named bundles: only those that exist, oldest first."""
    wanted = set(wanted)
    delete = [name for name in reversed(ordered_names) if name in wanted]
    kept = [name for name in ordered_names if name not in wanted]
    return delete, kept


def unreleased_doomed(ordered_names, delete, served):
    """The bundles ``delete`` would remove that are newer than every bundle a channel serves, newest first.

    Those were uploaded after the newest served bundle and no channel serves them yet: usually the release
    being prepared, which a retention run rarely means to delete. Empty when no channel serves any bundle
    (there is then nothing to compare with).
    """
    served_positions = [index for index, name in enumerate(ordered_names) if name in served]
    if not served_positions:
        return []
    newest_served = min(served_positions)
    doomed = set(delete)
    return [name for name in ordered_names[:newest_served] if name in doomed]


def deletion_candidates(params, ordered_names):
    """The bundles the task may delete before channels are considered (decides whether channels must be read)."""
    if params.get('keep') is not None:
        return ordered_names[params['keep']:]
    wanted = set([params['version']] if params.get('version') is not None else params.get('versions') or ())
    return [name for name in ordered_names if name in wanted]


def validate(params):
    """Reject what the argument spec cannot, before any request (CapgoInputError)."""
    state = params['state']
    selectors = [name for name in DELETE_SELECTORS if params.get(name) is not None]
    if state == 'absent':
        if len(selectors) != 1:
            raise CapgoInputError(
                'state=absent needs exactly one of version, versions or keep (got %s): the module never deletes without '
                'naming what to delete; use keep=0 to delete every bundle that no channel serves'
                % (', '.join(selectors) if selectors else 'none'))
        extra = [name for name in REGISTER_OPTIONS if params.get(name) is not None]
        if extra:
            raise CapgoInputError('%s only apply to state=present (registering a bundle)' % ', '.join(extra))
        if params.get('version') is not None and not params['version'].strip():
            raise CapgoInputError('version must not be empty: a delete without a version would delete every bundle of '
                                  'the app')
        for name in params.get('versions') or ():
            if name is None or not name.strip():
                raise CapgoInputError('versions must not contain an empty name: a delete without a version would delete '
                                      'every bundle of the app')
        if params.get('keep') is not None and params['keep'] < 0:
            raise CapgoInputError('keep must be 0 or more, got %d' % params['keep'])
        return
    wrong = [name for name in ('versions', 'keep') if params.get(name) is not None]
    if wrong:
        raise CapgoInputError('%s %s bundles, which needs state=absent: add state: absent to the task to delete them'
                              % (' and '.join(wrong), 'delete' if len(wrong) > 1 else 'deletes'))
    missing = [name for name in ('version', 'external_url', 'checksum') if not params.get(name)]
    if missing:
        raise CapgoInputError('state=present registers an externally hosted bundle and needs version, external_url and '
                              'checksum; missing: %s' % ', '.join(missing))
    if not is_semver(params['version']):
        raise CapgoInputError('version %r is not a semantic version like 1.4.2 (no leading v): Capgo only registers '
                              'semver bundles' % params['version'])
    if not EXTERNAL_URL_RE.match(params['external_url']):
        if params['external_url'].lower().startswith('https://') and len(params['external_url']) > len('https://'):
            raise CapgoInputError('external_url must start with a lower-case https:// (got %r): Capgo refuses any other '
                                  'spelling of the scheme with invalid_protocol' % params['external_url'])
        raise CapgoInputError('external_url must be an https:// URL, got %r' % params['external_url'])


def _result(names, after, deleted, protected, changed, **extra):
    """The module's result: ``deleted`` oldest first, ``kept`` and the diff's bundle names newest first."""
    result = dict(changed=changed, deleted=list(deleted), kept=list(after), protected=protected,
                  diff=dict(before=dict(bundles=list(names)), after=dict(bundles=list(after))))
    result.update(extra)
    return result


def plan_absent(module, current):
    """Plan of state=absent: which bundles to delete, oldest first; CapgoInputError when a served one is named."""
    params = module.params
    bundles = current['bundles']
    names = [item.get('name') for item in bundles]
    served = served_bundles(current.get('channels'), bundles)
    if params.get('keep') is not None:
        to_delete, kept = plan_retention(names, params['keep'], served)
        surprising = unreleased_doomed(names, to_delete, served)
        if surprising:
            newest_served = next(name for name in names if name in served)
            shown = ', '.join(surprising[:WARN_NAMES_MAX])
            if len(surprising) > WARN_NAMES_MAX:
                shown += ' and %d more' % (len(surprising) - WARN_NAMES_MAX)
            many = len(surprising) > 1
            module.warn('keep=%d deletes %s, newer than every bundle a channel serves (the newest served is %s, on %s): '
                        'no channel serves %s yet. If %s a release being prepared, raise keep or point a channel at %s '
                        'first' % (params['keep'], shown, newest_served, ', '.join(served[newest_served]),
                                   'them' if many else 'it', 'they are' if many else 'it is', 'them' if many else 'it'))
    else:
        candidates = deletion_candidates(params, names)
        blocked = [name for name in candidates if name in served]
        if blocked:
            raise CapgoInputError(
                'Refusing to delete %s: %s; nothing was deleted. Point the channel at another bundle first.' % (
                    ', '.join(blocked),
                    '; '.join('%s is served by channel %s' % (name, ', '.join(served[name])) for name in blocked)))
        to_delete, kept = plan_named(names, candidates)
    protected = dict((name, served[name]) for name in names if name in served)
    result = _result(names, kept, to_delete, protected, bool(to_delete))
    return Plan('delete' if to_delete else None, dict(bundles=names), dict(bundles=kept), ('bundles',),
                changes=to_delete, result=result, app_id=params['app_id'], names=names, delete=to_delete,
                protected=protected)


def _conflicts(existing, params):
    """The registration options whose value differs from the existing bundle's (the session key only when readable)."""
    conflicts = [name for name in ('external_url', 'checksum') if (existing.get(name) or None) != params[name]]
    if params.get('session_key') is not None and existing.get('session_key') is not None \
            and existing['session_key'] != params['session_key']:
        conflicts.append('session_key')
    return conflicts


def check_same(existing, params):
    """CapgoInputError when the existing bundle holds other content than the one asked for."""
    conflicts = _conflicts(existing, params)
    if conflicts:
        shown = ['it has %s=%r' % (name, existing.get(name)) for name in conflicts if name != 'session_key']
        raise CapgoInputError(
            'Bundle %s already exists in app %s with a different %s%s; Capgo bundles cannot be changed: register a new '
            'version' % (params['version'], params['app_id'], ' and '.join(conflicts),
                         ' (%s)' % ', '.join(shown) if shown else ''))


def plan_present(module, current):
    """Plan of state=present: nothing when the bundle exists with the same content, else one POST /bundle."""
    params = module.params
    version = params['version']
    names = [item.get('name') for item in current['bundles']]
    existing = next((item for item in current['bundles'] if item.get('name') == version), None)
    if existing is not None:
        check_same(existing, params)
        return Plan(None, dict(bundles=names), dict(bundles=names), ('bundles',), changes=[],
                    result=_result(names, names, [], {}, False, bundle=normalize_bundle(existing)))
    held = current.get('lookup')
    if held and held.get('exists') and held.get('deleted'):
        raise CapgoInputError(
            'Cannot register bundle %s in app %s: a deleted bundle used this version, and Capgo keeps a deleted '
            "bundle's name reserved (until it is purged, about 90 days after deletion). Register a new version"
            % (version, params['app_id']))
    after = [version] + names
    body = dict(app_id=params['app_id'], version=version, external_url=params['external_url'], checksum=params['checksum'])
    if params.get('session_key') is not None:
        body['session_key'] = params['session_key']
    predicted = normalize_bundle(dict(name=version, app_id=params['app_id'], external_url=params['external_url'],
                                      checksum=params['checksum'], session_key=params.get('session_key')))
    result = _result(names, after, [], {}, True, bundle=predicted)
    return Plan('create', dict(bundles=names), dict(bundles=after), ('bundles',), changes=[version], result=result,
                body=body, names=names)


def plan(module, current):
    if module.params['state'] == 'present':
        return plan_present(module, current)
    return plan_absent(module, current)


# -- reading /bundle ---------------------------------------------------------------------------------

def list_bundles(client, app_id):
    """Every live bundle of the app.

    An app without bundles is an empty list on every generation: ``200 []`` (latest) and HEAD's 400
    ``cannot_get_bundle`` without a database error both mean "no bundles". A key without access fails (400
    ``cannot_get_bundle`` "You can't access this app", or latest's 404 ``app_not_found``), never an empty list.
    """
    return client.get_paged(BUNDLE_PATH, dict(app_id=app_id), key='id', empty_error='cannot_get_bundle')


def lookup_bundle(client, app_id, name):
    """``GET /bundle/lookup`` (latest): {exists, id, name, deleted}; None where the route does not exist (404 not_found).

    It tells a free name from one held by a soft-deleted bundle in one request; older generations need the POST's
    answer for that.
    """
    body = client.request('GET', LOOKUP_PATH, params=dict(app_id=app_id, name=name), ok_errors=('not_found',))
    if not isinstance(body, dict) or body.get('error') == 'not_found':
        return None
    return body


def read(module):
    """GETs only: the bundles, newest first, and what else the plan needs (channels, or the name's lookup)."""
    validate(module.params)
    client = module.client
    params = module.params
    app_id = params['app_id']
    strict = params['state'] == 'absent' and params.get('keep') is not None
    bundles = newest_first(list_bundles(client, app_id), strict=strict)
    current = dict(bundles=bundles, channels=None, lookup=None)
    if params['state'] == 'present':
        if all(item.get('name') != params['version'] for item in bundles):
            current['lookup'] = lookup_bundle(client, app_id, params['version'])
        return current
    if deletion_candidates(params, [item.get('name') for item in bundles]):
        # Only read the channels when something may be deleted: an unchanged run costs the bundle pages only.
        current['channels'] = list_channels(client, app_id)
    return current


# -- writing /bundle: the one DELETE /bundle, and POST /bundle ---------------------------------------

def delete_bundle(client, app_id, version, confirm=None):
    """Soft-delete one bundle by name (``DELETE /bundle``, every parameter in the JSON body).

    A missing or blank version is refused here, before sending: the API would delete every bundle of the app.
    ``cannot_delete_version`` met on a re-send after a lost answer means the first attempt went through.
    """
    if not isinstance(version, str) or not version.strip() or not isinstance(app_id, str) or not app_id.strip():
        raise CapgoError('Refusing to send DELETE /bundle without a bundle version: the API would delete every bundle '
                         'of the app', method='DELETE', path=BUNDLE_PATH)
    return client.delete(BUNDLE_PATH, dict(app_id=app_id, version=version), confirm=confirm, repeatable=True,
                         done_errors=('cannot_delete_version',))


def bundle_gone(client, app_id, version):
    """Read-back after a DELETE whose answer was lost: True when no live bundle has this name any more."""
    held = lookup_bundle(client, app_id, version)
    if held is not None:
        return not held.get('exists') or bool(held.get('deleted'))
    return all(item.get('name') != version for item in list_bundles(client, app_id))


def _explained(error, message):
    """The API's error re-raised with a message a person can act on (status, code and API message kept)."""
    return CapgoError('%s (%s)' % (message, error.message), method=error.method, path=error.path, status=error.status,
                      error=error.error, api_message=error.api_message, more_info=error.more_info,
                      outcome_unknown=error.outcome_unknown)


def write_absent(module, planned):
    client = module.client
    deleted = []
    for name in planned.delete:
        try:
            delete_bundle(client, planned.app_id, name,
                          confirm=lambda version=name: bundle_gone(client, planned.app_id, version))
        except CapgoError as exc:
            if exc.error == 'cannot_delete_linked_version':
                exc = _explained(exc, 'Capgo refused to delete bundle %s because a channel serves it (it was linked after '
                                      'this task read the channels)' % name)
            left = [item for item in planned.names if item not in set(deleted)]
            exc.result = dict(deleted=list(deleted), kept=left, protected=planned.protected,
                              diff=dict(before=dict(bundles=planned.names), after=dict(bundles=left)))
            raise exc
        deleted.append(name)
    result = dict(planned.result)
    result['deleted'] = deleted
    return result


def _find(client, app_id, version):
    return next((item for item in list_bundles(client, app_id) if item.get('name') == version), None)


def write_present(module, planned):
    client = module.client
    params = module.params
    app_id = params['app_id']
    version = params['version']
    found = {}

    def confirm():
        row = _find(client, app_id, version)
        if row is None:
            return False
        found['row'] = row
        return True

    try:
        answer = client.write('POST', BUNDLE_PATH, json=planned.body, confirm=confirm, repeatable=True,
                              done_errors=('version_already_exists',))
    except CapgoError as exc:
        raise _register_failure(exc, app_id, version, params.get('session_key') is not None)
    row = answer.get('bundle') if isinstance(answer, dict) else None
    if not isinstance(row, dict) or answer.get('error') == 'version_already_exists':
        # The lost answer was confirmed, a re-send met the bundle the first attempt created, or the answer had no
        # row: read it back and make sure it is the one asked for.
        row = found.get('row') or _find(client, app_id, version)
        if row is None:
            raise CapgoError('Capgo API POST /bundle answered without the registered bundle, and bundle %s cannot be '
                             'read back' % version, method='POST', path=BUNDLE_PATH)
        check_same(row, params)
    result = dict(planned.result)
    result['bundle'] = normalize_bundle(row)
    return result


def _register_failure(exc, app_id, version, with_session_key):
    if exc.error == 'cannot_create_bundle':
        if 'access' in (exc.api_message or '').lower():
            return _explained(exc, 'Capgo refused to register bundle %s: the API key may not upload bundles to app %s '
                                   '(it needs the app.upload_bundle right: an uploader, developer or admin key)'
                              % (version, app_id))
        return _explained(exc, 'Capgo could not register bundle %s: a deleted bundle most likely used this version '
                               'before, and Capgo keeps a deleted bundle\'s name reserved; register a new version' % version)
    if exc.error == 'encryption_required' and not with_session_key:
        return _explained(exc, 'The organization of app %s requires encrypted bundles: encrypt bundle %s with the Capgo '
                               'CLI and register it with the session_key the CLI prints. The newest Capgo API refuses '
                               'every externally hosted bundle of such an organization, with or without session_key: '
                               'there, upload the bundle with the Capgo CLI instead' % (app_id, version))
    if exc.error == 'encryption_required':
        return _explained(exc, 'The organization of app %s requires encrypted bundles, and this Capgo API then refuses '
                               'every externally hosted bundle, with or without session_key. Upload bundle %s with the '
                               'Capgo CLI instead (it encrypts it), or have an organization admin turn off the '
                               'encryption requirement' % (app_id, version))
    if exc.error in ('encryption_key_required', 'encryption_key_mismatch'):
        return _explained(exc, 'The organization of app %s requires bundles encrypted with its key: encrypt bundle %s '
                               'with the Capgo CLI and its public key, and pass the session_key it prints'
                          % (app_id, version))
    if exc.status == 404 and exc.error in (None, 'not_found'):
        return _explained(exc, 'This Capgo API has no POST /bundle endpoint to register external bundles (older API '
                               'generation); upload the bundle with the Capgo CLI instead')
    if exc.error == 'version_already_exists':
        return _explained(exc, 'Bundle %s was registered by someone else while this task ran' % version)
    return exc


def write(module, planned):
    if module.params['state'] == 'present':
        return write_present(module, planned)
    return write_absent(module, planned)
