# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one HTTP client for Capgo's public API.

Transport, authentication, retries, error formatting and paging live here and nowhere else.
Nothing in this file depends on Ansible, so it is unit-tested with the HTTP layer faked.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import email.utils
import os
import random
import re
import http.client as http_client
import time

from ansible_collections.capgo.cloud.plugins.module_utils.transport import HttpSession, is_timeout

# What builds a client's session; tests swap in requests.Session to fake HTTP with the responses library.
SESSION_FACTORY = HttpSession

DEFAULT_API_URL = 'https://api.capgo.app'
RETRY_STATUSES = frozenset((429, 502, 503, 504))
PAGE_SIZE = 50
MAX_BACKOFF = 30.0
MAX_RETRY_AFTER = 120.0
USER_AGENT = 'capgo.cloud-ansible-collection'

APP_ID_RE = re.compile(r'^[a-z0-9]+(\.[\w-]+)+$', re.IGNORECASE)


class CapgoError(Exception):
    """One error type for every failure of a Capgo API call.

    ``status`` is the HTTP status (None when no response arrived), ``error`` the API's error code,
    ``api_message`` the API's message.  ``str(err)`` is the message shown to a person.
    """

    def __init__(self, message, method=None, path=None, status=None, error=None, api_message=None, more_info=None):
        super(CapgoError, self).__init__(message)
        self.message = message
        self.method = method
        self.path = path
        self.status = status
        self.error = error
        self.api_message = api_message
        self.more_info = more_info or {}

    def __str__(self):
        return self.message

    def fail_kwargs(self):
        """Keyword arguments for ``module.fail_json``."""
        return dict(msg=self.message, status=self.status, error=self.error, api_message=self.api_message)

    @classmethod
    def from_response(cls, method, path, status, body, hint=None):
        error = api_message = None
        more_info = {}
        if isinstance(body, dict):
            error = body.get('error')
            api_message = body.get('message')
            if error is None and isinstance(body.get('status'), str) and body.get('status') not in ('ok', 'success'):
                # API generations before 2025-07 answered {"status": "<message>"}
                api_message = body['status']
            if isinstance(body.get('moreInfo'), dict):
                more_info = body['moreInfo']
        message = 'Capgo API %s %s failed: HTTP %s' % (method, path, status)
        if error:
            message += ' %s' % error
        if api_message:
            message += ': %s' % api_message
        if hint:
            message += '. %s' % hint
        return cls(message, method=method, path=path, status=status, error=error, api_message=api_message, more_info=more_info)


def validate_app_id(app_id):
    """Raise ValueError unless app_id has the reverse-domain shape the API requires."""
    if not app_id or not APP_ID_RE.match(app_id):
        raise ValueError(
            "app_id %r is not a reverse-domain app id (like 'com.example.app'): "
            "Capgo would refuse it with invalid_app_id" % (app_id,))


def parse_retry_after(headers, body, now=None):
    """Seconds to wait from a Retry-After header (seconds or HTTP date) or moreInfo.retryAfterSeconds."""
    value = None
    header = None
    if headers is not None:
        header = headers.get('Retry-After')
    if header:
        header = header.strip()
        try:
            value = float(header)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(header)
                value = when.timestamp() - (now if now is not None else time.time())
            except (TypeError, ValueError, IndexError, OverflowError):
                value = None
    if value is None and isinstance(body, dict):
        more_info = body.get('moreInfo')
        if isinstance(more_info, dict):
            seconds = more_info.get('retryAfterSeconds')
            if isinstance(seconds, (int, float)) and not isinstance(seconds, bool):
                value = float(seconds)
    if value is None:
        return None
    return min(max(value, 0.0), MAX_RETRY_AFTER)


def backoff_delay(attempt, base=0.5):
    """Capped exponential backoff with jitter for the given 1-based retry attempt."""
    delay = min(MAX_BACKOFF, base * (2 ** (attempt - 1)))
    return delay * (0.75 + random.random() * 0.5)


class _Response(object):
    """What the client keeps of an HTTP response."""

    def __init__(self, status, body, headers):
        self.status = status
        self.body = body
        self.headers = headers


