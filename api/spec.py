"""The flask-smorest Api with knotlog's conventions: problem documents, bearer auth, YAML."""

from __future__ import annotations

import http
from typing import Any

import yaml
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from werkzeug.exceptions import HTTPException

from api.errors import PROBLEM_JSON, http_exception_problem
from api.resources.common import ProblemSchema

API_DESCRIPTION = """\
Sync API of knotlog, a log of trigger-point self-massage sessions.

Authenticate with `Authorization: Bearer <token>` (create an account, then a token).
Errors are RFC 9457 problem documents (`application/problem+json`) with per-field
`errors`. Push answers per item, so one bad session never blocks a phone's queue.
"""


class KnotlogApi(Api):
    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error: HTTPException) -> Any:
        return http_exception_problem(error)

    def _register_responses(self) -> None:
        """Document every error response as application/problem+json."""
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        default = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(default, self.spec, PROBLEM_JSON)
        self.spec.components.response("DEFAULT_ERROR", default, lazy=True)


def spec_yaml(api: Api) -> str:
    return yaml.safe_dump(api.spec.to_dict(), sort_keys=False, allow_unicode=True, width=100)
