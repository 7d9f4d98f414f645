"""``python -m bench``: set Django up as manage.py does, then run the benchmark."""

import os
import sys


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    # A developer's tool, like manage.py: development mode unless DEBUG is set.
    os.environ.setdefault("DEBUG", "true")
    import django

    django.setup()
    from bench.cli import UsageError, run

    try:
        run(sys.argv[1:])
    except UsageError as exc:
        print(f"python -m bench: error: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
