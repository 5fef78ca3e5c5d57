# -*- coding: utf-8 -*-
"""Capgo simulator: a local, stateful fake of Capgo's public REST API (channel, device, bundle).

Standard library only. Three profiles: ``latest`` (the newest backend, api.capgo.app; default), ``current``
(backend HEAD of July 2026) and ``classic`` (pre-RBAC API); their differences are the named rules of sim_rules.py.
Run ``python tests/simulator/capgo_simulator.py --port 0`` or use :func:`start_simulator` in-process.
See tests/simulator/README.md for the seed format and the test-only ``/_sim/`` admin API.
"""

import argparse
import datetime
import json
import os
import random
import re
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sim_api import Api, ApiError, CLASSIC_MODES, bad, render_channel, unknown_error  # noqa: E402 pylint: disable=wrong-import-position
from sim_rules import DEFAULT_PROFILE, PROFILES, RULES, rule_holds  # noqa: E402 pylint: disable=wrong-import-position
from sim_store import (CHANNEL_BOOLS, DEVICE_BOOLS, Seeder, Store, dump_row, js_iso,  # noqa: E402 pylint: disable=wrong-import-position
                       now_canon, pg_ts, to_canon, utcnow)
import sim_apps  # noqa: E402 pylint: disable=wrong-import-position  # /app and /updates (simapps)

DEFAULT_CONFIG = {
    'same_set_window': 60.0,
    'device_ops_per_second': 5,
    'key_rate_limit': 2000,
    'key_rate_window': 60.0,
    'failed_auth_limit': 20,
    'failed_auth_window': 900.0,
    'classic_demotion_delay': 0.4,
    # 12.2 #4: request-line bytes above which GET /device's override lookup fails (0 = never)
    'device_override_url_limit': 8192,
    # 12.1 #1: newer Capgo tests expect 404 app_not_found for an invisible app on GET /bundle (latest only)
    'bundle_app_not_found_404': False,
    # 12.2 #5 as capgo-api.md words it: a rollback with no rollout target answers 400 missing_rollout_version
    # (the handler source at H and latest clears nothing and answers 200; set false for that reading)
    'rollback_requires_target': True,
    # rule overrides for this simulator: {"rule_name": true|false} (sim_rules.py)
    'rules': {},
}
DEFAULT_CONFIG.update(sim_apps.CONFIG_DEFAULTS)
# queue fault kinds: the *_after ones run the handler (the write is applied and committed), then lose the answer
FAULT_TYPES = ('429', 'status', 'delay', 'drop', 'malformed', 'permission_error', 'drop_after', 'status_after', 'delay_after')
CHAOS_KINDS = ('429', '429_no_retry_after', '502', '503', '504', 'delay', 'drop', 'drop_after', 'status_after', 'delay_after')
STATUS_CODES = {500: 'unknown_error', 502: 'bad_gateway', 503: 'service_unavailable', 504: 'gateway_timeout'}
ROUTES = {
    'channel': ('GET', 'POST', 'DELETE'),
    'device': ('GET', 'POST', 'DELETE'),
    'bundle': ('GET', 'POST', 'DELETE', 'PUT'),
}
# sub-routes: path -> (method, resource for auth and limits, Api method, the rule that makes the route exist)
SUB_ROUTES = {
    '/channel/current-bundle': ('GET', 'channel', 'get_channel_current_bundle', 'current_bundle_route'),
    '/bundle/lookup': ('GET', 'bundle', 'get_bundle_lookup', 'bundle_lookup_route'),
}


class DropConnection(Exception):
    """Close the socket without answering."""


