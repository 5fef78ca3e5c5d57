# -*- coding: utf-8 -*-
"""The device-facing update check `POST /updates` (what the updater plugin and `capgo probe` send), for the
simulator's `current` (backend HEAD) and `latest` profiles.

Written from /work/shared/docs/capgo-update-decision.md alone: request parsing (1.2), answer shapes (1.3),
error codes (1.4), side effects (1.5), the decision in HEAD order (2.1-2.6) and latest's changes (4).
It deliberately shares no code with the collection's own local computation (capgo_update_check):
the integration test compares the two.

Not simulated: LIMITED_APPS, plan checks, the legacy KV self-set override (the simulator has no
/channel_self), e-mail notifications, replica lag, latest's up-to-date read cache and edge answers (4 #6).
`classic` leaves /updates unrouted (404): the document describes no classic update endpoint.
"""

import hashlib
import json
import random
import re
import time

from sim_api import APP_ID_RE, ApiError, bad
from sim_store import now_canon

CONFIG_DEFAULTS = {
    'updates_rollout_seed': None,        # int: HEAD's rollout draws come from random.Random(seed); None: system RNG
    'updates_enumeration_limit': 5,      # distinct unknown app ids per address before the 15-minute block
    'updates_enumeration_window': 900.0,
    'updates_provider': None,            # 'google' / 'apple': classify the caller as that provider's data centre
}

STRICT_XYZ = re.compile(r'^\d+\.\d+\.\d+$')
NUM = r'(?:0|[1-9]\d*)'
PRE_ID = r'(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)'
SEMVER = re.compile(r'^v?(%s)\.(%s)\.(%s)(?:-(%s(?:\.%s)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$'
                    % (NUM, NUM, NUM, PRE_ID, PRE_ID))
UUID_RE = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
PLATFORMS = ('ios', 'android', 'electron')
POLICIES = ('major', 'minor', 'patch', 'version_number', 'none')
UP_TO_DATE = ('no_new_version_available', 'already_on_builtin')
BLOCKED = ('cannot_update_via_private_channel', 'disabled_platform_ios', 'disabled_platform_android',
           'disabled_platform_electron', 'disable_auto_update_to_major', 'disable_auto_update_to_minor',
           'disable_auto_update_to_patch', 'disable_auto_update_to_metadata', 'disable_auto_update_under_native',
           'disable_prod_build', 'disable_dev_build', 'disable_device', 'disable_emulator', 'key_id_mismatch',
           'provider_infrastructure_request_blocked')
# answer code -> stats action (1.5 #2); codes absent here write no stats and no device row
STATS_ACTION = {
    'no_channel': 'NoChannelOrOverride', 'no_bundle': 'missingBundle', 'key_id_mismatch': 'keyMismatch',
    'no_new_version_available': 'noNew', 'disabled_platform_ios': 'disablePlatformIos',
    'disabled_platform_android': 'disablePlatformAndroid', 'disabled_platform_electron': 'disablePlatformElectron',
    'disable_auto_update_to_major': 'disableAutoUpdateToMajor', 'disable_auto_update_to_minor': 'disableAutoUpdateToMinor',
    'disable_auto_update_to_patch': 'disableAutoUpdateToPatch', 'cannot_update_via_private_channel': 'cannotUpdateViaPrivateChannel',
    'misconfigured_channel': 'channelMisconfigured', 'disable_auto_update_to_metadata': 'disableAutoUpdateMetadata',
    'disable_auto_update_under_native': 'disableAutoUpdateUnderNative', 'disable_prod_build': 'disableProdBuild',
    'disable_dev_build': 'disableDevBuild', 'disable_device': 'disableDevice', 'disable_emulator': 'disableEmulator',
    'no_bundle_url': 'cannotGetBundle',
}
MESSAGES = {
    'no_channel': 'no default channel or override',
    'no_bundle': 'Cannot get bundle',
    'key_id_mismatch': 'Device encryption key does not match the bundle key',
    'no_new_version_available': 'No new version available',
    'cannot_update_via_private_channel': 'Cannot update via a private channel',
    'disable_auto_update_to_major': 'Cannot upgrade major version',
    'disable_auto_update_to_minor': 'Cannot upgrade minor version',
    'disable_auto_update_to_patch': 'Cannot upgrade patch version',
    'misconfigured_channel': 'Channel is set to version_number but the bundle has no min_update_version',
    'disable_auto_update_to_metadata': 'Native version is below the bundle min_update_version',
    'disable_auto_update_under_native': 'Cannot revert under native version',
    'disable_prod_build': 'Cannot update, prod build is disabled',
    'disable_dev_build': 'Cannot update, dev build is disabled',
    'disable_device': 'Cannot update, device is disabled',
    'disable_emulator': 'Cannot update, emulator is disabled',
    'already_on_builtin': 'Already on builtin',
    'revert_to_builtin_plugin_version_too_old': 'revert_to_builtin used, but plugin version is too old',
    'no_bundle_url': 'Cannot get bundle url',
    'unsupported_plugin_version': 'Plugin version 4 is no longer supported',
    'provider_infrastructure_request_blocked': 'Requests from cloud provider infrastructure are blocked for this app',
}


