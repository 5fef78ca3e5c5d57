"""Unit tests fake HTTP with the responses library, which patches requests: give every client a requests.Session.

The collection's own stdlib transport is covered by tests/unit/plugins/module_utils/test_transport.py and by
every integration test.
"""

import pytest
import requests

from ansible_collections.capgo.cloud.plugins.module_utils import client as capgo_client


@pytest.fixture(autouse=True)
def _requests_session(monkeypatch, request):
    if request.node.get_closest_marker('stdlib_transport') is None:
        monkeypatch.setattr(capgo_client, 'SESSION_FACTORY', requests.Session)


def pytest_configure(config):
    config.addinivalue_line('markers', 'stdlib_transport: use the collection\'s own HTTP transport, not requests')