class Simulator(object):
    """All simulator state. Every public method takes the lock."""

    def __init__(self, profile=DEFAULT_PROFILE, db=':memory:'):
        if profile not in PROFILES:
            raise ValueError('profile must be one of %s' % ', '.join(PROFILES))
        self.lock = threading.RLock()
        # API requests that arrived and are not in the log yet (a 'delay' fault sleeps before its entry is recorded)
        self.unrecorded = 0
        self.recorded_cond = threading.Condition(self.lock)
        self.profile = profile
        self.store = Store(db)
        sim_apps.ensure_schema(self.store)
        self.api = Api(self)
        self.config_overrides = {}
        self.log = []
        self.seq = 0
        self.faults = []
        self.epoch = 0
        self.timers = []
        self.failed_auth = {}
        self.key_usage = {}
        self.device_ops = {}
        self.same_set = {}
        self.shutdown_hook = None
        self.chaos = None
        self.notes = None
        self.perm_errors = 0

    # ------------------------------------------------------------------ config / reset
    @property
    def config(self):
        conf = dict(DEFAULT_CONFIG)
        if self.profile == 'classic':
            conf['device_ops_per_second'] = 1
        conf.update(self.config_overrides)
        return conf

    def rule(self, name):
        """Does rule `name` (sim_rules.RULES) hold for the current profile?"""
        return rule_holds(self.profile, name, self.config_overrides.get('rules'))

    @property
    def classic(self):
        return self.rule('classic_api')

    def note_request(self, name, value):
        """Add a field to the request-log entry of the API call in progress."""
        if self.notes is not None:
            self.notes[name] = value

    def take_permission_error(self):
        if self.perm_errors > 0:
            self.perm_errors -= 1
            return True
        return False

    def reset(self, profile=None):
        with self.lock:
            if profile is not None:
                if profile not in PROFILES:
                    raise bad('invalid_profile', 'profile must be one of %s' % ', '.join(PROFILES))
                self.profile = profile
            self.store.wipe()
            self.log = []
            self.seq = 0
            self.faults = []
            self.chaos = None
            self.perm_errors = 0
            self.config_overrides = {}
            self.clear_counters()
            self.epoch += 1
            for timer in self.timers:
                timer.cancel()
            self.timers = []

    def clear_counters(self):
        self.failed_auth = {}
        self.key_usage = {}
        self.device_ops = {}
        self.same_set = {}

    def seed(self, data):
        with self.lock:
            seeder = Seeder(self.store, self.profile == 'classic')

            def run():
                counts = seeder.run(data or {})
                sim_apps.seed_extra(self.store, data or {})
                return counts

            return self.store.run_atomic(run)

    def later(self, delay, func, *args):
        """Run func(*args) under the lock after `delay` seconds unless a reset happened in between."""
        epoch = self.epoch

        def fire():
            with self.lock:
                if self.epoch == epoch:
                    self.store.run_atomic(lambda: func(*args))

        timer = threading.Timer(delay, fire)
        timer.daemon = True
        self.timers = [t for t in self.timers if t.is_alive()] + [timer]
        timer.start()

    def stop_timers(self):
        with self.lock:
            self.epoch += 1
            for timer in self.timers:
                timer.cancel()

    def state(self):
        with self.lock:
            store = self.store
            names = dict((r['id'], r['name']) for r in store.q('SELECT id, name FROM bundles'))
            channels = []
            for row in store.q('SELECT * FROM channels ORDER BY app_id, created_at, id'):
                item = dump_row(row, CHANNEL_BOOLS)
                for col in ('created_at', 'updated_at', 'rollout_paused_at', 'auto_pause_last_triggered_at', 'auto_pause_last_checked_at'):
                    item[col] = pg_ts(item[col])
                item['version_name'] = names.get(row['version'])
                item['rollout_version_name'] = names.get(row['rollout_version'])
                channels.append(item)
            bundles = []
            for row in store.q('SELECT * FROM bundles ORDER BY app_id, created_at, id'):
                item = dump_row(row, ('deleted',), ('manifest', 'native_packages'))
                for col in ('created_at', 'updated_at', 'deleted_at'):
                    item[col] = pg_ts(item[col])
                bundles.append(item)
            devices = []
            for row in store.q('SELECT * FROM devices ORDER BY app_id, device_id'):
                item = dump_row(row, DEVICE_BOOLS)
                item['updated_at'] = js_iso(row['updated_at'])
                devices.append(item)
            overrides = [dict(r) for r in store.q('SELECT o.app_id, o.device_id, c.name AS channel, o.channel_id FROM overrides o '
                                                  'LEFT JOIN channels c ON c.id = o.channel_id ORDER BY o.app_id, o.device_id')]
            apps = [dict(r) for r in store.q('SELECT app_id, org FROM apps ORDER BY app_id')]
            orgs = [dump_row(r, ('enforce_encrypted_bundles',)) for r in store.q('SELECT * FROM orgs ORDER BY org')]
            keys = []
            for row in store.q('SELECT id, mode, org, apps, owner_right FROM apikeys ORDER BY id'):
                item = dict(row)
                item['apps'] = json.loads(item['apps']) if item['apps'] else None
                keys.append(item)
            return {'profile': self.profile, 'apps': apps, 'orgs': orgs, 'keys': keys, 'channels': channels, 'bundles': bundles,
                    'devices': devices, 'overrides': overrides}

    # ------------------------------------------------------------------ faults / chaos / log
    def add_faults(self, faults):
        with self.lock:
            for fault in faults:
                if not isinstance(fault, dict) or str(fault.get('type')) not in FAULT_TYPES:
                    raise bad('invalid_fault', 'fault type must be one of %s' % ', '.join(FAULT_TYPES), {'fault': fault})
                item = dict(fault)
                item['type'] = str(item['type'])
                item['count'] = int(item.get('count', 1))
                item['skip'] = int(item.get('skip', 0))
                self.faults.append(item)
            return list(self.faults)

    @staticmethod
    def fault_matches(fault, method, path):
        if fault.get('method') and str(fault['method']).upper() != method:
            return False
        if fault.get('path') and str(fault['path']).rstrip('/') != path.rstrip('/'):
            return False
        return True

    def set_chaos(self, spec):
        """Seeded random faults on API requests that no queued fault matched (issue 12's chaos run)."""
        with self.lock:
            if not spec:
                self.chaos = None
                return None
            rate = float(spec.get('rate', 0.1))
            if not 0 <= rate <= 1:
                raise bad('invalid_chaos', 'rate must be between 0 and 1')
            kinds = spec.get('kinds') or list(CHAOS_KINDS)
            if isinstance(kinds, list):
                kinds = dict((k, 1.0) for k in kinds)
            for kind in kinds:
                if kind not in CHAOS_KINDS:
                    raise bad('invalid_chaos', 'chaos kinds are %s' % ', '.join(CHAOS_KINDS), {'kind': kind})
            methods = [m.upper() for m in spec.get('methods') or []]
            self.chaos = {
                'rate': rate, 'seed': spec.get('seed', 0), 'kinds': dict((k, float(w)) for k, w in kinds.items() if float(w) > 0),
                'delay': float(spec.get('delay', 2.0)), 'retry_after': int(spec.get('retry_after', 1)),
                'methods': methods, 'paths': [p.rstrip('/') for p in spec.get('paths') or []],
                'skip': int(spec.get('skip', 0)), 'seen': 0, 'injected': {}, 'requests': 0, 'occurrences': {},
            }
            return self.chaos_report()

    def chaos_report(self):
        with self.lock:
            if self.chaos is None:
                return None
            return dict((k, v) for k, v in self.chaos.items() if k != 'occurrences')

    def chaos_fault(self, method, path, body=None, query=None):
        """The draw depends on the seed, the request (method, path, body, query) and how many times that same
        request was seen before, not on arrival order: concurrent clients meet the same faults on every run."""
        chaos = self.chaos
        if chaos is None or (chaos['methods'] and method not in chaos['methods']) \
                or (chaos['paths'] and path.rstrip('/') not in chaos['paths']):
            return None
        chaos['seen'] += 1
        if chaos['seen'] <= chaos['skip']:
            return None
        chaos['requests'] += 1
        content = json.dumps([method, path.rstrip('/'), body, query], sort_keys=True, default=str)
        nth = chaos['occurrences'].get(content, 0)
        chaos['occurrences'][content] = nth + 1
        rng = random.Random('%s|%s|%d' % (chaos['seed'], content, nth))
        if not chaos['kinds'] or rng.random() >= chaos['rate']:
            return None
        names = sorted(chaos['kinds'])
        pick = rng.random() * sum(chaos['kinds'][n] for n in names)
        kind = names[-1]
        for name in names:
            pick -= chaos['kinds'][name]
            if pick < 0:
                kind = name
                break
        chaos['injected'][kind] = chaos['injected'].get(kind, 0) + 1
        if kind == '429':
            return {'type': '429', 'retry_after': chaos['retry_after'], 'chaos': kind}
        if kind == '429_no_retry_after':
            return {'type': '429', 'no_retry_after': True, 'chaos': kind}
        if kind in ('502', '503', '504'):
            return {'type': 'status', 'status': int(kind), 'chaos': kind}
        if kind == 'status_after':
            return {'type': 'status_after', 'status': rng.choice((502, 503, 504)), 'chaos': kind}
        if kind in ('delay', 'delay_after'):
            return {'type': kind, 'delay': chaos['delay'], 'chaos': kind}
        return {'type': kind, 'chaos': kind}

    def take_fault(self, method, path, body=None, query=None):
        """The fault for this API request: the first matching queued fault (after its `skip`), else chaos."""
        with self.lock:
            for fault in self.faults:
                if not self.fault_matches(fault, method, path):
                    continue
                if fault.get('skip', 0) > 0:
                    fault['skip'] -= 1
                    continue
                fault['count'] -= 1
                if fault['count'] <= 0:
                    self.faults.remove(fault)
                return dict(fault)
            return self.chaos_fault(method, path, body, query)

    def record(self, entry):
        with self.lock:
            self.seq += 1
            entry['seq'] = self.seq
            if entry.pop('_unrecorded', False):
                self._one_recorded()
            self.log.append(entry)

    def arrived(self, entry):
        with self.lock:
            self.unrecorded += 1
            entry['_unrecorded'] = True

    def finished(self, entry):
        with self.lock:
            if entry.pop('_unrecorded', False):
                self._one_recorded()

    def _one_recorded(self):
        self.unrecorded -= 1
        self.recorded_cond.notify_all()

    def settle(self, timeout):
        """Wait up to `timeout` seconds until every request that arrived is in the log (or ended without an entry)."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while self.unrecorded > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.recorded_cond.wait(left)
            return True

    def requests_since(self, since):
        with self.lock:
            return [dict(e) for e in self.log if e['seq'] > since]

    # ------------------------------------------------------------------ admin-only effects
    def auto_pause(self, body):
        """What Capgo's cron_rollout_auto_pause does when a stage fails (H `_b/triggers/cron_rollout_auto_pause.ts:108-140`)."""
        with self.lock:
            if self.classic:
                raise bad('not_supported', 'classic has no rollouts')
            app_id, name = body.get('app_id'), body.get('channel')
            action = body.get('action', 'pause')
            if action not in ('pause', 'rollback', 'notify'):
                raise bad('invalid_auto_pause_action', 'action must be pause, rollback or notify')

            def run():
                row = self.store.channel(app_id, name)
                if row is None:
                    raise bad('cannot_find_channel', 'Cannot find channel', {'app_id': app_id, 'channel': name})
                if row['rollout_version'] is None:
                    raise bad('missing_rollout_version', 'The channel has no rollout to pause', {'channel': name})
                now = now_canon()
                # an explicit "reason": null plants a pause with no reason recorded (one set by a person in the
                # console); without the key, the cron's own wording
                reason = body['reason'] if 'reason' in body else 'Auto-paused: failure rate above threshold'
                patch = {'auto_pause_last_checked_at': now, 'auto_pause_last_triggered_at': now, 'rollout_pause_reason': reason}
                if action == 'pause':
                    patch['rollout_paused_at'] = now
                elif action == 'rollback':
                    patch.update({'rollout_enabled': 0, 'rollout_percentage_bps': 0, 'rollout_version': None, 'rollout_paused_at': None})
                self.api.write_channel(row, patch)
                return render_channel(self.store, self.store.channel_by_id(row['id']), self.rule)

            return self.store.run_atomic(run)

    def advance_clock(self, days):
        """Age device overrides and soft-deleted bundles by `days`, then run the profile's daily cleanups
        (override expiry 12.1 #8, bundle purge 12.2 #7)."""
        with self.lock:
            def run():
                delta = datetime.timedelta(days=float(days))
                for row in self.store.q('SELECT app_id, device_id, created_at, updated_at FROM overrides'):
                    created = to_canon(datetime.datetime.fromisoformat(row['created_at']) - delta)
                    updated = to_canon(datetime.datetime.fromisoformat(row['updated_at']) - delta) if row['updated_at'] else None
                    self.store.x('UPDATE overrides SET created_at = ?, updated_at = ? WHERE app_id = ? AND device_id = ?',
                                 (created, updated, row['app_id'], row['device_id']))
                now = utcnow()
                # soft-deleted bundles: purged after 90 days (classic: one year) unless a channel links them (12.2 #7)
                purged = 0
                keep_days = 90 if self.rule('bundle_purge_90_days') else 365
                linked = set()
                for row in self.store.q('SELECT version, rollout_version FROM channels'):
                    linked.update(v for v in (row['version'], row['rollout_version']) if v is not None)
                for row in self.store.q('SELECT id, name, deleted_at FROM bundles WHERE deleted = 1 AND deleted_at IS NOT NULL'):
                    aged = datetime.datetime.fromisoformat(row['deleted_at']) - delta
                    self.store.x('UPDATE bundles SET deleted_at = ? WHERE id = ?', (to_canon(aged), row['id']))
                    if aged < now - datetime.timedelta(days=keep_days) and row['id'] not in linked \
                            and row['name'] not in ('unknown', 'builtin'):
                        self.store.x('DELETE FROM bundles WHERE id = ?', (row['id'],))
                        purged += 1
                if self.rule('api_overrides_never_expire'):
                    return {'expired': 0, 'purged_bundles': purged}
                month = now.month - 1 or 12
                year = now.year - (1 if now.month == 1 else 0)
                cutoff = to_canon(now.replace(year=year, month=month, day=min(now.day, 28)))
                cur = self.store.x('DELETE FROM overrides WHERE COALESCE(updated_at, created_at) < ?', (cutoff,))
                return {'expired': cur.rowcount, 'purged_bundles': purged}

            return self.store.run_atomic(run)

    # ------------------------------------------------------------------ middleware
    def authenticate(self, headers, ip, method, resource):
        """middlewareKey: failed-auth IP block, key lookup, classic mode list, per-key rate limit."""
        conf = self.config
        now = time.monotonic()
        failed = self.failed_auth.get(ip)
        if failed and now - failed[1] > conf['failed_auth_window']:
            failed = None
            self.failed_auth.pop(ip, None)
        if failed and failed[0] >= conf['failed_auth_limit']:
            raise self.api.too_many({'reason': 'too_many_failed_auth_attempts'}, conf['failed_auth_window'] - (now - failed[1]))
        raw = headers.get('capgkey')
        if raw is None:
            raw = headers.get('authorization')   # capgkey ?? authorization: an empty capgkey wins (12.2 #6)
        if not raw:
            self.count_failed_auth(ip, failed, now)   # a keyless request is a failed auth (12.2 #3)
            raise ApiError(401, 'no_key_provided', 'No key provided', {})
        subkey = headers.get('x-limited-key-id')
        if subkey is not None and self.rule('subkey_header_checked') and not re.match(r'^[1-9]\d*$', subkey):
            self.count_failed_auth(ip, failed, now)
            raise ApiError(401, 'invalid_subkey', 'Invalid x-limited-key-id', {})
        key = self.store.key_by_value(raw)
        if key is not None and key['expires_at'] and key['expires_at'] < time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime()):
            key = None
        classic = self.classic
        if key is None or (classic and key['mode'] not in CLASSIC_MODES.get((method, resource), ())):
            self.count_failed_auth(ip, failed, now)
            raise ApiError(401, 'invalid_apikey', 'Invalid apikey', {})
        if subkey is not None and self.rule('subkey_header_checked'):
            raise ApiError(401, 'invalid_subkey', 'Invalid subkey', {})   # the simulator has no sub-keys
        if classic:
            self.failed_auth.pop(ip, None)
        usage = self.key_usage.get(key['id'])
        count = 1 if usage is None or now - usage[1] >= conf['key_rate_window'] else usage[0] + 1
        self.key_usage[key['id']] = (count, now)
        if count >= conf['key_rate_limit']:
            raise self.api.too_many({'reason': 'api_key_rate_limit_exceeded', 'apikey_id': key['id']}, conf['key_rate_window'])
        return key

    def count_failed_auth(self, ip, failed, now):
        self.failed_auth[ip] = ((failed[0] + 1) if failed else 1, now)

    @staticmethod
    def lower_device(body):
        if 'device_id' in body and body['device_id'] is not None:
            if not isinstance(body['device_id'], str):
                raise unknown_error()
            body['device_id'] = body['device_id'].lower()
        return body

    def parse_body(self, raw):
        try:
            body = json.loads(raw.decode('utf-8'))
        except (ValueError, UnicodeDecodeError):
            raise bad('invalid_json_parse_body', 'Invalid JSON body')
        if not isinstance(body, dict):
            raise bad('invalid_json_parse_body', 'Invalid JSON body')
        return self.lower_device(body)

    def body_or_query(self, method, raw, query):
        body = None
        if raw.strip():
            try:
                body = json.loads(raw.decode('utf-8'))
            except (ValueError, UnicodeDecodeError):
                body = None
        if isinstance(body, dict):
            if not body:
                raise bad('invalid_json_parse_body', 'Invalid JSON body')
            return self.lower_device(body)
        params = dict(query)
        if method == 'GET':
            return params
        if not params:
            raise bad('invalid_json_parse_body', 'Invalid JSON body')
        return self.lower_device(params)

    def device_limits(self, method, body, handler):
        """Per device+op limits and the same device+channel window of /device (§4, §11.2 #3)."""
        conf = self.config
        app_id, device_id = body.get('app_id'), body.get('device_id')
        if not app_id or not device_id:
            return handler()
        device_id = str(device_id).lower()
        op = {'POST': 'set', 'GET': 'get', 'DELETE': 'delete'}[method]
        now = time.monotonic()
        op_key = (app_id, device_id, op)
        recent = [t for t in self.device_ops.get(op_key, []) if now - t < 1.0]
        self.device_ops[op_key] = recent
        info = {'app_id': app_id, 'device_id': device_id}
        if len(recent) >= conf['device_ops_per_second']:
            raise self.api.too_many(info, 1.0 - (now - recent[0]))
        channel = body.get('channel') if op == 'set' else None
        set_key = (app_id, device_id, str(channel)) if channel else None
        if set_key is not None:
            last = self.same_set.get(set_key)
            if last is not None and now - last < conf['same_set_window']:
                raise self.api.too_many(info, conf['same_set_window'] - (now - last))
        ok = False
        try:
            result = handler()
            ok = True
            return result
        finally:
            if ok or not self.classic:
                recent.append(now)
                if set_key is not None:
                    self.same_set[set_key] = now

    def call_api(self, method, resource, headers, ip, raw, query, func_name=None, perm_error=False, notes=None):
        """Returns (status, payload, headers, key_id). Raises ApiError (with .key_id attribute set when known).

        `func_name`: the Api method (default `<method>_<resource>`); `perm_error`: the request's first permission
        check fails as on a DB error; `notes`: a dict that receives extra request-log fields."""
        with self.lock:
            key_id = None
            self.notes = notes if notes is not None else {}
            self.perm_errors = 1 if perm_error else 0
            try:
                key = self.authenticate(headers, ip, method, resource)
                key_id = key['id']
                if method == 'POST' and resource in ('channel', 'device'):
                    body = self.parse_body(raw)
                else:
                    body = self.body_or_query(method, raw, query)
                func = getattr(self.api, func_name or '%s_%s' % (method.lower(), resource))

                def run():
                    return self.store.run_atomic(lambda: func(key, body))

                if resource == 'device':
                    status, payload = self.device_limits(method, body, run)
                else:
                    status, payload = run()
                self.notes['applied'] = True
                return status, payload, {}, key_id
            except ApiError as err:
                err.key_id = key_id
                raise
            finally:
                self.notes = None
                self.perm_errors = 0


