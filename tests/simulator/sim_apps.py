# -*- coding: utf-8 -*-
"""Capgo `/app` routes for the simulator (GET /app, GET /app/:id, PUT /app/:id) and the hook that also
routes the device-facing `/updates` endpoint (sim_updates.py).

Facts: /work/shared/docs/capgo-apps.md (section 0 auth, 1.1-1.5 and 1.7, section 4 for `latest`).
Standard library only. Everything runs under the simulator lock, like sim_api.py.

Integration with capgo_simulator.py (the only hooks it calls):
- ensure_schema(store): adds the app-settings columns to the `apps` table (idempotent);
- seed_extra(store, seed): applies `apps[*].name` and `apps[*].settings` after the normal seed;
- handle(sim, method, path, query, raw, headers, ip, entry): serves /app and /updates, None otherwise;
- admin(sim, method, path, query, body): the /_sim/ extras of these modules, None otherwise;
- CONFIG_DEFAULTS: config keys of these modules (merged into the simulator's config).
"""

import hashlib
import json
import re
import secrets
import uuid

from sim_api import APP_ID_RE, ApiError, bad
from sim_store import now_canon, pg_ts, to_canon, user_for_org

import sim_updates

RETENTION_DEFAULT = 2592000
RETENTION_LIMIT = 63113904          # PUT refuses >= this (retention_to_big)
LIST_LIMIT = 50
UUID_RE = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$', re.IGNORECASE)
TAG_RE = re.compile(r'<[^>]*>')
SUPABASE_STORAGE_RE = re.compile(r'^https?://[^/]+/storage/v1/object/(?:public/|sign/|authenticated/)?images/(.+?)(?:\?.*)?$')

# (column, SQL type/default) added to `apps`; `heap_pos` is the simulator's model of the row's physical position
APP_COLUMNS = (
    ('id', 'TEXT'),
    ('icon_url', "TEXT NOT NULL DEFAULT ''"),
    ('retention', 'INTEGER NOT NULL DEFAULT %d' % RETENTION_DEFAULT),
    ('default_upload_channel', "TEXT NOT NULL DEFAULT 'dev'"),
    ('expose_metadata', 'INTEGER NOT NULL DEFAULT 0'),
    ('allow_device_custom_id', 'INTEGER NOT NULL DEFAULT 1'),
    ('block_provider_infra_requests', 'INTEGER NOT NULL DEFAULT 1'),
    ('ios_store_url', 'TEXT'),
    ('android_store_url', 'TEXT'),
    ('existing_app', 'INTEGER NOT NULL DEFAULT 0'),
    ('need_onboarding', 'INTEGER NOT NULL DEFAULT 0'),
    ('allow_preview', 'INTEGER NOT NULL DEFAULT 0'),
    ('build_timeout_seconds', 'INTEGER NOT NULL DEFAULT 900'),
    ('updated_at', 'TEXT'),
    ('last_version', 'TEXT'),
    ('onboarding', 'TEXT'),
    ('heap_pos', 'INTEGER'),
)
APP_BOOLS = ('expose_metadata', 'allow_device_custom_id', 'block_provider_infra_requests', 'existing_app',
             'need_onboarding', 'allow_preview')
# PUT /app/:id body fields -> column (capgo-apps.md 1.5); everything else is ignored
PUT_FIELDS = ('name', 'icon', 'retention', 'expose_metadata', 'allow_device_custom_id', 'block_provider_infra_requests',
              'ios_store_url', 'android_store_url', 'existing_app', 'need_onboarding')
# seedable through apps[*].settings (plus the PUT spellings); `icon` is an alias of icon_url
SEED_FIELDS = ('name', 'icon_url', 'retention', 'default_upload_channel', 'expose_metadata', 'allow_device_custom_id',
               'block_provider_infra_requests', 'ios_store_url', 'android_store_url', 'existing_app', 'need_onboarding',
               'allow_preview', 'build_timeout_seconds', 'updated_at', 'last_version', 'id')

CONFIG_DEFAULTS = {
    'app_list_order': 'heap',      # 'heap' (stable between writes, an update moves the row last) or 'shuffle' (per request)
    'app_list_seed': 0,            # seeds the base (unordered) row order of GET /app
}
CONFIG_DEFAULTS.update(sim_updates.CONFIG_DEFAULTS)


# ---------------------------------------------------------------------------------------------- hooks
def ensure_schema(store):
    """Add the app columns this module needs (idempotent, also on an existing --db file)."""
    have = set(r['name'] for r in store.q('PRAGMA table_info(apps)'))
    for col, decl in APP_COLUMNS:
        if col not in have:
            store.x('ALTER TABLE apps ADD COLUMN %s %s' % (col, decl))
    sim_updates.ensure_schema(store)