def ensure_schema(store):   # pylint: disable=unused-argument
    """Nothing persistent: per-run state (stats, MAU, rollout cache, enumeration guard) lives in memory."""


# ---------------------------------------------------------------------------------------------- semver (@std/semver rules, 2.5)
def parse_semver(text):
    """(major, minor, patch, prerelease ids, build) or None."""
    if not isinstance(text, str):
        return None
    match = SEMVER.match(text.strip())
    if not match:
        return None
    pre = tuple(int(p) if p.isdigit() else p for p in match.group(4).split('.')) if match.group(4) else ()
    return (int(match.group(1)), int(match.group(2)), int(match.group(3)), pre, match.group(5) or '')


def format_semver(ver):
    out = '%d.%d.%d' % ver[:3]
    if ver[3]:
        out += '-' + '.'.join(str(p) for p in ver[3])
    if ver[4]:
        out += '+' + ver[4]
    return out


def cmp_semver(left, right):
    """Full precedence; build metadata ignored."""
    if left[:3] != right[:3]:
        return -1 if left[:3] < right[:3] else 1
    lpre, rpre = left[3], right[3]
    if lpre == rpre:
        return 0
    if not lpre:
        return 1
    if not rpre:
        return -1
    for lid, rid in zip(lpre, rpre):
        if lid == rid:
            continue
        lnum, rnum = isinstance(lid, int), isinstance(rid, int)
        if lnum and rnum:
            return -1 if lid < rid else 1
        if lnum != rnum:
            return -1 if lnum else 1
        return -1 if lid < rid else 1
    return -1 if len(lpre) < len(rpre) else 1


def version_at_least(ver, minimum):
    return cmp_semver(ver, parse_semver(minimum)) >= 0


def coerce_version_build(raw):
    """1.2: strict X.Y.Z kept; else padded (builtin/unknown -> 0.0.0) and parsed; None = semver_error."""
    text = raw.strip()
    if STRICT_XYZ.match(text):
        return text
    if text in ('builtin', 'unknown'):
        text = '0.0.0'
    core = text[1:] if text.startswith('v') else text
    if re.match(r'^\d+$', core):
        text = core + '.0.0'
    elif re.match(r'^\d+\.\d+$', core):
        text = core + '.0'
    ver = parse_semver(text)
    return format_semver(ver) if ver is not None else None


def plugin_at_least(plugin, thresholds, later_major_ok=True):
    """thresholds: {major: 'x.y.z'}; majors above the highest listed pass when later_major_ok."""
    major = plugin[0]
    if major in thresholds:
        return version_at_least(plugin, thresholds[major])
    return later_major_ok and major > max(thresholds)


