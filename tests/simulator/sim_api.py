# -*- coding: utf-8 -*-
"""Capgo public API behaviour (channel, device, bundle) for the three profiles of the simulator.

Everything here runs with the simulator lock held. See /work/shared/docs/capgo-api.md. Where the profiles
differ, handlers ask ``self.rule(name)``; the rules and their sources are listed in sim_rules.py.
"""

import datetime
import json
import math
import re
import time
import uuid
from urllib.parse import urlencode

from sim_store import DEVICE_BOOLS, BUNDLE_JSON, dump_row, now_canon, parse_ts, pg_ts, js_iso, raw_ts, to_canon

FETCH_LIMIT = 50
MAX_ROWS = 1000
MAX_ANALYTICS_LIMIT = 50000
APP_ID_RE = re.compile(r'^[a-z0-9]+(\.[\w-]+)+$', re.IGNORECASE)
SEMVER_RE = re.compile(r'^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)'
                       r'(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?'
                       r'(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$')
DISABLE_UPDATE = ('major', 'minor', 'patch', 'version_number', 'none')
UPDATE_PACKAGES = ('all', 'zip', 'delta', 'zip_from_builtin', 'delta_from_builtin')
INTERNAL_VERSION_NAMES = ('builtin', 'unknown')

# current RBAC: role levels (inheritance is linear for the roles a legacy key can map to)
ROLE_LEVEL = {'app_reader': 1, 'app_uploader': 2, 'app_developer': 3, 'app_admin': 4, 'org_admin': 5, 'org_super_admin': 6}
PERMISSION_LEVEL = {
    'app.read_channels': 1, 'app.read_devices': 1, 'app.read_bundles': 1,
    'channel.promote_bundle': 2, 'app.upload_bundle': 2,
    'app.create_channel': 3, 'channel.manage_forced_devices': 3, 'app.manage_devices': 3,
    'channel.update_settings': 4, 'channel.delete': 4, 'bundle.delete': 4, 'app.update_settings': 4,
    'channel.read': 1,
}
# classic: key modes allowed by the middleware per route, and the owner's minimum org right
CLASSIC_MODES = {
    ('GET', 'channel'): ('all', 'write', 'read'), ('POST', 'channel'): ('all', 'write'), ('DELETE', 'channel'): ('all', 'write'),
    ('GET', 'device'): ('all', 'write', 'read'), ('POST', 'device'): ('all', 'write'), ('DELETE', 'device'): ('all', 'write'),
    ('GET', 'bundle'): ('all', 'write', 'read'), ('DELETE', 'bundle'): ('all', 'write'), ('PUT', 'bundle'): ('all', 'write'),
    ('POST', 'bundle'): ('all', 'write'),
}
CLASSIC_RIGHT = {'read': 1, 'upload': 2, 'write': 3, 'admin': 4, 'super_admin': 5}

# (camelCase, snake_case, column, kind)
ROLLOUT_FIELDS = (
    ('rolloutEnabled', 'rollout_enabled', 'rollout_enabled', 'bool'),
    ('rolloutPausedAt', 'rollout_paused_at', 'rollout_paused_at', 'ts'),
    ('rolloutPauseReason', 'rollout_pause_reason', 'rollout_pause_reason', 'text_nullable'),
    ('rolloutCacheTtlSeconds', 'rollout_cache_ttl_seconds', 'rollout_cache_ttl_seconds', (60, 31536000)),
    ('autoPauseEnabled', 'auto_pause_enabled', 'auto_pause_enabled', 'bool'),
    ('autoPauseWindowMinutes', 'auto_pause_window_minutes', 'auto_pause_window_minutes', (1, 10080)),
    ('autoPauseFailureRateBps', 'auto_pause_failure_rate_bps', 'auto_pause_failure_rate_bps', (0, 10000, 'nullable')),
    ('autoPauseMinAttempts', 'auto_pause_min_attempts', 'auto_pause_min_attempts', (0, None, 'nullable')),
    ('autoPauseMinFailures', 'auto_pause_min_failures', 'auto_pause_min_failures', (0, None, 'nullable')),
    ('autoPauseCooldownMinutes', 'auto_pause_cooldown_minutes', 'auto_pause_cooldown_minutes', (0, 10080)),
)
MISSING = object()


class ApiError(Exception):
    """An HTTP error response in Capgo's envelope."""

    def __init__(self, status, code, message, more_info=None, headers=None, body=None):
        Exception.__init__(self, code)
        self.status = status
        self.code = code
        self.message = message
        self.more_info = more_info if more_info is not None else {}
        self.headers = headers or {}
        self.body = body

    def payload(self):
        if self.body is not None:
            return self.body
        return {'error': self.code, 'message': self.message, 'moreInfo': self.more_info}


def bad(code, message, more_info=None):
    return ApiError(400, code, message, more_info)


def unknown_error():
    return ApiError(500, 'unknown_error', 'Unknown error', {})


def pick(body, camel, snake):
    """camelCase wins over snake_case; MISSING when neither key is present."""
    if camel in body:
        return body[camel]
    if snake in body:
        return body[snake]
    return MISSING


def js_number(value):
    """JavaScript Number() coercion of a string (enough of it for page arithmetic)."""
    text = value.strip()
    if text == '':
        return 0.0
    if not re.match(r'^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$', text):
        return float('nan')
    return float(text)


def page_window(page):
    """(offset, count) of GET /channel|/bundle paging, with JS string concatenation; None = DB error."""
    if page is None:
        start, end = 0, FETCH_LIMIT - 1
    elif isinstance(page, bool):
        start, end = int(page) * FETCH_LIMIT, (int(page) + 1) * FETCH_LIMIT - 1
    elif isinstance(page, (int, float)):
        start, end = page * FETCH_LIMIT, (page + 1) * FETCH_LIMIT - 1
    elif isinstance(page, str):
        start = js_number(page) * FETCH_LIMIT
        end = js_number(page + '1') * FETCH_LIMIT - 1
    else:
        return None
    for val in (start, end):
        if isinstance(val, float) and (math.isnan(val) or math.isinf(val) or val != int(val)):
            return None
    start, end = int(start), int(end)
    if start < 0 or end < start:
        return None
    return start, min(end - start + 1, MAX_ROWS)


def render_channel(store, row, rule):
    """One GET /channel item; `rule(name)` answers the profile's rules."""
    classic = rule('classic_api')
    out = {
        'id': row['id'], 'created_at': pg_ts(row['created_at']), 'name': row['name'], 'app_id': row['app_id'],
        'created_by': row['created_by'], 'updated_at': pg_ts(row['updated_at']), 'public': bool(row['public']),
    }
    if rule('channel_platform_fields'):
        out['ios'] = bool(row['ios'])
        out['android'] = bool(row['android'])
    out.update({
        'allow_device_self_set': bool(row['allow_device_self_set']), 'allow_emulator': bool(row['allow_emulator']),
        'allow_device': bool(row['allow_device']), 'allow_dev': bool(row['allow_dev']), 'allow_prod': bool(row['allow_prod']),
    })
    version = store.bundle_by_id(row['version']) if row['version'] is not None else None
    if classic and version is None:
        version = store.ensure_placeholders(row['app_id'])
    out['version'] = {'name': version['name'], 'id': version['id']} if version is not None else None
    out['disableAutoUpdateUnderNative'] = bool(row['disable_auto_update_under_native'])
    out['disableAutoUpdate'] = row['disable_auto_update']
    if rule('update_package'):
        out['updatePackage'] = row['update_package']
    if classic:
        return out
    rollout = store.bundle_by_id(row['rollout_version']) if row['rollout_version'] is not None else None
    out.update({
        'rollout_version': row['rollout_version'],
        'rollout_id': row['rollout_id'],
        'rollout_version_info': {'name': rollout['name'], 'id': rollout['id']} if rollout is not None else None,
        'rolloutPercentageBps': row['rollout_percentage_bps'],
        'rolloutEnabled': bool(row['rollout_enabled']),
        'rolloutPausedAt': pg_ts(row['rollout_paused_at']),
        'rolloutPauseReason': row['rollout_pause_reason'],
        'rolloutCacheTtlSeconds': row['rollout_cache_ttl_seconds'],
        'autoPauseEnabled': bool(row['auto_pause_enabled']),
        'autoPauseWindowMinutes': row['auto_pause_window_minutes'],
        'autoPauseFailureRateBps': row['auto_pause_failure_rate_bps'],
        'autoPauseConfidence': row['auto_pause_confidence'],
        'autoPauseMinAttempts': row['auto_pause_min_attempts'],
        'autoPauseMinFailures': row['auto_pause_min_failures'],
        'autoPauseAction': row['auto_pause_action'],
        'autoPauseCooldownMinutes': row['auto_pause_cooldown_minutes'],
        'autoPauseLastTriggeredAt': pg_ts(row['auto_pause_last_triggered_at']),
        'autoPauseLastCheckedAt': pg_ts(row['auto_pause_last_checked_at']),
    })
    return out


