# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""make bench: capgo.cloud side by side with the ansible.builtin.uri playbooks a user would write.

Starts the Capgo simulator in-process, seeds it, and for each scenario runs the hand-written uri
playbook and the capgo.cloud playbook under the same simulator settings (profile, rate limits).
Measures wall seconds of the whole ``ansible-playbook`` run and the API requests it made (from the
simulator's request log), prints one table of ratios and PASS/MISS per target, and writes
benchmarks/RESULTS.md.  Nothing here is a timed assertion: the exit code is 0 whenever every
playbook ran, whatever the ratios (``--strict`` makes a MISS exit 1).

    python benchmarks/run.py [--devices N] [--tasks 20] [--scenarios 1,2,3,4] [--profile current]
"""

from __future__ import print_function

import argparse
import datetime
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH_DIR)
PLAYBOOKS = os.path.join(BENCH_DIR, 'playbooks')
SIMULATOR_DIR = os.path.join(ROOT, 'tests', 'simulator')
RESULTS_MD = os.path.join(BENCH_DIR, 'RESULTS.md')
LOG_DIR = os.path.join(BENCH_DIR, 'results')  # raw ansible output per run; gitignored, build_ignored

APP_ID = 'com.bench.app'
API_KEY = 'b3nch000-0000-4000-8000-000000000001'
LINK_CHANNEL = 'beta'
CHANNEL_SETTINGS = {'disable_auto_update': 'minor', 'allow_emulator': False, 'allow_dev': False}
READ_ALL = {'channels': 1234, 'devices': 3000, 'bundles': 300}
SPARSE = {'app_devices': 6000, 'linked': 10}
# The same rate limits as api.capgo.app (capgo-api.md section 4), for both sides of every row.
SIM_CONFIG = {'same_set_window': 60.0, 'device_ops_per_second': 5, 'key_rate_limit': 2000, 'key_rate_window': 60.0}
WRITE_METHODS = frozenset(('POST', 'PUT', 'PATCH', 'DELETE'))
OVERHEAD_MODULES = ('capgo_channel', 'capgo_device_link', 'capgo_bundle', 'capgo_info')
OVERHEAD_BUNDLE = {'version': '1.0.0', 'external_url': 'https://cdn.example.com/bench/1.0.0.zip', 'checksum': 'abc123'}

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# -- simulator -------------------------------------------------------------------------------------

class Sim(object):
    """The in-process simulator and its admin API."""

    def __init__(self, profile):
        sys.path.insert(0, SIMULATOR_DIR)
        from capgo_simulator import start_simulator  # pylint: disable=import-error
        self.profile = profile
        self.server = start_simulator(profile=profile, port=0)
        self.url = self.server.url.rstrip('/')

    def admin(self, method, path, body=None):
        data = json.dumps(body).encode('utf-8') if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={'Content-Type': 'application/json'})
        try:
            with _OPENER.open(request, timeout=120) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise RuntimeError('simulator %s %s: HTTP %s %s' % (method, path, exc.code, exc.read()[:300]))
        return json.loads(raw.decode('utf-8')) if raw else None

    def fresh(self, seed):
        """Empty simulator, the benchmark's rate limits, the app, the key, then ``seed``."""
        self.admin('POST', '/_sim/reset', {'profile': self.profile})
        self.admin('POST', '/_sim/config', SIM_CONFIG)
        base = {'apps': [{'app_id': APP_ID, 'org': 'org1'}], 'keys': [{'key': API_KEY, 'mode': 'all', 'org': 'org1'}]}
        self.admin('POST', '/_sim/seed', base)
        if seed:
            self.admin('POST', '/_sim/seed', seed)
        self.admin('DELETE', '/_sim/requests')

    def take_log(self):
        entries = self.admin('GET', '/_sim/requests') or []
        self.admin('DELETE', '/_sim/requests')
        return entries

    def state(self):
        return self.admin('GET', '/_sim/state')

    def config(self):
        return self.admin('GET', '/_sim/config')

    def stop(self):
        self.server.stop()


# -- ansible-playbook ------------------------------------------------------------------------------

class Run(object):
    """One ansible-playbook run: wall seconds, requests it made, and what it reported."""

    def __init__(self, label, seconds, rc, log, output, report):
        self.label = label
        self.seconds = seconds
        self.rc = rc
        self.output = output
        self.report = report
        self.log = [e for e in log if not e.get('path', '').startswith('/_sim')]
        self.reads = sum(1 for e in self.log if e.get('method') == 'GET')
        self.writes = sum(1 for e in self.log if e.get('method') in WRITE_METHODS)
        self.throttled = sum(1 for e in self.log if e.get('status') == 429)

    @property
    def ok(self):
        return self.rc == 0

    @property
    def requests(self):
        return self.reads + self.writes

    def req_text(self):
        text = '%d (%d/%d)' % (self.requests, self.reads, self.writes)
        if self.throttled:
            text += ', %d x 429' % self.throttled
        return text


class Ansible(object):
    def __init__(self, sim, collections_path):
        self.sim = sim
        self.collections_path = collections_path
        bindir = os.path.dirname(sys.executable)
        self.playbook_cmd = os.path.join(bindir, 'ansible-playbook')
        if not os.path.exists(self.playbook_cmd):
            self.playbook_cmd = shutil.which('ansible-playbook')
        if not self.playbook_cmd:
            raise SystemExit('ansible-playbook not found next to %s nor on PATH' % sys.executable)
        self.python = sys.executable
        self.tmp = tempfile.mkdtemp(prefix='capgo-bench-')
        self.peak_load = 0.0
        self.env = dict(os.environ)
        self.env.update({
            'ANSIBLE_COLLECTIONS_PATH': collections_path,
            'ANSIBLE_NOCOLOR': '1',
            'ANSIBLE_FORCE_COLOR': '0',
            'ANSIBLE_LOCALHOST_WARNING': 'False',
            'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'False',
            'ANSIBLE_RETRY_FILES_ENABLED': 'False',
            'ANSIBLE_CALLBACK_RESULT_FORMAT': 'json',
            'ANSIBLE_STDOUT_CALLBACK': 'default',
            'ANSIBLE_HOME': os.path.join(self.tmp, 'ansible-home'),
            'NO_PROXY': '127.0.0.1,localhost',
        })
        for name in ('ANSIBLE_CONFIG', 'CAPGO_API_KEY', 'CAPGO_TOKEN', 'CAPGO_API_URL'):
            self.env.pop(name, None)
        self.version = subprocess.run([self.playbook_cmd, '--version'], env=self.env, stdout=subprocess.PIPE,
                                      universal_newlines=True, check=False).stdout.splitlines()[0]

    def run(self, label, playbook, extra=None):
        variables = {
            'bench_api_url': self.sim.url,
            'bench_api_key': API_KEY,
            'bench_app_id': APP_ID,
            'ansible_python_interpreter': self.python,
        }
        variables.update(extra or {})
        vars_file = os.path.join(self.tmp, 'vars-%s.json' % re.sub(r'\W+', '_', label))
        with open(vars_file, 'w') as handle:
            json.dump(variables, handle)
        command = [self.playbook_cmd, '-i', 'localhost,', '-c', 'local', '-e', '@' + vars_file,
                   os.path.join(PLAYBOOKS, playbook)]
        self.sim.take_log()
        start = time.perf_counter()
        proc = subprocess.run(command, env=self.env, cwd=self.tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, timeout=900, check=False)
        seconds = time.perf_counter() - start
        self.peak_load = max(self.peak_load, os.getloadavg()[0])
        log = self.sim.take_log()
        os.makedirs(LOG_DIR, exist_ok=True)
        with open(os.path.join(LOG_DIR, re.sub(r'\W+', '_', label) + '.log'), 'w') as handle:
            handle.write('$ %s\n\n%s' % (' '.join(command), proc.stdout))
        run = Run(label, seconds, proc.returncode, log, proc.stdout, parse_report(proc.stdout))
        status = 'ok' if run.ok else 'FAILED rc=%d' % run.rc
        print('  %-44s %7.2f s  %-22s %s' % (label, seconds, run.req_text(), status), flush=True)
        if not run.ok:
            tail = '\n'.join(proc.stdout.strip().splitlines()[-12:])
            print('    ' + tail.replace('\n', '\n    '), flush=True)
        return run

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def parse_report(stdout):
    """The dict a playbook printed with ``debug: msg="BENCH_RESULT {json}"``, or None."""
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith('"msg": "BENCH_RESULT '):
            text = json.loads(line[len('"msg": '):].rstrip(','))
            return json.loads(text[len('BENCH_RESULT '):])
    return None


def module_available(collections_path, module):
    for base in collections_path.split(os.pathsep):
        for root in (base, os.path.join(base, 'ansible_collections')):
            if os.path.isfile(os.path.join(root, 'ansible_collections', 'capgo', 'cloud', 'plugins', 'modules', module + '.py')) \
                    or os.path.isfile(os.path.join(root, 'capgo', 'cloud', 'plugins', 'modules', module + '.py')):
                return True
    return False


def device_list_limit():
    """The page size capgo_device_link/capgo_info use to list devices (module_utils/devices.py)."""
    try:
        with open(os.path.join(ROOT, 'plugins', 'module_utils', 'devices.py')) as handle:
            match = re.search(r'^DEVICE_LIST_LIMIT\s*=\s*(\d+)', handle.read(), re.M)
        return int(match.group(1)) if match else 50
    except (IOError, OSError):
        return 50


# -- results ---------------------------------------------------------------------------------------

class Row(object):
    """One line of the table: a baseline run against a capgo.cloud run."""

    def __init__(self, name, base, mod, kind='speedup', note='', anchor='ping'):
        self.name = name
        self.base = base
        self.mod = mod
        self.kind = kind  # 'speedup': base s / mod s;  'overhead': mod per-task / base per-task
        self.note = note
        self.anchor = anchor  # what an overhead row divides by: 'ping' or 'uri'
        self.base_value = None
        self.mod_value = None

    @property
    def ok(self):
        return self.base is not None and self.mod is not None and self.base.ok and self.mod.ok

    @property
    def ratio(self):
        if not self.ok:
            return None
        if self.kind == 'overhead':
            return self.mod_value / self.base_value if self.base_value else None
        return self.base.seconds / self.mod.seconds

    def ratio_text(self):
        ratio = self.ratio
        if ratio is None:
            return 'n/a'
        if self.kind == 'overhead':
            return '%.2fx %s' % (ratio, self.anchor)
        return '%.1fx faster' % ratio

    def req_ratio_text(self):
        if not self.ok:
            return 'n/a'
        if self.mod.requests == 0:
            return 'inf' if self.base.requests else '1x'
        return '%.1fx fewer' % (float(self.base.requests) / self.mod.requests)

    def cells(self):
        def secs(run, value):
            if run is None:
                return 'n/a'
            if not run.ok:
                return 'FAILED'
            if value is not None:
                return '%.3f/task' % value
            return '%.2f' % run.seconds
        return [self.name,
                secs(self.base, self.base_value), secs(self.mod, self.mod_value), self.ratio_text(),
                self.base.req_text() if self.base else 'n/a', self.mod.req_text() if self.mod else 'n/a',
                self.req_ratio_text() if self.kind == 'speedup' else '']


HEADERS = ['scenario', 'baseline s', 'capgo.cloud s', 'time ratio', 'baseline requests (r/w)',
           'capgo.cloud requests (r/w)', 'request ratio']


def table_text(rows):
    cells = [HEADERS] + [row.cells() for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(HEADERS))]
    out = []
    for index, line in enumerate(cells):
        out.append('  '.join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip())
        if index == 0:
            out.append('  '.join('-' * w for w in widths))
    return '\n'.join(out)


