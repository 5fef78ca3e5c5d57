# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Devices and their overrides: reading /device in pages the API can answer, a pool of workers, and the only
place that writes /device (POST sets an override, DELETE removes it).

Reading: one device is one ``GET /device?device_id=``.  Many devices are first looked for in the cursor list
of the app's devices, in pages of at most DEVICE_LIST_LIMIT devices: Capgo reads a page's overrides with one
query that carries every id of the page in its URL and ignores that query's error, so a page whose ids make the
URL too long comes back with no ``channel`` at all (capgo-api.md 12.2 #4).  The walk stops as soon as every
wanted device was seen, or as soon as the pages stop paying for themselves.  Whatever is still missing, or sat
on a page whose overrides may have been lost, is read one by one.  Only a list the server said was complete
proves that a device missing from it never checked in; a cursor handed out twice means "incomplete".

Writing: a pool of worker threads; each thread keeps one client (a ``clone()`` of the module's, so one
requests Session per thread, and the shared stats) for the whole task, reads and writes alike.  A gate pauses
every worker when the API rate-limits the key or the address rather than one device.  Every write goes
through ``client.write`` / ``client.delete`` with a read-back that decides a write whose answer was lost.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import random
import re
import threading
import time

from ansible_collections.capgo.cloud.plugins.module_utils.client import (
    AUTH_BLOCK_REASON,
    MAX_BACKOFF,
    CapgoClient,
    CapgoError,
    CapgoInputError,
    parse_retry_after,
)
from ansible_collections.capgo.cloud.plugins.module_utils.engine import Plan

try:
    from urllib.parse import quote
except ImportError:  # pragma: no cover - Python 2
    from urllib import quote

try:
    from concurrent.futures import ThreadPoolExecutor
except ImportError:  # pragma: no cover - Python 2 has no concurrent.futures; modules target Python 3
    ThreadPoolExecutor = None

# Devices per override-reading list page (capgo-api.md 12.2 #4: pages of more than about 150 UUIDs are not safe).
DEVICE_LIST_LIMIT = 100
# Characters of device ids (as the override lookup's URL spells them) a page may carry and still be trusted:
# gateways refuse request lines above 8 KiB; 100 UUIDs take about 4,500.
OVERRIDE_LOOKUP_BUDGET = 6144
# classic's cursor and its devices' updated_at: a second, without 'T' or zone (capgo-api.md 11.1 #4)
CLASSIC_CURSOR_RE = re.compile(r'^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\|')
RAW_STAMP_RE = re.compile(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$')
DEFAULT_WORKERS = 8
# A 429 without Retry-After (the classic API sends none) waits 2, 4, 8, 16, 30 s.
RATE_LIMIT_BACKOFF_BASE = 2.0
# A 429 naming one device that asks for more than this is Capgo's 60-second same-channel window, not the
# per-device operations-per-second limit.
PER_SECOND_LIMIT_WAIT = 1.0
# How many unverified devices a warning names before it says "and N more".
WARN_LIST_MAX = 50


def normalize_device(item):
    """A GET /device item in the option names of capgo.cloud.capgo_device_link, plus what the device reported."""
    return dict(
        device_id=(item.get('device_id') or '').lower(),
        channel=item.get('channel') or None,
        custom_id=item.get('custom_id') or None,
        platform=item.get('platform'),
        bundle=item.get('version_name'),
        native_version=item.get('version_build'),
        is_prod=item.get('is_prod'),
        is_emulator=item.get('is_emulator'),
        os_version=item.get('os_version'),
        plugin_version=item.get('plugin_version'),
        updated_at=item.get('updated_at'),
    )


# -- reading -----------------------------------------------------------------------------------

def get_device(client, app_id, device_id):
    """One device's GET /device item, or None when the device never checked in (404 device_not_found)."""
    body = client.request('GET', '/device', params=dict(app_id=app_id, device_id=device_id.lower()),
                          ok_errors=('device_not_found',))
    if isinstance(body, dict) and body.get('error') == 'device_not_found':
        return None
    return body


def override_lookup_cost(device_ids):
    """Characters the ids take in the URL of Capgo's override lookup (``device_id=in.("a","b")``, URL-encoded)."""
    return sum(len(quote('"%s"' % device_id, safe='')) + 3 for device_id in device_ids)


# What one UUID device id adds to the override lookup's URL.
UUID_LOOKUP_COST = override_lookup_cost(['0' * 36])


def _page_may_have_lost_overrides(items):
    """A page whose override lookup may have failed: its ids exceed the safe URL size and it shows no override.

    The lookup fails for the whole page or not at all, so one ``channel`` on the page proves it worked.
    """
    if any(isinstance(item, dict) and item.get('channel') for item in items):
        return False
    ids = [str(item.get('device_id') or '') for item in items if isinstance(item, dict)]
    return override_lookup_cost(ids) > OVERRIDE_LOOKUP_BUDGET


def _classic_last_second(page):
    """The second of a page's last device when the page is classic's (raw stamps, newest first); None otherwise.

    The current API spells updated_at in ISO form and orders by device id, so its pages never qualify."""
    seconds = [item.get('updated_at') if isinstance(item, dict) else None for item in page]
    if not seconds or not all(isinstance(stamp, str) and RAW_STAMP_RE.match(stamp) for stamp in seconds):
        return None
    if any(earlier < later for earlier, later in zip(seconds, seconds[1:])):
        return None
    return seconds[-1]


class _PageWatch(object):
    """Follows a cursor walk page by page (get_cursor's ``on_page``, ``stop`` and ``resume``).

    It finds the devices that came on a page whose overrides are suspect, and it mends classic's cursor: classic
    orders by updated_at (finer than a second) but its cursor keeps only the second and the last device's id, so
    the devices of that second that come later and have a lower id are skipped (capgo-api.md 11.1 #4).  After
    such a page the walk asks again from the start of that second, with the page enlarged by the devices of that
    second already seen, so each page still brings ``limit`` new devices.  ``complete_ties`` False keeps pages
    within the override lookup's budget instead (read_states reads every wanted device it did not see anyway).
    """

    def __init__(self, limit, stop=None, complete_ties=True):
        self.suspect = set()
        self._limit = limit
        self._stop = stop
        self._complete_ties = complete_ties

    def on_page(self, page, fresh):
        if _page_may_have_lost_overrides(page):
            self.suspect.update((item.get('device_id') or '').lower() for item in fresh if isinstance(item, dict))

    def stop(self, items):
        return bool(self._stop(items)) if self._stop is not None else False

    def resume(self, page, items, cursor):
        match = CLASSIC_CURSOR_RE.match(cursor) if isinstance(cursor, str) else None
        second = match.group(1) if match is not None else None
        if second is None or _classic_last_second(page) != second:
            return None
        known = [str(item.get('device_id') or '') for item in items if isinstance(item, dict) and item.get('updated_at') == second]
        # the enlarged page: the devices of that second already seen, then `limit` new ones (sized as UUIDs)
        if not self._complete_ties and override_lookup_cost(known) + self._limit * UUID_LOOKUP_COST > OVERRIDE_LOOKUP_BUDGET:
            return None
        # device_id > '' holds for every device of that second
        return '%s|' % second, len(known) + self._limit


def _walk(client, app_id, limit, stop=None, complete_ties=True):
    """(items, complete, suspect ids): the cursor list of the app's devices."""
    watch = _PageWatch(limit, stop, complete_ties)
    items, complete = client.get_cursor('/device', dict(app_id=app_id), limit=limit, key='device_id', stop=watch.stop,
                                        on_page=watch.on_page, resume=watch.resume)
    return items, complete, watch.suspect


def list_devices(client, app_id, limit=DEVICE_LIST_LIMIT, stop=None):
    """(devices, complete): every device of the app, each with its override as ``channel``.

    ``complete`` is False when the walk ended before the server said the list ended (``stop(items)`` returned
    True, or the server handed out a cursor twice).  A page whose overrides may have been lost (see
    _page_may_have_lost_overrides) has its devices read again one by one.
    """
    items, complete, suspect = _walk(client, app_id, limit, stop)
    if suspect:
        again = []
        for item in items:
            device_id = (item.get('device_id') or '').lower() if isinstance(item, dict) else ''
            if device_id in suspect:
                item = get_device(client, app_id, device_id) or item
            again.append(item)
        items = again
    return items, complete


class DeviceState(object):
    """What is known about one device's override: ``verified`` False when the API cannot show the device."""

    def __init__(self, device_id, verified, channel):
        self.device_id = device_id
        self.verified = verified
        self.channel = channel

    def __eq__(self, other):
        return isinstance(other, DeviceState) and (self.device_id, self.verified, self.channel) == \
            (other.device_id, other.verified, other.channel)

    def __ne__(self, other):
        return not self == other

    def __repr__(self):
        return 'DeviceState(%r, verified=%r, channel=%r)' % (self.device_id, self.verified, self.channel)


def _single_state(client, app_id, device_id):
    item = get_device(client, app_id, device_id)
    if item is None:
        return DeviceState(device_id, False, None)
    return DeviceState(device_id, True, normalize_device(item)['channel'])


def read_states(client, pool, app_id, device_ids, page_size=DEVICE_LIST_LIMIT):
    """{device_id: DeviceState} for every (lower-cased, unique) id of ``device_ids``.

    Cost: with one device, one request.  With more, list pages while they pay off, then single reads (through the
    pool) for the rest: when the app holds about as many devices as are wanted, ceil(devices / page_size) list pages
    and no single read; when it holds far more, at most one list page more than the wanted devices found on the
    pages read, so never more than len(device_ids) + 1 requests, plus one single read per device that sat on a
    page whose overrides may have been lost and per device no page showed.  A failed read raises.
    """
    states = {}
    wanted = list(device_ids)
    if len(wanted) > 1:
        wanted_set = set(wanted)
        found = set()
        scanned = [0]
        pages = [0]

        def stop(items):
            # called after each page that has a successor, with every item seen so far
            pages[0] += 1
            for item in items[scanned[0]:]:
                device_id = (item.get('device_id') or '').lower() if isinstance(item, dict) else ''
                if device_id in wanted_set:
                    found.add(device_id)
            scanned[0] = len(items)
            if len(found) == len(wanted_set):
                return True
            # the next page pays off only if the pages read so far each found at least one wanted device
            return pages[0] > len(found)

        items, complete, suspect = _walk(client, app_id, page_size, stop, complete_ties=False)
        for item in items:
            device = normalize_device(item)
            device_id = device['device_id']
            if device_id in wanted_set and device_id not in states and device_id not in suspect:
                states[device_id] = DeviceState(device_id, True, device['channel'])
        # A wanted device the list did not show is read on its own even when the list said it ended: a failed
        # list query answers 200 with no devices (capgo-api.md 11 #6), and classic's cursor skips devices that
        # share the cursor's second (11 #4), so absence from a list proves nothing.
    missing = [device_id for device_id in wanted if device_id not in states]
    for device_id, state, error in pool.run(lambda worker, device_id: _single_state(worker, app_id, device_id), missing):
        if error is not None:
            raise error
        states[device_id] = state
    return states


# -- the worker pool ---------------------------------------------------------------------------

def rate_limit_backoff(attempt):
    """Wait before retry ``attempt`` after a 429 that did not say how long to wait."""
    delay = min(MAX_BACKOFF, RATE_LIMIT_BACKOFF_BASE * (2 ** (attempt - 1)))
    return delay * (1.0 + random.random() * 0.25)


class RateGate(object):
    """A time before which no worker sends anything; any worker can push it later, never earlier."""

    def __init__(self, sleep=time.sleep, clock=time.time):
        self._lock = threading.Lock()
        self._until = 0.0
        self._sleep = sleep
        self._clock = clock

    def hold(self, seconds):
        with self._lock:
            self._until = max(self._until, self._clock() + max(0.0, seconds))

    def remaining(self):
        with self._lock:
            return self._until - self._clock()

    def wait(self):
        """Sleep until the gate opens; a hold pushed later while sleeping means sleeping again."""
        while True:
            with self._lock:
                until = self._until
                remaining = until - self._clock()
            if remaining <= 0:
                return
            self._sleep(remaining)
            with self._lock:
                if self._until <= until:
                    return


def classify_429(body):
    """What a 429 of /device limits: 'wide' (the key or the address), 'device' (one device, per second),
    'window' (one device: the 60-second same-channel window), 'unknown' (the answer does not say: classic), or
    'auth_block' (the failed-login block, which the client fails at once)."""
    more_info = body.get('moreInfo') if isinstance(body, dict) else None
    if not isinstance(more_info, dict) or not more_info:
        return 'unknown'
    if more_info.get('reason') == AUTH_BLOCK_REASON:
        return 'auth_block'
    if more_info.get('reason') or not more_info.get('device_id'):
        return 'wide'
    wait = more_info.get('retryAfterSeconds')
    if isinstance(wait, (int, float)) and not isinstance(wait, bool) and wait > PER_SECOND_LIMIT_WAIT:
        return 'window'
    return 'device'


class SameChannelWindow(CapgoError):
    """POST /device refused with a 429 that may be Capgo's 60-second same-channel window (capgo-api.md 11.2 #3).

    Raised at once instead of waiting the window out: the caller reads the device to decide what it means.
    """

    def __init__(self, problem, retry_after):
        super(SameChannelWindow, self).__init__(
            problem.message, method=problem.method, path=problem.path, status=problem.status, error=problem.error,
            api_message=problem.api_message, more_info=problem.more_info)
        self.retry_after = retry_after


class WorkerClient(CapgoClient):
    """A client that passes a shared rate gate before each request and tells /device's 429s apart.

    A 429 that limits the whole key or address holds the gate for every worker; a 429 on POST /device that may
    be the same-channel window raises SameChannelWindow at once; a 429 without Retry-After waits longer than the
    ordinary backoff (2, 4, 8, 16, 30 s).
    """

    def __init__(self, *args, **kwargs):
        self.gate = kwargs.pop('gate', None)
        super(WorkerClient, self).__init__(*args, **kwargs)
        self.limited = 0  # 429 answers this client met

    @classmethod
    def adopt(cls, client, gate):
        """A WorkerClient on ``client``'s Session and stats (for the calling thread)."""
        return cls(client.api_key, api_url=client.api_url, validate_certs=client.validate_certs, timeout=client.timeout,
                   retries=client.retries, retry_budget=client.retry_budget, sleep=client.sleep, stats=client.stats,
                   session=client.session, gate=gate)

    def clone(self):
        worker = super(WorkerClient, self).clone()
        worker.gate = self.gate
        return worker

    def _send_once(self, method, path, params, json_body):
        if self.gate is not None:
            self.gate.wait()
        response, readable = super(WorkerClient, self)._send_once(method, path, params, json_body)
        if response.status == 429:
            self.limited += 1
            kind = classify_429(response.body)
            wait = parse_retry_after(response.headers, response.body)
            # A 429 that does not say what it limits (classic) may limit the whole key: every worker pauses, also
            # when this one goes on to read the device for the same-channel window.
            if kind in ('wide', 'unknown') and self.gate is not None:
                self.gate.hold(wait if wait is not None else RATE_LIMIT_BACKOFF_BASE)
            if method == 'POST' and path == '/device' and kind in ('window', 'unknown'):
                raise SameChannelWindow(CapgoError.from_response(method, path, 429, response.body), wait)
        return response, readable

    def retry_delay(self, attempt, retry_after, status):
        if retry_after is None and status == 429:
            return rate_limit_backoff(attempt)
        return super(WorkerClient, self).retry_delay(attempt, retry_after, status)


class DevicePool(object):
    """Runs ``function(client, item)`` for many items on at most ``workers`` threads.

    The threads live as long as the pool (one task), and each keeps one clone of the client for all its calls,
    so reads and writes of a task share one Session per thread.  ``client`` is the calling thread's own gated
    client (same Session as the module's).  Every exception of a call is returned with its item, so one
    failing device never loses the others' outcomes.
    """

    def __init__(self, client, workers=DEFAULT_WORKERS):
        self.gate = RateGate(sleep=client.sleep)
        self.client = WorkerClient.adopt(client, self.gate)
        self.workers = max(1, int(workers))
        self._local = threading.local()
        self._clients = []
        self._lock = threading.Lock()
        self._executor = None

    def _worker(self):
        client = getattr(self._local, 'client', None)
        if client is None:
            client = self.client.clone()
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def _call(self, function, item, client=None):
        try:
            return item, function(client or self._worker(), item), None
        except Exception as exc:  # pylint: disable=broad-except
            return item, None, exc

    def run(self, function, items):
        """[(item, result, error)] in the order of ``items``."""
        items = list(items)
        if not items:
            return []
        if self.workers == 1 or len(items) == 1 or ThreadPoolExecutor is None:
            return [self._call(function, item, self.client) for item in items]
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=self.workers)
        return list(self._executor.map(lambda item: self._call(function, item), items))

    @property
    def sessions(self):
        """The worker clients made so far (one per worker thread)."""
        with self._lock:
            return list(self._clients)

    def close(self):
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        for client in self.sessions:
            client.close()


# -- writing /device: the only POST and DELETE of /device ----------------------------------------

def _override_holds(client, app_id, device_id, channel):
    """Read one device back: True when its override is ``channel`` (None: released), False when not, None when the
    device never checked in, so the API cannot show its override."""
    item = get_device(client, app_id, device_id)
    if item is None:
        return None
    return normalize_device(item)['channel'] == channel


class WriteOutcome(object):
    """How one device's write ended: ``held`` True when Capgo's same-channel window said the override was set in
    the last minute and the device cannot be read to show it."""

    def __init__(self, confirmed=False, held=False):
        self.confirmed = confirmed
        self.held = held


def set_override(client, app_id, device_id, channel):
    """POST /device: pin one device to ``channel``.

    POST /device is an upsert, so it is repeatable; a lost answer is decided by reading the device back.  A 429
    that may be Capgo's same-channel window (the device was set to this channel in the last 60 s, for example by
    the attempt whose answer was lost) is decided by a read as well: the override holds -> done; the device never
    checked in, so it cannot be read -> the window itself says the write already holds, and it is not waited out;
    the device shows another channel (or the read met a rate limit of the key) -> the refusal is real: wait as
    asked and send again.
    """
    body = dict(app_id=app_id, device_id=device_id, channel=channel)

    def confirm():
        return _override_holds(client, app_id, device_id, channel)

    waited = 0.0
    attempt = 0
    while True:
        try:
            answer = client.write('POST', '/device', json=body, confirm=confirm, repeatable=True)
            return WriteOutcome(confirmed=answer == {'confirmed': True})
        except SameChannelWindow as exc:
            limited = client.limited
            holds = confirm()
            if holds:
                client.stats.confirmed()
                return WriteOutcome(confirmed=True)
            if holds is None and client.limited == limited:
                return WriteOutcome(held=True)
            attempt += 1
            delay = exc.retry_after if exc.retry_after is not None else rate_limit_backoff(attempt)
            if attempt > client.retries or waited + delay > client.retry_budget:
                exc.message += (' (the device does not show the channel, so the refusal stands; gave up after %d '
                                'attempts in %d s of waiting)' % (attempt, round(waited)))
                raise exc
            client.sleep(delay)
            waited += delay
            client.stats.add_wait(delay, 'HTTP 429 rate limit')


def remove_override(client, app_id, device_id):
    """DELETE /device: release one device (idempotent: nothing to release is 200), every parameter in the body."""
    answer = client.delete('/device', dict(app_id=app_id, device_id=device_id),
                           confirm=lambda: _override_holds(client, app_id, device_id, None))
    return WriteOutcome(confirmed=answer == {'confirmed': True})


# -- the module's read, plan and write ---------------------------------------------------------

def wanted_device_ids(params):
    """The device ids to manage, lower-cased and unique, in the order given; CapgoInputError on bad input."""
    if params.get('device_id') is not None:
        raw = [params['device_id']]
    else:
        raw = params.get('device_ids')
        if not raw:
            raise CapgoInputError('device_ids must name at least one device')
    ids = []
    seen = set()
    for value in raw:
        if value is None or not str(value).strip():
            raise CapgoInputError('device ids must not be empty, got %r' % (value,))
        device_id = str(value).strip().lower()
        if device_id not in seen:
            seen.add(device_id)
            ids.append(device_id)
    return ids


def check_channel(client, app_id, name):
    """CapgoInputError unless the channel exists and may be the target of an override (one GET /channel)."""
    from ansible_collections.capgo.cloud.plugins.module_utils.channels import get_channel  # pylint: disable=import-outside-toplevel
    item = get_channel(client, app_id, name)
    if item is None:
        raise CapgoInputError('Channel %r does not exist in app %s: create it first (capgo.cloud.capgo_channel)' % (name, app_id))
    if item.get('public'):
        raise CapgoInputError(
            'Channel %r of app %s is public (a default channel): Capgo only allows device overrides to non-public '
            'channels. Devices without an override already get the default channel; use state=absent to return a '
            'device to it.' % (name, app_id))


def read(module, workers=DEFAULT_WORKERS):
    """GETs only: checks the input, the target channel (state=present), and every device's override."""
    params = module.params
    app_id = params['app_id']
    present = params['state'] == 'present'
    device_ids = wanted_device_ids(params)
    target = params.get('channel') if present else None
    if present and not (target or '').strip():
        raise CapgoInputError('channel must name a channel with state=present')
    pool = DevicePool(module.client, workers=workers)
    try:
        if present:
            check_channel(pool.client, app_id, target)
        states = read_states(pool.client, pool, app_id, device_ids)
    except Exception:
        pool.close()
        raise
    return dict(app_id=app_id, target=target, present=present, device_ids=device_ids, states=states, pool=pool)


def _names(device_ids):
    shown = ', '.join(device_ids[:WARN_LIST_MAX])
    if len(device_ids) > WARN_LIST_MAX:
        shown += ' and %d more' % (len(device_ids) - WARN_LIST_MAX)
    return shown


def _result(module, entries):
    result = dict(changed=any(entry['changed'] for entry in entries), devices=entries)
    if module._diff:
        written = [entry for entry in entries if entry['changed']]
        result['diff'] = dict(
            before=dict((entry['device_id'], entry['previous_channel']) for entry in written),
            after=dict((entry['device_id'], entry['channel']) for entry in written),
        )
    return result


def plan(module, current):
    """Pure: one entry per device; a write for every device that differs or cannot be read."""
    target = current['target']
    entries = []
    to_write = []
    for device_id in current['device_ids']:
        state = current['states'][device_id]
        write = not state.verified or state.channel != target
        entries.append(dict(device_id=device_id, channel=target if write else state.channel,
                            previous_channel=state.channel, changed=write, verified=state.verified))
        if write:
            to_write.append(device_id)
    unverified = [entry['device_id'] for entry in entries if not entry['verified']]
    if unverified:
        module.warn(
            '%d device(s) never checked in with Capgo, so the API cannot show their override and it cannot be read '
            'back: %s. They are %s on every run without verification and reported as changed (devices[].verified '
            'is false).' % (len(unverified), _names(unverified), 'pinned' if current['present'] else 'released'))
    if not to_write or module.check_mode:
        current['pool'].close()
    before = dict((entry['device_id'], entry['previous_channel']) for entry in entries if entry['changed'])
    after = dict((entry['device_id'], entry['channel']) for entry in entries if entry['changed'])
    return Plan('link' if current['present'] else 'release', before, after, sorted(before),
                result=_result(module, entries), entries=entries, to_write=to_write, current=current) \
        if to_write else Plan(None, before, after, (), result=_result(module, entries))


def write(module, planned):
    """The planned POSTs or DELETEs, concurrently; every device is attempted and reported."""
    current = planned.current
    app_id, target, pool = current['app_id'], current['target'], current['pool']
    try:
        if current['present']:
            outcomes = pool.run(lambda client, device_id: set_override(client, app_id, device_id, target), planned.to_write)
        else:
            outcomes = pool.run(lambda client, device_id: remove_override(client, app_id, device_id), planned.to_write)
    finally:
        pool.close()
    by_id = dict((device_id, (outcome, error)) for device_id, outcome, error in outcomes)
    entries = [dict(entry) for entry in planned.entries]
    failures = []
    held = []
    for entry in entries:
        if entry['device_id'] not in by_id:
            continue
        outcome, error = by_id[entry['device_id']]
        if error is None:
            if outcome.held:
                held.append(entry['device_id'])
            continue
        unknown = bool(getattr(error, 'outcome_unknown', False))
        if not unknown:
            entry['changed'] = False
            entry['channel'] = entry['previous_channel']
        failures.append(_failure(entry['device_id'], error, unknown))
    if held:
        module.warn(
            'Capgo refused to set %d device(s) that never checked in to %r again within its 60-second same-channel '
            'window, which means they were set to it within the last minute; the module did not wait: %s'
            % (len(held), target, _names(held)))
    result = _result(module, entries)
    if failures:
        first = failures[0]
        if len(current['device_ids']) == 1:
            message = first['msg']
        else:
            message = '%d of %d devices failed; first: %s: %s' % (len(failures), len(current['device_ids']),
                                                                  first['device_id'], first['msg'])
        error = CapgoError(message, status=first.get('status'), error=first.get('error'),
                           api_message=first.get('api_message'))
        error.result = dict(result, failed_devices=failures)
        raise error
    return result


def _failure(device_id, error, outcome_unknown):
    if isinstance(error, CapgoError):
        entry = dict(device_id=device_id, msg=error.message)
        for name in ('status', 'error', 'api_message'):
            value = getattr(error, name)
            if value not in (None, ''):
                entry[name] = value
    else:
        entry = dict(device_id=device_id, msg='unexpected error: %s: %s' % (type(error).__name__, error))
    entry['outcome_unknown'] = outcome_unknown
    return entry
