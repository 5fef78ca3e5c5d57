# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A fake of Capgo's /channel and /device for unit tests, on the responses library (requests is faked below it).

Costs are asserted from ``responses.calls`` (what reached the fake), never from the code's own counters.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import threading

import requests
import responses

try:
    from urllib.parse import parse_qsl, quote, urlsplit
except ImportError:  # pragma: no cover - Python 2
    from urllib import quote
    from urlparse import parse_qsl, urlsplit


URL = 'https://capgo.test'
APP = 'com.example.app'
SAME_SET_WINDOW = 60


def _override_url_length(device_ids):
    """How long Capgo's override lookup URL gets: PostgREST ``device_id=in.("a","b",...)``, URL-encoded."""
    return len('/rest/v1/channel_devices?select=device_id,channels(name)&device_id=' +
               quote('in.(%s)' % ','.join('"%s"' % device_id for device_id in device_ids), safe=''))


class FakeCapgo(object):
    """Channels, checked-in devices, overrides, the same-channel window, faults.

    ``url_limit``: a list page whose override lookup URL is longer loses every ``channel`` (capgo-api.md 12.2 #4).
    ``repeat_cursor_after``: after that many list pages, the server hands out the same cursor again.
    ``classic``: 429s carry no moreInfo and no Retry-After.
    ``faults``: dicts with ``method`` (and optional ``device_id``); ``status``/``body`` answered instead, or
    ``drop: 'before'|'after'`` (the connection drops before or after the write is applied).
    """

    def __init__(self, channels=None, devices=None, overrides=None, url_limit=8192, classic=False):
        self.channels = channels if channels is not None else {'beta': False, 'production': True, 'qa': False}
        self.devices = set(devices or [])
        self.overrides = dict(overrides or {})
        self.url_limit = url_limit
        self.classic = classic
        self.repeat_cursor_after = None
        self.recent_sets = set()  # (device_id, channel) set within the same-channel window
        self.faults = []
        self.lock = threading.Lock()
        self._ordered = None
        responses.add_callback(responses.GET, re.compile(URL + '/channel.*'), callback=self.get_channel)
        responses.add_callback(responses.GET, re.compile(URL + '/device.*'), callback=self.get_device)
        responses.add_callback(responses.POST, re.compile(URL + '/device.*'), callback=self.post_device)
        responses.add_callback(responses.DELETE, re.compile(URL + '/device.*'), callback=self.delete_device)

    # -- the log, from responses ---------------------------------------------------------------

    @staticmethod
    def calls():
        """(method, path, query, body) of every request that reached the fake, in order."""
        out = []
        for call in responses.calls:
            parts = urlsplit(call.request.url)
            body = json.loads(call.request.body) if call.request.body else None
            out.append((call.request.method, parts.path, dict(parse_qsl(parts.query)), body))
        return out

    def count(self, method, path='/device', single=None):
        out = [entry for entry in self.calls() if entry[0] == method and entry[1] == path]
        if single is not None:
            out = [entry for entry in out if bool(entry[2].get('device_id')) == single]
        return len(out)

    def writes(self):
        return [entry for entry in self.calls() if entry[0] != 'GET']

    def list_limits(self):
        return [int(entry[2]['limit']) for entry in self.calls() if entry[0] == 'GET' and entry[1] == '/device'
                and not entry[2].get('device_id')]

    # -- answers -------------------------------------------------------------------------------

    @staticmethod
    def answer(status, body, headers=None):
        return status, headers or {}, json.dumps(body)

    def _fault(self, method, device_id):
        with self.lock:
            for index, fault in enumerate(self.faults):
                if fault['method'] == method and fault.get('device_id') in (None, device_id):
                    del self.faults[index]
                    return fault
        return None

    def _too_many(self, device_id):
        if self.classic:
            return self.answer(429, dict(error='too_many_requests', message='You are being rate limited'))
        return self.answer(429, dict(error='too_many_requests', message='Too many requests',
                                     moreInfo=dict(app_id=APP, device_id=device_id, retryAfterSeconds=SAME_SET_WINDOW)),
                           {'Retry-After': str(SAME_SET_WINDOW)})

    def get_channel(self, request):
        query = dict(parse_qsl(urlsplit(request.url).query))
        fault = self._fault('GET', None) if not query.get('device_id') else None
        if fault and 'status' in fault:
            return self.answer(fault['status'], fault['body'])
        name = query.get('channel')
        if name not in self.channels:
            return self.answer(400, dict(error='cannot_find_version', message='Cannot find version'))
        return self.answer(200, dict(id=1, name=name, app_id=APP, public=self.channels[name]))

    def item(self, device_id, with_channel=True):
        item = dict(device_id=device_id, app_id=APP, platform='android')
        if with_channel and device_id in self.overrides:
            item['channel'] = self.overrides[device_id]
        return item

    def get_device(self, request):
        query = dict(parse_qsl(urlsplit(request.url).query))
        fault = self._fault('GET', query.get('device_id'))
        if fault and 'status' in fault:
            return self.answer(fault['status'], fault['body'])
        if query.get('device_id'):
            if query['device_id'] not in self.devices:
                return self.answer(404, dict(error='device_not_found', message='Device not found'))
            return self.answer(200, self.item(query['device_id']))
        ordered = sorted(self.devices)
        limit = int(query['limit'])
        start = 0
        if query.get('cursor'):
            start = ordered.index(query['cursor'].split('|')[1]) + 1
        page = ordered[start:start + limit]
        more = start + limit < len(ordered)
        lookup_ok = _override_url_length(page) <= self.url_limit
        body = dict(data=[self.item(device_id, lookup_ok) for device_id in page], hasMore=more)
        if more:
            page_number = start // limit + 1
            last = page[-1]
            if self.repeat_cursor_after is not None and page_number > self.repeat_cursor_after:
                last = ordered[self.repeat_cursor_after * limit - 1]
            body['nextCursor'] = '2026-01-01 00:00:00|%s' % last
        return self.answer(200, body)

    def post_device(self, request):
        body = json.loads(request.body)
        device_id, channel = body['device_id'], body.get('channel')
        fault = self._fault('POST', device_id)
        if fault and 'status' in fault:
            return self.answer(fault['status'], fault['body'])
        if fault and fault.get('drop') == 'before':
            raise requests.exceptions.ConnectionError('Connection aborted: RemoteDisconnected')
        with self.lock:
            if (device_id, channel) in self.recent_sets:
                return self._too_many(device_id)
            if channel not in self.channels:
                return self.answer(404, dict(error='channel_not_found', message='Channel not found'))
            if self.channels[channel]:
                return self.answer(400, dict(error='public_channel_override', message='Cannot set channel override for public channel'))
            self.overrides[device_id] = channel
            self.recent_sets.add((device_id, channel))
        if fault and fault.get('drop') == 'after':
            raise requests.exceptions.ConnectionError('Connection aborted: RemoteDisconnected')
        return self.answer(200, dict(status='ok'))

    def delete_device(self, request):
        query = dict(parse_qsl(urlsplit(request.url).query))
        body = json.loads(request.body)
        assert not query, 'DELETE parameters belong in the JSON body'
        fault = self._fault('DELETE', body.get('device_id'))
        if fault and 'status' in fault:
            return self.answer(fault['status'], fault['body'])
        if fault and fault.get('drop') == 'before':
            raise requests.exceptions.ConnectionError('Connection aborted: RemoteDisconnected')
        with self.lock:
            self.overrides.pop(body['device_id'], None)
        if fault and fault.get('drop') == 'after':
            raise requests.exceptions.ConnectionError('Connection aborted: RemoteDisconnected')
        return self.answer(200, dict(status='ok'))