def error_body(status, code, message, more_info=None):
    return status, {'error': code, 'message': message, 'moreInfo': more_info or {}}


class Handler(BaseHTTPRequestHandler):
    """One HTTP request; API routes go through Simulator.call_api, /_sim/ routes are admin."""

    protocol_version = 'HTTP/1.1'

    def version_string(self):
        return 'capgo-simulator'

    def setup(self):
        BaseHTTPRequestHandler.setup(self)
        # headers and body go out in two writes: without NODELAY, Nagle + delayed ACK adds ~40 ms per request
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        """Silence the default stderr access log."""

    def do_GET(self):
        self.dispatch('GET')

    def do_POST(self):
        self.dispatch('POST')

    def do_DELETE(self):
        self.dispatch('DELETE')

    def do_PUT(self):
        self.dispatch('PUT')

    def do_PATCH(self):
        self.dispatch('PATCH')

    @property
    def sim(self):
        return self.server.sim

    def read_raw(self):
        length = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(length) if length > 0 else b''

    def send_json(self, status, payload, headers=None, raw=None):
        data = raw if raw is not None else json.dumps(payload).encode('utf-8')
        self.send_response(status)
        self.send_header('Content-Type', 'application/json; charset=UTF-8')
        self.send_header('Content-Length', str(len(data)))
        self.send_header('X-Worker-Source', 'capgo-simulator')
        if not self.sim.classic:
            self.send_header('Content-Security-Policy', "default-src 'none'")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def dispatch(self, method):
        parts = urlsplit(self.path)
        path = parts.path
        query = {}
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            query.setdefault(name, value)
        raw = self.read_raw()
        if path == '/_sim' or path.startswith('/_sim/'):
            self.admin(method, path.rstrip('/'), query, raw)
            return
        try:
            self.api_request(method, path, query, raw)
        except DropConnection:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # ------------------------------------------------------------------ API
    def api_request(self, method, path, query, raw):
        try:
            logged_body = json.loads(raw.decode('utf-8')) if raw.strip() else None
        except (ValueError, UnicodeDecodeError):
            logged_body = None
        entry = {'time': time.time(), 'method': method, 'path': path, 'query': query, 'body': logged_body,
                 'status': None, 'error': None, 'fault': None, 'fault_source': None, 'applied': False, 'key_id': None}
        self.sim.arrived(entry)
        try:
            self.handle_api(method, path, query, raw, entry)
        finally:
            self.sim.finished(entry)

    def handle_api(self, method, path, query, raw, entry):
        logged_body = entry['body']
        fault = self.sim.take_fault(method, path, logged_body, query)
        kind = fault['type'] if fault is not None else None
        if fault is not None:
            entry['fault'] = kind
            entry['fault_source'] = 'chaos' if fault.get('chaos') else 'queue'
            if kind == 'delay':
                time.sleep(float(fault.get('delay', 1.0)))
            elif kind not in ('permission_error', 'drop_after', 'status_after', 'delay_after'):
                self.apply_fault(fault, entry)
                return
        status, payload, headers = self.route(method, path, query, raw, entry, perm_error=kind == 'permission_error')
        if kind in ('drop_after', 'status_after', 'delay_after'):
            # the handler ran (and committed when it succeeded); the client never gets that answer
            entry['handler_status'] = status
            entry['handler_error'] = entry['error']
            entry['error'] = None
            if kind == 'delay_after':
                entry['status'] = status
                self.sim.record(entry)
                time.sleep(float(fault.get('delay', 1.0)))
                self.send_late(status, payload, headers)
                return
            if kind == 'drop_after':
                self.sim.record(entry)
                raise DropConnection()
            self.apply_fault({'type': 'status', 'status': fault.get('status', 502), 'retry_after': fault.get('retry_after')}, entry)
            return
        entry['status'] = status
        self.sim.record(entry)
        self.send_late(status, payload, headers)

    def send_late(self, status, payload, headers):
        """send_json to a client that may have given up waiting (a 'delay' or 'delay_after' fault)."""
        try:
            self.send_json(status, payload, headers)
        except OSError:
            self.close_connection = True

    def route(self, method, path, query, raw, entry, perm_error=False):
        try:
            hit = sim_apps.handle(self.sim, method, path, query, raw, self.headers, self.client_address[0], entry)
        except Exception:  # pylint: disable=broad-except
            entry['error'] = 'unknown_error'
            return 500, {'error': 'unknown_error', 'message': 'Unknown error', 'moreInfo': {}}, {}
        if hit is not None:
            if hit[0] < 400:
                entry['applied'] = True
            return hit
        resource = path.strip('/')
        func_name = None
        sub = SUB_ROUTES.get(path.rstrip('/'))
        if sub is not None and method == sub[0] and self.sim.rule(sub[3]):
            resource, func_name = sub[1], sub[2]
        elif path not in ('/' + resource, '/' + resource + '/') or method not in ROUTES.get(resource, ()) \
                or (resource == 'bundle' and method == 'POST' and not self.sim.rule('post_bundle_route')):
            entry['error'] = 'not_found'
            return 404, {'error': 'not_found', 'message': 'Not found'}, {}
        notes = {}
        try:
            status, payload, headers, key_id = self.sim.call_api(method, resource, self.headers, self.client_address[0], raw, query,
                                                                 func_name=func_name, perm_error=perm_error, notes=notes)
            entry['key_id'] = key_id
            return status, payload, headers
        except ApiError as err:
            entry['key_id'] = getattr(err, 'key_id', None)
            entry['error'] = err.code
            return err.status, err.payload(), err.headers
        except Exception:  # pylint: disable=broad-except
            entry['error'] = 'unknown_error'
            return 500, {'error': 'unknown_error', 'message': 'Unknown error', 'moreInfo': {}}, {}
        finally:
            entry.update(notes)

    def apply_fault(self, fault, entry):
        kind = fault['type']
        if kind == 'drop':
            self.sim.record(entry)
            raise DropConnection()
        if kind == 'malformed':
            entry['status'] = 200
            self.sim.record(entry)
            self.send_json(200, None, raw=b'{"status":"ok","data":[{"id":1,"name":"trunc')
            return
        retry_after = fault.get('retry_after')
        if kind == '429':
            retry_after = int(retry_after if retry_after is not None else 1)
            if self.sim.classic:
                status, payload, headers = 429, {'error': 'too_many_requests', 'message': 'You are being rate limited'}, {}
            elif fault.get('no_retry_after'):
                payload = {'error': 'too_many_requests', 'message': 'Too many requests', 'moreInfo': {'reason': 'simulated_fault'}}
                status, headers = 429, {}
            else:
                reset = time.time() + retry_after
                payload = {'error': 'too_many_requests', 'message': 'Too many requests',
                           'moreInfo': {'reason': 'simulated_fault', 'rateLimitResetAt': int(reset * 1000), 'retryAfterSeconds': retry_after}}
                status, headers = 429, {'Retry-After': str(retry_after), 'X-RateLimit-Reset': str(int(reset))}
        else:
            status = int(fault.get('status', 503))
            code = STATUS_CODES.get(status, 'simulated_error')
            status, payload = error_body(status, code, 'Simulated HTTP %d' % status, {'fault': True})
            headers = {'Retry-After': str(retry_after)} if retry_after is not None else {}
        entry['status'] = status
        entry['error'] = payload['error']
        self.sim.record(entry)
        self.send_json(status, payload, headers)

    # ------------------------------------------------------------------ admin
    def admin(self, method, path, query, raw):
        try:
            body = json.loads(raw.decode('utf-8')) if raw.strip() else {}
        except (ValueError, UnicodeDecodeError):
            self.send_json(*error_body(400, 'invalid_json_parse_body', 'Invalid JSON body'))
            return
        sim = self.sim
        try:
            if path == '/_sim/reset' and method == 'POST':
                sim.reset(body.get('profile'))
                self.send_json(200, {'status': 'ok', 'profile': sim.profile})
            elif path == '/_sim/seed' and method == 'POST':
                self.send_json(200, {'status': 'ok', 'counts': sim.seed(body)})
            elif path == '/_sim/requests' and method == 'GET':
                if query.get('settle'):
                    sim.settle(float(query['settle']))
                self.send_json(200, sim.requests_since(int(query.get('since') or 0)))
            elif path == '/_sim/requests' and method == 'DELETE':
                with sim.lock:
                    sim.log = []
                self.send_json(200, {'status': 'ok'})
            elif path == '/_sim/state' and method == 'GET':
                self.send_json(200, sim.state())
            elif path == '/_sim/faults' and method == 'POST':
                self.send_json(200, {'status': 'ok', 'faults': sim.add_faults(body.get('faults') or [])})
            elif path == '/_sim/faults' and method == 'GET':
                with sim.lock:
                    self.send_json(200, list(sim.faults))
            elif path == '/_sim/faults' and method == 'DELETE':
                with sim.lock:
                    sim.faults = []
                self.send_json(200, {'status': 'ok'})
            elif path == '/_sim/config' and method == 'GET':
                self.send_json(200, sim.config)
            elif path == '/_sim/config' and method == 'POST':
                with sim.lock:
                    for name, value in body.items():
                        if name not in DEFAULT_CONFIG:
                            raise bad('invalid_config', 'unknown config key %s' % name)
                        if name == 'rules':
                            if not isinstance(value, dict) or any(rule not in RULES for rule in value):
                                raise bad('invalid_config', 'rules must map rule names of sim_rules.py to booleans')
                            value = dict(sim.config_overrides.get('rules') or {}, **value)
                        sim.config_overrides[name] = value
                    if 'failed_auth_limit' in body or 'key_rate_limit' in body:
                        sim.clear_counters()
                self.send_json(200, sim.config)
            elif path == '/_sim/chaos' and method == 'POST':
                self.send_json(200, {'status': 'ok', 'chaos': sim.set_chaos(body)})
            elif path == '/_sim/chaos' and method == 'GET':
                self.send_json(200, {'chaos': sim.chaos_report()})
            elif path == '/_sim/chaos' and method == 'DELETE':
                self.send_json(200, {'status': 'ok', 'chaos': sim.chaos_report(), 'stopped': sim.set_chaos(None) is None})
            elif path == '/_sim/rollout/auto_pause' and method == 'POST':
                self.send_json(200, {'status': 'ok', 'channel': sim.auto_pause(body)})
            elif path == '/_sim/advance_clock' and method == 'POST':
                self.send_json(200, dict({'status': 'ok'}, **sim.advance_clock(body.get('days', 0))))
            elif path == '/_sim/rules' and method == 'GET':
                with sim.lock:
                    self.send_json(200, {'profile': sim.profile, 'rules': dict(
                        (name, {'holds': sim.rule(name), 'profiles': list(spec[0]), 'doc': spec[1], 'source': spec[2]})
                        for name, spec in sorted(RULES.items()))})
            elif path == '/_sim/shutdown' and method == 'POST':
                self.send_json(200, {'status': 'ok'})
                self.close_connection = True
                if sim.shutdown_hook is not None:
                    threading.Thread(target=sim.shutdown_hook, daemon=True).start()
            else:
                extra = sim_apps.admin(sim, method, path, query, body)
                if extra is None:
                    extra = error_body(404, 'not_found', 'Not found')
                self.send_json(*extra)
        except ApiError as err:
            self.send_json(err.status, err.payload(), err.headers)
        except (KeyError, TypeError, ValueError) as err:
            self.send_json(*error_body(400, 'invalid_admin_request', str(err)))