def render_bundle(row, classic):
    """A full app_versions row as PostgREST returns it (`select()`)."""
    out = dump_row(row, ('deleted',), BUNDLE_JSON)
    for key in ('created_at', 'updated_at', 'deleted_at'):
        out[key] = pg_ts(out[key])
    if classic:
        out.pop('created_by_apikey_rbac_id', None)
    return out


def round_half_up(value):
    """JavaScript Math.round for the non-negative values rollouts use (0.125 % -> 13 bps)."""
    return int(math.floor(value + 0.5))


def js_number_any(value):
    """JavaScript Number(x) for JSON values (nan when it would be NaN)."""
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return js_number(value)
    return float('nan')


def is_int_like(value):
    """A value Postgres accepts for a bigint parameter: an integer or a string of digits."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, float):
        return value == int(value)
    return isinstance(value, str) and re.match(r'^\s*[+-]?\d+\s*$', value) is not None


class Api(object):
    """The three public resources. `sim` gives profile, config, store, clocks and timers."""

    def __init__(self, sim):
        self.sim = sim

    @property
    def store(self):
        return self.sim.store

    @property
    def classic(self):
        return self.rule('classic_api')

    def rule(self, name):
        return self.sim.rule(name)

    def conf(self, name):
        return self.sim.config[name]

    # ------------------------------------------------------------------ access
    def level(self, key, app_id):
        """Current: the key's role level on the app (0 = none, unknown app or other org)."""
        app = self.store.app(app_id) if isinstance(app_id, str) else None
        if app is None or app['org'] != key['org']:
            return 0
        limited = json.loads(key['apps']) if key['apps'] else None
        if limited and app_id not in limited:
            return 0
        mode = key['mode']
        if mode == 'all':
            return ROLE_LEVEL['app_admin'] if limited else ROLE_LEVEL['org_super_admin']
        return {'write': ROLE_LEVEL['app_developer'], 'upload': ROLE_LEVEL['app_uploader'], 'read': ROLE_LEVEL['app_reader']}.get(mode, 0)

    def can(self, key, app_id, perm):
        """checkPermission; a `permission_error` fault makes the check's DB call fail (12.1 #9, 11.1 #10)."""
        if self.sim.take_permission_error():
            if self.rule('permission_error_503'):
                raise ApiError(503, 'upstream_unavailable', 'Permission check temporarily unavailable', {'permission': perm})
            return False
        return self.level(key, app_id) >= PERMISSION_LEVEL[perm]

    def classic_right(self, key, app_id, right):
        """Classic has_app_right_apikey: org/app limits, then the key owner's org right."""
        if self.sim.take_permission_error():
            return False
        app = self.store.app(app_id) if isinstance(app_id, str) else None
        if app is None or app['org'] != key['org']:
            return False
        limited = json.loads(key['apps']) if key['apps'] else None
        if limited and app_id not in limited:
            return False
        return CLASSIC_RIGHT.get(key['owner_right'], 5) >= CLASSIC_RIGHT[right]

    def allowed(self, key, app_id, perm, right):
        if self.classic:
            return self.classic_right(key, app_id, right)
        return self.can(key, app_id, perm)

    def check_app_id(self, body):
        app_id = body.get('app_id')
        if not app_id:
            raise bad('missing_app_id', 'Missing app_id')
        if not isinstance(app_id, str) or not APP_ID_RE.match(app_id):
            raise bad('invalid_app_id', 'App ID must be a reverse domain string', {'app_id': app_id})
        return app_id

    def no_access(self, app_id, code='cannot_access_app'):
        return bad(code, "You can't access this app", {'app_id': app_id})

    # ------------------------------------------------------------------ channel
    def get_channel(self, key, body):
        app_id = self.check_app_id(body)
        if not self.allowed(key, app_id, 'app.read_channels', 'read'):
            raise self.no_access(app_id)
        name = body.get('channel')
        if name:
            row = self.store.channel(app_id, name)
            if row is None:
                raise bad('cannot_find_version', 'Cannot find version', {'supabaseError': {
                    'code': 'PGRST116', 'details': 'The result contains 0 rows', 'hint': None,
                    'message': 'JSON object requested, multiple (or no) rows returned'}})
            return 200, render_channel(self.store, row, self.rule)
        if self.rule('channel_page_coerced'):
            # Math.trunc(Number(page ?? 0)); not a safe positive integer -> 0 (12.1 #7)
            num = js_number_any(body.get('page'))
            page = int(num) if not math.isnan(num) and not math.isinf(num) and abs(num) < 2 ** 53 else 0
            window = (max(page, 0) * FETCH_LIMIT, FETCH_LIMIT)
        else:
            window = page_window(body.get('page'))
        if window is None:
            raise bad('cannot_find_channels', 'Cannot find channels', {'supabaseError': {
                'code': '22P02', 'details': None, 'hint': None, 'message': 'invalid input syntax for type bigint'}})
        rows = self.store.q('SELECT * FROM channels WHERE app_id = ? ORDER BY created_at ASC, id ASC LIMIT ? OFFSET ?',
                            (app_id, window[1], window[0]))
        return 200, [render_channel(self.store, r, self.rule) for r in rows]

    def get_channel_current_bundle(self, key, body):
        """GET /channel/current-bundle (latest, 12.1 #11)."""
        app_id = self.check_app_id(body)
        name = body.get('channel')
        if not name:
            raise bad('missing_channel', 'Missing channel', {'body': body})
        row = self.store.channel(app_id, name) if isinstance(name, str) else None
        if row is None or self.level(key, app_id) == 0:
            raise bad('cannot_find_channel', 'Cannot find channel', {'supabaseError': None, 'app_id': app_id, 'channel': name})
        if not self.can(key, app_id, 'channel.read'):
            raise bad('cannot_access_channel', "You can't access this channel", {'app_id': app_id, 'channel': name})
        bundle = self.store.bundle_by_id(row['version']) if row['version'] is not None else None
        if bundle is not None and bundle['app_id'] != app_id:
            bundle = None
        natives = None
        if bundle is not None and bundle['native_packages']:
            try:
                natives = json.loads(bundle['native_packages'])
            except ValueError:
                natives = None
        return 200, {'bundle_name': bundle['name'] if bundle is not None else None,
                     'bundle_id': bundle['id'] if bundle is not None else None,
                     'min_update_version': bundle['min_update_version'] if bundle is not None else None,
                     'native_packages': natives if natives is not None else [],
                     'disable_auto_update': row['disable_auto_update']}

    def resolve_version_classic(self, app_id, version):
        name = 'unknown' if version is None else version
        if not isinstance(name, str):
            raise unknown_error()
        if name == 'unknown':
            return self.store.ensure_placeholders(app_id)['id']
        row = self.store.bundle_by_name(app_id, name, deleted=False)
        if row is None:
            raise unknown_error()
        return row['id']

    def post_channel(self, key, body):
        """POST /channel at HEAD and latest (H `_b/public/channel/post.ts:323-480`, latest @6690bbba)."""
        app_id = self.check_app_id(body)
        if self.classic:
            return self.post_channel_classic(key, app_id, body)
        name = body.get('channel')
        existing = self.store.channel(app_id, name) if isinstance(name, str) else None
        perm = 'channel.update_settings' if existing is not None else 'app.create_channel'
        if not self.can(key, app_id, perm):
            raise self.no_access(app_id)
        if self.rule('publicize_needs_update_settings') and body.get('public') is True \
                and not (existing is not None and existing['public']):
            if not self.can(key, app_id, 'app.update_settings'):
                raise self.no_access(app_id)
        if self.store.app(app_id) is None:
            raise bad('invalid_app_id', "You can't access this app", {'app_id': app_id})
        if not isinstance(name, str) or name == '':
            raise unknown_error()
        version = body.get('version', MISSING)
        requested_id = MISSING        # stable bundle id for an existing channel
        requested_name = None         # bundle name to promote on a new channel
        if version is not MISSING:
            wanted = version if version and version not in INTERNAL_VERSION_NAMES else None
            if existing is not None:
                if not self.can(key, app_id, 'channel.promote_bundle'):
                    if self.rule('version_needs_promote_cannot_access_app'):
                        raise self.no_access(app_id)
                    raise bad('cannot_promote_bundle', 'You cannot promote a bundle on this channel', {'app_id': app_id})
                requested_id = self.find_version(app_id, wanted) if wanted is not None else None
            else:
                requested_name = wanted
        fields = self.rollout_fields(body)
        disables = self.rule('rollout_disable_unlinks') and fields['enabled'] is False \
            and not (fields['rollback'] or fields['promote'] or fields['advance'])
        old_rollout = existing['rollout_version'] if existing is not None else None
        old_version = existing['version'] if existing is not None else None
        changes_target = fields['rv'] is not MISSING or bool(fields['rollback']) or bool(fields['promote']) \
            or bool(fields['advance']) or (disables and old_rollout is not None)
        if changes_target:
            if existing is None:
                raise bad('cannot_find_channel', 'Cannot find channel', {'app_id': app_id, 'channel': name})
            if not self.can(key, app_id, 'channel.promote_bundle'):
                raise bad('cannot_promote_bundle', "You can't promote bundles on this channel", {'app_id': app_id, 'channel': name})
        if fields['rv'] not in (MISSING, None, '', 0, False) and not fields['advance'] and (
                (version is MISSING and old_version is None) or version is None or version == 'unknown'):
            raise bad('missing_stable_version', 'Cannot set rollout target without a stable bundle', {'app_id': app_id, 'channel': name})
        cols = self.settings_columns(body, existing, current=True)
        cols.update(fields['cols'])
        if version is MISSING:
            cols['version'] = old_version
        elif existing is not None:
            cols['version'] = requested_id
        else:
            cols['version'] = None
        if fields['rv'] is not MISSING:
            cols['rollout_version'] = self.resolve_rollout_version(app_id, fields['rv']) if fields['rv'] else None
        if fields['rollback']:
            target = cols.get('rollout_version', old_rollout)
            if target is None and self.conf('rollback_requires_target'):
                raise bad('missing_rollout_version', 'Cannot roll back without a rollout version', {'app_id': app_id, 'channel': name})
            cols.update({'rollout_version': None, 'rollout_enabled': 0, 'rollout_percentage_bps': 0,
                         'rollout_paused_at': None, 'rollout_pause_reason': None})
        if fields['advance']:
            if not old_rollout:
                raise bad('missing_rollout_version', 'Cannot advance without a rollout version', {'app_id': app_id, 'channel': name})
            if not cols.get('rollout_version'):
                raise bad('missing_rollout_version', 'Cannot advance without a new rollout target', {'app_id': app_id, 'channel': name})
            cols['version'] = old_rollout
            if fields['enabled'] is None:
                cols['rollout_enabled'] = 1
            cols['rollout_paused_at'] = None
            cols['rollout_pause_reason'] = None
        elif fields['promote']:
            promoted = cols.get('rollout_version') or old_rollout
            if not promoted:
                raise bad('missing_rollout_version', 'Cannot promote without a rollout version', {'app_id': app_id, 'channel': name})
            cols.update({'version': promoted, 'rollout_version': None, 'rollout_enabled': 0, 'rollout_percentage_bps': 0,
                         'rollout_paused_at': None, 'rollout_pause_reason': None})
        if disables:
            cols.update({'rollout_version': None, 'rollout_paused_at': None, 'rollout_pause_reason': None})
        now = now_canon()
        if existing is None:
            data = {'app_id': app_id, 'name': name, 'created_at': now, 'updated_at': now, 'created_by': key['user_id'],
                    'owner_org': self.store.app(app_id)['org'], 'rollout_id': str(uuid.uuid4())}
            data.update(cols)
            if requested_name is not None:
                # createAndPromoteChannelInTransaction: insert, then PUT /bundle's logic in the same transaction
                row = self.write_channel(None, data)
                try:
                    bundle = self.store.bundle_by_name(app_id, requested_name, deleted=False) if isinstance(requested_name, str) else None
                    if bundle is None:
                        raise bad('cannot_find_version', 'Cannot find version')
                    self.assign_bundle(row, bundle, None)
                except ApiError:
                    raise
                except Exception as exc:  # pylint: disable=broad-except
                    raise bad('cannot_set_bundle_to_channel', 'Cannot set bundle to channel', {'error': str(exc)})
                row = self.store.channel_by_id(row['id'])
                return 200, {'status': 'ok', 'id': row['id'], 'public': bool(row['public'])}
            self.write_channel(None, data)
            return 200, {'status': 'ok'}
        self.write_channel(existing, cols)
        return 200, {'status': 'ok'}

    def find_version(self, app_id, name):
        """findVersion: a live bundle by name; none -> plain Error -> 500."""
        row = self.store.bundle_by_name(app_id, name, deleted=False) if isinstance(name, str) else None
        if row is None:
            raise unknown_error()
        return row['id']

    def resolve_rollout_version(self, app_id, ref):
        """resolveVersion: a JSON number is an id, anything else a name; not found -> 500 (11.1 #12)."""
        if isinstance(ref, (int, float)) and not isinstance(ref, bool):
            row = self.store.bundle_by_id(int(ref)) if ref == int(ref) else None
            if row is None or row['app_id'] != app_id or row['deleted']:
                raise unknown_error()
            return row['id']
        return self.find_version(app_id, ref)

    def settings_columns(self, body, existing, current):
        update = {}
        plain = ['public', 'ios', 'android', 'allow_device_self_set', 'allow_emulator', 'allow_dev', 'allow_device', 'allow_prod']
        if current:
            plain.append('electron')
        for col in plain:
            if body.get(col) is not None:
                update[col] = 1 if body[col] else 0
        if body.get('disableAutoUpdateUnderNative') is not None:
            update['disable_auto_update_under_native'] = 1 if body['disableAutoUpdateUnderNative'] else 0
        if body.get('disableAutoUpdate') is not None:
            if body['disableAutoUpdate'] not in DISABLE_UPDATE:
                raise unknown_error()
            update['disable_auto_update'] = body['disableAutoUpdate']
        if current and body.get('electron') is None and body.get('public') and body.get('ios', MISSING) != body.get('android', MISSING):
            update['electron'] = 0
        del existing
        return update

    @staticmethod
    def check_int_range(name, value, low, high):
        """validateIntegerRange: null skips; not a finite integer or out of range -> invalid_rollout_config."""
        if value is None:
            return None
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value) \
            and not math.isinf(value) and value == int(value)
        if not ok or value < low or (high is not None and value > high):
            raise bad('invalid_rollout_config', '%s must be an integer between %s and %s' % (name, low, high if high is not None else 'MAX'),
                      {'field': name, 'value': value, 'min': low, 'max': high})
        return int(value)

    def rollout_fields(self, body):
        """Rollout and auto-pause fields of POST /channel, validated in the handler's order (12.2 #5).

        Returns {'cols': columns to write, 'rv', 'enabled', 'rollback', 'promote', 'advance'}."""
        out = {'cols': {}, 'rv': MISSING, 'enabled': None, 'rollback': False, 'promote': False, 'advance': False}
        cols = out['cols']
        pct = pick(body, 'rolloutPercentage', 'rollout_percentage')
        if pct is not MISSING and pct is not None:
            if isinstance(pct, bool) or not isinstance(pct, (int, float)) or math.isnan(pct) or math.isinf(pct) or not 0 <= pct <= 100:
                raise bad('invalid_rollout_percentage', 'Rollout percentage must be between 0 and 100', {'rolloutPercentage': pct})
        bps = pick(body, 'rolloutPercentageBps', 'rollout_percentage_bps')
        if bps is MISSING or bps is None:
            bps = round_half_up(pct * 100) if pct is not MISSING and pct is not None else None
        bps = self.check_int_range('rolloutPercentageBps', bps, 0, 10000)
        ranges = (('rolloutCacheTtlSeconds', 'rollout_cache_ttl_seconds', 60, 31536000, False),
                  ('autoPauseWindowMinutes', 'auto_pause_window_minutes', 1, 10080, False),
                  ('autoPauseFailureRateBps', 'auto_pause_failure_rate_bps', 0, 10000, True),
                  ('autoPauseMinAttempts', 'auto_pause_min_attempts', 0, 2 ** 53 - 1, True),
                  ('autoPauseMinFailures', 'auto_pause_min_failures', 0, 2 ** 53 - 1, True),
                  ('autoPauseCooldownMinutes', 'auto_pause_cooldown_minutes', 0, 10080, False))
        checked = {}
        for camel, snake, low, high, nullable in ranges:
            val = pick(body, camel, snake)
            if val is MISSING:
                continue
            checked[snake] = (self.check_int_range(camel, val, low, high), nullable)
        conf = pick(body, 'autoPauseConfidence', 'auto_pause_confidence')
        if conf is not MISSING and conf is not None:
            if isinstance(conf, bool) or not isinstance(conf, (int, float)) or math.isnan(conf) or not 0 < conf < 1:
                raise bad('invalid_auto_pause_confidence', 'Auto-pause confidence must be greater than 0 and less than 1', {'autoPauseConfidence': conf})
            cols['auto_pause_confidence'] = float(conf)
        action = pick(body, 'autoPauseAction', 'auto_pause_action')
        if action not in (MISSING, None, '', 0, False):
            if action not in ('pause', 'rollback', 'notify'):
                raise bad('invalid_auto_pause_action', 'Auto-pause action must be pause, rollback, or notify', {'autoPauseAction': action})
            cols['auto_pause_action'] = action
        if self.rule('update_package'):
            mode = pick(body, 'updatePackage', 'update_package')
            if mode is not MISSING and mode is not None:
                if mode not in UPDATE_PACKAGES:
                    raise bad('invalid_update_package', 'Update package must be all, zip, delta, zip_from_builtin, or delta_from_builtin',
                              {'updatePackage': mode})
                cols['update_package'] = mode
        if bps is not None:
            cols['rollout_percentage_bps'] = bps
        for snake, (val, nullable) in checked.items():
            if val is not None or nullable:
                cols[snake] = val
        enabled = pick(body, 'rolloutEnabled', 'rollout_enabled')
        if enabled is not MISSING and enabled is not None:
            cols['rollout_enabled'] = 1 if self.pg_bool(enabled) else 0
            out['enabled'] = bool(cols['rollout_enabled'])
        auto = pick(body, 'autoPauseEnabled', 'auto_pause_enabled')
        if auto is not MISSING and auto is not None:
            cols['auto_pause_enabled'] = 1 if self.pg_bool(auto) else 0
        reason = pick(body, 'rolloutPauseReason', 'rollout_pause_reason')
        if reason is not MISSING:
            cols['rollout_pause_reason'] = None if reason is None else str(reason)
        paused_at = pick(body, 'rolloutPausedAt', 'rollout_paused_at')
        paused = pick(body, 'rolloutPaused', 'rollout_paused')
        if paused_at is not MISSING:
            stamp = self.pg_timestamp(paused_at)
        elif paused is not MISSING and paused is not None:
            stamp = now_canon() if paused else None
        else:
            stamp = MISSING
        if stamp is not MISSING:
            cols['rollout_paused_at'] = stamp
            if stamp is None:
                cols['rollout_pause_reason'] = None
        out['rv'] = pick(body, 'rolloutVersion', 'rollout_version')
        out['rollback'] = bool(body.get('rollback'))
        out['promote'] = bool(pick(body, 'promoteToStable', 'promote_to_stable') not in (MISSING, None) and pick(body, 'promoteToStable', 'promote_to_stable'))
        if self.rule('advance_rollout'):
            adv = pick(body, 'advanceRollout', 'advance_rollout')
            out['advance'] = bool(adv) if adv is not MISSING else False
        return out

    @staticmethod
    def pg_bool(value):
        """A JSON value written to a boolean column: Postgres casts booleans and boolean-looking strings, else 500."""
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ('true', 't', 'yes', 'y', 'on', '1', 'false', 'f', 'no', 'n', 'off', '0'):
            return value.strip().lower() in ('true', 't', 'yes', 'y', 'on', '1')
        raise unknown_error()

    @staticmethod
    def pg_timestamp(value):
        if value is None:
            return None
        try:
            return to_canon(value)
        except (ValueError, TypeError):
            raise unknown_error()

    # ------------------------------------------------------------------ channel row writes (DB triggers)
    def update_package_mismatch(self, mode, version_id, channel_name):
        """channel_update_package_mismatch(): None when compatible, else (code, message) (12.1 #6)."""
        if version_id is None or mode in (None, 'all'):
            return None
        bundle = self.store.bundle_by_id(version_id)
        if bundle is None or bundle['name'] in INTERNAL_VERSION_NAMES:
            return None
        provider = bundle['storage_provider']
        has_zip = (provider == 'external' and (bundle['external_url'] or '').strip() != '') \
            or (provider != 'r2-direct' and (bundle['r2_path'] or '').strip() != '')
        manifest = bundle['manifest']
        try:
            entries = json.loads(manifest) if manifest else []
        except ValueError:
            entries = []
        has_delta = bool(entries) or (bundle['manifest_count'] or 0) > 0
        if mode in ('zip', 'zip_from_builtin') and not has_zip:
            return ('channel_zip_required',
                    'Channel "%s" requires a zip package, but bundle "%s" has no zip. Upload a full zip (omit --delta-only) '
                    'or set the channel to delta only / zip and delta.' % (channel_name, bundle['name']))
        if mode in ('delta', 'delta_from_builtin') and not has_delta:
            return ('channel_delta_required',
                    'Channel "%s" requires a delta package, but bundle "%s" has no delta files. Upload with delta enabled '
                    '(`npx @capgo/cli@latest bundle upload --delta`) or set the channel to zip only / zip and delta.' % (channel_name, bundle['name']))
        return None

    def channel_triggers(self, old, new):
        """The BEFORE INSERT/UPDATE triggers on `channels`, in Postgres (alphabetical) order; modifies `new`."""
        is_update = old is not None

        def was(col):
            return old[col] if is_update else None

        if self.rule('update_package'):
            # enforce_channel_update_package_bundle
            mode = new.get('update_package') or 'all'
            if not (is_update and all(new.get(c) == was(c) for c in ('update_package', 'version', 'rollout_version'))):
                for col in ('version', 'rollout_version'):
                    if col == 'rollout_version' and is_update and new.get('version') != was('version') \
                            and new.get('rollout_version') == was('rollout_version'):
                        continue   # the stable bundle is being replaced: the leftover target is dropped below
                    found = self.update_package_mismatch(mode, new.get(col), new.get('name'))
                    if found is not None:
                        raise bad(found[0], found[1], {'channel': new.get('name')})
        if self.rule('rollouts'):
            # refresh_channel_rollout_id (H baseline; latest 20260817183821 adds the reset)
            if self.rule('reset_rollout_on_stable') and is_update and new.get('version') != was('version') \
                    and new.get('rollout_version') == was('rollout_version') and new.get('rollout_version') is not None:
                new['rollout_version'] = None
                new['rollout_enabled'] = 0
            if is_update:
                changed = new.get('rollout_version') != was('rollout_version')
            else:
                changed = new.get('rollout_version') is not None
            if changed:
                new['rollout_id'] = str(uuid.uuid4())
                if new.get('rollout_version') is None:
                    new['rollout_paused_at'] = None
                    if not is_update:
                        new['rollout_pause_reason'] = None
                        new['auto_pause_last_triggered_at'] = None
                    else:
                        if new.get('rollout_pause_reason') == was('rollout_pause_reason'):
                            new['rollout_pause_reason'] = None
                        if new.get('auto_pause_last_triggered_at') == was('auto_pause_last_triggered_at'):
                            new['auto_pause_last_triggered_at'] = None
                else:
                    new['rollout_paused_at'] = None
                    new['rollout_pause_reason'] = None
                    new['auto_pause_last_triggered_at'] = None

    def write_channel(self, existing, changes):
        """Insert (existing None) or update one channel row through the profile's triggers; returns the row."""
        if existing is None:
            new = dict(changes)
            self.channel_triggers(None, new)
            row = self.store.insert_channel(new)
            touched = True
        else:
            old = dict(existing)
            new = dict(old)
            new.update(changes)
            self.channel_triggers(old, new)
            diff = dict((k, v) for k, v in new.items() if k != 'id' and v != old.get(k))
            diff['updated_at'] = now_canon()
            self.store.update_channel(old['id'], diff)
            row = self.store.channel_by_id(old['id'])
            touched = any(k in changes for k in ('public', 'ios', 'android', 'electron'))
        if not self.classic and row['public'] and touched:
            self.demote_current(row)
        return row

    def demote_current(self, row):
        """Trigger normalize_public_channel_overlap: demote other public channels sharing an enabled platform."""
        others = self.store.q('SELECT * FROM channels WHERE app_id = ? AND id != ? AND public = 1', (row['app_id'], row['id']))
        now = now_canon()
        for other in others:
            if any(row[p] and other[p] for p in ('ios', 'android', 'electron')):
                self.store.update_channel(other['id'], {'public': 0, 'updated_at': now})

    def post_channel_classic(self, key, app_id, body):
        if not self.classic_right(key, app_id, 'write'):
            raise self.no_access(app_id)
        if self.store.app(app_id) is None:
            raise bad('invalid_app_id', "You can't access this app", {'app_id': app_id})
        name = body.get('channel')
        if not isinstance(name, str) or name == '':
            raise unknown_error()
        version_id = self.resolve_version_classic(app_id, body.get('version'))
        update = self.settings_columns(body, None, current=False)
        update['version'] = version_id
        update['created_by'] = key['user_id']
        existing = self.store.channel(app_id, name)
        now = now_canon()
        if existing is None:
            data = {'app_id': app_id, 'name': name, 'created_at': now, 'updated_at': now,
                    'owner_org': self.store.app(app_id)['org'], 'rollout_id': str(uuid.uuid4())}
            data.update(update)
            self.store.insert_channel(data)
            return 200, {'status': 'ok'}
        update['updated_at'] = now
        self.store.update_channel(existing['id'], update)
        self.sim.later(self.sim.config['classic_demotion_delay'], self.demote_classic, existing['id'])
        return 200, {'status': 'ok'}

    def demote_classic(self, channel_id):
        """Async on_channel_update queue consumer (classic, AFTER UPDATE only)."""
        row = self.store.channel_by_id(channel_id)
        if row is None or not row['public']:
            return
        now = now_canon()
        for other in self.store.q('SELECT * FROM channels WHERE app_id = ? AND id != ? AND public = 1', (row['app_id'], row['id'])):
            hit = (row['ios'] and other['ios']) or (row['android'] and other['android']) or row['ios'] == row['android'] \
                or (not other['ios'] and not other['android'])
            if hit:
                self.store.update_channel(other['id'], {'public': 0, 'updated_at': now})

    def delete_channel(self, key, body):
        app_id = self.check_app_id(body)
        name = body.get('channel')
        if self.classic:
            if not self.classic_right(key, app_id, 'admin'):
                raise self.no_access(app_id)
            if not name:
                raise bad('missing_channel_name', 'Missing channel name')
            row = self.store.channel(app_id, name)
            if row is None or key['mode'] != 'all':
                return 200, {'status': 'ok'}   # RLS filtered the delete to 0 rows; result unchecked
            if self.store.one('SELECT 1 FROM overrides WHERE channel_id = ?', (row['id'],)):
                return 200, {'status': 'ok'}   # FK without cascade: delete failed, error ignored
            self.store.x('DELETE FROM channels WHERE id = ?', (row['id'],))
            return 200, {'status': 'ok'}
        if not name:
            raise bad('missing_channel_name', 'Missing channel name')
        row = self.store.channel(app_id, name) if isinstance(name, str) else None
        if row is None or self.level(key, app_id) == 0:
            raise bad('cannot_find_channel', 'Cannot find channel', {'app_id': app_id, 'channel': name})
        if not self.can(key, app_id, 'channel.delete'):
            raise self.no_access(app_id)
        if body.get('delete_bundle') is True:
            raise self.no_access(app_id)   # preview cleanup needs an app_preview binding chain
        self.store.x('DELETE FROM overrides WHERE channel_id = ?', (row['id'],))
        self.store.x('DELETE FROM channels WHERE id = ?', (row['id'],))
        return 200, {'status': 'ok'}

    # ------------------------------------------------------------------ device
    def render_device(self, row, single, channel_names, version_ids=None):
        out = dump_row(row, DEVICE_BOOLS)
        # like the handler's `.in('name', versionNames)`: no `deleted` filter
        cache = version_ids if version_ids is not None else {}
        name = row['version_name']
        if name and name not in cache:
            found = self.store.one('SELECT id FROM bundles WHERE app_id = ? AND name = ?', (row['app_id'], name))
            cache[name] = found['id'] if found is not None else None
        out['version'] = cache.get(name) if name else None
        if self.classic:
            out['updated_at'] = raw_ts(row['updated_at'])
            out.pop('install_source', None)
            out.pop('country_code', None)
        else:
            out['updated_at'] = js_iso(row['updated_at'])
            out['install_source'] = None
            if not single:
                out['country_code'] = None
        name = channel_names.get(row['device_id'])
        if name is not None:
            out['channel'] = name
        else:
            out.pop('channel', None)
        return out

    def overrides_for(self, app_id, device_ids):
        names = {}
        ids = list(device_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows = self.store.q('SELECT o.device_id, c.name FROM overrides o JOIN channels c ON c.id = o.channel_id '
                                'WHERE o.app_id = ? AND o.device_id IN (%s)' % ', '.join('?' * len(chunk)), [app_id] + chunk)
            for r in rows:
                names[r['device_id']] = r['name']
        return names

    @staticmethod
    def override_lookup_request_bytes(app_id, device_ids):
        """Length of the request line of GET /device's override lookup as postgrest-js builds it (12.2 #4):
        ``GET /rest/v1/channel_devices?select=...&device_id=in.(id1,id2,...)&app_id=eq.APP HTTP/1.1``."""
        seen, values = set(), []
        for dev in device_ids:
            dev = dev.lower()
            if dev in seen:
                continue
            seen.add(dev)
            values.append('"%s"' % dev if re.search(r'[,()]', dev) else dev)
        query = urlencode([('select', 'device_id,channel_id,channels(name)'), ('device_id', 'in.(%s)' % ','.join(values)),
                           ('app_id', 'eq.%s' % app_id)])
        return len(('GET /rest/v1/channel_devices?%s HTTP/1.1' % query).encode('utf-8'))

    def list_overrides(self, app_id, device_ids):
        """The list page's one `.in('device_id', ids)` lookup; its error is ignored, so a URL over the gateway's
        limit silently yields no overrides at all (12.2 #4; C and H `_b/public/device/get.ts`)."""
        limit = self.conf('device_override_url_limit')
        if limit and device_ids and self.override_lookup_request_bytes(app_id, device_ids) > int(limit):
            self.sim.note_request('override_lookup_failed', True)
            return {}
        return self.overrides_for(app_id, device_ids)

    def get_device(self, key, body):
        app_id = self.check_app_id(body)
        if not self.allowed(key, app_id, 'app.read_devices', 'read'):
            raise self.no_access(app_id)
        device_id = body.get('device_id')
        if device_id:
            device_id = str(device_id).lower()
            sql = 'SELECT * FROM devices WHERE app_id = ? AND device_id = ?'
            if body.get('customIdMode'):
                sql += " AND custom_id != ''"
            row = self.store.one(sql, (app_id, device_id))
            if row is None:
                raise ApiError(404, 'device_not_found', 'Device not found', {'app_id': app_id, 'device_id': device_id})
            return 200, self.render_device(row, True, self.overrides_for(app_id, [device_id]))
        if self.classic:
            return self.list_devices_classic(app_id, body)
        return self.list_devices_current(app_id, body)

    @staticmethod
    def strict_updated_at(value):
        """HEAD parseUpdatedAtFilter: `YYYY-MM-DDTHH:mm:ss(.fff)Z` or `YYYY-MM-DD HH:mm:ss`, a real date (12.2 #2)."""
        text = value if isinstance(value, str) else ''
        match = re.match(r'^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z?)$', text)
        if match is None or ('T' in text) != (match.group(8) == 'Z') or (' ' in text and match.group(7)):
            raise ValueError(text)
        try:
            parsed = datetime.datetime(*[int(match.group(i)) for i in range(1, 7)])
        except ValueError:
            raise ValueError(text)
        if match.group(7):
            frac = match.group(7)[1:][:6].ljust(6, '0')
            parsed = parsed.replace(microsecond=int(frac[:3]) * 1000)
        return to_canon(parsed)

    @staticmethod
    def parse_cursor(cursor):
        if not isinstance(cursor, str) or '|' not in cursor:
            return None
        stamp, dev = cursor.split('|', 1)
        return stamp.strip(), dev

    def list_devices_current(self, app_id, body):
        raw_limit = body.get('limit')
        if raw_limit is None:
            limit = FETCH_LIMIT
        else:
            num = js_number_any(raw_limit) if self.rule('device_limit_number_coercion') else float('nan')
            if isinstance(raw_limit, (list, dict)) or math.isnan(num) or math.isinf(num) or num != int(num) or num < 1:
                raise bad('invalid_limit', 'limit must be a positive integer', {'limit': raw_limit})
            limit = int(num)
        order = body.get('order')
        if order is not None and order not in ('asc', 'desc'):
            raise bad('invalid_order', 'order must be asc or desc', {'order': order})
        where, args = ['app_id = ?'], [app_id]
        if body.get('updated_at'):
            try:
                if self.rule('strict_updated_at_filter'):
                    since = self.strict_updated_at(body['updated_at'])
                else:
                    since = to_canon(parse_ts(body['updated_at']))
            except (ValueError, TypeError):
                raise bad('invalid_updated_at', 'updated_at must be an ISO-8601 timestamp', {'updated_at': body['updated_at']})
            where.append('updated_at > ?')
            args.append(since)
        if body.get('customIdMode'):
            where.append("custom_id != ''")
        custom = body.get('custom_id') if self.rule('device_custom_id_filter') else None
        if custom is not None:
            custom = str(custom).strip()
            if len(custom) > 36:
                raise bad('invalid_custom_id', 'custom_id must be at most 36 characters', {'custom_id': body.get('custom_id')})
            if custom:
                where.append('custom_id = ?')
                args.append(custom)
        cursor = self.parse_cursor(body.get('cursor'))
        sec = "substr(updated_at, 1, 10) || ' ' || substr(updated_at, 12, 8)"
        if order is None:
            order_sql = 'device_id ASC'
            if cursor:
                where.append('device_id > ?')
                args.append(cursor[1])
        elif order == 'asc':
            order_sql = 'updated_at ASC, device_id ASC'
            if cursor:
                where.append('(%s > ? OR (%s = ? AND device_id > ?))' % (sec, sec))
                args += [cursor[0], cursor[0], cursor[1]]
        else:
            order_sql = 'updated_at DESC, device_id ASC'
            if cursor:
                where.append('(%s < ? OR (%s = ? AND device_id > ?))' % (sec, sec))
                args += [cursor[0], cursor[0], cursor[1]]
        fetch = min(limit + 1, MAX_ANALYTICS_LIMIT)
        rows = self.store.q('SELECT * FROM devices WHERE %s ORDER BY %s LIMIT ?' % (' AND '.join(where), order_sql), args + [fetch])
        has_more = len(rows) > limit
        data = rows[:limit]
        names = self.list_overrides(app_id, [r['device_id'] for r in data])
        cache = {}
        out = {'data': [self.render_device(r, False, names, cache) for r in data]}
        if has_more and data:
            out['nextCursor'] = '%s|%s' % (raw_ts(data[-1]['updated_at']), data[-1]['device_id'])
        out['hasMore'] = has_more
        return 200, out

    def list_devices_classic(self, app_id, body):
        limit = body.get('limit', FETCH_LIMIT)
        if isinstance(limit, str):
            # `LIMIT ${limit + 1}` concatenates: "50" -> 501; slice/compare coerce back to numbers
            digits = re.match(r'^\d+$', limit.strip())
            fetch = int(limit.strip() + '1') if digits else None
            num = js_number(limit)
        elif isinstance(limit, (int, float)) and not isinstance(limit, bool):
            fetch, num = int(limit) + 1, float(limit)
        else:
            fetch, num = None, float('nan')
        if fetch is None or math.isnan(num) or num < 0:
            return 200, {'data': [], 'hasMore': False}   # query error swallowed into []
        where, args = ['app_id = ?'], [app_id]
        if body.get('customIdMode'):
            where.append("custom_id != ''")
        cursor = self.parse_cursor(body.get('cursor'))
        if cursor:
            sec = "substr(updated_at, 1, 10) || ' ' || substr(updated_at, 12, 8)"
            where.append('(%s < ? OR (%s = ? AND device_id > ?))' % (sec, sec))
            args += [cursor[0], cursor[0], cursor[1]]
        rows = self.store.q('SELECT * FROM devices WHERE %s ORDER BY updated_at DESC, device_id ASC LIMIT ?' % ' AND '.join(where),
                            args + [fetch])
        has_more = len(rows) > num
        data = rows[:int(num)]
        names = self.list_overrides(app_id, [r['device_id'] for r in data])
        cache = {}
        out = {'data': [self.render_device(r, False, names, cache) for r in data]}
        if has_more and data:
            out['nextCursor'] = '%s|%s' % (raw_ts(data[-1]['updated_at']), data[-1]['device_id'])
        out['hasMore'] = has_more
        return 200, out

    def post_device(self, key, body):
        app_id, device_id = body.get('app_id'), body.get('device_id')
        if not app_id or not device_id:
            raise bad('missing_device_id_or_app_id', 'Missing device_id or app_id')
        self.check_app_id(body)
        if body.get('version_id'):
            raise bad('invalid_version_id', 'Cannot set version to device, use channel instead')
        name = body.get('channel')
        if self.classic:
            if not self.classic_right(key, app_id, 'write'):
                raise self.no_access(app_id)
            if not name:
                return 200, {'status': 'ok'}
            chan = self.store.channel(app_id, name) if isinstance(name, str) else None
            if chan is None:
                raise ApiError(404, 'channel_not_found', 'Channel not found', {'app_id': app_id, 'channel': name})
        else:
            if not name:
                if not self.can(key, app_id, 'app.manage_devices'):
                    raise self.no_access(app_id)
                return 200, {'status': 'ok'}
            chan = self.store.channel(app_id, name) if isinstance(name, str) else None
            if chan is None or self.level(key, app_id) == 0:
                raise ApiError(404, 'channel_not_found', 'Channel not found', {'app_id': app_id, 'channel': name})
            if not self.can(key, app_id, 'channel.manage_forced_devices'):
                raise bad('cannot_access_channel', "You can't access this channel", {'app_id': app_id, 'channel': name})
        if chan['public']:
            raise bad('public_channel_override', 'Cannot set channel override for public channel', {'app_id': app_id, 'channel': name})
        current = self.store.one('SELECT channel_id FROM overrides WHERE app_id = ? AND device_id = ?', (app_id, device_id))
        if current is None or current['channel_id'] != chan['id']:
            now = now_canon()
            self.store.x('INSERT OR REPLACE INTO overrides (app_id, device_id, channel_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)',
                         (app_id, device_id, chan['id'], now, now))
        return 200, {'status': 'ok'}

    def delete_device(self, key, body):
        device_id = body.get('device_id')
        if self.rule('delete_device_missing_id_first'):
            if not body.get('app_id'):
                raise bad('missing_app_id', 'Missing app_id', {'body': body})
            if not device_id:
                raise bad('missing_device_id', 'Missing device_id', {'body': body})
        app_id = self.check_app_id(body)
        if not self.allowed(key, app_id, 'app.manage_devices', 'write'):
            raise self.no_access(app_id)
        if device_id:
            self.store.x('DELETE FROM overrides WHERE app_id = ? AND device_id = ?', (app_id, device_id))
        return 200, {'status': 'ok'}

    # ------------------------------------------------------------------ bundle
    def get_bundle(self, key, body):
        app_id = self.check_app_id(body)
        if not self.allowed(key, app_id, 'app.read_bundles', 'read'):
            if self.rule('bundle_list_empty_ok') and self.conf('bundle_app_not_found_404'):
                raise ApiError(404, 'app_not_found', 'App not found', {'app_id': app_id})
            raise bad('cannot_get_bundle', "You can't access this app", {'app_id': app_id})
        window = page_window(body.get('page'))
        if window is None:
            raise bad('cannot_get_bundle', 'Cannot get bundle', {'supabaseError': {
                'code': '22P02', 'details': None, 'hint': None, 'message': 'invalid input syntax for type bigint'}})
        rows = self.store.q('SELECT * FROM bundles WHERE app_id = ? AND deleted = 0 ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?',
                            (app_id, window[1], window[0]))
        if not rows and not self.rule('bundle_list_empty_ok'):
            raise bad('cannot_get_bundle', 'Cannot get bundle', {'supabaseError': None})
        return 200, [render_bundle(r, self.classic) for r in rows]

    def get_bundle_lookup(self, key, body):
        """GET /bundle/lookup (latest, 12.1 #11): {exists, id, name, deleted} or, with latest=true, {name}."""
        app_id = self.check_app_id(body)
        if not self.can(key, app_id, 'app.read_bundles') and not self.can(key, app_id, 'app.upload_bundle'):
            raise bad('cannot_lookup_bundle', 'You cannot read bundles for this app', {'app_id': app_id})
        if body.get('latest') in (True, 'true', '1'):
            row = self.store.one('SELECT name FROM bundles WHERE app_id = ? AND deleted = 0 ORDER BY created_at DESC, id DESC LIMIT 1',
                                 (app_id,))
            return 200, {'name': row['name'] if row is not None else None}
        name = body.get('name')
        if not name:
            raise bad('missing_version', 'Missing bundle version name', {'body': body})
        row = self.store.bundle_by_name(app_id, name) if isinstance(name, str) else None
        if row is not None and self.level(key, app_id) == 0:
            row = None   # RLS
        return 200, {'exists': row is not None, 'id': row['id'] if row is not None else None,
                     'name': row['name'] if row is not None else None,
                     'deleted': bool(row['deleted']) if row is not None else None}

    def linked_ids(self, app_id):
        ids = set()
        for r in self.store.q('SELECT version, rollout_version FROM channels WHERE app_id = ?', (app_id,)):
            ids.update(v for v in (r['version'], r['rollout_version']) if v is not None)
        return ids

    def delete_bundle(self, key, body):
        app_id = self.check_app_id(body)
        if not self.allowed(key, app_id, 'bundle.delete', 'write'):
            raise bad('cannot_delete_bundle', "You can't access this app", {'app_id': app_id})
        version = body.get('version')
        now = now_canon()
        if version:
            if self.classic:
                row = self.store.bundle_by_name(app_id, version)
                if row is None:
                    raise bad('cannot_delete_version', 'Cannot delete version', {'app_id': app_id, 'version': version})
                if not row['deleted']:
                    self.store.x('UPDATE bundles SET deleted = 1, deleted_at = ?, updated_at = ? WHERE id = ?', (now, now, row['id']))
                return 200, {'status': 'ok'}
            row = self.store.bundle_by_name(app_id, version, deleted=False)
            if row is None:
                raise bad('cannot_delete_version', 'Cannot delete version', {'app_id': app_id, 'version': version})
            if row['id'] in self.linked_ids(app_id):
                raise bad('cannot_delete_linked_version', 'Cannot delete a bundle linked to a channel', {'app_id': app_id, 'version': version})
            self.store.x('UPDATE bundles SET deleted = 1, deleted_at = ?, updated_at = ? WHERE id = ?', (now, now, row['id']))
            return 200, {'status': 'ok'}
        skip = set() if self.classic else self.linked_ids(app_id)
        for row in self.store.q('SELECT id FROM bundles WHERE app_id = ? AND deleted = 0', (app_id,)):
            if row['id'] not in skip:
                self.store.x('UPDATE bundles SET deleted = 1, deleted_at = ?, updated_at = ? WHERE id = ?', (now, now, row['id']))
        return 200, {'status': 'ok'}

    def post_bundle(self, key, body):
        """POST /bundle: register an external-URL bundle (H `_b/public/bundle/create.ts`, 12.2 #1, 12.1 #12)."""
        app_id = self.check_app_id(body)
        version = body.get('version')
        if not version:
            raise bad('missing_version', 'Missing required fields: version', {'version': version})
        if not body.get('external_url'):
            raise bad('missing_external_url', 'Missing required fields: external_url', {'external_url': body.get('external_url')})
        if self.rule('post_bundle_checksum_required') and not body.get('checksum'):
            raise bad('missing_checksum', 'Missing required fields: checksum', {'checksum': body.get('checksum')})
        if not isinstance(version, str) or not SEMVER_RE.match(version):
            raise bad('invalid_version_format', 'Version must be valid semver format (e.g., 1.0.0, 1.0.0-alpha.1)', {'version': version})
        if not self.can(key, app_id, 'app.upload_bundle'):
            raise bad('cannot_create_bundle', "You can't access this app", {'app_id': app_id})
        url = body['external_url']
        if not isinstance(url, str) or not url.startswith('https://'):
            raise bad('invalid_protocol', 'External URL must use HTTPS protocol', {'external_url': url})
        org = self.store.org(self.store.app(app_id)['org'])
        if org['enforce_encrypted_bundles']:
            if self.rule('encryption_refuses_external'):
                raise bad('encryption_required', 'This organization requires all bundles to be encrypted. External URL bundles cannot be '
                          'used because Capgo cannot verify their encryption. Upload the bundle directly instead.',
                          {'enforce_encrypted_bundles': True, 'external_url': True})
            self.check_encryption_head(org, body.get('session_key'), body.get('key_id'))
        existing = self.store.bundle_by_name(app_id, version)
        if existing is not None and not existing['deleted']:
            raise bad('version_already_exists', 'Version already exists', {'version': version})
        if existing is not None:
            raise bad('cannot_create_bundle', 'Cannot create bundle', {'supabaseError': {
                'code': '23505', 'message': 'duplicate key value violates unique constraint "unique_name_app_id"'}})
        cols = {'external_url': url, 'checksum': body.get('checksum'), 'session_key': body.get('session_key') or None,
                'key_id': body.get('key_id') or None, 'storage_provider': 'external', 'user_id': key['user_id'],
                'created_by_apikey_rbac_id': key['id']}
        row = self.store.insert_bundle(app_id, version, **cols)
        return 200, {'status': 'success', 'bundle': render_bundle(row, False)}

    @staticmethod
    def check_encryption_head(org, session_key, key_id):
        """HEAD checkEncryptedBundleEnforcement: a session_key, and the org's key when it names one."""
        if not session_key:
            raise bad('encryption_required', 'This organization requires all bundles to be encrypted. Please upload an encrypted '
                      'bundle with a session_key.', {'enforce_encrypted_bundles': True})
        required = org['required_encryption_key']
        if required:
            if not key_id:
                raise bad('encryption_key_required', 'This organization requires bundles to be encrypted with a specific key. The uploaded '
                          'bundle does not have a key_id.', {'enforce_encrypted_bundles': True, 'required_encryption_key': True})
            key_id = str(key_id)
            if not (key_id == required[:20] or key_id[:len(required)] == required):
                raise bad('encryption_key_mismatch', 'This organization requires bundles to be encrypted with a specific key. The uploaded '
                          'bundle was encrypted with a different key.',
                          {'enforce_encrypted_bundles': True, 'required_encryption_key': True, 'expected_key_prefix': required[:4] + '...'})

    def put_bundle(self, key, body):
        """PUT /bundle: link a bundle (by id) to a channel (by id); latest adds `target` (12.1 #4)."""
        app_id = body.get('app_id')
        version_id, channel_id = body.get('version_id'), body.get('channel_id')
        if self.classic:
            app_id = self.check_app_id(body)
            if not version_id or not channel_id:
                raise bad('missing_required_fields', 'Missing required fields: app_id, version_id, channel_id')
            if not self.classic_right(key, app_id, 'write'):
                raise self.no_access(app_id)
            try:
                version = self.store.bundle_by_id(int(version_id))
                chan = self.store.channel_by_id(int(channel_id))
            except (TypeError, ValueError):
                raise unknown_error()
            if version is None or version['app_id'] != app_id or version['deleted']:
                raise bad('cannot_find_version', 'Cannot find version', {'version_id': version_id})
            if chan is None or chan['app_id'] != app_id:
                raise bad('cannot_find_channel', 'Cannot find channel', {'channel_id': channel_id})
            self.store.update_channel(chan['id'], {'version': version['id'], 'updated_at': now_canon()})
            return 200, {'status': 'success', 'message': 'Bundle %s set to channel %s' % (version['name'], chan['name'])}
        if not app_id or not version_id or not channel_id:
            raise bad('missing_required_fields', 'Missing required fields',
                      {'app_id': app_id, 'version_id': version_id, 'channel_id': channel_id})
        if not isinstance(app_id, str) or not APP_ID_RE.match(app_id):
            raise bad('invalid_app_id', 'App ID must be a reverse domain string', {'app_id': app_id})
        target = body.get('target') if self.rule('put_bundle_target') else None
        if target is not None and target not in ('auto', 'stable', 'rollout'):
            raise bad('invalid_target', 'Invalid channel assignment target', {'target': target})
        if not (is_int_like(version_id) and is_int_like(channel_id)):
            if self.rule('put_bundle_bad_id_cannot_set'):
                raise bad('cannot_set_bundle_to_channel', 'Cannot set bundle to channel',
                          {'error': 'invalid input syntax for type bigint'})
            raise unknown_error()
        chan = self.store.channel_by_id(int(float(channel_id)))
        if chan is not None and chan['app_id'] != app_id:
            chan = None
        if not self.can(key, app_id, 'channel.promote_bundle'):
            raise self.no_access(app_id)
        version = self.store.bundle_by_id(int(float(version_id)))
        if version is None or version['app_id'] != app_id or version['deleted']:
            raise bad('cannot_find_version', 'Cannot find version')
        if chan is None:
            raise bad('cannot_find_channel', 'Cannot find channel')
        assigned = self.assign_bundle(chan, version, target)
        if assigned == 'rollout':
            message = 'Bundle %s set as rollout target on channel %s' % (version['name'], chan['name'])
        else:
            message = 'Bundle %s set to channel %s' % (version['name'], chan['name'])
        out = {'status': 'success', 'message': message}
        if self.rule('put_bundle_target'):
            out['assignmentTarget'] = assigned
        return 200, out

    def assign_bundle(self, chan, version, target):
        """setChannelInTransaction's write: stable `version` or (latest) the rollout target; returns which."""
        assigned = 'stable'
        if self.rule('put_bundle_target'):
            if target in ('stable', 'rollout'):
                assigned = target
            elif chan['rollout_enabled'] or chan['rollout_version'] is not None:
                assigned = 'rollout'
            if assigned == 'rollout' and not chan['version']:
                raise bad('cannot_set_rollout_without_stable', 'Cannot set rollout target because this channel has no stable bundle yet',
                          {'channel_id': chan['id']})
        column = 'rollout_version' if assigned == 'rollout' else 'version'
        self.write_channel(chan, {column: version['id']})
        return assigned

    # ------------------------------------------------------------------ rate limit bodies
    def too_many(self, more_info, retry_after):
        retry_after = max(0, int(math.ceil(retry_after)))   # HEAD: Retry-After can be 0 (12.2 #6)
        if self.classic:
            return ApiError(429, 'too_many_requests', 'You are being rate limited', {},
                            body={'error': 'too_many_requests', 'message': 'You are being rate limited'})
        reset_at = time.time() + retry_after
        info = dict(more_info)
        info['rateLimitResetAt'] = int(reset_at * 1000)
        info['retryAfterSeconds'] = retry_after
        return ApiError(429, 'too_many_requests', 'Too many requests', info,
                        headers={'Retry-After': str(retry_after), 'X-RateLimit-Reset': str(int(reset_at))})
