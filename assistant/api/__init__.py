"""The HTTP layer: one module per resource, the envelope, the guard, SSE framing, /v1 and /mcp.
Everything the application does lives below it (README, Architecture)."""