def seed_extra(store, seed):
    """`apps[*].name` and `apps[*].settings` (any column of SEED_FIELDS, or the PUT spelling `icon`)."""
    for item in seed.get('apps') or []:
        if not isinstance(item, dict) or store.app(item.get('app_id')) is None:
            continue
        settings = dict(item.get('settings') or {})
        if 'name' in item and 'name' not in settings:
            settings['name'] = item['name']
        if 'icon' in settings and 'icon_url' not in settings:
            settings['icon_url'] = settings.pop('icon')
        data = {}
        for col in SEED_FIELDS:
            if col in settings:
                value = settings[col]
                if col in APP_BOOLS:
                    value = 1 if value else 0
                elif col == 'updated_at' and value:
                    value = to_canon(value)
                data[col] = value
        unknown = set(settings) - set(SEED_FIELDS) - set(['icon'])
        if unknown:
            raise bad('invalid_seed', 'unknown app settings: %s' % ', '.join(sorted(unknown)))
        if data:
            data.setdefault('updated_at', now_canon())
            keys = sorted(data)
            store.x('UPDATE apps SET %s WHERE app_id = ?' % ', '.join('%s = ?' % k for k in keys),
                    [data[k] for k in keys] + [item['app_id']])


def handle(sim, method, path, query, raw, headers, ip, entry):
    """Serve /app, /app/<id> and /updates. Returns (status, payload, headers) or None (not ours)."""
    if path.rstrip('/') in ('/updates', '/updates/manifest_size') or path == '/updates/':
        return sim_updates.handle(sim, method, path, query, raw, headers, ip, entry)
    if path != '/app' and not path.startswith('/app/'):
        return None
    rest = path[len('/app'):].strip('/')
    if '/' in rest or (method not in ('GET', 'PUT')):
        entry['error'] = 'not_found'
        return 404, {'error': 'not_found', 'message': 'Not found'}, {}
    with sim.lock:
        api = AppsApi(sim)
        try:
            if method == 'GET' and rest == '':
                key = api.auth(headers, ip, method)
                entry['key_id'] = key['id']
                status, payload = sim.store.run_atomic(lambda: api.list_apps(key, query))
            elif method == 'GET':
                key = api.auth(headers, ip, method)
                entry['key_id'] = key['id']
                status, payload = sim.store.run_atomic(lambda: api.get_app(key, rest))
            else:
                # latest checks the retention bounds before the permission, still after auth (section 4 #2)
                key = api.auth(headers, ip, method)
                entry['key_id'] = key['id']
                status, payload = sim.store.run_atomic(lambda: api.put_app(key, rest, raw))
            return status, payload, {}
        except ApiError as err:
            entry['error'] = err.code
            return err.status, err.payload(), err.headers


def admin(sim, method, path, query, body):
    """/_sim/ extras: (status, payload) or None."""
    return sim_updates.admin(sim, method, path, query, body)


# ---------------------------------------------------------------------------------------------- helpers
def strip_html(value):
    return TAG_RE.sub('', value).strip()


def js_parse_int(value):
    """JavaScript parseInt(value, 10): None for NaN."""
    match = re.match(r'^\s*([+-]?\d+)', value if isinstance(value, str) else str(value))
    return int(match.group(1)) if match else None


def app_uuid(row):
    return row['id'] or str(uuid.uuid5(uuid.NAMESPACE_URL, 'capgo-sim-app:' + row['app_id']))


