# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A small keep-alive HTTP session on the standard library, for the Capgo client.

It offers the part of the ``requests.Session`` interface the client uses (``headers``, ``verify``,
``request(method, url, params=, json=, timeout=)``, ``close()``), so tests can hand the client a
``requests.Session`` instead.  Why not requests itself: importing it costs about as much as importing
``ansible.module_utils.basic``, a cost every module task pays; http.client costs a tenth of that.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import http.client as http_client
import json
import select
import socket
from urllib.parse import urlencode, urlsplit


class HttpResponse(object):
    """What the client reads of a response: ``status_code``, ``content`` (bytes), ``headers``, ``json()``."""

    def __init__(self, status_code, content, headers):
        self.status_code = status_code
        self.content = content
        self.headers = headers

    def json(self):
        return json.loads(self.content.decode('utf-8'))


class HttpSession(object):
    """One persistent connection per scheme and host, reopened when the server closed it.

    Not thread-safe: give each thread its own session (the device pool does).  Proxies from the usual
    ``https_proxy`` / ``http_proxy`` / ``no_proxy`` environment variables are honoured through CONNECT
    tunnels for https and absolute URLs for http.
    """

    def __init__(self):
        self.headers = {}
        self.verify = True
        self._connections = {}
        self._proxies = None

    def request(self, method, url, params=None, json=None, timeout=30):  # pylint: disable=redefined-outer-name
        parts = urlsplit(url)
        target = parts.path or '/'
        query = parts.query
        if params:
            extra = urlencode([(name, value) for name, value in params.items() if value is not None])
            query = '%s&%s' % (query, extra) if query else extra
        if query:
            target += '?' + query
        headers = dict(self.headers)
        body = None
        if json is not None:
            body = _json_dumps(json).encode('utf-8')
            headers['Content-Type'] = 'application/json'
        connection, via_http_proxy = self._connection(parts.scheme, parts.netloc, timeout)
        if via_http_proxy:
            target = '%s://%s%s' % (parts.scheme, parts.netloc, target)
        try:
            connection.request(method, target, body=body, headers=headers)
            response = connection.getresponse()
            content = response.read()
        except Exception:
            self._forget(parts.scheme, parts.netloc)
            raise
        if response.will_close:
            self._forget(parts.scheme, parts.netloc)
        return HttpResponse(response.status, content, response.msg)

    def close(self):
        for connection, dummy in self._connections.values():
            connection.close()
        self._connections = {}

    def _forget(self, scheme, netloc):
        entry = self._connections.pop((scheme, netloc), None)
        if entry is not None:
            entry[0].close()

    def _connection(self, scheme, netloc, timeout):
        key = (scheme, netloc)
        entry = self._connections.get(key)
        if entry is not None:
            connection = entry[0]
            if _dropped(connection):
                self._forget(scheme, netloc)
                entry = None
            else:
                connection.timeout = timeout
                if connection.sock is not None:
                    connection.sock.settimeout(timeout)
        if entry is None:
            entry = self._open(scheme, netloc, timeout)
            self._connections[key] = entry
        return entry

    def _open(self, scheme, netloc, timeout):
        proxy = self._proxy_for(scheme, netloc)
        if scheme == 'https':
            import ssl  # only https pays for it
            context = ssl.create_default_context()
            if not self.verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            if proxy:
                connection = http_client.HTTPSConnection(proxy.hostname, proxy.port or 8080, timeout=timeout, context=context)
                connection.set_tunnel(*_host_port(netloc, 443))
                return connection, False
            return http_client.HTTPSConnection(netloc, timeout=timeout, context=context), False
        if scheme != 'http':
            raise ValueError('api_url must start with https:// or http://, not %s://' % scheme)
        if proxy:
            return http_client.HTTPConnection(proxy.hostname, proxy.port or 8080, timeout=timeout), True
        return http_client.HTTPConnection(netloc, timeout=timeout), False

    def _proxy_for(self, scheme, netloc):
        if self._proxies is None:
            from urllib.request import getproxies
            self._proxies = getproxies()
        proxy = self._proxies.get(scheme)
        if not proxy:
            return None
        from urllib.request import proxy_bypass
        if proxy_bypass(_host_port(netloc, 0)[0]):
            return None
        return urlsplit(proxy if '://' in proxy else 'http://' + proxy)


def _host_port(netloc, default_port):
    host, dummy, port = netloc.rpartition(':')
    if host and port.isdigit() and not netloc.endswith(']'):
        return host.strip('[]'), int(port)
    return netloc.strip('[]'), default_port


def _dropped(connection):
    """Whether an idle kept-alive connection was closed by the server (readable with nothing to read)."""
    sock = connection.sock
    if sock is None:
        return True
    try:
        readable, dummy, dummy2 = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def is_timeout(exc):
    """Whether a transport exception means "no answer in time" (stdlib or requests)."""
    return isinstance(exc, socket.timeout) or 'Timeout' in type(exc).__name__


def _json_dumps(data):
    return json.dumps(data)
