"""One folder per resource, each with routes.py and schemas.py."""
