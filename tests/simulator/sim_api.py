# -*- coding: utf-8 -*-
"""Capgo public API behaviour (channel, device, bundle) for both profiles of the simulator.

Everything here runs with the simulator lock held. See /work/shared/docs/capgo-api.md.
"""

import json
import math
import re
import time
import uuid

from sim_store import DEVICE_BOOLS, BUNDLE_JSON, dump_row, now_canon, parse_ts, pg_ts, js_iso, raw_ts, to_canon

FETCH_LIMIT = 50
MAX_ROWS = 1000
MAX_ANALYTICS_LIMIT = 50000
APP_ID_RE = re.compile(r'^[a-z0-9]+(\.[\w-]+)+$', re.IGNORECASE)
SEMVER_RE = re.compile(r'^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)'
                       r'(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?'
                       r'(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$')
DISABLE_UPDATE = ('major', 'minor', 'patch', 'version_number', 'none')

# current RBAC: role levels (inheritance is linear for the roles a legacy key can map to)
ROLE_LEVEL = {'app_reader': 1, 'app_uploader': 2, 'app_developer': 3, 'app_admin': 4, 'org_admin': 5, 'org_super_admin': 6}
PERMISSION_LEVEL = {
    'app.read_channels': 1, 'app.read_devices': 1, 'app.read_bundles': 1,
    'channel.promote_bundle': 2, 'app.upload_bundle': 2,
    'app.create_channel': 3, 'channel.manage_forced_devices': 3, 'app.manage_devices': 3,
    'channel.update_settings': 4, 'channel.delete': 4, 'bundle.delete': 4,
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


def render_channel(store, row, classic):
    out = {
        'id': row['id'], 'created_at': pg_ts(row['created_at']), 'name': row['name'], 'app_id': row['app_id'],
        'created_by': row['created_by'], 'updated_at': pg_ts(row['updated_at']), 'public': bool(row['public']),
        'allow_device_self_set': bool(row['allow_device_self_set']), 'allow_emulator': bool(row['allow_emulator']),
        'allow_device': bool(row['allow_device']), 'allow_dev': bool(row['allow_dev']), 'allow_prod': bool(row['allow_prod']),
    }
    version = store.bundle_by_id(row['version']) if row['version'] is not None else None
    if classic and version is None:
        version = store.ensure_placeholders(row['app_id'])
    out['version'] = {'name': version['name'], 'id': version['id']} if version is not None else None
    out['disableAutoUpdateUnderNative'] = bool(row['disable_auto_update_under_native'])
    out['disableAutoUpdate'] = row['disable_auto_update']
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
    out = dump_row(row, ('deleted',), BUNDLE_JSON)
    for key in ('created_at', 'updated_at', 'deleted_at'):
        out[key] = pg_ts(out[key])
    if classic:
        out.pop('created_by_apikey_rbac_id', None)
    return out


class Api(object):
    """The three public resources. `sim` gives profile, config, store, clocks and timers."""

    def __init__(self, sim):
        self.sim = sim

    @property
    def store(self):
        return self.sim.store

    @property
    def classic(self):
        return self.sim.profile == 'classic'

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
        return self.level(key, app_id) >= PERMISSION_LEVEL[perm]

    def classic_right(self, key, app_id, right):
        """Classic has_app_right_apikey: org/app limits, then the key owner's org right."""
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
            return 200, render_channel(self.store, row, self.classic)
        window = page_window(body.get('page'))
        if window is None:
            raise bad('cannot_find_channels', 'Cannot find channels', {'supabaseError': {
                'code': '22P02', 'details': None, 'hint': None, 'message': 'invalid input syntax for type bigint'}})
        rows = self.store.q('SELECT * FROM channels WHERE app_id = ? ORDER BY created_at ASC, id ASC LIMIT ? OFFSET ?',
                            (app_id, window[1], window[0]))
        return 200, [render_channel(self.store, r, self.classic) for r in rows]

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
        app_id = self.check_app_id(body)
        if self.classic:
            return self.post_channel_classic(key, app_id, body)
        name = body.get('channel')
        existing = self.store.channel(app_id, name) if isinstance(name, str) else None
        perm = 'channel.update_settings' if existing is not None else 'app.create_channel'
        if not self.can(key, app_id, perm):
            raise self.no_access(app_id)
        if 'version' in body and existing is not None and not self.can(key, app_id, 'channel.promote_bundle'):
            raise bad('cannot_promote_bundle', 'You cannot promote a bundle on this channel', {'app_id': app_id})
        if self.store.app(app_id) is None:
            raise bad('invalid_app_id', "You can't access this app", {'app_id': app_id})
        changes_target = any(k in body for k in ('rolloutVersion', 'rollout_version', 'rollback', 'promoteToStable', 'promote_to_stable'))
        if changes_target:
            if existing is None:
                raise bad('cannot_find_channel', 'Cannot find channel', {'app_id': app_id, 'channel': name})
            if not self.can(key, app_id, 'channel.promote_bundle'):
                raise bad('cannot_promote_bundle', 'You cannot promote a bundle on this channel', {'app_id': app_id})
        if not isinstance(name, str) or name == '':
            raise unknown_error()
        update = {}
        version = body.get('version', MISSING)
        if version is not MISSING:
            if version in (None, '', 'builtin', 'unknown'):
                update['version'] = None
            else:
                row = self.store.bundle_by_name(app_id, version, deleted=False) if isinstance(version, str) else None
                if row is None:
                    if existing is not None:
                        raise unknown_error()
                    raise bad('cannot_find_version', 'Cannot find version', {'app_id': app_id, 'version': version})
                update['version'] = row['id']
        update.update(self.settings_columns(body, existing, current=True))
        self.apply_rollout(app_id, body, existing, update)
        key_user = key['user_id']
        now = now_canon()
        if existing is None:
            data = {'app_id': app_id, 'name': name, 'created_at': now, 'updated_at': now, 'created_by': key_user,
                    'owner_org': self.store.app(app_id)['org'], 'rollout_id': str(uuid.uuid4())}
            data.update(update)
            row = self.store.insert_channel(data)
        else:
            update['updated_at'] = now
            self.store.update_channel(existing['id'], update)
            row = self.store.channel_by_id(existing['id'])
        if row['public'] and (existing is None or any(k in update for k in ('public', 'ios', 'android', 'electron'))):
            self.demote_current(row)
        if existing is None and version is not MISSING and update.get('version') is not None:
            return 200, {'status': 'ok', 'id': row['id'], 'public': bool(row['public'])}
        return 200, {'status': 'ok'}

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

    def apply_rollout(self, app_id, body, existing, update):
        """Current-only rollout/auto-pause fields (§5.1, §11.1 #12/#13)."""
        cur = dict(existing) if existing is not None else {'version': None, 'rollout_version': None}
        stable = update.get('version', cur.get('version'))
        new_target = False
        rv = pick(body, 'rolloutVersion', 'rollout_version')
        if rv is not MISSING:
            if rv is None:
                update['rollout_version'] = None
            else:
                row = None
                if isinstance(rv, int) and not isinstance(rv, bool):
                    row = self.store.bundle_by_id(rv)
                    row = row if row is not None and row['app_id'] == app_id and not row['deleted'] else None
                elif isinstance(rv, str):
                    row = self.store.bundle_by_name(app_id, rv, deleted=False)
                    if row is None and rv.isdigit():
                        row = self.store.bundle_by_id(int(rv))
                        row = row if row is not None and row['app_id'] == app_id and not row['deleted'] else None
                if row is None:
                    raise unknown_error()
                update['rollout_version'] = row['id']
                if row['id'] != cur.get('rollout_version'):
                    update['rollout_id'] = str(uuid.uuid4())
                    new_target = True
        bps = pick(body, 'rolloutPercentageBps', 'rollout_percentage_bps')
        pct = pick(body, 'rolloutPercentage', 'rollout_percentage')
        if bps is not MISSING and bps is not None:
            if isinstance(bps, bool) or not isinstance(bps, int) or not 0 <= bps <= 10000:
                raise bad('invalid_rollout_percentage', 'rolloutPercentageBps must be an integer between 0 and 10000', {'rolloutPercentageBps': bps})
            update['rollout_percentage_bps'] = bps
        elif pct is not MISSING and pct is not None:
            if isinstance(pct, bool) or not isinstance(pct, (int, float)) or not 0 <= pct <= 100:
                raise bad('invalid_rollout_percentage', 'rolloutPercentage must be a number between 0 and 100', {'rolloutPercentage': pct})
            update['rollout_percentage_bps'] = int(round(pct * 100))
        for camel, snake, col, kind in ROLLOUT_FIELDS:
            val = pick(body, camel, snake)
            if val is MISSING:
                continue
            if val is None:
                if kind == 'text_nullable' or (isinstance(kind, tuple) and len(kind) == 3):
                    update[col] = None
                continue
            if kind == 'bool':
                if not isinstance(val, bool):
                    raise bad('invalid_rollout_config', '%s must be a boolean' % camel, {camel: val})
                update[col] = 1 if val else 0
            elif kind == 'ts':
                try:
                    update[col] = to_canon(val)
                except (ValueError, TypeError):
                    raise bad('invalid_rollout_config', '%s must be a timestamp' % camel, {camel: val})
            elif kind == 'text_nullable':
                update[col] = str(val)
            else:
                low, high = kind[0], kind[1]
                if isinstance(val, bool) or not isinstance(val, int) or val < low or (high is not None and val > high):
                    raise bad('invalid_rollout_config', '%s is out of range' % camel, {camel: val})
                update[col] = val
        conf = pick(body, 'autoPauseConfidence', 'auto_pause_confidence')
        if conf is not MISSING and conf is not None:
            if isinstance(conf, bool) or not isinstance(conf, (int, float)) or not 0 < conf < 1:
                raise bad('invalid_auto_pause_confidence', 'autoPauseConfidence must be between 0 and 1 (exclusive)', {'autoPauseConfidence': conf})
            update['auto_pause_confidence'] = float(conf)
        action = pick(body, 'autoPauseAction', 'auto_pause_action')
        if action is not MISSING and action is not None:
            if action not in ('pause', 'rollback', 'notify'):
                raise bad('invalid_auto_pause_action', 'autoPauseAction must be pause, rollback or notify', {'autoPauseAction': action})
            update['auto_pause_action'] = action
        paused = pick(body, 'rolloutPaused', 'rollout_paused')
        if paused is not MISSING and paused is not None:
            if paused:
                update['rollout_paused_at'] = now_canon()
            else:
                update['rollout_paused_at'] = None
                update['rollout_pause_reason'] = None
        target = update.get('rollout_version', cur.get('rollout_version'))
        if pick(body, 'promoteToStable', 'promote_to_stable') is True:
            if target is None:
                raise bad('missing_rollout_version', 'No rollout version to promote', {'app_id': app_id})
            update['version'] = target
            self.clear_rollout(update)
            return
        if pick(body, 'rollback', 'rollback') is True:
            self.clear_rollout(update)
            return
        enabling = update.get('rollout_enabled') == 1 or new_target
        if update.get('rollout_enabled') == 1 and target is None:
            raise bad('missing_rollout_version', 'rolloutEnabled needs a rollout version', {'app_id': app_id})
        if enabling and stable is None:
            raise bad('missing_stable_version', 'A rollout needs a stable version on the channel', {'app_id': app_id})
        touches_rollout = rv is not MISSING or 'rollout_enabled' in update or 'rollout_percentage_bps' in update
        if existing is not None and 'version' in update and update['version'] is not None \
                and update['version'] != cur.get('version') and not touches_rollout and cur.get('rollout_version') is not None:
            # linking a new stable bundle clears a leftover rollout (capgo-semantics.md)
            self.clear_rollout(update)

    @staticmethod
    def clear_rollout(update):
        update.update({'rollout_version': None, 'rollout_enabled': 0, 'rollout_percentage_bps': 0,
                       'rollout_paused_at': None, 'rollout_pause_reason': None, 'rollout_id': str(uuid.uuid4())})

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
    def parse_cursor(cursor):
        if not isinstance(cursor, str) or '|' not in cursor:
            return None
        stamp, dev = cursor.split('|', 1)
        return stamp.strip(), dev

    def list_devices_current(self, app_id, body):
        limit = body.get('limit', FETCH_LIMIT)
        if isinstance(limit, str):
            limit = int(limit) if re.match(r'^\d+$', limit.strip()) else -1
        if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
            raise bad('invalid_limit', 'limit must be a positive integer', {'limit': body.get('limit')})
        order = body.get('order')
        if order is not None and order not in ('asc', 'desc'):
            raise bad('invalid_order', 'order must be asc or desc', {'order': order})
        where, args = ['app_id = ?'], [app_id]
        if body.get('updated_at') is not None:
            try:
                since = to_canon(parse_ts(body['updated_at']))
            except (ValueError, TypeError):
                raise bad('invalid_updated_at', 'updated_at must be an ISO-8601 timestamp', {'updated_at': body['updated_at']})
            where.append('updated_at > ?')
            args.append(since)
        if body.get('customIdMode'):
            where.append("custom_id != ''")
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
        names = self.overrides_for(app_id, [r['device_id'] for r in data])
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
        names = self.overrides_for(app_id, [r['device_id'] for r in data])
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
        app_id = self.check_app_id(body)
        device_id = body.get('device_id')
        if not self.classic and not device_id:
            raise bad('missing_device_id', 'Missing device_id')
        if not self.allowed(key, app_id, 'app.manage_devices', 'write'):
            raise self.no_access(app_id)
        if device_id:
            self.store.x('DELETE FROM overrides WHERE app_id = ? AND device_id = ?', (app_id, device_id))
        return 200, {'status': 'ok'}

    # ------------------------------------------------------------------ bundle
    def get_bundle(self, key, body):
        app_id = self.check_app_id(body)
        if not self.allowed(key, app_id, 'app.read_bundles', 'read'):
            raise bad('cannot_get_bundle', "You can't access this app", {'app_id': app_id})
        window = page_window(body.get('page'))
        if window is None:
            raise bad('cannot_get_bundle', 'Cannot get bundle', {'supabaseError': {
                'code': '22P02', 'details': None, 'hint': None, 'message': 'invalid input syntax for type bigint'}})
        rows = self.store.q('SELECT * FROM bundles WHERE app_id = ? AND deleted = 0 ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?',
                            (app_id, window[1], window[0]))
        if not rows:
            raise bad('cannot_get_bundle', 'Cannot get bundle', {'supabaseError': None})
        return 200, [render_bundle(r, self.classic) for r in rows]

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
        app_id = self.check_app_id(body)
        version = body.get('version')
        if not version:
            raise bad('missing_version', 'Missing version')
        if not body.get('external_url'):
            raise bad('missing_external_url', 'Missing external_url')
        if not self.can(key, app_id, 'app.upload_bundle'):
            raise self.no_access(app_id)
        if not isinstance(version, str) or not SEMVER_RE.match(version):
            raise bad('invalid_version_format', 'Version must be a valid semver string', {'version': version})
        url = body['external_url']
        if not isinstance(url, str) or not url.lower().startswith('https://'):
            raise bad('invalid_protocol', 'External URL must use HTTPS', {'external_url': url})
        existing = self.store.bundle_by_name(app_id, version)
        if existing is not None and not existing['deleted']:
            raise bad('version_already_exists', 'Version already exists', {'version': version})
        if existing is not None:
            raise bad('cannot_create_bundle', 'Cannot create bundle', {'supabaseError': {
                'code': '23505', 'message': 'duplicate key value violates unique constraint "unique_name_app_id"'}})
        cols = {'external_url': url, 'checksum': body.get('checksum'), 'session_key': body.get('session_key'),
                'key_id': body.get('key_id'), 'storage_provider': 'external', 'user_id': key['user_id'],
                'created_by_apikey_rbac_id': key['id']}
        row = self.store.insert_bundle(app_id, version, **cols)
        return 200, {'status': 'success', 'bundle': render_bundle(row, False)}

    def put_bundle(self, key, body):
        app_id = self.check_app_id(body)
        version_id, channel_id = body.get('version_id'), body.get('channel_id')
        if not version_id or not channel_id:
            raise bad('missing_required_fields', 'Missing required fields: app_id, version_id, channel_id')
        if not self.allowed(key, app_id, 'channel.promote_bundle', 'write'):
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

    # ------------------------------------------------------------------ rate limit bodies
    def too_many(self, more_info, retry_after):
        retry_after = max(1, int(math.ceil(retry_after)))
        if self.classic:
            return ApiError(429, 'too_many_requests', 'You are being rate limited', {},
                            body={'error': 'too_many_requests', 'message': 'You are being rate limited'})
        reset_at = time.time() + retry_after
        info = dict(more_info)
        info['rateLimitResetAt'] = int(reset_at * 1000)
        info['retryAfterSeconds'] = retry_after
        return ApiError(429, 'too_many_requests', 'Too many requests', info,
                        headers={'Retry-After': str(retry_after), 'X-RateLimit-Reset': str(int(reset_at))})
