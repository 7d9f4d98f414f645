"""Settings of the test suite: the project's settings in development mode.

``make test`` sets DEBUG too; this lets a plain ``pytest`` run as well. The
settings' own refusal to start without SECRET_KEY is tested in a subprocess
against ``crm.settings``.
"""

import os

os.environ.setdefault("DEBUG", "true")

from crm.settings import *  # noqa: F403 - the project settings, unchanged
