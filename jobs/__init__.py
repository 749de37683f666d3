"""The offline pipeline: plain idempotent job functions. Never imports Flask or api."""
