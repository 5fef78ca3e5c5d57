# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Device overrides in bulk: how their current state is read, and a bounded pool of concurrent workers.

Reading: one device is one ``GET /device?device_id=``.  Many devices are first looked for in the cursor
list of the app's devices (one request per page of ``page_size`` devices, each with its override), and
the walk stops as soon as every wanted device was seen, or as soon as the pages read stop paying for
themselves (a page costs one request; each wanted device found on it saves one single read).  Whatever
is still missing is then read one by one.  If the whole list was read, a device missing from it never
checked in, and no single read is needed to know that.

Writing: a pool of worker threads, each with its own client (a requests Session is not guaranteed to be
thread-safe), all sharing the retry and error logic of ``CapgoClient.request`` plus a gate that pauses
every worker when the API rate-limits the key or the address rather than one device.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import random
import threading
import time

from ansible_collections.capgo.cloud.plugins.module_utils.client import (
    MAX_BACKOFF,
    CapgoClient,
    CapgoError,
    parse_retry_after,
)
from ansible_collections.capgo.cloud.plugins.module_utils.resources import (
    DEVICE_LIST_LIMIT,
    get_device,
    list_devices,
    normalize_device,
)

try:
    from concurrent.futures import ThreadPoolExecutor
except ImportError:  # pragma: no cover - Python 2 has no concurrent.futures; modules target Python 3
    ThreadPoolExecutor = None

DEFAULT_WORKERS = 8
# A 429 without Retry-After (the classic API sends none) waits 2, 4, 8, 16, 30 s: about a minute over the
# default five retries, the length of the window in which Capgo refuses to set a device to the same channel again.
RATE_LIMIT_BACKOFF_BASE = 2.0


class DeviceState(object):
    """What is known about one device's override: ``verified`` False when the API cannot show the device."""

    def __init__(self, device_id, verified, channel):
        self.device_id = device_id
        self.verified = verified
        self.channel = channel

    def __repr__(self):
        return 'DeviceState(%r, verified=%r, channel=%r)' % (self.device_id, self.verified, self.channel)


class ReadReport(object):
    """The states read, and what reading them cost."""

    def __init__(self):
        self.states = {}
        self.list_pages = 0
        self.list_complete = False
        self.single_reads = 0

    @property
    def requests(self):
        return self.list_pages + self.single_reads


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
        remaining = self.remaining()
        while remaining > 0:
            self._sleep(remaining)
            remaining = self.remaining()


def _limits_one_device(body):
    """Whether a 429 body names the one device it limits (current /device limits); else it limits everyone."""
    more_info = body.get('moreInfo') if isinstance(body, dict) else None
    return isinstance(more_info, dict) and bool(more_info.get('device_id'))


class WorkerClient(CapgoClient):
    """A client for one worker thread: own Session, shared gate, patient with 429s that give no Retry-After."""

    def __init__(self, api_key, gate, **kwargs):
        super(WorkerClient, self).__init__(api_key, **kwargs)
        self.gate = gate

    def _send_once(self, method, path, params, json_body):
        self.gate.wait()
        response, readable = super(WorkerClient, self)._send_once(method, path, params, json_body)
        if response.status == 429 and not _limits_one_device(response.body):
            wait = parse_retry_after(response.headers, response.body)
            self.gate.hold(wait if wait is not None else RATE_LIMIT_BACKOFF_BASE)
        return response, readable

    def retry_delay(self, attempt, retry_after, status):
        if retry_after is None and status == 429:
            return rate_limit_backoff(attempt)
        return super(WorkerClient, self).retry_delay(attempt, retry_after, status)


class DevicePool(object):
    """Runs ``function(client, item)`` for many items on at most ``workers`` threads, one client per thread.

    Each call's CapgoError is caught and returned with its item; other exceptions propagate.
    """

    def __init__(self, template, workers=DEFAULT_WORKERS, client_factory=None):
        self.template = template
        self.workers = max(1, int(workers))
        self.gate = RateGate(sleep=template.sleep)
        self._local = threading.local()
        self._clients = []
        self._clients_lock = threading.Lock()
        self._factory = client_factory or self._clone

    def _clone(self):
        template = self.template
        return WorkerClient(
            template.session.headers.get('authorization'),
            self.gate,
            api_url=template.api_url,
            validate_certs=template.session.verify,
            timeout=template.timeout,
            retries=template.retries,
            sleep=template.sleep,
        )

    def _client(self):
        client = getattr(self._local, 'client', None)
        if client is None:
            client = self._factory()
            self._local.client = client
            with self._clients_lock:
                self._clients.append(client)
        return client

    def _call(self, function, item):
        try:
            return item, function(self._client(), item), None
        except CapgoError as exc:
            return item, None, exc

    def run(self, function, items):
        """[(item, result, error)] in the order of ``items``."""
        items = list(items)
        if not items:
            return []
        if self.workers == 1 or len(items) == 1 or ThreadPoolExecutor is None:
            return [self._call(function, item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self.workers, len(items))) as executor:
            return list(executor.map(lambda item: self._call(function, item), items))

    @property
    def request_count(self):
        return sum(client.request_count for client in self._clients)

    @property
    def write_count(self):
        return sum(client.write_count for client in self._clients)

    def close(self):
        for client in self._clients:
            session_close = getattr(client.session, 'close', None)
            if session_close is not None:
                session_close()


# -- reading -----------------------------------------------------------------------------------

def _single_state(client, app_id, device_id):
    item = get_device(client, app_id, device_id)
    if item is None:
        return DeviceState(device_id, False, None)
    return DeviceState(device_id, True, normalize_device(item)['channel'])


def read_states(client, pool, app_id, device_ids, page_size=DEVICE_LIST_LIMIT):
    """A ReadReport with one DeviceState per (lower-cased, unique) id of ``device_ids``.

    Cost: with one device, one request.  With more, list pages while they pay off, then single reads for the
    rest: when the app holds about as many devices as are wanted, ceil(devices / page_size) list pages and no
    single read; when it holds far more, at most one list page more than the number of devices found on the
    pages read, so never more than len(device_ids) + 1 requests in all.  A failed read raises CapgoError.
    """
    report = ReadReport()
    wanted = list(device_ids)
    if len(wanted) > 1:
        wanted_set = set(wanted)
        found = set()
        pages = [0]
        scanned = [0]

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

        items, complete = list_devices(client, app_id, limit=page_size, stop=stop)
        report.list_pages = pages[0] + (1 if complete else 0)
        report.list_complete = complete
        for item in items:
            device = normalize_device(item)
            if device['device_id'] in wanted_set and device['device_id'] not in report.states:
                report.states[device['device_id']] = DeviceState(device['device_id'], True, device['channel'])
        if complete:
            for device_id in wanted:
                if device_id not in report.states:
                    report.states[device_id] = DeviceState(device_id, False, None)
    missing = [device_id for device_id in wanted if device_id not in report.states]
    if missing:
        report.single_reads = len(missing)
        for device_id, state, error in pool.run(lambda c, device_id: _single_state(c, app_id, device_id), missing):
            if error is not None:
                raise error
            report.states[device_id] = state
    return report
