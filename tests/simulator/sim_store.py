# -*- coding: utf-8 -*-
"""SQLite storage, time helpers and seeding for the Capgo simulator (stdlib only)."""

import datetime
import hashlib
import json
import sqlite3
import uuid

EPOCH = datetime.datetime(1970, 1, 1)

SCHEMA = """
CREATE TABLE IF NOT EXISTS apps (
    app_id TEXT PRIMARY KEY,
    org TEXT NOT NULL,
    name TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS orgs (
    org TEXT PRIMARY KEY,
    enforce_encrypted_bundles INTEGER NOT NULL DEFAULT 0,
    required_encryption_key TEXT
);
CREATE TABLE IF NOT EXISTS apikeys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key_hash TEXT NOT NULL UNIQUE,
    mode TEXT NOT NULL,
    org TEXT NOT NULL,
    apps TEXT,
    owner_right TEXT NOT NULL DEFAULT 'super_admin',
    user_id TEXT NOT NULL,
    expires_at TEXT
);
CREATE TABLE IF NOT EXISTS bundles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id TEXT NOT NULL,
    name TEXT NOT NULL,
    checksum TEXT,
    cli_version TEXT,
    comment TEXT,
    created_at TEXT NOT NULL,
    created_by_apikey_rbac_id INTEGER,
    deleted INTEGER NOT NULL DEFAULT 0,
    deleted_at TEXT,
    external_url TEXT,
    key_id TEXT,
    link TEXT,
    manifest TEXT,
    manifest_count INTEGER NOT NULL DEFAULT 0,
    min_update_version TEXT,
    native_packages TEXT,
    owner_org TEXT,
    r2_path TEXT,
    session_key TEXT,
    storage_provider TEXT NOT NULL DEFAULT 'r2',
    updated_at TEXT,
    user_id TEXT,
    UNIQUE (app_id, name)
);
CREATE TABLE IF NOT EXISTS channels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    created_by TEXT,
    owner_org TEXT,
    public INTEGER NOT NULL DEFAULT 0,
    ios INTEGER NOT NULL DEFAULT 1,
    android INTEGER NOT NULL DEFAULT 1,
    electron INTEGER NOT NULL DEFAULT 1,
    disable_auto_update TEXT NOT NULL DEFAULT 'major',
    disable_auto_update_under_native INTEGER NOT NULL DEFAULT 1,
    update_package TEXT NOT NULL DEFAULT 'all',
    allow_device_self_set INTEGER NOT NULL DEFAULT 0,
    allow_emulator INTEGER NOT NULL DEFAULT 1,
    allow_dev INTEGER NOT NULL DEFAULT 1,
    allow_device INTEGER NOT NULL DEFAULT 1,
    allow_prod INTEGER NOT NULL DEFAULT 1,
    version INTEGER,
    rollout_version INTEGER,
    rollout_id TEXT,
    rollout_percentage_bps INTEGER NOT NULL DEFAULT 0,
    rollout_enabled INTEGER NOT NULL DEFAULT 0,
    rollout_paused_at TEXT,
    rollout_pause_reason TEXT,
    rollout_cache_ttl_seconds INTEGER NOT NULL DEFAULT 2592000,
    auto_pause_enabled INTEGER NOT NULL DEFAULT 0,
    auto_pause_window_minutes INTEGER NOT NULL DEFAULT 60,
    auto_pause_failure_rate_bps INTEGER,
    auto_pause_confidence REAL NOT NULL DEFAULT 0.95,
    auto_pause_min_attempts INTEGER,
    auto_pause_min_failures INTEGER,
    auto_pause_action TEXT NOT NULL DEFAULT 'pause',
    auto_pause_cooldown_minutes INTEGER NOT NULL DEFAULT 60,
    auto_pause_last_triggered_at TEXT,
    auto_pause_last_checked_at TEXT,
    UNIQUE (app_id, name)
);
CREATE TABLE IF NOT EXISTS devices (
    app_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    custom_id TEXT NOT NULL DEFAULT '',
    is_prod INTEGER NOT NULL DEFAULT 1,
    is_emulator INTEGER NOT NULL DEFAULT 0,
    version_name TEXT,
    version_build TEXT,
    platform TEXT,
    plugin_version TEXT,
    os_version TEXT,
    key_id TEXT,
    install_source TEXT,
    country_code TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (app_id, device_id)
);
CREATE TABLE IF NOT EXISTS overrides (
    app_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    channel_id INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (app_id, device_id)
);
CREATE INDEX IF NOT EXISTS channels_order ON channels (app_id, created_at, id);
CREATE INDEX IF NOT EXISTS bundles_order ON bundles (app_id, created_at, id);
"""

