#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: capgo_bundle
short_description: Delete, prune and register Capgo bundles
version_added: 1.0.0
description:
  - Deletes one or several bundles (live update versions) of a Capgo app, prunes old bundles while keeping the
    newest ones (like the Capgo CLI's C(bundle cleanup --keep)), or registers a bundle hosted outside Capgo.
  - A bundle that a channel serves, as its bundle or as the bundle of a progressive rollout, is never deleted.
    Older Capgo API generations do not protect such bundles themselves; this module always does.
  - The module reads the app's bundles and channels first and only deletes bundles that exist, so deleting a
    bundle that is already gone reports no change.
  - Every delete names exactly one bundle. The module never sends a delete without a bundle version, which the
    API would take as "delete every bundle of the app". To delete every bundle no channel serves, say so with
    O(keep=0).
  - Capgo keeps a deleted bundle's name reserved, so a version can never be registered again once it was deleted.
author:
  - Capgo collection maintainers (@capgo-cloud)
extends_documentation_fragment:
  - capgo.cloud.connection
  - capgo.cloud.attributes
options:
  app_id:
    description:
      - The app's reverse-domain id, for example V(com.example.app). Checked before any request.
    type: str
    required: true
  state:
    description:
      - V(present) registers the externally hosted bundle O(version) (needs O(external_url) and O(checksum)).
      - V(absent) deletes bundles. It needs exactly one of O(version), O(versions) or O(keep). Deleting always
        needs an explicit O(state=absent).
    type: str
    choices: [present, absent]
    default: present
  version:
    description:
      - The name (version) of one bundle.
      - With O(state=present) it must be a semantic version without a leading V(v), for example V(1.4.2).
      - With O(state=absent), a bundle that does not exist is not an error (nothing to delete). A bundle that a
        channel serves makes the task fail, naming the channel, and nothing is deleted.
    type: str
  versions:
    description:
      - Several bundle names to delete, with O(state=absent).
      - Names that do not exist are skipped. If any named bundle is served by a channel, the task fails before
        deleting anything and names the channels.
      - An empty list deletes nothing.
    type: list
    elements: str
  keep:
    description:
      - Retention, with O(state=absent). Keeps the newest O(keep) bundles (by upload time) and deletes every
        other bundle, except the bundles that a channel serves, which are always kept in addition.
      - V(0) deletes every bundle that no channel serves.
      - Must be 0 or more.
    type: int
  external_url:
    description:
      - With O(state=present), the C(https://) URL the devices download the bundle's zip file from.
      - Required with O(state=present).
    type: str
  checksum:
    description:
      - With O(state=present), the checksum of the bundle's zip file, as the Capgo CLI computes it.
      - Required with O(state=present).
    type: str
  session_key:
    description:
      - With O(state=present), the session key of an encrypted bundle, as the Capgo CLI prints it when it
        encrypts a bundle.
      - Never shown in the module's output. It is only sent when the bundle is registered; an existing bundle's
        key is not compared unless the API returns it.
    type: str
notes:
  - "Idempotency: O(state=present) changes nothing when the bundle already exists with the same O(external_url)
    and O(checksum), and fails when it exists with different ones, since Capgo bundles cannot be changed.
    Register a new version instead."
  - Registering fails with a clear message when the version was used by a bundle that has since been deleted,
    because Capgo never frees a bundle name, and on Capgo API generations without the C(POST /bundle) endpoint.
  - Deletes go one bundle at a time, oldest first. If one fails, the task fails and RV(deleted) lists what was
    already deleted.
  - Check mode reads the bundles and channels and reports exactly the bundles a real run would delete, without
    deleting any.
  - "Diff mode shows the names of the app's bundles before and after, newest first."
seealso:
  - module: capgo.cloud.capgo_info
  - module: capgo.cloud.capgo_channel
  - name: Capgo CLI bundle cleanup
    description: The CLI command whose C(--keep) option O(keep) mirrors.
    link: https://capgo.app/docs/cli/commands/#cleanup
'''

EXAMPLES = r'''
- name: Prune bundles in CI, keeping the newest 5 and whatever a channel serves
  capgo.cloud.capgo_bundle:
    app_id: com.example.app
    state: absent
    keep: 5
  register: pruned

- name: Show what was pruned
  ansible.builtin.debug:
    msg: "Deleted {{ pruned.deleted | length }} bundles: {{ pruned.deleted | join(', ') }}"

- name: Delete one bundle
  capgo.cloud.capgo_bundle:
    app_id: com.example.app
    state: absent
    version: 1.2.0

- name: Delete several bundles
  capgo.cloud.capgo_bundle:
    app_id: com.example.app
    state: absent
    versions:
      - 1.0.0
      - 1.0.1

- name: Register a bundle hosted on our own CDN
  capgo.cloud.capgo_bundle:
    app_id: com.example.app
    version: 1.4.2
    external_url: https://cdn.example.com/bundles/1.4.2.zip
    checksum: 3b1f2a6c
  register: registered

- name: Register an encrypted bundle, with the key kept in a vault
  capgo.cloud.capgo_bundle:
    app_id: com.example.app
    version: 1.4.3
    external_url: https://cdn.example.com/bundles/1.4.3.zip
    checksum: 9a0c77e1
    session_key: "{{ vault_capgo_session_key }}"
'''

RETURN = r'''
deleted:
  description:
    - Names of the bundles deleted, in the order they were deleted (oldest first).
    - In check mode, the bundles a real run would delete.
  returned: always
  type: list
  elements: str
  sample: [1.0.0, 1.0.1]
kept:
  description:
    - Names of the app's bundles that exist after the run, newest first (in check mode, the prediction).
    - With O(keep), the newest O(keep) bundles plus every bundle a channel serves.
  returned: always
  type: list
  elements: str
  sample: [1.4.2, 1.4.1, 1.1.0]
protected:
  description:
    - The app's bundles that channels serve (as their bundle or their rollout bundle), each with the names of
      those channels. These bundles are never deleted.
    - Empty when the module had no reason to read the channels (nothing to delete, or O(state=present)).
  returned: always
  type: dict
  sample: {"1.1.0": ["production"]}
bundle:
  description:
    - The registered bundle. In check mode, when it does not exist yet, the bundle as it would be registered
      (without the values only Capgo assigns, such as RV(bundle.id)).
  returned: when O(state=present)
  type: dict
  contains:
    id:
      description: Capgo's id of the bundle.
      type: int
    version:
      description: The bundle name (its version).
      type: str
    app_id:
      description: The app id.
      type: str
    created_at:
      description: When the bundle was registered.
      type: str
    updated_at:
      description: When the bundle was last changed.
      type: str
    external_url:
      description: Where the bundle is downloaded from.
      type: str
    checksum:
      description: The bundle's checksum.
      type: str
    min_update_version:
      description: The lowest native version this bundle may be installed on, for the V(version_number) strategy.
      type: str
    encrypted:
      description: Whether the bundle is encrypted (the session key itself is never returned).
      type: bool
    comment:
      description: The bundle's comment.
      type: str
    link:
      description: The bundle's link.
      type: str
  sample:
    id: 301
    version: 1.4.2
    app_id: com.example.app
    created_at: "2026-03-01T09:58:00+00:00"
    external_url: https://cdn.example.com/bundles/1.4.2.zip
    checksum: 3b1f2a6c
    encrypted: false
diff:
  description: The names of the app's bundles before and after the run, newest first.
  returned: always
  type: dict
  contains:
    before:
      description: Before the run.
      type: dict
    after:
      description: After the run (in check mode, the prediction).
      type: dict
  sample:
    before: {bundles: [1.4.2, 1.4.1, 1.0.0]}
    after: {bundles: [1.4.2, 1.4.1]}
'''

import datetime
import re

from ansible_collections.capgo.cloud.plugins.module_utils.base import CapgoModule, is_semver
from ansible_collections.capgo.cloud.plugins.module_utils.client import CapgoError
from ansible_collections.capgo.cloud.plugins.module_utils.resources import (
    delete_bundle,
    list_bundles,
    list_channels,
    normalize_bundle,
    served_bundles,
)

TIMESTAMP_RE = re.compile(
    r'^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$', re.IGNORECASE)
EPOCH = datetime.datetime(1970, 1, 1)
DELETE_OPTIONS = ('version', 'versions', 'keep')
REGISTER_OPTIONS = ('external_url', 'checksum', 'session_key')


class BundleInputError(ValueError):
    """An input the argument spec cannot reject by itself."""


# -- pure planning, unit-tested without HTTP ------------------------------------------------------------

def created_at_seconds(value):
    """Seconds since the epoch (UTC) of a created_at as Postgres or JavaScript writes it, None if unreadable."""
    match = TIMESTAMP_RE.match((value or '').strip()) if isinstance(value, str) else None
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    moment = datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                               int((fraction or '0')[:6].ljust(6, '0')))
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
        if seconds is None and not strict:
            seconds = float('-inf')
        elif seconds is None:
            raise CapgoError('Cannot order the bundles by upload time: bundle %s has an unreadable created_at %r; nothing was deleted'
                             % (item.get('name'), item.get('created_at')))
        ident = item.get('id')
        keyed.append(((seconds, ident if isinstance(ident, int) else -1), item))
    keyed.sort(key=lambda pair: pair[0], reverse=True)
    return [item for dummy, item in keyed]


def plan_retention(ordered_names, keep, served):
    """(delete, kept) for "keep the newest ``keep``": ``ordered_names`` newest first; served bundles always stay."""
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


def validate(params):
    """Reject what the argument spec cannot, before any request."""
    state = params['state']
    selectors = [name for name in DELETE_OPTIONS if params.get(name) is not None]
    if state == 'absent':
        if len(selectors) != 1:
            raise BundleInputError(
                'state=absent needs exactly one of version, versions or keep (got %s): the module never deletes without '
                'naming what to delete; use keep=0 to delete every bundle that no channel serves'
                % (', '.join(selectors) if selectors else 'none'))
        extra = [name for name in REGISTER_OPTIONS if params.get(name) is not None]
        if extra:
            raise BundleInputError('%s only apply to state=present (registering a bundle)' % ', '.join(extra))
        if params.get('version') is not None and not params['version'].strip():
            raise BundleInputError('version must not be empty: a delete without a version would delete every bundle of the app')
        for name in params.get('versions') or ():
            if name is None or not name.strip():
                raise BundleInputError('versions must not contain an empty name: a delete without a version would delete every bundle of the app')
        if params.get('keep') is not None and params['keep'] < 0:
            raise BundleInputError('keep must be 0 or more, got %d' % params['keep'])
        return
    wrong = [name for name in ('versions', 'keep') if params.get(name) is not None]
    if wrong:
        raise BundleInputError('%s delete bundles and need an explicit state=absent' % ' and '.join(wrong))
    missing = [name for name in ('version', 'external_url', 'checksum') if not params.get(name)]
    if missing:
        raise BundleInputError('state=present registers an externally hosted bundle and needs version, external_url and checksum; missing: %s'
                               % ', '.join(missing))
    if not is_semver(params['version']):
        raise BundleInputError('version %r is not a semantic version like 1.4.2 (no leading v): Capgo only registers semver bundles'
                               % params['version'])
    if not re.match(r'^https://[^/\s]+', params['external_url'], re.IGNORECASE):
        raise BundleInputError('external_url must be an https:// URL, got %r' % params['external_url'])


def _failure(error, message):
    """The API's error re-raised with a message a person can act on (status, code and API message kept)."""
    return CapgoError('%s (%s)' % (message, error.message), method=error.method, path=error.path, status=error.status,
                      error=error.error, api_message=error.api_message, more_info=error.more_info)


# -- state: absent --------------------------------------------------------------------------------------

def remove_bundles(module):
    client = module.client
    params = module.params
    app_id = params['app_id']
    bundles = newest_first(list_bundles(client, app_id), strict=params['keep'] is not None)
    names = [item.get('name') for item in bundles]
    if params['keep'] is not None:
        candidates = names[params['keep']:]
    else:
        wanted = [params['version']] if params['version'] is not None else params['versions']
        candidates = [name for name in names if name in set(wanted)]

    served = {}
    if candidates:
        # Only read the channels when something may be deleted: an unchanged run costs one GET per bundle page.
        served = served_bundles(list_channels(client, app_id), bundles)
    if params['keep'] is not None:
        to_delete, kept = plan_retention(names, params['keep'], served)
    else:
        blocked = [name for name in candidates if name in served]
        if blocked:
            raise CapgoError('Refusing to delete %s: %s; nothing was deleted. Point the channel at another bundle first.' % (
                ', '.join(blocked),
                '; '.join('%s is served by channel %s' % (name, ', '.join(served[name])) for name in blocked)))
        to_delete, kept = plan_named(names, candidates)

    result = dict(changed=bool(to_delete), deleted=[], kept=kept, protected=dict((name, served[name]) for name in names if name in served),
                  diff=dict(before=dict(bundles=names), after=dict(bundles=kept)))
    if module.check_mode:
        result['deleted'] = to_delete
        return result
    for name in to_delete:
        try:
            delete_bundle(client, app_id, name)
        except CapgoError as exc:
            if exc.error == 'cannot_delete_linked_version':
                exc = _failure(exc, 'Capgo refused to delete bundle %s because a channel serves it (it was linked after this task read the channels)'
                               % name)
            partial = [item for item in names if item not in set(result['deleted'])]
            module.fail_api(exc, changed=bool(result['deleted']), deleted=result['deleted'], kept=partial, protected=result['protected'],
                            diff=dict(before=dict(bundles=names), after=dict(bundles=partial)))
        result['deleted'].append(name)
    return result


# -- state: present -------------------------------------------------------------------------------------

def _conflicts(existing, params):
    """The registration options whose value differs from the existing bundle's (the session key only when readable)."""
    conflicts = [name for name in ('external_url', 'checksum') if (existing.get(name) or None) != params[name]]
    if params['session_key'] is not None and existing.get('session_key') is not None and existing['session_key'] != params['session_key']:
        conflicts.append('session_key')
    return conflicts


def _check_same(existing, params):
    """Fail when the existing bundle holds other content than the one asked for."""
    conflicts = _conflicts(existing, params)
    if conflicts:
        shown = ['it has %s=%r' % (name, existing.get(name)) for name in conflicts if name != 'session_key']
        raise CapgoError(
            'Bundle %s already exists in app %s with a different %s%s; Capgo bundles cannot be changed: register a new version'
            % (params['version'], params['app_id'], ' and '.join(conflicts), ' (%s)' % ', '.join(shown) if shown else ''))


def _existing_result(existing, params, names):
    _check_same(existing, params)
    return dict(changed=False, deleted=[], kept=names, protected={}, bundle=normalize_bundle(existing),
                diff=dict(before=dict(bundles=names), after=dict(bundles=names)))


def register_bundle(module):
    client = module.client
    params = module.params
    app_id = params['app_id']
    version = params['version']
    bundles = newest_first(list_bundles(client, app_id), strict=False)
    names = [item.get('name') for item in bundles]
    existing = next((item for item in bundles if item.get('name') == version), None)
    if existing is not None:
        return _existing_result(existing, params, names)

    after = [version] + names
    result = dict(changed=True, deleted=[], kept=after, protected={}, diff=dict(before=dict(bundles=names), after=dict(bundles=after)))
    if module.check_mode:
        result['bundle'] = normalize_bundle(dict(name=version, app_id=app_id, external_url=params['external_url'],
                                                 checksum=params['checksum'], session_key=params['session_key']))
        return result
    body = dict(app_id=app_id, version=version, external_url=params['external_url'], checksum=params['checksum'])
    if params['session_key'] is not None:
        body['session_key'] = params['session_key']
    try:
        answer = client.request('POST', '/bundle', json=body, done_errors=('version_already_exists',))
    except CapgoError as exc:
        if exc.error == 'cannot_create_bundle':
            raise _failure(exc, 'Capgo could not register bundle %s: a deleted bundle most likely used this version before, and Capgo '
                                'never frees a bundle name; register a new version' % version)
        if exc.status == 404:
            raise _failure(exc, 'This Capgo API has no POST /bundle endpoint to register external bundles (older API generation); '
                                'upload the bundle with the Capgo CLI instead')
        if exc.error == 'version_already_exists':
            raise _failure(exc, 'Bundle %s was registered by someone else while this task ran' % version)
        raise
    row = answer.get('bundle') if isinstance(answer, dict) else None
    if not isinstance(row, dict) or (isinstance(answer, dict) and answer.get('error') == 'version_already_exists'):
        # A retry met the bundle the first attempt created (or the answer had no row): read it back and compare.
        row = next((item for item in list_bundles(client, app_id) if item.get('name') == version), None)
        if row is None:
            raise CapgoError('Capgo API POST /bundle answered without the registered bundle, and bundle %s cannot be read back' % version)
        _check_same(row, params)
    result['bundle'] = normalize_bundle(row)
    return result


def run(module):
    try:
        validate(module.params)
    except BundleInputError as exc:
        module.fail_json(msg=str(exc))
    if module.params['state'] == 'present':
        return register_bundle(module)
    return remove_bundles(module)


def main():
    module = CapgoModule(
        argument_spec=dict(
            app_id=dict(type='str', required=True),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            version=dict(type='str'),
            versions=dict(type='list', elements='str'),
            keep=dict(type='int'),
            external_url=dict(type='str'),
            checksum=dict(type='str'),
            session_key=dict(type='str', no_log=True),
        ),
        supports_check_mode=True,
    )
    module.run(run)


if __name__ == '__main__':
    main()
