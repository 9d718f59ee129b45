"""``python -m assistant`` runs the same CLI as ``repo-assistant``."""

from assistant.cli import main

# The guard matters: the index's worker processes (spawned) import the main module again.
if __name__ == "__main__":
    raise SystemExit(main())
