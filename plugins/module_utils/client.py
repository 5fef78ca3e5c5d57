# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one HTTP client for Capgo's public API.

HTTP goes through ``requests`` (proxies with credentials, ``no_proxy``, CA bundles, keep-alive).  Retries, the
retry time budget, writes whose answer was lost, error formatting and paging live here and nowhere else.
Nothing in this file depends on Ansible: the modules (through base.py) and the lookup plugin share it, and its
unit tests fake HTTP with the ``responses`` library.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import email.utils
import os
import random
import re
import threading
import time
import traceback

try:
    import requests
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - exercised by the modules' missing_required_lib path
    requests = None
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover - Python 2
    from urlparse import urlsplit

DEFAULT_API_URL = 'https://api.capgo.app'
DEFAULT_TIMEOUT = 30
DEFAULT_RETRIES = 5
DEFAULT_RETRY_BUDGET = 300
RETRY_STATUSES = frozenset((429, 502, 503, 504))
# 5xx codes Capgo sends before touching anything (a transient database error in the permission check, 12.1 #9).
NOT_APPLIED_ERRORS = frozenset(('upstream_unavailable',))
PAGE_SIZE = 50
MAX_BACKOFF = 30.0
USER_AGENT = 'capgo.cloud-ansible-collection'
# The address block after 20 failed authentications (capgo-api.md 3.2, 11.1 #8): waiting it out never helps.
AUTH_BLOCK_REASON = 'too_many_failed_auth_attempts'

APP_ID_RE = re.compile(r'^[a-z0-9]+(\.[\w-]+)+$', re.IGNORECASE)
_CREDENTIALS_IN_URL = re.compile(r'(//)[^/@\s:]+(:[^/@\s]*)?@')


class CapgoInputError(Exception):
    """The task's input, or the state of the resource it names, is wrong: nothing to retry, a person must act.

    ``result`` holds extra keys for the failure result (for example ``failed_devices``).
    """

    def __init__(self, message, **result):
        super(CapgoInputError, self).__init__(message)
        self.message = message
        self.result = result

    def __str__(self):
        return self.message


class CapgoError(Exception):
    """One error type for every failure of a Capgo API call.

    ``status`` is the HTTP status (None when no response arrived), ``error`` the API's error code,
    ``api_message`` the API's message, ``outcome_unknown`` True when a write may have been applied although no
    answer says so.  ``str(err)`` is the message shown to a person.  ``result`` may carry extra keys for the
    failure result.
    """

    def __init__(self, message, method=None, path=None, status=None, error=None, api_message=None, more_info=None,
                 outcome_unknown=False, retryable=True):
        super(CapgoError, self).__init__(message)
        self.message = message
        self.method = method
        self.path = path
        self.status = status
        self.error = error
        self.api_message = api_message
        self.more_info = more_info or {}
        self.outcome_unknown = outcome_unknown
        self.retryable = retryable
        self.result = {}

    def __str__(self):
        return self.message

    def fail_kwargs(self):
        """Keyword arguments for ``module.fail_json``: the message, and the API's answer where there was one."""
        kwargs = dict(msg=self.message)
        for name in ('status', 'error', 'api_message'):
            value = getattr(self, name)
            if value not in (None, ''):
                kwargs[name] = value
        return kwargs

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
        return cls(message, method=method, path=path, status=status, error=error, api_message=api_message,
                   more_info=more_info)


# -- settings checked before any request -----------------------------------------------------------

def validate_app_id(app_id):
    """Raise CapgoInputError unless app_id has the reverse-domain shape the API requires."""
    if not app_id or not APP_ID_RE.match(app_id):
        raise CapgoInputError(
            "app_id %r is not a reverse-domain app id (like 'com.example.app'): "
            "Capgo would refuse it with invalid_app_id" % (app_id,))