def table_md(rows):
    out = ['| ' + ' | '.join(HEADERS) + ' |', '|' + '---|' * len(HEADERS)]
    for row in rows:
        out.append('| ' + ' | '.join(row.cells()) + ' |')
    return '\n'.join(out)


class Target(object):
    def __init__(self, name, passed, detail):
        self.name = name
        self.passed = passed  # True, False or None (could not be measured)
        self.detail = detail

    @property
    def verdict(self):
        return {True: 'PASS', False: 'MISS', None: 'N/A'}[self.passed]


# -- scenarios -------------------------------------------------------------------------------------

def device_ids(count, prefix='device-'):
    return ['%s%06d' % (prefix, i) for i in range(1, count + 1)]


def device_reads(run):
    """GET /device requests of a run: list pages (no device_id) and single reads."""
    gets = [e for e in run.log if e.get('method') == 'GET' and e.get('path', '').rstrip('/') == '/device']
    single = sum(1 for e in gets if (e.get('query') or {}).get('device_id') or (e.get('body') or {}).get('device_id'))
    return {'all': len(gets), 'single': single, 'list': len(gets) - single}


def overrides_on(sim, channel, ids):
    wanted = set(ids)
    return sum(1 for o in sim.state()['overrides'] if o['app_id'] == APP_ID and o['channel'] == channel and o['device_id'] in wanted)


