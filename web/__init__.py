"""The web UI's static files (served at ``/``; no build step)."""