def clean_api_key(key):
    """The key with surrounding whitespace removed; CapgoInputError (never echoing the key) when it cannot work.

    YAML blocks, ``echo key | ansible-vault encrypt_string`` and files end keys with a newline: that is stripped.
    A ``Bearer`` prefix, whitespace inside or a control character would be refused by Capgo (and each refusal
    counts toward its 20-failure address block), or cannot even be sent as a header.
    """
    if key is None:
        return None
    if not isinstance(key, str):
        key = str(key)
    key = key.strip()
    if not key:
        return None
    if key.lower().startswith('bearer ') or key.lower() == 'bearer':
        raise CapgoInputError(
            'The Capgo API key starts with "Bearer": Capgo expects the raw key in the authorization header. '
            'Remove the "Bearer " prefix from the key (the key itself is not shown)')
    for position, char in enumerate(key):
        if char.isspace():
            raise CapgoInputError(
                'The Capgo API key contains whitespace at character %d: a Capgo key is one word. Check how it was '
                'pasted or templated (the key itself is not shown)' % (position + 1))
        if ord(char) < 32 or ord(char) == 127:
            raise CapgoInputError(
                'The Capgo API key contains a control character at character %d, so it cannot be sent as a header. '
                'Check how it was stored or templated (the key itself is not shown)' % (position + 1))
    return key


def api_key_from_file(home=None):
    """The key the Capgo CLI's ``capgo login`` wrote to ~/.capgo (raw, unchecked), or None."""
    path = os.path.join(home or os.path.expanduser('~'), '.capgo')
    try:
        with open(path, 'r') as handle:
            key = handle.read()
    except (IOError, OSError, UnicodeDecodeError):
        return None
    return key if key.strip() else None


def find_api_key(option_value, environ=None, home=None):
    """The raw key from, in order: the option, CAPGO_API_KEY, CAPGO_TOKEN, ~/.capgo; None when none holds one."""
    environ = os.environ if environ is None else environ
    for value in (option_value, environ.get('CAPGO_API_KEY'), environ.get('CAPGO_TOKEN')):
        if value is not None and str(value).strip():
            return value
    return api_key_from_file(home)


MISSING_KEY_MESSAGE = (
    'No Capgo API key found. Looked in, in this order: the api_key option, the CAPGO_API_KEY environment variable, '
    'the CAPGO_TOKEN environment variable, and the file ~/.capgo written by "capgo login"')


def validate_api_url(api_url):
    """The base URL without a trailing slash; CapgoInputError with a suggestion when it is not an http(s) URL."""
    value = (api_url or DEFAULT_API_URL).strip()
    try:
        parts = urlsplit(value)
        port = parts.port  # raises ValueError on a port that is not a number in range
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme not in ('http', 'https') or not parts.hostname:
        bare = value.split('://', 1)[-1].lstrip('/')
        raise CapgoInputError(
            'api_url %r is not an http:// or https:// URL with a host name. Write it with its scheme, for example '
            '%r (for the local simulator: http://127.0.0.1:PORT)' % (value, 'https://' + (bare or 'api.capgo.app')))
    del port
    return value.rstrip('/')


def validate_settings(timeout, retries, retry_budget):
    if timeout is None or timeout <= 0:
        raise CapgoInputError('api_timeout must be a positive number of seconds, got %r' % (timeout,))
    if retries is None or retries < 0:
        raise CapgoInputError('api_retries must be 0 or more, got %r' % (retries,))
    if retry_budget is None or retry_budget < 0:
        raise CapgoInputError('api_retry_budget must be 0 or more seconds, got %r' % (retry_budget,))


# -- retry timing ----------------------------------------------------------------------------------

def parse_retry_after(headers, body, now=None):
    """Seconds to wait from a Retry-After header (seconds or HTTP date) or moreInfo.retryAfterSeconds."""
    value = None
    header = headers.get('Retry-After') if headers is not None else None
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
    return max(value, 0.0)


def backoff_delay(attempt, base=0.5):
    """Capped exponential backoff with jitter for the given 1-based retry attempt."""
    delay = min(MAX_BACKOFF, base * (2 ** (attempt - 1)))
    return delay * (0.75 + random.random() * 0.5)