def scenario_link(sim, ansible, n, have, rows, targets, notes):
    ids = device_ids(n)
    seed = {'generate': {'app_id': APP_ID, 'devices': n},
            'channels': [{'app_id': APP_ID, 'name': 'production', 'public': True},
                         {'app_id': APP_ID, 'name': LINK_CHANNEL}]}
    extra = {'bench_device_ids': ids, 'bench_channel': LINK_CHANNEL}
    print('1. link %d devices to a channel (%d devices checked in)' % (n, n))
    sim.fresh(seed)
    uri1 = ansible.run('1 uri link first run', 'uri_device_link.yml', extra)
    uri_linked = overrides_on(sim, LINK_CHANNEL, ids)
    uri2 = ansible.run('1 uri link second run', 'uri_device_link.yml', extra)
    mod1 = mod2 = None
    mod_linked = None
    if have('capgo_device_link'):
        sim.fresh(seed)
        mod1 = ansible.run('1 capgo_device_link first run', 'module_device_link.yml', extra)
        mod_linked = overrides_on(sim, LINK_CHANNEL, ids)
        mod2 = ansible.run('1 capgo_device_link second run', 'module_device_link.yml', extra)
    rows.append(Row('1a link %d devices, first run' % n, uri1, mod1))
    rows.append(Row('1b link %d devices, second run' % n, uri2, mod2))
    notes.append('1: devices pinned to %s after the first run: uri %d/%d, capgo_device_link %s/%d.'
                 % (LINK_CHANNEL, uri_linked, n, mod_linked if mod_linked is not None else 'n/a', n))
    if mod1 is None or not (mod1.ok and uri1.ok):
        targets.append(Target('Bulk link N=%d: >= 20x faster than uri, first run' % n, None, 'not measured'))
    else:
        ratio = uri1.seconds / mod1.seconds
        targets.append(Target('Bulk link N=%d: >= 20x faster than uri, first run' % n,
                              ratio >= 20 and mod_linked == n,
                              '%.1fx (%.2f s vs %.2f s); %d/%d devices pinned' % (ratio, uri1.seconds, mod1.seconds, mod_linked, n)))
    if mod2 is None or not mod2.ok:
        targets.append(Target('Bulk link N=%d: zero writes on the second run' % n, None, 'not measured'))
    else:
        targets.append(Target('Bulk link N=%d: zero writes on the second run' % n, mod2.writes == 0,
                              '%d writes, %d reads' % (mod2.writes, mod2.reads)))
        limit = device_list_limit()
        bound = int(math.ceil(n / float(limit))) + 1
        reads = device_reads(mod2)
        targets.append(Target('Unchanged bulk set, app holds N=%d devices in all: device reads <= ceil(N/%d)+1 = %d' % (n, limit, bound),
                              reads['all'] <= bound and mod2.requests <= bound,
                              '%d GET /device (%d list pages, %d single reads); %d requests in all'
                              % (reads['all'], reads['list'], reads['single'], mod2.requests)))


