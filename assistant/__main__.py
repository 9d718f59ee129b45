"""``python -m assistant`` runs the same CLI as ``repo-assistant``."""

from assistant.cli import main

raise SystemExit(main())
