"""The request body limit, for chunked bodies too.

Werkzeug checks MAX_CONTENT_LENGTH against Content-Length; a chunked body has
none, and its limited stream then just stops at the limit, handing a silently
truncated body to the parser. Reading one byte past the limit here turns that
into the 413 the client must see.
"""

from __future__ import annotations

from flask import Flask, request
from werkzeug.exceptions import RequestEntityTooLarge


def init_app(app: Flask) -> None:
    @app.before_request
    def refuse_oversized_chunked_bodies() -> None:
        limit = app.config["MAX_CONTENT_LENGTH"]
        if request.content_length is not None or limit is None:
            return
        if request.environ.get("wsgi.input_terminated") is None:
            return  # werkzeug hands such requests an empty body anyway
        body = request.environ["wsgi.input"].read(limit + 1)
        if len(body) > limit:
            raise RequestEntityTooLarge()
        request._cached_data = body  # what get_data() returns from now on