# ---------------------------------------------------------------------------------------------- rollout helpers
def rollout_active(chan):
    """A channel that makes the app's rollout path run (2.4): target set, enabled, > 0 bps, not paused."""
    return chan['rollout_version'] is not None and bool(chan['rollout_enabled']) and (chan['rollout_percentage_bps'] or 0) > 0 \
        and not chan['rollout_paused_at']


def paused_rollout_names(store, chans):
    names = []
    for chan in chans:
        if chan['rollout_version'] is not None and chan['rollout_enabled'] and chan['rollout_paused_at']:
            row = store.bundle_by_id(chan['rollout_version'])
            if row is not None and row['name'] not in names:
                names.append(row['name'])
    return names


def fnv1a_fmix32(text):
    """32-bit FNV-1a over the UTF-16 code units of text, then the MurmurHash3 fmix32 finalizer (4 #1)."""
    data = text.encode('utf-16-le')
    value = 0x811C9DC5
    for i in range(0, len(data), 2):
        value ^= data[i] | (data[i + 1] << 8)
        value = (value * 0x01000193) & 0xFFFFFFFF
    value ^= value >> 16
    value = (value * 0x85EBCA6B) & 0xFFFFFFFF
    value ^= value >> 13
    value = (value * 0xC2B2AE35) & 0xFFFFFFFF
    value ^= value >> 16
    return value


def js_str(value):
    return 'null' if value is None else str(value)