CHANNEL_BOOLS = ('public', 'ios', 'android', 'electron', 'disable_auto_update_under_native', 'allow_device_self_set',
                 'allow_emulator', 'allow_dev', 'allow_device', 'allow_prod', 'rollout_enabled', 'auto_pause_enabled')
DEVICE_BOOLS = ('is_prod', 'is_emulator')
BUNDLE_JSON = ('manifest', 'native_packages')
TABLES = ('overrides', 'devices', 'channels', 'bundles', 'apikeys', 'apps', 'orgs')

# seed aliases: API spellings accepted for channel columns
CHANNEL_ALIASES = {
    'disableAutoUpdate': 'disable_auto_update',
    'disableAutoUpdateUnderNative': 'disable_auto_update_under_native',
    'rolloutPercentageBps': 'rollout_percentage_bps',
    'rolloutEnabled': 'rollout_enabled',
    'rolloutVersion': 'rollout_version',
    'rolloutPausedAt': 'rollout_paused_at',
    'rolloutPauseReason': 'rollout_pause_reason',
    'rolloutCacheTtlSeconds': 'rollout_cache_ttl_seconds',
    'updatePackage': 'update_package',
    'channel': 'name',
}


def utcnow():
    """Naive UTC now."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def to_canon(value):
    """Canonical, sortable storage form of a timestamp (naive UTC)."""
    if isinstance(value, datetime.datetime):
        return value.strftime('%Y-%m-%dT%H:%M:%S.%f')
    return parse_ts(value).strftime('%Y-%m-%dT%H:%M:%S.%f')


def now_canon():
    return to_canon(utcnow())


def parse_ts(text):
    """Parse ISO-8601 (with Z or offset) or 'YYYY-MM-DD HH:MM:SS' into naive UTC; raise ValueError."""
    if not isinstance(text, str) or not text:
        raise ValueError('not a timestamp')
    parsed = datetime.datetime.fromisoformat(text.strip().replace('Z', '+00:00').replace('z', '+00:00'))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return parsed


def pg_ts(canon):
    """Postgres/PostgREST JSON style: 2026-01-01T00:00:00+00:00 (fraction only when non-zero)."""
    if canon is None:
        return None
    if canon[20:] == '000000':
        return canon[:19] + '+00:00'
    return canon + '+00:00'


def js_iso(canon):
    """JavaScript toISOString style: 2026-01-01T00:00:00.000Z."""
    return canon[:23] + 'Z'


def raw_ts(canon):
    """Analytics-engine raw style: 2026-01-01 00:00:00 (second precision)."""
    return canon[:10] + ' ' + canon[11:19]


def epoch_ms(dt):
    return int((dt - EPOCH).total_seconds() * 1000)


def hash_key(key):
    return hashlib.sha256(key.encode('utf-8')).hexdigest()


def user_for_org(org):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, 'capgo-sim-user:' + org))


def boolish(value):
    if isinstance(value, str):
        return value.strip().lower() in ('1', 'true', 'yes', 'on')
    return bool(value)


class Store(object):
    """One sqlite connection; callers hold the simulator lock."""

    def __init__(self, path):
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.executescript(SCHEMA)
        self.channel_columns = [r['name'] for r in self.conn.execute('PRAGMA table_info(channels)')]
        self.bundle_columns = [r['name'] for r in self.conn.execute('PRAGMA table_info(bundles)')]
        self.device_columns = [r['name'] for r in self.conn.execute('PRAGMA table_info(devices)')]

    def run_atomic(self, func):
        """Run func() in one transaction: all of its writes or none (an API error rolls back)."""
        self.conn.execute('BEGIN')
        try:
            result = func()
        except BaseException:
            self.conn.execute('ROLLBACK')
            raise
        self.conn.execute('COMMIT')
        return result

    def q(self, sql, args=()):
        return self.conn.execute(sql, args).fetchall()

    def one(self, sql, args=()):
        return self.conn.execute(sql, args).fetchone()

    def x(self, sql, args=()):
        return self.conn.execute(sql, args)

    def wipe(self):
        for table in TABLES:
            self.conn.execute('DELETE FROM %s' % table)
        self.conn.execute("DELETE FROM sqlite_sequence")

    # ---- orgs / apps ------------------------------------------------------
    def org(self, org):
        """The org's settings row (defaults when it was never seeded)."""
        row = self.one('SELECT * FROM orgs WHERE org = ?', (org,))
        if row is None:
            return {'org': org, 'enforce_encrypted_bundles': 0, 'required_encryption_key': None}
        return row

    def app(self, app_id):
        return self.one('SELECT * FROM apps WHERE app_id = ?', (app_id,))

    def ensure_app(self, app_id, org='org1', classic=False):
        """Create the app if missing; classic apps get the deleted `unknown`/`builtin` placeholder bundles."""
        row = self.app(app_id)
        if row is None:
            self.x('INSERT INTO apps (app_id, org, name, created_at) VALUES (?, ?, ?, ?)', (app_id, org, app_id, now_canon()))
            row = self.app(app_id)
        if classic:
            self.ensure_placeholders(app_id)
        return row

    def ensure_placeholders(self, app_id):
        org = self.app(app_id)['org']
        for name in ('unknown', 'builtin'):
            self.x('INSERT OR IGNORE INTO bundles (app_id, name, created_at, updated_at, deleted, owner_org, storage_provider) '
                   'VALUES (?, ?, ?, ?, 1, ?, ?)', (app_id, name, '1970-01-01T00:00:00.000000', now_canon(), org, 'r2'))
        return self.one("SELECT * FROM bundles WHERE app_id = ? AND name = 'unknown'", (app_id,))

    # ---- bundles ----------------------------------------------------------
    def bundle_by_name(self, app_id, name, deleted=None):
        if deleted is None:
            return self.one('SELECT * FROM bundles WHERE app_id = ? AND name = ?', (app_id, name))
        return self.one('SELECT * FROM bundles WHERE app_id = ? AND name = ? AND deleted = ?', (app_id, name, 1 if deleted else 0))

    def bundle_by_id(self, bundle_id):
        return self.one('SELECT * FROM bundles WHERE id = ?', (bundle_id,))

    def insert_bundle(self, app_id, name, **cols):
        org = self.app(app_id)['org']
        now = now_canon()
        data = {'app_id': app_id, 'name': name, 'created_at': now, 'updated_at': now, 'owner_org': org, 'deleted': 0}
        for key, value in cols.items():
            if key in self.bundle_columns and key != 'id':
                data[key] = value
        for key in BUNDLE_JSON:
            if key in data and data[key] is not None and not isinstance(data[key], str):
                data[key] = json.dumps(data[key])
        if data.get('deleted') and not data.get('deleted_at'):
            data['deleted_at'] = now
        keys = sorted(data)
        cur = self.x('INSERT INTO bundles (%s) VALUES (%s)' % (', '.join(keys), ', '.join('?' * len(keys))), [data[k] for k in keys])
        return self.bundle_by_id(cur.lastrowid)

    # ---- channels ---------------------------------------------------------
    def channel(self, app_id, name):
        return self.one('SELECT * FROM channels WHERE app_id = ? AND name = ?', (app_id, name))

    def channel_by_id(self, channel_id):
        return self.one('SELECT * FROM channels WHERE id = ?', (channel_id,))

    def insert_channel(self, data):
        keys = sorted(data)
        cur = self.x('INSERT INTO channels (%s) VALUES (%s)' % (', '.join(keys), ', '.join('?' * len(keys))), [data[k] for k in keys])
        return self.channel_by_id(cur.lastrowid)

    def update_channel(self, channel_id, data):
        if not data:
            return
        keys = sorted(data)
        self.x('UPDATE channels SET %s WHERE id = ?' % ', '.join('%s = ?' % k for k in keys), [data[k] for k in keys] + [channel_id])

    # ---- keys ---------------------------------------------------------------
    def key_by_value(self, raw):
        return self.one('SELECT * FROM apikeys WHERE key_hash = ?', (hash_key(raw),))


