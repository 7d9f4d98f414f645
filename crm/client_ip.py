"""The client's address, as every rate limit and lockout sees it.

``REMOTE_ADDR`` is the peer of the TCP connection and cannot be forged. Behind
``TRUSTED_PROXY_COUNT`` reverse proxies (settings, default 0), the client is the
address the outermost trusted proxy appended to ``X-Forwarded-For``: read from
the right, so whatever a client puts in the header itself is ignored. This is
Django REST framework's ``NUM_PROXIES`` rule; the settings set ``NUM_PROXIES``
from the same number, so DRF's throttles, the capture throttle and the login
lockout (django-axes) always agree on who the client is.
"""

from __future__ import annotations

import ipaddress

from rest_framework.throttling import BaseThrottle


def client_ip(request) -> str:
    """Return the client's address for throttles and lockouts (see module doc)."""
    return BaseThrottle().get_ident(request)


def client_ip_or_none(request) -> str | None:
    """Return the client's address if it is a valid IP address, else None."""
    try:
        return str(ipaddress.ip_address(client_ip(request)))
    except ValueError:
        return None
