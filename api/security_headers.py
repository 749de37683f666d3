"""Response headers that keep browsers and caches from mishandling personal data.

- `X-Content-Type-Options: nosniff` everywhere, so nothing is sniffed into HTML.
- `Cache-Control: no-store` on every answer that is not a static asset: the API's
  answers are one person's data (or errors about it) and must not sit in a cache.
- A Content-Security-Policy per kind of page: the docs load scripts and styles only
  from this app; a report page runs no script at all (inline CSS, data: images);
  JSON answers may load nothing. None may be framed.
- `Strict-Transport-Security` when the request came over TLS (directly, or through
  a proxy trusted with KNOTLOG_PROXY_HOPS).
"""

from __future__ import annotations

from flask import Flask, Response, request

DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# The report HTML is self-contained: one inline <style>, the chart as a data: image.
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000; includeSubDomains"
STATIC_PREFIXES = ("/docs/assets/",)


def _policy(path: str) -> str:
    if path == "/docs" or path.startswith("/docs/"):
        return DOCS_CSP
    if path.startswith(("/v1/report-pages/", "/v1/unsubscribe")):
        return REPORT_CSP
    return API_CSP


def init_app(app: Flask) -> None:
    @app.after_request
    def _secure(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Content-Security-Policy", _policy(request.path))
        headers.setdefault("Referrer-Policy", "no-referrer")
        if not request.path.startswith(STATIC_PREFIXES):
            headers["Cache-Control"] = "no-store"
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", HSTS)
        return response
