"""System prompt templates and their renderer."""