class CapgoClient(object):
    """A keep-alive HTTP session bound to one Capgo API endpoint and key.

    ``request`` retries 429/502/503/504, connection errors, timeouts and unreadable bodies, never
    401 (Capgo blocks an IP after 20 failed authentications) and never other 4xx.
    """

    def __init__(self, api_key, api_url=DEFAULT_API_URL, validate_certs=True, timeout=30, retries=5,
                 session=None, sleep=time.sleep):
        self.api_url = (api_url or DEFAULT_API_URL).rstrip('/')
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self.sleep = sleep
        self.session = session if session is not None else SESSION_FACTORY()
        self.session.verify = validate_certs
        self.session.headers.update({
            'authorization': api_key,
            'User-Agent': USER_AGENT,
            'Accept': 'application/json',
        })
        self.request_count = 0
        self.write_count = 0

    # -- transport ---------------------------------------------------------------------------

    def _send_once(self, method, path, params, json_body):
        self.request_count += 1
        if method != 'GET':
            self.write_count += 1
        response = self.session.request(method, self.api_url + path, params=params, json=json_body, timeout=self.timeout)
        try:
            body = response.json() if response.content else None
            readable = True
        except ValueError:
            body = None
            readable = False
        return _Response(response.status_code, body, response.headers), readable

    def request(self, method, path, params=None, json=None, ok_errors=(), done_errors=(), retry=True):
        """Send one API call, with retries where they are safe; return the decoded JSON body.

        ``ok_errors``: API error codes that are an answer, not a failure (returned as the error body).
        ``done_errors``: error codes that mean "already done" when met on a retry after an attempt
        whose outcome is unknown (the connection dropped after the request was sent).
        ``retry=False`` disables retries of ambiguous failures for writes that are unsafe to repeat.
        """
        method = method.upper()
        attempts = 1 + self.retries
        last_problem = None
        outcome_unknown = False
        for attempt in range(1, attempts + 1):
            wait = None
            try:
                response, readable = self._send_once(method, path, params, json)
            except (OSError, IOError, http_client.HTTPException) as exc:
                if is_timeout(exc):
                    text = 'no answer within %s seconds' % self.timeout
                else:
                    text = 'connection error'
                last_problem = CapgoError(
                    'Capgo API %s %s failed: %s (%s)' % (method, path, text, _exc_text(exc)),
                    method=method, path=path)
                outcome_unknown = outcome_unknown or method != 'GET'
            else:
                status = response.status
                body = response.body
                if status < 400 and readable:
                    return body
                error_code = body.get('error') if isinstance(body, dict) else None
                if status >= 400 and error_code in ok_errors:
                    return body
                if outcome_unknown and error_code in done_errors:
                    return body
                if status < 400:
                    # 2xx with a body that is not JSON: the call may have been applied
                    last_problem = CapgoError(
                        'Capgo API %s %s failed: HTTP %s with a response body that is not JSON' % (method, path, status),
                        method=method, path=path, status=status)
                    outcome_unknown = outcome_unknown or method != 'GET'
                elif status in RETRY_STATUSES:
                    last_problem = CapgoError.from_response(method, path, status, body)
                    wait = parse_retry_after(response.headers, body)
                    if status != 429:
                        outcome_unknown = outcome_unknown or method != 'GET'
                else:
                    raise CapgoError.from_response(method, path, status, body, hint=_hint_for(status, error_code))
            if attempt >= attempts or (not retry and outcome_unknown):
                break
            self.sleep(self.retry_delay(attempt, wait, last_problem.status))
        if attempts > 1:
            last_problem.message += ' (gave up after %d attempts)' % attempts
        raise last_problem

    def retry_delay(self, attempt, retry_after, status):
        """Seconds to wait before retry ``attempt``: what the API asked for, else capped exponential backoff.

        ``status`` is the HTTP status of the failed attempt (None when no response arrived); subclasses
        may wait differently per status.
        """
        if retry_after is not None:
            return retry_after
        return backoff_delay(attempt)

    # -- paging ------------------------------------------------------------------------------

    def get_paged(self, path, params, key='id', empty_error=None):
        """Every item of a page-numbered list exactly once.

        The real server computes the window of page N >= 1 from a query-string page with string
        concatenation, so windows grow and overlap.  Each page N starts at row N * 50 whatever its
        length; so ask for the page that starts at the first row not seen yet, keep rows by ``key``
        in first-seen order, and stop at a page shorter than a nominal page or with nothing new.
        ``empty_error``: the error code this list answers for an empty page (GET /bundle).
        """
        items = []
        seen = set()
        next_row = 0
        while True:
            page = next_row // PAGE_SIZE
            query = dict(params)
            if page:
                query['page'] = str(page)
            ok = (empty_error,) if empty_error else ()
            body = self.request('GET', path, params=query, ok_errors=ok)
            if isinstance(body, dict) and body.get('error') == empty_error:
                if _is_empty_page_error(body):
                    break
                raise CapgoError.from_response('GET', path, 400, body, hint=_hint_for(400, body.get('error')))
            if not isinstance(body, list):
                raise CapgoError('Capgo API GET %s returned %s where a list was expected' % (path, type(body).__name__),
                                 method='GET', path=path)
            new = 0
            for item in body:
                ident = item.get(key) if isinstance(item, dict) else None
                if ident in seen:
                    continue
                seen.add(ident)
                items.append(item)
                new += 1
            next_row = page * PAGE_SIZE + len(body)
            if len(body) < PAGE_SIZE or new == 0:
                break
        return items

    def get_cursor(self, path, params, limit=500, key='device_id', stop=None):
        """Every item of a cursor list ({data, nextCursor, hasMore}) exactly once.

        ``stop(items)`` may end the walk early (e.g. once every wanted device was seen).
        Returns (items, complete) where complete says the whole list was read.
        """
        items = []
        seen = set()
        cursor = None
        used_cursors = set()
        while True:
            query = dict(params)
            query['limit'] = str(limit)
            if cursor:
                query['cursor'] = cursor
            body = self.request('GET', path, params=query)
            if not isinstance(body, dict) or not isinstance(body.get('data'), list):
                raise CapgoError('Capgo API GET %s returned an unexpected body where {data, nextCursor, hasMore} was expected' % path,
                                 method='GET', path=path)
            for item in body['data']:
                ident = item.get(key) if isinstance(item, dict) else None
                if ident in seen:
                    continue  # classic can repeat a device on a later page with older data: keep the first
                seen.add(ident)
                items.append(item)
            cursor = body.get('nextCursor')
            if not body.get('hasMore') or not cursor:
                return items, True
            if cursor in used_cursors:
                return items, True
            used_cursors.add(cursor)
            if stop is not None and stop(items):
                return items, False


