"""``python -m assistant`` runs the same CLI as ``repo-assistant``."""

from assistant.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