def dump_row(row, bools=(), json_cols=()):
    out = dict(row)
    for key in bools:
        if key in out and out[key] is not None:
            out[key] = bool(out[key])
    for key in json_cols:
        if out.get(key):
            try:
                out[key] = json.loads(out[key])
            except ValueError:
                pass
    return out


class Seeder(object):
    """Implements POST /_sim/seed on a Store."""

    def __init__(self, store, classic):
        self.store = store
        self.classic = classic
        self.counts = {'apps': 0, 'keys': 0, 'bundles': 0, 'channels': 0, 'devices': 0, 'overrides': 0}

    def app(self, app_id, org=None):
        existing = self.store.app(app_id)
        if existing is None:
            self.store.ensure_app(app_id, org or 'org1', self.classic)
            self.counts['apps'] += 1
            return self.store.app(app_id)
        return existing

    def run(self, seed):
        for item in seed.get('orgs') or []:
            self.org(item)
        for item in seed.get('apps') or []:
            self.app(item['app_id'], item.get('org'))
        for item in seed.get('keys') or []:
            self.key(item)
        for item in seed.get('bundles') or []:
            self.bundle(item)
        for item in seed.get('channels') or []:
            self.channel(item)
        for item in seed.get('devices') or []:
            self.device(item)
        for item in seed.get('overrides') or []:
            self.override(item)
        if seed.get('generate'):
            self.generate(seed['generate'])
        return self.counts

    def org(self, item):
        """Org settings: {"org": "org1", "enforce_encrypted_bundles": true, "required_encryption_key": "..."}."""
        self.store.x('INSERT INTO orgs (org, enforce_encrypted_bundles, required_encryption_key) VALUES (?, ?, ?) '
                     'ON CONFLICT (org) DO UPDATE SET enforce_encrypted_bundles = excluded.enforce_encrypted_bundles, '
                     'required_encryption_key = excluded.required_encryption_key',
                     (item.get('org') or 'org1', 1 if item.get('enforce_encrypted_bundles') else 0, item.get('required_encryption_key')))

    def key(self, item):
        org = item.get('org') or 'org1'
        apps = item.get('apps')
        self.store.x('INSERT INTO apikeys (key_hash, mode, org, apps, owner_right, user_id, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?) '
                     'ON CONFLICT (key_hash) DO UPDATE SET mode = excluded.mode, org = excluded.org, apps = excluded.apps, '
                     'owner_right = excluded.owner_right, user_id = excluded.user_id, expires_at = excluded.expires_at',
                     (hash_key(item['key']), item.get('mode', 'all'), org, json.dumps(apps) if apps else None,
                      item.get('owner_right') or 'super_admin', item.get('user_id') or user_for_org(org),
                      to_canon(item['expires_at']) if item.get('expires_at') else None))
        self.counts['keys'] += 1

    def bundle(self, item):
        self.app(item['app_id'])
        cols = dict(item)
        cols.pop('app_id')
        name = cols.pop('name', None) or cols.pop('version')
        for key in ('created_at', 'updated_at', 'deleted_at'):
            if cols.get(key):
                cols[key] = to_canon(cols[key])
        if 'deleted' in cols:
            cols['deleted'] = 1 if cols['deleted'] else 0
        self.package_columns(item['app_id'], name, cols)
        existing = self.store.bundle_by_name(item['app_id'], name)
        if existing is not None:
            self.store.x('DELETE FROM bundles WHERE id = ?', (existing['id'],))
            cols['id'] = existing['id']
        row = self.store.insert_bundle(item['app_id'], name, **cols)
        if existing is not None:
            self.store.x('UPDATE bundles SET id = ? WHERE id = ?', (existing['id'], row['id']))
        self.counts['bundles'] += 1

    @staticmethod
    def package_columns(app_id, name, cols):
        """What a bundle can serve (12.1 #6 guard): a full zip (`r2_path`, or an external URL) and/or delta files
        (`manifest` entries / `manifest_count`). Seed helpers: `zip` (default true: an r2_path is set unless the seed
        gives storage columns) and `delta` (default false; true sets manifest_count 1)."""
        has_zip = cols.pop('zip', None)
        has_delta = cols.pop('delta', None)
        if has_zip is None:
            has_zip = True
            if 'r2_path' in cols or cols.get('external_url') or cols.get('storage_provider') in ('external', 'r2-direct'):
                has_zip = None   # the seed describes storage itself
        if has_zip is True and not cols.get('r2_path') and not cols.get('external_url'):
            cols['r2_path'] = 'orgs/sim/apps/%s/%s.zip' % (app_id, name)
        elif has_zip is False:
            cols['r2_path'] = None
            if cols.get('storage_provider') == 'external':
                cols['external_url'] = None
        if has_delta:
            cols.setdefault('manifest_count', 1)
        elif has_delta is False:
            cols['manifest_count'] = 0
            cols['manifest'] = None

    def resolve_bundle(self, app_id, ref):
        if ref is None:
            return None
        if isinstance(ref, int) and not isinstance(ref, bool):
            return ref
        row = self.store.bundle_by_name(app_id, ref)
        if row is None:
            cols = {}
            self.package_columns(app_id, ref, cols)
            row = self.store.insert_bundle(app_id, ref, **cols)
            self.counts['bundles'] += 1
        return row['id']

    def channel(self, item):
        app = self.app(item['app_id'])
        data = {}
        for key, value in item.items():
            col = CHANNEL_ALIASES.get(key, key)
            if col in self.store.channel_columns and col != 'id':
                data[col] = value
        for col in CHANNEL_BOOLS:
            if col in data and data[col] is not None:
                data[col] = 1 if data[col] else 0
        for col in ('version', 'rollout_version'):
            if col in data:
                data[col] = self.resolve_bundle(app['app_id'], data[col])
        if 'version' not in data and self.classic:
            data['version'] = self.store.ensure_placeholders(app['app_id'])['id']
        for col in ('created_at', 'updated_at', 'rollout_paused_at'):
            if data.get(col):
                data[col] = to_canon(data[col])
        now = now_canon()
        data.setdefault('created_at', now)
        data.setdefault('updated_at', data['created_at'])
        data.setdefault('owner_org', app['org'])
        data.setdefault('created_by', user_for_org(app['org']))
        data.setdefault('rollout_id', str(uuid.uuid4()))
        existing = self.store.channel(app['app_id'], data['name'])
        if existing is not None:
            data.pop('created_at', None)
            self.store.update_channel(existing['id'], data)
        else:
            self.store.insert_channel(data)
        self.counts['channels'] += 1

    def device(self, item):
        self.app(item['app_id'])
        data = {}
        for key, value in item.items():
            if key in self.store.device_columns:
                data[key] = value
        data['device_id'] = str(data['device_id']).lower()
        for col in DEVICE_BOOLS:
            if col in data:
                data[col] = 1 if data[col] else 0
        data['updated_at'] = to_canon(data['updated_at']) if data.get('updated_at') else now_canon()
        keys = sorted(data)
        self.store.x('INSERT OR REPLACE INTO devices (%s) VALUES (%s)' % (', '.join(keys), ', '.join('?' * len(keys))), [data[k] for k in keys])
        self.counts['devices'] += 1

    def override(self, item):
        self.app(item['app_id'])
        chan = self.store.channel(item['app_id'], item['channel'])
        if chan is None:
            self.channel({'app_id': item['app_id'], 'name': item['channel']})
            chan = self.store.channel(item['app_id'], item['channel'])
        now = now_canon()
        self.store.x('INSERT OR REPLACE INTO overrides (app_id, device_id, channel_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)',
                     (item['app_id'], str(item['device_id']).lower(), chan['id'], now, now))
        self.counts['overrides'] += 1

    def generate(self, gen):
        app = self.app(gen['app_id'])
        app_id, org = app['app_id'], app['org']
        base = datetime.datetime(2026, 1, 1)
        nbundles = int(gen.get('bundles') or 0)
        rows = []
        for i in range(1, nbundles + 1):
            stamp = to_canon(base + datetime.timedelta(minutes=i))
            name = '1.0.%d' % i
            rows.append((app_id, name, stamp, stamp, org, 'r2', 'orgs/sim/apps/%s/%s.zip' % (app_id, name)))
        cur = self.store.conn.executemany('INSERT OR IGNORE INTO bundles (app_id, name, created_at, updated_at, owner_org, storage_provider, r2_path) '
                                          'VALUES (?, ?, ?, ?, ?, ?, ?)', rows)
        self.counts['bundles'] += max(cur.rowcount, 0)
        nchannels = int(gen.get('channels') or 0)
        placeholder = self.store.ensure_placeholders(app_id)['id'] if self.classic else None
        user = user_for_org(org)
        rows = []
        for i in range(1, nchannels + 1):
            stamp = to_canon(base + datetime.timedelta(seconds=i))
            rows.append((app_id, 'ch-%04d' % i, stamp, stamp, user, org, placeholder, str(uuid.uuid4())))
        cur = self.store.conn.executemany('INSERT OR IGNORE INTO channels (app_id, name, created_at, updated_at, created_by, owner_org, version, rollout_id) '
                                          'VALUES (?, ?, ?, ?, ?, ?, ?, ?)', rows)
        self.counts['channels'] += max(cur.rowcount, 0)
        ndevices = int(gen.get('devices') or 0)
        rows = []
        for i in range(1, ndevices + 1):
            stamp = to_canon(base + datetime.timedelta(seconds=i * 7))
            rows.append((app_id, 'device-%06d' % i, 'ios' if i % 2 else 'android', '1.0.0', '1.0.0', stamp))
        cur = self.store.conn.executemany('INSERT OR IGNORE INTO devices (app_id, device_id, platform, version_name, version_build, updated_at) '
                                          'VALUES (?, ?, ?, ?, ?, ?)', rows)
        self.counts['devices'] += max(cur.rowcount, 0)
