"""The flask-smorest Api with knotlog's conventions: problem documents, bearer auth, YAML."""

from __future__ import annotations

import http
from typing import Any

import yaml
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from marshmallow import fields
from werkzeug.exceptions import HTTPException

from api.errors import PROBLEM_JSON, http_exception_problem
from api.resources.common import ProblemSchema, WeekConverter, week_converter_schema
from core import vocab

API_DESCRIPTION = """\
Sync API of knotlog, a log of trigger-point self-massage sessions.

Authenticate with `Authorization: Bearer <token>` (create an account, then a token).
Errors are RFC 9457 problem documents (`application/problem+json`) with per-field
`errors`. Push answers per item, so one bad session never blocks a phone's queue.
Only 429 (a rate limit, or sign-ins locked after repeated wrong passwords) and 503 are
temporary: retry them after `Retry-After` seconds; any other 4xx will fail again.
Changing the email or the password, and deleting the account, ask for the password.
"""


# Closed vocabularies published as named schema components, so generated clients get
# stable type names (Region, Tool...) instead of ones derived from where they appear.
NAMED_ENUMS: dict[str, tuple[str, ...]] = {
    "Region": vocab.REGIONS,
    "Tool": vocab.TOOLS,
    "Side": vocab.SIDES,
    "PushStatus": vocab.PUSH_STATUSES,
}
_ENUM_BY_VALUES = {frozenset(values): name for name, values in NAMED_ENUMS.items()}
_KEPT_KEYS = ("description", "example", "default", "readOnly", "writeOnly")


def _named_enum(self: Any, field: fields.Field, ret: dict[str, Any], **_: Any) -> dict[str, Any]:
    """An apispec attribute function: a field limited to a named vocabulary becomes a $ref."""
    values = frozenset(value for value in ret.get("enum", ()) if value is not None)
    name = _ENUM_BY_VALUES.get(values)
    if name is None:
        return {}
    kept = {key: ret[key] for key in _KEPT_KEYS if key in ret}
    ref: dict[str, Any] = {"$ref": f"#/components/schemas/{name}"}
    # OpenAPI 3.0 ignores siblings of $ref: nullable or described uses go through allOf.
    named: dict[str, Any] = {"allOf": [ref], **kept} if kept or field.allow_none else ref
    if field.allow_none:
        named["nullable"] = True
    ret.clear()
    return named


class KnotlogApi(Api):
    ERROR_SCHEMA = ProblemSchema

    def _init_spec(self, *args: Any, **kwargs: Any) -> None:
        super()._init_spec(*args, **kwargs)
        for name, values in NAMED_ENUMS.items():
            self.spec.components.schema(name, {"type": "string", "enum": list(values)})
        self.ma_plugin.converter.add_attribute_function(_named_enum)
        # `<week:week>` in routes: documented with the week pattern, checked by the view.
        self._app.url_map.converters["week"] = WeekConverter
        self.register_converter(WeekConverter, week_converter_schema)

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