class AppsApi(object):
    """The three /app routes for one request."""

    def __init__(self, sim):
        self.sim = sim
        self.store = sim.store
        self.profile = sim.profile

    # -- auth ----------------------------------------------------------------------------------
    def auth(self, headers, ip, method):
        """middlewareKey (GET, and PUT at current/classic) or middlewareAuth(preferApiKey) (PUT at latest)."""
        resource_method = 'GET' if method == 'GET' else 'POST'   # classic mode lists: read routes / write routes
        capgkey = headers.get('capgkey')
        if method == 'PUT' and self.profile == 'latest':
            chosen = capgkey or headers.get('x-api-key')
            if not chosen:
                auth = headers.get('authorization')
                if not auth:
                    raise ApiError(401, 'no_jwt_apikey_or_subkey', 'No JWT, apikey or subkey provided', {})
                if not UUID_RE.match(auth.strip()):
                    raise ApiError(401, 'invalid_jwt', 'Invalid JWT', {})
                chosen = auth.strip()
            return self.sim.authenticate({'capgkey': chosen}, ip, resource_method, 'channel')
        if capgkey is not None:
            # middlewareKey reads capgkey ?? authorization: a present but empty capgkey means "no key"
            return self.sim.authenticate({'capgkey': capgkey}, ip, resource_method, 'channel')
        return self.sim.authenticate({'authorization': headers.get('authorization')}, ip, resource_method, 'channel')

    def level(self, key, app_id):
        """0 = no app.read; 1..3 = read only; >= 4 = app.update_settings (app_admin and up)."""
        if self.profile == 'classic':
            api = self.sim.api
            if api.classic_right(key, app_id, 'write'):
                return 4
            return 1 if api.classic_right(key, app_id, 'read') else 0
        return self.sim.api.level(key, app_id)

    # -- rendering -----------------------------------------------------------------------------
    def render(self, row, host=None):
        store = self.store
        app_id = row['app_id']
        chans = store.q('SELECT * FROM channels WHERE app_id = ?', (app_id,))
        active = [c for c in chans if sim_updates.rollout_active(c)]
        paused = sim_updates.paused_rollout_names(store, chans)
        out = {
            'app_id': app_id,
            'id': app_uuid(row),
            'owner_org': row['org'],
            'name': row['name'],
            'icon_url': self.icon_out(row),
            'retention': row['retention'],
            'default_upload_channel': row['default_upload_channel'],
            'expose_metadata': bool(row['expose_metadata']),
            'allow_device_custom_id': bool(row['allow_device_custom_id']),
            'block_provider_infra_requests': bool(row['block_provider_infra_requests']),
            'ios_store_url': row['ios_store_url'],
            'android_store_url': row['android_store_url'],
            'existing_app': bool(row['existing_app']),
            'need_onboarding': bool(row['need_onboarding']),
            'allow_preview': bool(row['allow_preview']),
            'build_timeout_seconds': row['build_timeout_seconds'],
            'created_at': pg_ts(row['created_at']),
            'updated_at': pg_ts(row['updated_at'] or row['created_at']),
            'user_id': user_for_org(row['org']),
            'last_version': row['last_version'],
            'transfer_history': [],
            'channel_device_count': store.one('SELECT COUNT(*) AS n FROM overrides WHERE app_id = ?', (app_id,))['n'],
            'manifest_bundle_count': store.one('SELECT COUNT(*) AS n FROM bundles WHERE app_id = ? AND manifest_count > 0',
                                               (app_id,))['n'],
            'rollout_channel_count': len(active),
            'rollout_paused_version_names': paused,
            'build_timeout_updated_at': None,
            'created_from_onboarding': False,
            'onboarding_completed_at': None,
        }
        if self.profile == 'latest':
            out['onboarding'] = json.loads(row['onboarding']) if row['onboarding'] else {}
        else:
            out['stats_updated_at'] = None
            out['stats_refresh_requested_at'] = None
        return out

    def icon_out(self, row):
        """Absolute URLs unchanged; storage paths come back as a fresh signed URL (different on every call)."""
        icon = row['icon_url'] or ''
        if icon == '' or '://' in icon:
            return icon
        if self.profile == 'latest' and '/' in icon and not icon.startswith('org/%s/' % row['org']):
            return ''
        return 'https://sim.supabase.co/storage/v1/object/sign/images/%s?token=%s' % (icon, secrets.token_hex(16))

    # -- GET /app ------------------------------------------------------------------------------
    def list_apps(self, key, query):
        page, limit = 0, LIST_LIMIT
        if query.get('page') is not None:
            page = js_parse_int(query['page'])
        if query.get('limit') is not None:
            limit = js_parse_int(query['limit'])
        if page is None or limit is None or page < 0 or limit < 0:
            raise bad('cannot_get_apps', 'Cannot get apps', {'page': query.get('page'), 'limit': query.get('limit')})
        org_id = query.get('org_id')
        if org_id is not None and org_id != key['org']:
            raise bad('user_does_not_have_access_to_this_organization', 'You do not have access to this organization',
                      {'org_id': org_id})
        rows = [r for r in self.store.q('SELECT * FROM apps WHERE org = ?', (key['org'],)) if self.level(key, r['app_id']) >= 1]
        rows = self.unordered(rows)
        window = rows[page * limit:page * limit + limit]
        return 200, [self.render(r) for r in window]

    def unordered(self, rows):
        """No ORDER BY: a seeded 'physical' order; an updated row moves last ('heap'), or a new order per call ('shuffle')."""
        conf = self.sim.config
        seed = str(conf.get('app_list_seed', 0))
        if conf.get('app_list_order') == 'shuffle':
            salt = secrets.token_hex(8)
            return sorted(rows, key=lambda r: hashlib.sha256((salt + r['app_id']).encode('utf-8')).hexdigest())
        return sorted(rows, key=lambda r: (r['heap_pos'] or 0, hashlib.sha256((seed + ':' + r['app_id']).encode('utf-8')).hexdigest()))

    # -- GET /app/:id --------------------------------------------------------------------------
    def check_id(self, app_id):
        if not app_id:
            raise bad('missing_app_id', 'Missing app_id')
        if not APP_ID_RE.match(app_id):
            raise bad('invalid_app_id', 'App ID must be a reverse domain string', {'app_id': app_id})

    def no_access(self, app_id):
        return ApiError(401, 'cannot_access_app', "You can't access this app", {'app_id': app_id})

    def get_app(self, key, app_id):
        self.check_id(app_id)
        if self.level(key, app_id) < 1:
            raise self.no_access(app_id)
        return 200, self.render(self.store.app(app_id))

    # -- PUT /app/:id --------------------------------------------------------------------------
    def put_app(self, key, app_id, raw):
        self.check_id(app_id)
        try:
            body = json.loads(raw.decode('utf-8')) if raw.strip() else None
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            raise bad('invalid_json_parse_body', 'Invalid JSON body')
        if self.profile == 'latest':
            self.check_retention(body)
        if self.level(key, app_id) < 4:
            raise self.no_access(app_id)
        if self.profile != 'latest':
            self.check_retention(body)
        row = self.store.app(app_id)
        update = self.columns(body, row)
        if not update:
            raise bad('cannot_update_app', 'Cannot update app', {'reason': 'no updatable field in the body'})
        update['updated_at'] = now_canon()    # the BEFORE UPDATE trigger: always, even when nothing changed
        pos = self.store.one('SELECT MAX(heap_pos) AS m FROM apps')['m'] or 0
        update['heap_pos'] = pos + 1          # an UPDATE writes a new row version at the end of the heap
        keys = sorted(update)
        self.store.x('UPDATE apps SET %s WHERE app_id = ?' % ', '.join('%s = ?' % k for k in keys), [update[k] for k in keys] + [app_id])
        return 200, self.render(self.store.app(app_id))

    @staticmethod
    def check_retention(body):
        value = body.get('retention')
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if value >= RETENTION_LIMIT:
                raise bad('retention_to_big', 'Retention must be lower than %d seconds' % RETENTION_LIMIT, {'retention': value})
            if value < 0:
                raise bad('retention_to_small', 'Retention must be 0 or more', {'retention': value})

    def columns(self, body, row):
        def fail(field):
            return bad('cannot_update_app', 'Cannot update app', {'field': field, 'value': body.get(field)})

        update = {}
        for field in PUT_FIELDS:
            if field not in body:
                continue
            value = body[field]
            if field == 'name':
                if value is not None and not isinstance(value, str):
                    raise fail(field)
                update['name'] = strip_html(value) if value is not None else None
            elif field == 'icon':
                if not isinstance(value, str):
                    raise fail(field)
                update['icon_url'] = self.icon_in(value, row)
            elif field == 'retention':
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
                    raise fail(field)
                update['retention'] = int(value)
            elif field in ('ios_store_url', 'android_store_url'):
                if value is not None and not isinstance(value, str):
                    raise fail(field)
                update[field] = value
            else:
                if not isinstance(value, bool):
                    raise fail(field)
                update[field] = 1 if value else 0
        if self.profile == 'latest' and 'onboarding' in body:
            patch = body['onboarding']
            if not isinstance(patch, dict):
                raise fail('onboarding')
            merged = json.loads(row['onboarding']) if row['onboarding'] else {}
            merged.update(patch)
            update['onboarding'] = json.dumps(merged)
        return update

    def icon_in(self, value, row):
        icon = strip_html(value)
        match = SUPABASE_STORAGE_RE.match(icon)
        if match:
            icon = match.group(1)
        if self.profile != 'latest' or icon == '':
            return icon
        # section 4 #3: external URL, an in-scope storage path, or a legacy bare file name
        if '://' in icon and not match:
            return icon
        if '/' not in icon and '://' not in icon:
            return icon
        scope = 'org/%s/' % row['org']
        if icon.startswith(scope):
            return icon
        raise bad('invalid_icon_path', 'Icon must be an external URL or a storage path of this app', {'icon': value})