def scenario_sparse(sim, ansible, have, rows, targets, notes):
    total, k = SPARSE['app_devices'], SPARSE['linked']
    # Spread over the whole id range, as real (random) device ids are: no page of the list holds two of them.
    ids = ['device-%06d' % (total * (i + 1) // k) for i in range(k)]
    seed = {'generate': {'app_id': APP_ID, 'devices': total},
            'channels': [{'app_id': APP_ID, 'name': LINK_CHANNEL}],
            'overrides': [{'app_id': APP_ID, 'device_id': d, 'channel': LINK_CHANNEL} for d in ids]}
    extra = {'bench_device_ids': ids, 'bench_channel': LINK_CHANNEL}
    print('1c. %d already-pinned devices in an app with %d devices' % (k, total))
    sim.fresh(seed)
    uri = ansible.run('1c uri link unchanged, sparse', 'uri_device_link.yml', extra)
    mod = None
    if have('capgo_device_link'):
        mod = ansible.run('1c capgo_device_link unchanged, sparse', 'module_device_link.yml', extra)
    rows.append(Row('1c %d pinned of %d devices, unchanged' % (k, total), uri, mod))
    name = 'Unchanged bulk set of N=%d spread over an app with %d devices: no more than N device reads' % (k, total)
    if mod is None or not mod.ok:
        targets.append(Target(name, None, 'not measured'))
    else:
        reads = device_reads(mod)
        passed = reads['all'] <= k and mod.writes == 0
        detail = ('%d GET /device (%d list pages, %d single reads), plus %d other requests, %d writes'
                  % (reads['all'], reads['list'], reads['single'], mod.requests - reads['all'], mod.writes))
        if not passed and reads['all'] > k:
            detail += ('; MISS because capgo_device_link reads %d list page(s) before it knows the app is large, then '
                       'switches to single reads (plugins/module_utils/devices.py): avoiding the probe page would need '
                       "the app's device count in advance, which the API does not give" % reads['list'])
        targets.append(Target(name, passed, detail))


def scenario_channels(sim, ansible, have, rows, targets, notes):
    names = ['conv-%02d' % i for i in range(1, 21)]
    seed = {'channels': [{'app_id': APP_ID, 'name': name} for name in names]}
    extra = {'bench_channels': names, 'bench_settings': CHANNEL_SETTINGS}
    print('2. converge the settings of %d channels' % len(names))
    sim.fresh(seed)
    uri1 = ansible.run('2 uri channels first run', 'uri_channels.yml', extra)
    uri2 = ansible.run('2 uri channels second run', 'uri_channels.yml', extra)
    mod1 = mod2 = None
    if have('capgo_channel'):
        sim.fresh(seed)
        mod1 = ansible.run('2 capgo_channel loop first run', 'module_channels.yml', extra)
        state = [c for c in sim.state()['channels'] if c['app_id'] == APP_ID and c['name'] in names]
        converged = sum(1 for c in state if c['disable_auto_update'] == 'minor' and not c['allow_emulator'] and not c['allow_dev'])
        per = (float(mod1.reads) / len(names), float(mod1.writes) / len(names))
        notes.append('2: channels converged by capgo_channel: %d/%d, with %.1f reads and %.1f writes per changed channel '
                     '(the uri playbook: 1 and 1)%s.'
                     % (converged, len(names), per[0], per[1],
                        '; the extra read is capgo_channel reading the channel back after its write, to return it '
                        '(plugins/modules/capgo_channel.py run_module)' if per[0] > 1 else ''))
        mod2 = ansible.run('2 capgo_channel loop second run', 'module_channels.yml', extra)
    rows.append(Row('2a converge 20 channels, first run', uri1, mod1))
    rows.append(Row('2b converge 20 channels, second run', uri2, mod2))
    if mod2 is not None and mod2.ok:
        targets.append(Target('Unchanged resource: exactly one request per capgo_channel task (20 tasks)',
                              mod2.requests == len(names) and mod2.writes == 0,
                              '%d requests, %d writes' % (mod2.requests, mod2.writes)))


def scenario_read_all(sim, ansible, have, rows, targets, notes):
    seed = {'generate': dict(READ_ALL, app_id=APP_ID)}
    print('3. read everything of an app with %(channels)d channels, %(devices)d devices, %(bundles)d bundles' % READ_ALL)
    sim.fresh(seed)
    uri = ansible.run('3 uri naive paging', 'uri_read_all.yml')
    mod = ansible.run('3 capgo_info', 'module_read_all.yml') if have('capgo_info') else None
    rows.append(Row('3 read 1234 channels, 3000 devices, 300 bundles', uri, mod))
    dup_text = 'n/a'
    if uri.ok and uri.report:
        r = uri.report
        dups = dict((kind, r[kind] - r[kind + '_unique']) for kind in ('channels', 'devices', 'bundles'))
        dup_text = ('%d duplicates (channels %d returned for %d unique, devices %d for %d, bundles %d for %d)'
                    % (sum(dups.values()), r['channels'], r['channels_unique'], r['devices'], r['devices_unique'],
                       r['bundles'], r['bundles_unique']))
        notes.append('3: naive uri paging (page=0,1,2,... until a short page) returned %s. The server computes the '
                     'window of a query-string page N >= 1 as rows 50N .. (10N+1)*50-1 (string concatenation, '
                     'capped at 1000 rows), so pages overlap.' % dup_text)
    if mod is None or not mod.ok or not mod.report:
        targets.append(Target('capgo_info: every item exactly once', None, 'not measured'))
        targets.append(Target('capgo_info: <= 1/4 of the requests of naive paging', None, 'not measured'))
        return
    r = mod.report
    exact = all(r[kind] == r[kind + '_unique'] == READ_ALL[kind] for kind in READ_ALL)
    targets.append(Target('capgo_info: every item exactly once', exact,
                          'channels %d/%d, devices %d/%d, bundles %d/%d, no duplicates' % (
                              r['channels'], READ_ALL['channels'], r['devices'], READ_ALL['devices'],
                              r['bundles'], READ_ALL['bundles']) if exact else json.dumps(r)))
    targets.append(Target('capgo_info: <= 1/4 of the requests of naive paging', mod.requests * 4 <= uri.requests,
                          '%d vs %d requests (%.1fx fewer); naive paging returned %s'
                          % (mod.requests, uri.requests, float(uri.requests) / max(mod.requests, 1), dup_text)))


def scenario_overhead(sim, ansible, have, tasks, repeat, rows, targets, notes):
    seed = {'channels': [{'app_id': APP_ID, 'name': LINK_CHANNEL}],
            'devices': [{'app_id': APP_ID, 'device_id': 'steady-device', 'platform': 'ios', 'version_name': '1.0.0'}],
            'overrides': [{'app_id': APP_ID, 'device_id': 'steady-device', 'channel': LINK_CHANNEL}],
            'bundles': [dict(OVERHEAD_BUNDLE, app_id=APP_ID, name=OVERHEAD_BUNDLE['version'])]}
    seed['bundles'][0].pop('version')
    extra = {'bench_task_count': tasks, 'bench_channel': LINK_CHANNEL, 'bench_device_id': 'steady-device',
             'bench_bundle': OVERHEAD_BUNDLE}
    print('4. per-task overhead, %d tasks each, unchanged resources (best of %d interleaved rounds)' % (tasks, repeat))
    sim.fresh(seed)
    plays = [('empty', 'overhead_empty.yml'), ('ansible.builtin.ping', 'overhead_ping.yml'),
             ('ansible.builtin.uri', 'overhead_uri.yml')]
    plays += [(m, 'overhead_%s.yml' % m) for m in OVERHEAD_MODULES if have(m)]
    best = {}
    for round_no in range(1, repeat + 1):
        for name, playbook in plays:
            run = ansible.run('4 %s x%d, round %d' % (name, tasks if name != 'empty' else 0, round_no), playbook, extra)
            if name not in best or (run.ok and (not best[name].ok or run.seconds < best[name].seconds)):
                best[name] = run
    empty, ping, uri = best['empty'], best['ansible.builtin.ping'], best['ansible.builtin.uri']
    ping_per_task = (ping.seconds - empty.seconds) / tasks
    uri_per_task = (uri.seconds - empty.seconds) / tasks if uri.ok else None
    for module in OVERHEAD_MODULES:
        run = best.get(module)
        mod_per_task = (run.seconds - empty.seconds) / tasks if run is not None and run.ok else None
        uri_row = Row('4 %s x%d vs uri GET, unchanged' % (module, tasks), uri, run, kind='overhead', anchor='uri')
        uri_row.base_value, uri_row.mod_value = uri_per_task, mod_per_task
        rows.append(uri_row)
        uri_name = 'Per-task cost of %s on an unchanged resource no more than one ansible.builtin.uri GET' % module
        if uri_row.ratio is None:
            targets.append(Target(uri_name, None, 'not measured'))
        else:
            targets.append(Target(uri_name, uri_row.ratio <= 1.0, '%.3f s vs %.3f s per task (%.2fx uri)'
                                  % (mod_per_task, uri_per_task, uri_row.ratio)))
        row = Row('4 %s x%d vs ping, unchanged' % (module, tasks), ping, run, kind='overhead')
        row.base_value = ping_per_task
        row.mod_value = mod_per_task
        rows.append(row)
        name = 'Per-task overhead of %s within 1.5x of ansible.builtin.ping' % module
        if row.ratio is None:
            targets.append(Target(name, None, 'not measured'))
        else:
            targets.append(Target(name, row.ratio <= 1.5, '%.3f s vs %.3f s per task (%.2fx); %d requests, %d writes'
                                  % (row.mod_value, ping_per_task, row.ratio, run.requests, run.writes)))
        if module == 'capgo_channel' and run is not None and run.ok:
            targets.append(Target('Unchanged resource: exactly one request per capgo_channel task (%d tasks)' % tasks,
                                  run.requests == tasks and run.writes == 0, '%d requests, %d writes' % (run.requests, run.writes)))
    notes.append('4: the empty play took %.2f s and is subtracted before dividing by %d tasks.' % (empty.seconds, tasks))
    over = [t for t in targets if t.name.startswith('Per-task') and t.passed is False]
    if over:
        costs = import_costs(ansible.python)
        base = costs['ansible.module_utils.basic']
        notes.append(
            '4: where a per-task target is missed, the module process start is what costs: best of 10 fresh '
            'interpreters, `import ansible.module_utils.basic` (all that ping needs) %.3f s, plus `requests` '
            '(the client\'s HTTP layer) %.3f s (+%.3f s); stdlib `http.client, ssl` alone would be %.3f s '
            '(+%.3f s). The per-task gap to ping is %s.'
            % (base, costs['requests'], costs['requests'] - base, costs['http.client, ssl'],
               costs['http.client, ssl'] - base,
               ', '.join('%.3f s for %s' % (r.mod_value - r.base_value, r.name.split()[1]) for r in rows
                         if r.kind == 'overhead' and r.anchor == 'ping' and r.ratio is not None)))


def import_costs(python, rounds=10):
    """Best-of-N wall time of a fresh interpreter importing what a module task imports."""
    statements = {
        'ansible.module_utils.basic': 'import ansible.module_utils.basic',
        'requests': 'import ansible.module_utils.basic, requests',
        'http.client, ssl': 'import ansible.module_utils.basic, http.client, ssl',
    }
    costs = {}
    for name, statement in statements.items():
        best = None
        for dummy in range(rounds):
            start = time.perf_counter()
            subprocess.run([python, '-c', statement], check=True)
            elapsed = time.perf_counter() - start
            best = elapsed if best is None else min(best, elapsed)
        costs[name] = best
    return costs


# -- main ------------------------------------------------------------------------------------------

def collections_path_for_run(tmp):
    """ANSIBLE_COLLECTIONS_PATH from the environment (make bench: the installed tarball), else a
    symlink to this working tree."""
    path = os.environ.get('ANSIBLE_COLLECTIONS_PATH')
    if path:
        return path, 'ANSIBLE_COLLECTIONS_PATH=%s' % path
    link_parent = os.path.join(tmp, 'ansible_collections', 'capgo')
    os.makedirs(link_parent)
    os.symlink(ROOT, os.path.join(link_parent, 'cloud'))
    return tmp, 'the working tree %s' % ROOT


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', 1)[0])
    parser.add_argument('--devices', type=int, default=int(os.environ.get('N') or 200),
                        help='N, the devices linked in scenario 1 (default 200, or $N as in make bench N=...)')
    parser.add_argument('--tasks', type=int, default=20, help='tasks per module in scenario 4 (default 20)')
    parser.add_argument('--repeat', type=int, default=2,
                        help='rounds of scenario 4, the best of which counts (default 2; it is the noise-sensitive one)')
    parser.add_argument('--scenarios', default='1,2,3,4', help='comma-separated subset of 1,2,3,4')
    parser.add_argument('--profile', default='current', choices=('current', 'classic'), help='simulator API profile')
    parser.add_argument('--results', default=RESULTS_MD, help='where to write the markdown results ("-" for nowhere)')
    parser.add_argument('--strict', action='store_true', help='exit 1 when a target is missed')
    args = parser.parse_args(argv)
    if args.devices < 1 or args.tasks < 1 or args.repeat < 1:
        parser.error('--devices, --tasks and --repeat must be positive')
    return args


def main(argv=None):
    args = parse_args(argv)
    wanted = set(s.strip() for s in args.scenarios.split(',') if s.strip())
    started = time.perf_counter()
    tmp = tempfile.mkdtemp(prefix='capgo-bench-acl-')
    collections_path, collection_source = collections_path_for_run(tmp)
    sim = Sim(args.profile)
    ansible = Ansible(sim, collections_path)
    rows, targets, notes = [], [], []
    missing = [m for m in OVERHEAD_MODULES if not module_available(collections_path, m)]

    def have(module):
        return module not in missing

    load_before = os.getloadavg()
    config = sim.config()
    shown = dict((k, config[k]) for k in SIM_CONFIG)
    print('capgo.cloud benchmark: %s, collection from %s' % (ansible.version, collection_source))
    print('simulator profile %s, the same rate limits for both sides: %s' % (args.profile, json.dumps(shown, sort_keys=True)))
    if missing:
        print('modules not built yet (their rows read n/a): %s' % ', '.join(missing))
    try:
        if '1' in wanted:
            scenario_link(sim, ansible, args.devices, have, rows, targets, notes)
            scenario_sparse(sim, ansible, have, rows, targets, notes)
        if '2' in wanted:
            scenario_channels(sim, ansible, have, rows, targets, notes)
        if '3' in wanted:
            scenario_read_all(sim, ansible, have, rows, targets, notes)
        if '4' in wanted:
            scenario_overhead(sim, ansible, have, args.tasks, args.repeat, rows, targets, notes)
    finally:
        sim.stop()
        ansible.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    elapsed = time.perf_counter() - started
    load = (load_before[0], os.getloadavg()[0], ansible.peak_load)

    summary = summary_line(rows, targets)
    print()
    print(table_text(rows))
    print()
    for target in targets:
        print('%-4s %s: %s' % (target.verdict, target.name, target.detail))
    for note in notes:
        print('note ' + note)
    print()
    print('whole benchmark: %.0f s; 1-minute load average %.1f at the start, %.1f at the end, %.1f at most after a run (%d cores)'
          % (elapsed, load[0], load[1], load[2], os.cpu_count()))
    print(summary)

    if args.results != '-':
        write_results(args, rows, targets, notes, summary, ansible.version, shown, collection_source, elapsed, missing, load)
    failed_runs = [r for row in rows for r in (row.base, row.mod) if r is not None and not r.ok]
    if failed_runs:
        return 2
    if args.strict and any(t.passed is False for t in targets):
        return 1
    return 0


def geomean(values):
    values = [v for v in values if v]
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def summary_line(rows, targets=()):
    speed = [r.ratio for r in rows if r.kind == 'speedup' and r.ratio]
    reqs = [float(r.base.requests) / r.mod.requests for r in rows if r.kind == 'speedup' and r.ok and r.mod.requests]
    over = [r.ratio for r in rows if r.kind == 'overhead' and r.anchor == 'ping' and r.ratio]
    over_uri = [r.ratio for r in rows if r.kind == 'overhead' and r.anchor == 'uri' and r.ratio]
    parts = []
    if speed:
        parts.append('capgo.cloud vs uri: %.1fx faster (geometric mean of %d rows, %.1fx-%.1fx)'
                     % (geomean(speed), len(speed), min(speed), max(speed)))
    if reqs:
        parts.append('%.1fx fewer requests (geometric mean)' % geomean(reqs))
    if over:
        parts.append('module task %.2fx-%.2fx the cost of ansible.builtin.ping' % (min(over), max(over)))
    if over_uri:
        parts.append('%.2fx-%.2fx the cost of one ansible.builtin.uri GET' % (min(over_uri), max(over_uri)))
    missed = [t for t in targets if t.passed is False]
    measured = [t for t in targets if t.passed is not None]
    if measured:
        parts.append('targets: %d of %d met%s' % (len(measured) - len(missed), len(measured),
                                                  (', MISSED: ' + ' | '.join(t.name for t in missed)) if missed else ''))
    return 'SUMMARY: ' + ('; '.join(parts) if parts else 'nothing measured')


def write_results(args, rows, targets, notes, summary, version, config, collection_source, elapsed, missing, load):
    cores = os.cpu_count()
    lines = [
        '# capgo.cloud benchmarks',
        '',
        'Written by `benchmarks/run.py` (`make bench`); do not edit by hand. Benchmarks measure, they never fail a test.',
        '',
        '- Command: `make bench N=%d` (`python benchmarks/run.py --devices %d --tasks %d --profile %s`)'
        % (args.devices, args.devices, args.tasks, args.profile),
        '- Date: %s' % datetime.datetime.utcnow().strftime('%Y-%m-%d %H:%M UTC'),
        '- Machine: %d cores, %s, Python %s, %s' % (cores, platform.platform(terse=True), platform.python_version(), version),
        '- Collection: %s' % collection_source,
        '- Simulator: `tests/simulator` profile `%s`, in-process on 127.0.0.1, the same rate limits for both sides '
        '(those of api.capgo.app): `%s`' % (args.profile, json.dumps(config, sort_keys=True)),
        '- Whole run: %.0f s; 1-minute load average %.1f at the start, %.1f at the end, %.1f at most after a run. Other '
        'work on the machine slows both sides of a row alike but adds noise, most to the per-task rows.' % (elapsed, load[0], load[1], load[2]),
        '',
        'Times are wall seconds of the whole `ansible-playbook` run (startup included), requests come from the '
        "simulator's request log (reads = GET, writes = POST/PUT/DELETE). The baseline is the hand-written "
        '`ansible.builtin.uri` playbook in `benchmarks/playbooks/uri_*.yml`; for the per-task rows it is one '
        '`ansible.builtin.uri` GET of the channel (what a user would run instead) and `ansible.builtin.ping` (the floor), '
        'and both sides are (run time - empty play) / tasks.',
        '',
        table_md(rows),
        '',
        '**%s**' % summary,
        '',
        '## Targets',
        '',
    ]
    for target in targets:
        lines.append('- **%s** %s: %s' % (target.verdict, target.name, target.detail))
    if missing:
        lines.append('- Modules not built when this ran: %s' % ', '.join(missing))
    lines += ['', '## Notes', '']
    lines += ['- ' + note for note in notes]
    lines += [
        '',
        '## What each scenario runs',
        '',
        '1. `uri_device_link.yml` (GET /device per device, then POST /device where the override differs) vs one '
        '`capgo_device_link` task with `device_ids`; first run on devices without an override, second run unchanged. '
        '1c: %d devices already pinned, in an app with %d checked-in devices.' % (SPARSE['linked'], SPARSE['app_devices']),
        '2. `uri_channels.yml` (GET /channel?channel=X, POST /channel where a setting differs) vs `capgo_channel` in a '
        'loop over 20 channels whose settings all differ; then the same again, unchanged.',
        '3. `uri_read_all.yml` (channels and bundles by page=0,1,2,... until a short or empty page, devices by cursor '
        'with the default limit) vs one `capgo_info` task.',
        '4. 20 tasks of each module on an unchanged resource vs 20 `ansible.builtin.ping` tasks and vs 20 `ansible.builtin.uri` GETs of the channel.',
        '',
    ]
    with open(args.results, 'w') as handle:
        handle.write('\n'.join(lines))
    print('wrote %s' % os.path.relpath(args.results, ROOT))


if __name__ == '__main__':
    sys.exit(main())