class SimulatorServer(object):
    """A running simulator: ``.url``, ``.port``, ``.sim`` and ``.stop()``."""

    def __init__(self, host='127.0.0.1', port=0, profile=DEFAULT_PROFILE, db=':memory:', seed=None):
        self.sim = Simulator(profile, db)
        if seed:
            self.sim.seed(seed)
        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.httpd.sim = self.sim
        self.host = host
        self.port = self.httpd.server_address[1]
        self.url = 'http://%s:%d' % (host, self.port)
        self.thread = None
        self.stopped = threading.Event()
        self._stop_lock = threading.Lock()
        self.sim.shutdown_hook = self.stop

    def start(self):
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={'poll_interval': 0.1}, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        with self._stop_lock:
            if self.stopped.is_set():
                return
            self.sim.stop_timers()
            self.httpd.shutdown()
            self.httpd.server_close()
            self.stopped.set()

    @property
    def profile(self):
        return self.sim.profile


def start_simulator(profile=DEFAULT_PROFILE, db=':memory:', port=0, host='127.0.0.1', seed=None):
    """Start the simulator in a daemon thread and return the running SimulatorServer."""
    return SimulatorServer(host=host, port=port, profile=profile, db=db, seed=seed).start()


def main(argv=None):
    parser = argparse.ArgumentParser(description='Local stateful fake of the Capgo public API.')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=0)
    parser.add_argument('--profile', choices=PROFILES, default=DEFAULT_PROFILE)
    parser.add_argument('--db', default=':memory:')
    parser.add_argument('--seed', help='JSON seed file (same format as POST /_sim/seed)')
    parser.add_argument('--port-file', help='write http://HOST:PORT to this file once listening')
    args = parser.parse_args(argv)
    if args.host not in ('127.0.0.1', 'localhost', '::1'):
        parser.error('the simulator binds to loopback only')
    seed = None
    if args.seed:
        with open(args.seed, 'r', encoding='utf-8') as handle:
            seed = json.load(handle)
    server = SimulatorServer(host=args.host, port=args.port, profile=args.profile, db=args.db, seed=seed)
    done = threading.Event()
    server.sim.shutdown_hook = done.set

    def on_signal(signum, frame):  # pylint: disable=unused-argument
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.start()
    if args.port_file:
        tmp = args.port_file + '.tmp'
        with open(tmp, 'w', encoding='utf-8') as handle:
            handle.write(server.url)
        os.replace(tmp, args.port_file)
    sys.stdout.write('capgo-simulator listening on %s profile=%s\n' % (server.url, args.profile))
    sys.stdout.flush()
    while not done.wait(0.2):
        pass
    server.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
