"""Settings of the test suite: the project's settings in development mode.

``make test`` sets DEBUG too; this lets a plain ``pytest`` run as well. The
settings' own refusal to start without SECRET_KEY is tested in a subprocess
against ``crm.settings``.
"""

import os

os.environ.setdefault("DEBUG", "true")

from crm.settings import *  # noqa: F403 - the project settings, unchanged

# The suite must not depend on the machine it runs on: a fixed time zone that is
# not UTC, so a test that confuses local and UTC dates fails everywhere alike.
TIME_ZONE = "Europe/Paris"