def rollout_bucket(app_id, channel_id, rollout_id, rollout_version_id, device_id):
    key = '\u0000'.join((app_id, js_str(channel_id), js_str(rollout_id), js_str(rollout_version_id), device_id.lower()))
    return int(fnv1a_fmix32(key) * 10000 // 0x100000000)


def clamp_bps(value):
    try:
        return min(max(int(value or 0), 0), 10000)
    except (TypeError, ValueError):
        return 0


# ---------------------------------------------------------------------------------------------- state
def state(sim):
    """Per-reset in-memory state of this endpoint (dropped whenever the simulator's epoch changes)."""
    current = getattr(sim, '_updates_state', None)
    seed = sim.config.get('updates_rollout_seed')
    if current is None or current['epoch'] != sim.epoch:
        current = {'epoch': sim.epoch, 'seed': object(), 'rng': None, 'stats': [], 'mau': [], 'version_get': {},
                   'rollout_cache': {}, 'unknown_apps': {}, 'blocked': {}, 'device_extra': {}}
        sim._updates_state = current   # pylint: disable=protected-access
    if current['seed'] != seed:
        current['seed'] = seed
        current['rng'] = random.SystemRandom() if seed is None else random.Random(seed)
    return current


def admin(sim, method, path, query, body):   # pylint: disable=unused-argument
    """GET /_sim/update_stats: {"stats": [...], "mau": [...], "version_get": {...}, "rollout_cache": n}."""
    if path == '/_sim/update_stats' and method == 'GET':
        with sim.lock:
            st = state(sim)
            return 200, {'stats': [dict(s) for s in st['stats']], 'mau': list(st['mau']),
                         'version_get': dict(st['version_get']), 'rollout_cache': len(st['rollout_cache'])}
    return None


# ---------------------------------------------------------------------------------------------- route
def handle(sim, method, path, query, raw, headers, ip, entry):   # pylint: disable=unused-argument
    if sim.profile == 'classic':
        entry['error'] = 'not_found'
        return 404, {'error': 'not_found', 'message': 'Not found: the classic profile does not simulate the /updates endpoint'}, {}
    if path.rstrip('/') != '/updates':
        entry['error'] = 'not_found'
        return 404, {'error': 'not_found', 'message': 'Not found: only POST /updates is simulated'}, {}
    if method == 'GET':
        return 200, {'status': 'ok'}, {}
    if method != 'POST':
        entry['error'] = 'not_found'
        return 404, {'error': 'not_found', 'message': 'Not found'}, {}
    with sim.lock:
        check = UpdateCheck(sim, headers, ip)
        try:
            status, payload, extra = sim.store.run_atomic(lambda: check.run(raw))
        except ApiError as err:
            entry['error'] = err.code
            return err.status, err.payload(), err.headers
        if isinstance(payload, dict) and payload.get('error'):
            entry['error'] = payload['error']
        out = {'X-Database-Source': 'replica', 'X-Replication-Lag': 'ok'}
        if sim.profile == 'latest':
            out['X-Updates-Cache'] = 'miss'
        out.update(extra)
        return status, payload, out


def invalid_body(field, issue):
    return bad('invalid_json_body', 'Invalid JSON body', {'parseResult': {'success': False, 'field': field, 'issue': issue}})


class UpdateCheck(object):
    """One POST /updates."""

    def __init__(self, sim, headers, ip):
        self.sim = sim
        self.store = sim.store
        self.latest = sim.profile == 'latest'
        self.headers = headers
        self.ip = ip
        self.st = state(sim)
        self.body = None
        self.app = None

    # -- 1.2 parsing ---------------------------------------------------------------------------
    def parse(self, raw):
        try:
            body = json.loads(raw.decode('utf-8'))
        except (ValueError, UnicodeDecodeError):
            raise bad('invalid_json_parse_body', 'Invalid JSON body')
        if not isinstance(body, dict):
            raise bad('invalid_json_parse_body', 'Invalid JSON body')
        if isinstance(body.get('device_id'), str):
            body['device_id'] = body['device_id'].lower()
        if not body.get('app_id'):
            raise bad('missing_app_id', 'Missing app_id')
        if not body.get('device_id'):
            raise bad('missing_device_id', 'Missing device_id')
        build = body.get('version_build')
        if isinstance(build, str) and build != '':
            coerced = coerce_version_build(build)
            if coerced is None:
                raise bad('semver_error', 'version_build is not a valid semver version', {'version_build': build})
            body['version_build'] = coerced
            if body.get('version_name') == 'builtin':
                body['version_name'] = coerced
        body.setdefault('is_emulator', False)
        body.setdefault('is_prod', True)
        self.validate(body)
        return body

    @staticmethod
    def validate(body):
        if not isinstance(body['app_id'], str) or not APP_ID_RE.match(body['app_id']):
            raise invalid_body('app_id', 'must be a reverse-domain app id')
        dev = body['device_id']
        if not isinstance(dev, str) or len(dev) > 36 or not UUID_RE.match(dev):
            raise invalid_body('device_id', 'must be a UUID')
        for field in ('version_name', 'version_build'):
            if not isinstance(body.get(field), str) or body[field] == '':
                raise invalid_body(field, 'required, at least one character')
        for field in ('is_emulator', 'is_prod'):
            if not isinstance(body[field], bool):
                raise invalid_body(field, 'must be a boolean')
        if body.get('platform') not in PLATFORMS:
            raise invalid_body('platform', 'must be ios, android or electron')
        plugin = body.get('plugin_version')
        if not isinstance(plugin, str) or (not STRICT_XYZ.match(plugin) and parse_semver(plugin) is None):
            raise invalid_body('plugin_version', 'must be a semver version')
        if body.get('defaultChannel') is not None and not isinstance(body['defaultChannel'], str):
            raise invalid_body('defaultChannel', 'must be a string')
        if body.get('key_id') is not None and (not isinstance(body['key_id'], str) or len(body['key_id']) > 20):
            raise invalid_body('key_id', 'at most 20 characters')
        if body.get('install_source') is not None and (not isinstance(body['install_source'], str) or len(body['install_source']) > 64):
            raise invalid_body('install_source', 'at most 64 characters')

    # -- answers -------------------------------------------------------------------------------
    def refuse(self, code, extra=None, stats=True):
        """A 200 refusal {error, message, kind, ...extra}; records stats and the device row when Capgo does."""
        if code in UP_TO_DATE:
            kind = 'up_to_date'
        elif code in BLOCKED:
            kind = 'blocked'
        else:
            kind = 'failed'
        payload = {'error': code, 'message': MESSAGES.get(code, code), 'kind': kind}
        payload.update(extra or {})
        if stats and code in STATS_ACTION:
            self.record(STATS_ACTION[code])
        return 200, payload, {}

    def too_many(self, enumeration):
        if not self.latest:
            if enumeration:
                return ApiError(429, 'on_premise_app', '', body={'error': 'on_premise_app'})
            return ApiError(429, 'on_premise_app', 'On-premise app detected',
                            body={'error': 'on_premise_app', 'message': 'On-premise app detected'})
        if enumeration:
            retry = int(max(1, self.st['blocked'].get(self.ip, 0) - time.time()))
            cache = 'private, no-store'
        else:
            retry = 3600
            cache = 'public, max-age=3600'
        reset = time.time() + retry
        return ApiError(429, 'on_premise_app', 'On-premise app detected', headers={
            'Retry-After': str(retry), 'X-RateLimit-Reset': str(int(reset)), 'Cache-Control': cache},
            body={'error': 'on_premise_app', 'message': 'On-premise app detected',
                  'moreInfo': {'rateLimitResetAt': int(reset * 1000), 'retryAfterSeconds': retry}})

    # -- side effects (1.5) --------------------------------------------------------------------
    def record(self, action, offered=None):
        body = self.body
        app_id, device_id = body['app_id'], body['device_id']
        self.st['stats'].append({'time': time.time(), 'app_id': app_id, 'device_id': device_id, 'action': action,
                                 'version_name': body['version_name'], 'offered': offered,
                                 'default_channel': body.get('defaultChannel') or None})
        self.st['device_extra'][(app_id, device_id)] = {'default_channel': body.get('defaultChannel') or None}
        existing = self.store.one('SELECT custom_id FROM devices WHERE app_id = ? AND device_id = ?', (app_id, device_id))
        custom_id = existing['custom_id'] if existing is not None else ''
        sent = body.get('custom_id')
        if isinstance(sent, str) and sent.strip() and self.app['allow_device_custom_id']:
            custom_id = sent.strip()
        version_name = body['version_name']
        if offered is not None and not self.latest:
            version_name = offered   # HEAD only: the row shows the offered bundle
        source = body.get('install_source')
        self.store.x('INSERT OR REPLACE INTO devices (app_id, device_id, custom_id, is_prod, is_emulator, version_name, version_build, '
                     'platform, plugin_version, os_version, key_id, install_source, country_code, updated_at) '
                     'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
                     (app_id, device_id, custom_id, 1 if body['is_prod'] else 0, 1 if body['is_emulator'] else 0, version_name,
                      body['version_build'], body['platform'], body['plugin_version'],
                      body.get('version_os') if isinstance(body.get('version_os'), str) else None,
                      body.get('key_id') or None, source.strip().lower() if isinstance(source, str) else None, None, now_canon()))

    # -- the decision --------------------------------------------------------------------------
    def run(self, raw):
        body = self.body = self.parse(raw)
        app_id = body['app_id']
        now = time.time()
        conf = self.sim.config
        if self.st['blocked'].get(self.ip, 0) > now:
            raise self.too_many(True)
        self.app = self.store.app(app_id)
        if self.app is None:
            seen = self.st['unknown_apps'].setdefault(self.ip, {})
            window = float(conf.get('updates_enumeration_window', 900.0))
            for name in [n for n, t in seen.items() if now - t > window]:
                del seen[name]
            seen[app_id] = now
            if len(seen) >= int(conf.get('updates_enumeration_limit', 5)):
                self.st['blocked'][self.ip] = now + window
                seen.clear()
            raise self.too_many(False)
        provider = conf.get('updates_provider')
        if provider and self.app['block_provider_infra_requests']:
            return self.refuse('provider_infrastructure_request_blocked', {'provider': provider})
        plugin = parse_semver(body['plugin_version'])
        if plugin is None:   # strict X.Y.Z that @std/semver would still refuse (leading zeros): compare its numbers
            plugin = tuple(int(p) for p in body['plugin_version'].split('.')) + ((), '')
        if plugin[0] == 4:
            return self.refuse('unsupported_plugin_version', stats=False)
        key = (app_id, body['device_id'], time.strftime('%Y-%m-%d', time.gmtime()))
        if key not in self.st['mau']:
            self.st['mau'].append(key)
        chan, source = self.select_channel()
        if chan is None:
            return self.refuse('no_channel')
        bundle = self.channel_bundle(chan)
        bundle = self.apply_rollout(chan, bundle)
        return self.gates(chan, source, bundle, plugin)

    def deleted(self, row):
        if row is None:
            return False
        return bool(row['deleted']) or (self.latest and bool(row['deleted_at']))

    def bundle_row(self, bundle_id):
        return self.store.bundle_by_id(bundle_id) if bundle_id is not None else None

    def live_or_absent(self, chan):
        """The channel's stable bundle is absent (builtin) or not soft-deleted."""
        return chan['version'] is None or not self.deleted(self.bundle_row(chan['version']))

    def select_channel(self):
        """2.2: the override, else the named defaultChannel (no fall-back), else the cloud default."""
        body = self.body
        app_id, device_id = body['app_id'], body['device_id']
        if self.store.one('SELECT 1 FROM overrides WHERE app_id = ? LIMIT 1', (app_id,)):
            row = self.store.one('SELECT c.* FROM overrides o JOIN channels c ON c.id = o.channel_id '
                                 'WHERE o.app_id = ? AND o.device_id = ?', (app_id, device_id))
            if row is not None and self.live_or_absent(row):
                return row, 'override'
        flag = {'android': 'android', 'electron': 'electron'}.get(body['platform'], 'ios')
        wanted = body.get('defaultChannel')
        if isinstance(wanted, str) and wanted != '':
            row = self.store.channel(app_id, wanted)
            if row is not None and row[flag] and (row['public'] or row['allow_device_self_set']) and self.live_or_absent(row):
                return row, 'default_channel'
            return None, None
        for row in self.store.q('SELECT * FROM channels WHERE app_id = ? AND public = 1 AND %s = 1 ORDER BY name, id' % flag, (app_id,)):
            if self.live_or_absent(row):
                return row, 'cloud_default'
        return None, None

    def channel_bundle(self, chan):
        row = self.bundle_row(chan['version'])
        return dict(row) if row is not None else {'name': 'builtin', 'id': None}

    def apply_rollout(self, chan, stable):
        """2.4 (HEAD: random draw with a per-device cache) / 4 #1 (latest: deterministic bucket)."""
        app_id = self.body['app_id']
        version_name = self.body['version_name']
        chans = self.store.q('SELECT * FROM channels WHERE app_id = ?', (app_id,))
        if not any(rollout_active(c) for c in chans) and version_name not in paused_rollout_names(self.store, chans):
            return stable
        if chan['rollout_version'] is None:
            return stable
        target = self.bundle_row(chan['rollout_version'])
        if target is None or target['app_id'] != app_id or self.deleted(target):
            return stable
        bps = clamp_bps(chan['rollout_percentage_bps'])
        if self.latest:
            selected = self.latest_decision(chan, target, bps)
        else:
            selected = self.head_decision(chan, target, bps)
        return dict(target) if selected else stable

    def latest_decision(self, chan, target, bps):
        if not chan['rollout_enabled']:
            return False
        if self.body['version_name'] == target['name']:
            return True
        if chan['rollout_paused_at'] or bps <= 0:
            return False
        return rollout_bucket(self.body['app_id'], chan['id'], chan['rollout_id'], target['id'], self.body['device_id']) < bps

    def head_decision(self, chan, target, bps):
        if not chan['rollout_enabled']:
            return False
        cache = self.st['rollout_cache']
        key = (self.headers.get('host') or '', self.body['app_id'], chan['id'],
               hashlib.sha256(self.body['device_id'].encode('utf-8')).hexdigest(), chan['rollout_id'])
        now = time.monotonic()
        hit = cache.get(key)
        if hit is not None and (hit['rollout_version'] != target['id'] or hit['expires'] <= now):
            hit = None
        ttl = min(max(int(chan['rollout_cache_ttl_seconds'] or 2592000), 60), 31536000)

        def remember(selected):
            cache[key] = {'selected': selected, 'bps': bps, 'rollout_version': target['id'], 'expires': now + ttl}
            return selected

        rng = self.st['rng']
        if self.body['version_name'] == target['name'] and not (hit is not None and not hit['selected']):
            return remember(True)
        if chan['rollout_paused_at'] or bps <= 0:
            return False
        if hit is not None and hit['selected']:
            if bps >= hit['bps']:
                return remember(True)
            return remember(rng.random() < float(bps) / hit['bps'])
        if hit is not None:
            if bps <= hit['bps']:
                return remember(False)
            return remember(rng.random() < float(bps - hit['bps']) / (10000 - hit['bps']))
        return remember(rng.random() < bps / 10000.0)

    # -- 2.3 gates -----------------------------------------------------------------------------
    def manifest_entries(self, bundle):
        raw = bundle.get('manifest')
        if not raw:
            return []
        try:
            items = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            return []
        return items if isinstance(items, list) else []

    def artifacts(self, chan, bundle, plugin):
        """(zip_url or None, manifest list or None) the answer would carry."""
        host = self.headers.get('host') or '127.0.0.1'
        zip_url = None
        if bundle.get('r2_path'):
            zip_url = 'https://%s/files/read/attachments/%s?key=%s&device_id=%s' % (
                host, bundle['r2_path'], js_str(bundle.get('checksum')), self.body['device_id'])
        elif bundle.get('external_url'):
            zip_url = bundle['external_url']
        entries = self.manifest_entries(bundle)
        can_manifest = plugin_at_least(plugin, {5: '5.10.0', 6: '6.25.0', 7: '7.0.35'})
        manifest = None
        if entries and can_manifest:
            manifest = []
            for item in entries:
                url = item.get('download_url') or 'https://%s/files/read/attachments/%s' % (host, item.get('s3_path') or item.get('file_name'))
                manifest.append({'file_name': item.get('file_name'), 'file_hash': item.get('file_hash'), 'download_url': url})
        if self.latest:
            mode = chan['update_package'] if 'update_package' in chan.keys() and chan['update_package'] else 'all'
            on_builtin = self.body['version_name'] == self.body['version_build']
            if mode.endswith('_from_builtin'):
                mode = mode[:-len('_from_builtin')] if on_builtin else 'all'
            if mode == 'zip':
                manifest = None
            elif mode == 'delta' and manifest is not None and not bundle.get('external_url'):
                zip_url = None
        return zip_url, manifest

    def gates(self, chan, source, bundle, plugin):
        body = self.body
        name = bundle['name']
        internal = name in ('builtin', 'unknown')
        vname, vbuild = body['version_name'], body['version_build']
        if not internal:
            if self.latest:
                zip_url, manifest = self.artifacts(chan, bundle, plugin)
                missing = self.deleted(bundle) or (zip_url is None and not manifest)
            else:
                missing = not bundle.get('external_url') and not bundle.get('r2_path') \
                    and not self.manifest_entries(bundle) and not bundle.get('manifest_count')
            if missing:
                return self.refuse('no_bundle')
        device_key, bundle_key = body.get('key_id'), bundle.get('key_id')
        if device_key and bundle_key and device_key != bundle_key and cmp_semver(plugin, parse_semver('8.40.7')) > 0:
            return self.refuse('key_id_mismatch', {'deviceKeyId': device_key, 'bundleKeyId': bundle_key})
        if vname == name:
            return self.refuse('no_new_version_available')
        platform = body['platform']
        if not chan[platform]:
            return self.refuse('disabled_platform_%s' % platform, {'version': name, 'old': vname})
        policy = chan['disable_auto_update']
        under_native = bool(chan['disable_auto_update_under_native'])
        target = native = None
        if not internal and (policy != 'none' or under_native):
            target, native = parse_semver(name), parse_semver(vbuild)
            if target is None or native is None:
                raise ApiError(500, 'unknown_error', 'Unknown error', {})
        semver_extra = {'major': True, 'version': name, 'old': vbuild}
        if not internal and policy == 'major' and target[0] > native[0]:
            return self.refuse('disable_auto_update_to_major', semver_extra)
        if not chan['public'] and not chan['allow_device_self_set'] and source != 'override':
            return self.refuse('cannot_update_via_private_channel', {'version': name, 'old': vname})
        if not internal and policy == 'minor' and target[:2] != native[:2]:
            return self.refuse('disable_auto_update_to_minor', semver_extra)
        if not internal and policy == 'patch' and target[:3] != native[:3]:
            return self.refuse('disable_auto_update_to_patch', semver_extra)
        if not internal and policy == 'version_number':
            minimum = bundle.get('min_update_version')
            if minimum is None:
                return self.refuse('misconfigured_channel', {'version': name, 'old': vbuild})
            floor = parse_semver(minimum)
            if floor is None:
                raise ApiError(500, 'unknown_error', 'Unknown error', {})
            if cmp_semver(floor, native) > 0:
                return self.refuse('disable_auto_update_to_metadata', semver_extra)
        if not internal and under_native and cmp_semver(target, native) < 0:
            return self.refuse('disable_auto_update_under_native', {'version': name, 'old': vname})
        plain = {'version': name, 'old': vname}
        if not chan['allow_prod'] and body['is_prod']:
            return self.refuse('disable_prod_build', plain)
        if not chan['allow_dev'] and not body['is_prod']:
            return self.refuse('disable_dev_build', plain)
        if not chan['allow_device'] and not body['is_emulator']:
            return self.refuse('disable_device', plain)
        if not chan['allow_emulator'] and body['is_emulator']:
            return self.refuse('disable_emulator', plain)
        if name == 'builtin':
            if not version_at_least(plugin, '6.2.0'):
                return self.refuse('revert_to_builtin_plugin_version_too_old', stats=False)
            if not self.latest:
                return self.refuse('already_on_builtin', {'version': 'builtin'}, stats=False)
            if vname == vbuild:
                return self.refuse('already_on_builtin', stats=False)
            self.record('get', offered='builtin')
            return 200, {'version': 'builtin'}, {}
        return self.offer(chan, bundle, plugin)

    def offer(self, chan, bundle, plugin):
        zip_url, manifest = self.artifacts(chan, bundle, plugin)
        if zip_url is not None and not re.match(r'^https?://', zip_url, re.IGNORECASE):
            zip_url = None
        if zip_url is None and manifest:
            zip_url = 'https://404.capgo.app/no.zip'
        if zip_url is None:
            return self.refuse('no_bundle_url')
        payload = {'version': bundle['name'], 'url': zip_url, 'session_key': bundle.get('session_key') or '',
                   'checksum': bundle.get('checksum')}
        if manifest:
            payload['manifest'] = manifest
        if self.app['expose_metadata'] and plugin_at_least(plugin, {5: '5.35.0', 6: '6.35.0', 7: '7.35.0', 8: '8.35.0'}):
            for field in ('link', 'comment'):
                if bundle.get(field):
                    payload[field] = bundle[field]
        self.record('get', offered=bundle['name'])
        counter = '%s:%s' % (self.body['app_id'], bundle['name'])
        self.st['version_get'][counter] = self.st['version_get'].get(counter, 0) + 1
        return 200, payload, {}