class ClientStats(object):
    """What a client and its clones did, shared across worker threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self.requests = 0
        self.writes_sent = 0
        self.waited = 0.0
        self.wait_reasons = {}
        self.lost_answers_confirmed = 0

    def count(self, is_write, sent=True):
        with self._lock:
            self.requests += 1
            if is_write and sent:
                self.writes_sent += 1

    def add_wait(self, seconds, reason):
        with self._lock:
            self.waited += seconds
            self.wait_reasons[reason] = self.wait_reasons.get(reason, 0) + 1

    def confirmed(self):
        with self._lock:
            self.lost_answers_confirmed += 1

    def wait_summary(self):
        """'12 s (HTTP 429 rate limit x3, HTTP 503 x1)' for a warning."""
        with self._lock:
            parts = ['%s x%d' % (reason, count) for reason, count in sorted(self.wait_reasons.items())]
            return '%d s (%s)' % (round(self.waited), ', '.join(parts))


class _Response(object):
    """What the client keeps of an HTTP response."""

    def __init__(self, status, body, headers):
        self.status = status
        self.body = body
        self.headers = headers


class _TransportFailure(Exception):
    """A request that got no HTTP answer, classified: was it sent, may it be retried."""

    def __init__(self, text, sent, retryable):
        super(_TransportFailure, self).__init__(text)
        self.text = text
        self.sent = sent
        self.retryable = retryable


def _class_names(obj):
    return set(cls.__name__ for cls in type(obj).__mro__)


def _causes(exc):
    """exc, what it wraps (requests wraps urllib3's MaxRetryError, which holds the reason), and their causes."""
    seen = []
    stack = [exc]
    while stack and len(seen) < 12:
        item = stack.pop()
        if item is None or any(item is other for other in seen):
            continue
        seen.append(item)
        stack.extend([getattr(item, 'reason', None), getattr(item, '__cause__', None), getattr(item, '__context__', None)])
        stack.extend(arg for arg in getattr(item, 'args', ()) if isinstance(arg, BaseException))
    return seen


def _exc_text(exc):
    text = _CREDENTIALS_IN_URL.sub(r'\1***@', str(exc))
    return text if len(text) <= 300 else text[:300] + '...'


def classify_transport_error(exc, timeout, base_url):
    """A _TransportFailure for an exception raised while sending (requests or socket level)."""
    chain = _causes(exc)
    names = set()
    for item in chain:
        names |= _class_names(item)
    text = _exc_text(exc)
    if 'SSLError' in names or 'CertificateError' in names or 'SSLCertVerificationError' in names:
        return _TransportFailure(
            'TLS failed talking to %s (%s). Check the certificate, REQUESTS_CA_BUNDLE / SSL_CERT_FILE, or, for a '
            'self-hosted test instance only, validate_certs: false' % (base_url, text), sent=False, retryable=False)
    if 'ProxyError' in names:
        return _TransportFailure(
            'the proxy refused or failed the connection to %s (%s). Check https_proxy / http_proxy (and their '
            'credentials) or no_proxy' % (base_url, text), sent=False, retryable=False)
    if 'NameResolutionError' in names or 'gaierror' in names or 'Name or service not known' in text \
            or 'nodename nor servname' in text or 'Temporary failure in name resolution' in text:
        return _TransportFailure(
            'cannot resolve the host of %s (%s). Check api_url / CAPGO_API_URL' % (base_url, text),
            sent=False, retryable=False)
    if 'InvalidURL' in names or 'MissingSchema' in names or 'InvalidSchema' in names or 'InvalidHeader' in names \
            or 'LocationParseError' in names:
        return _TransportFailure('the request to %s could not be built (%s)' % (base_url, type(exc).__name__),
                                 sent=False, retryable=False)
    if 'ConnectTimeout' in names:
        return _TransportFailure('no connection to %s within %s seconds. Check api_url / CAPGO_API_URL and the network'
                                 % (base_url, timeout), sent=False, retryable=True)
    if 'NewConnectionError' in names or 'ConnectionRefusedError' in names:
        return _TransportFailure('cannot connect to %s (%s). Check api_url / CAPGO_API_URL: a stale URL of an old '
                                 'simulator port is the usual cause' % (base_url, text), sent=False, retryable=True)
    if 'ReadTimeout' in names or 'Timeout' in names or 'timeout' in names:
        return _TransportFailure('no answer from %s within %s seconds' % (base_url, timeout), sent=True, retryable=True)
    return _TransportFailure('the connection to %s failed (%s)' % (base_url, text), sent=True, retryable=True)


class CapgoClient(object):
    """A keep-alive ``requests.Session`` bound to one Capgo API endpoint and key.

    ``request`` retries 429/502/503/504, dropped connections and timeouts within ``retries`` attempts and a
    ``retry_budget`` of seconds spent waiting per request; never 401 (Capgo blocks an address after 20 failed
    authentications), never other 4xx, never TLS or DNS failures.
    """

    def __init__(self, api_key, api_url=DEFAULT_API_URL, validate_certs=True, timeout=DEFAULT_TIMEOUT,
                 retries=DEFAULT_RETRIES, retry_budget=DEFAULT_RETRY_BUDGET, sleep=time.sleep, stats=None, session=None):
        self.api_key = api_key
        self.api_url = validate_api_url(api_url)
        self.validate_certs = validate_certs
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self.retry_budget = float(retry_budget)
        self.sleep = sleep
        self.stats = stats if stats is not None else ClientStats()
        self.session = session if session is not None else self._new_session()

    def _new_session(self):
        if not HAS_REQUESTS:
            raise CapgoError('the Python library requests is required by capgo.cloud: pip install requests',
                             retryable=False)
        session = requests.Session()
        session.headers.update({
            'authorization': self.api_key,
            'User-Agent': USER_AGENT,
            'Accept': 'application/json',
        })
        if not self.validate_certs:
            session.verify = False
        elif not os.environ.get('REQUESTS_CA_BUNDLE') and not os.environ.get('CURL_CA_BUNDLE') \
                and os.environ.get('SSL_CERT_FILE'):
            # requests reads REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE itself; honour OpenSSL's variable as well
            session.verify = os.environ['SSL_CERT_FILE']
        return session

    def clone(self):
        """A client with its own Session (one per worker thread), the same settings and the same shared stats."""
        return type(self)(self.api_key, api_url=self.api_url, validate_certs=self.validate_certs, timeout=self.timeout,
                          retries=self.retries, retry_budget=self.retry_budget, sleep=self.sleep, stats=self.stats)

    def close(self):
        close = getattr(self.session, 'close', None)
        if close is not None:
            close()

    @property
    def request_count(self):
        return self.stats.requests

    @property
    def write_count(self):
        return self.stats.writes_sent

    # -- one attempt ---------------------------------------------------------------------------

    def _send_once(self, method, path, params, json_body):
        """One HTTP exchange: (_Response, readable); raises _TransportFailure when no answer arrived."""
        is_write = method != 'GET'
        try:
            response = self.session.request(method, self.api_url + path, params=params, json=json_body,
                                            timeout=self.timeout)
        except Exception as exc:  # requests, urllib3 and socket errors all mean "no answer": classify them
            failure = exc if isinstance(exc, _TransportFailure) else classify_transport_error(exc, self.timeout, self.api_url)
            self.stats.count(is_write, sent=failure.sent)
            raise failure
        self.stats.count(is_write)
        try:
            body = response.json() if response.content else None
            readable = True
        except ValueError:
            body = None
            readable = False
        return _Response(response.status_code, body, response.headers), readable

    def retry_delay(self, attempt, retry_after, status):
        """Seconds to wait before retry ``attempt``: what the API asked for, else capped exponential backoff."""
        if retry_after is not None:
            return retry_after
        return backoff_delay(attempt)

    # -- requests with retries -----------------------------------------------------------------

    def request(self, method, path, params=None, json=None, ok_errors=(), done_errors=(), repeatable=None):
        """Send one API call with retries where they are safe; return the decoded JSON body.

        ``ok_errors``: API error codes that are an answer, not a failure (returned as the error body).
        ``done_errors``: error codes that mean "already done" when met on a retry after an attempt whose outcome
        is unknown.  ``repeatable``: whether a write may be sent again after an attempt whose outcome is unknown
        (GET always may; writes default to True).  With False, such a failure raises at once with
        ``outcome_unknown`` set, so the caller can read the resource back (see ``write``).
        """
        method = method.upper()
        if repeatable is None or method == 'GET':
            repeatable = True
        attempts = 1 + self.retries
        waited = 0.0
        outcome_unknown = False
        for attempt in range(1, attempts + 1):
            wait = None
            reason = None
            try:
                response, readable = self._send_once(method, path, params, json)
            except _TransportFailure as failure:
                problem = CapgoError('Capgo API %s %s failed: %s' % (method, path, failure.text),
                                     method=method, path=path, retryable=failure.retryable)
                if not failure.retryable:
                    problem.outcome_unknown = outcome_unknown
                    raise problem
                if failure.sent and method != 'GET':
                    outcome_unknown = True
                reason = 'timeout' if 'no answer' in failure.text else 'connection error'
            else:
                status, body = response.status, response.body
                error_code = body.get('error') if isinstance(body, dict) else None
                if status < 400 and readable:
                    return body
                if status >= 400 and error_code in ok_errors:
                    return body
                if outcome_unknown and error_code in done_errors:
                    return body
                if status < 400:
                    problem = CapgoError('Capgo API %s %s failed: HTTP %s with a response body that is not JSON'
                                         % (method, path, status), method=method, path=path, status=status)
                    if method != 'GET':
                        outcome_unknown = True
                    reason = 'unreadable answer'
                elif status in RETRY_STATUSES:
                    problem = CapgoError.from_response(method, path, status, body)
                    wait = parse_retry_after(response.headers, body)
                    more_info = body.get('moreInfo') if isinstance(body, dict) else None
                    if status == 429 and isinstance(more_info, dict) and more_info.get('reason') == AUTH_BLOCK_REASON:
                        raise _auth_block_error(problem, wait)
                    if status != 429 and method != 'GET' and error_code not in NOT_APPLIED_ERRORS:
                        outcome_unknown = True
                    reason = 'HTTP 429 rate limit' if status == 429 else 'HTTP %d' % status
                else:
                    raise CapgoError.from_response(method, path, status, body, hint=_hint_for(status, error_code))
            problem.outcome_unknown = outcome_unknown
            if outcome_unknown and not repeatable:
                problem.message += ('. The request was sent but its answer was lost, so it may have been applied; it '
                                    'is not sent again blindly')
                raise problem
            if attempt >= attempts:
                if attempts > 1:
                    problem.message += ' (gave up after %d attempts in %d s of waiting)' % (attempts, round(waited))
                raise problem
            delay = self.retry_delay(attempt, wait, problem.status)
            if waited + delay > self.retry_budget:
                asked = ' (the API asked for Retry-After %d s)' % round(wait) if wait is not None else ''
                problem.message += ('. Not retried: the next wait of %d s%s would exceed api_retry_budget (%d s) for '
                                    'this request' % (round(delay), asked, round(self.retry_budget)))
                raise problem
            self.sleep(delay)
            waited += delay
            self.stats.add_wait(delay, reason)
        raise AssertionError('unreachable')  # pragma: no cover

    def write(self, method, path, json=None, confirm=None, repeatable=True, ok_errors=(), done_errors=()):
        """Send a write; when its answer is lost, decide from what the server holds.

        ``confirm()`` reads the resource back and returns True (the planned state is there: success), False (not
        applied) or None (cannot tell).  Not applied or unknown: the write is sent again if ``repeatable``; else a
        CapgoError says what is known.  Without ``confirm`` a lost answer of a repeatable write is re-sent blindly
        (use ``done_errors`` for "already done" answers).  Returns the API's body, or ``{'confirmed': True}``.
        """
        attempts = 1 + self.retries
        last = None
        for dummy in range(attempts):
            try:
                return self.request(method, path, json=json, ok_errors=ok_errors, done_errors=done_errors,
                                    repeatable=repeatable if confirm is None else False)
            except CapgoError as exc:
                if not exc.outcome_unknown or confirm is None:
                    raise
                last = exc
            state = confirm()
            if state:
                self.stats.confirmed()
                return {'confirmed': True}
            if not repeatable:
                if state is None:
                    detail = 'a read-back cannot tell whether it was applied'
                else:
                    detail = 'a read-back shows it was not applied'
                last.message = ('%s; %s. It is not repeated automatically because repeating it is not safe: check '
                                'the resource and run the task again' % (last.message, detail))
                last.outcome_unknown = state is None
                raise last
        last.message += ' (a read-back after each lost answer did not show the change; gave up)'
        raise last

    def delete(self, path, body, confirm=None, repeatable=True, done_errors=()):
        """DELETE with every parameter in the JSON body: Capgo reads the query string only when the body does not
        parse (capgo-api.md 11.2 #1), so parameters split between both places are silently dropped."""
        return self.write('DELETE', path, json=body, confirm=confirm, repeatable=repeatable, done_errors=done_errors)

    # -- paging --------------------------------------------------------------------------------

    def get_paged(self, path, params, key='id', empty_error=None):
        """Every item of a page-numbered list exactly once.

        The real server computes the window of page N >= 1 from a query-string page with string concatenation, so
        windows grow and overlap.  Each page N starts at row N * 50 whatever its length; so ask for the page that
        starts at the first row not seen yet, keep rows by ``key`` in first-seen order, and stop at a page shorter
        than a nominal page or with nothing new.  An empty page is ``200 []`` on the newest API and, on older ones,
        the ``empty_error`` code (GET /bundle: 400 cannot_get_bundle without a database error).
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
            if isinstance(body, dict) and empty_error and body.get('error') == empty_error:
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

    def get_cursor(self, path, params, limit, key='device_id', stop=None, on_page=None, resume=None):
        """Every item of a cursor list ({data, nextCursor, hasMore}) exactly once: (items, complete).

        ``complete`` is True only when the server said the list ended.  ``stop(items)`` may end the walk early, and a
        cursor the server hands out twice (it would loop) ends it too: both give ``complete`` False.
        ``on_page(page, fresh)`` sees each answer's raw ``data`` and the items it added.  ``resume(page, items,
        cursor)`` may ask for another page than the server's cursor names: None follows it, a (cursor, limit) pair
        is asked instead; a page asked that way that adds nothing ends the walk (``complete`` False).
        """
        items = []
        seen = set()
        cursor = None
        page_limit = limit
        resumed = False
        used_cursors = set()
        while True:
            query = dict(params)
            query['limit'] = str(page_limit)
            if cursor:
                query['cursor'] = cursor
            body = self.request('GET', path, params=query)
            if not isinstance(body, dict) or not isinstance(body.get('data'), list):
                raise CapgoError('Capgo API GET %s returned an unexpected body where {data, nextCursor, hasMore} was '
                                 'expected' % path, method='GET', path=path)
            fresh = []
            for item in body['data']:
                ident = item.get(key) if isinstance(item, dict) else None
                if ident in seen:
                    continue  # classic can repeat a device on a later page with older data: keep the first
                seen.add(ident)
                fresh.append(item)
            items.extend(fresh)
            if on_page is not None:
                on_page(body['data'], fresh)
            cursor = body.get('nextCursor')
            if not body.get('hasMore'):
                return items, True
            if not cursor or cursor in used_cursors or (resumed and not fresh):
                return items, False
            used_cursors.add(cursor)
            if stop is not None and stop(items):
                return items, False
            instead = resume(body['data'], items, cursor) if resume is not None else None
            resumed = instead is not None
            cursor, page_limit = instead if resumed else (cursor, limit)


def _auth_block_error(problem, wait):
    until = ''
    if wait is not None:
        until = ' until about %s UTC (%d s from now)' % (
            time.strftime('%H:%M', time.gmtime(time.time() + wait)), round(wait))
    problem.message += (
        '. Capgo has blocked requests from this address%s after 20 failed authentications. Fix the API key first '
        '(api_key, CAPGO_API_KEY, CAPGO_TOKEN or ~/.capgo): every further attempt with a bad key extends the block. '
        'Not retried' % until)
    problem.retryable = False
    return problem


def _is_empty_page_error(body):
    """GET /bundle (HEAD) answers an empty page with 400 cannot_get_bundle "Cannot get bundle" and no database error."""
    more_info = body.get('moreInfo') if isinstance(body.get('moreInfo'), dict) else {}
    message = (body.get('message') or '').lower()
    return message == 'cannot get bundle' and not more_info.get('supabaseError')


def _hint_for(status, error_code):
    if status == 401:
        return ('The API key was rejected (wrong, expired or without the right mode for this call): check the api_key '
                'option, CAPGO_API_KEY, CAPGO_TOKEN or ~/.capgo; Capgo blocks an IP for 15 minutes after 20 failed '
                'authentications, so this call is not retried')
    if error_code in ('cannot_access_app', 'cannot_get_bundle', 'cannot_delete_bundle', 'app_not_found'):
        return ('Check the app_id and that the API key has the rights this operation needs on that app (an app the '
                'key cannot see and an app that does not exist look the same)')
    return None