def _is_empty_page_error(body):
    """GET /bundle answers an empty page with 400 cannot_get_bundle "Cannot get bundle" and no database error."""
    more_info = body.get('moreInfo') if isinstance(body.get('moreInfo'), dict) else {}
    message = (body.get('message') or '').lower()
    return message == 'cannot get bundle' and not more_info.get('supabaseError')


def _hint_for(status, error_code):
    if status == 401:
        return ('The API key was rejected (wrong, expired or without the right mode for this call): check the api_key option, '
                'CAPGO_API_KEY, CAPGO_TOKEN or ~/.capgo; Capgo blocks an IP for 15 minutes after 20 failed authentications, '
                'so this call is not retried')
    if error_code in ('cannot_access_app', 'cannot_get_bundle', 'cannot_delete_bundle'):
        return 'Check the app_id and that the API key has the rights this operation needs on that app'
    return None


def _exc_text(exc):
    text = str(exc)
    return text if len(text) <= 300 else text[:300] + '...'


def api_key_from_file(home=None):
    """The key the Capgo CLI's ``capgo login`` wrote to ~/.capgo, or None."""
    path = os.path.join(home or os.path.expanduser('~'), '.capgo')
    try:
        with open(path, 'r') as handle:
            key = handle.read().strip()
    except (IOError, OSError):
        return None
    return key or None
