#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    # manage.py is the developer's entry point: development mode unless DEBUG is
    # set (as cookiecutter-django's manage.py picks local settings). Servers go
    # through wsgi.py/asgi.py, where DEBUG stays off unless set.
    os.environ.setdefault("DEBUG", "true")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
