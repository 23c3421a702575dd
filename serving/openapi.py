"""The service's OpenAPI document and its page: `/docs.json` and `/docs`.

BentoML generates the paths and schemas from the routes' request models; this adds what it
cannot know: a title, the package version, a description for operators, the request example
of /score (written by `creatorscore example-request`, see scripts/openapi_example.py),
GET /model_info (a plain route beside BentoML's POST one), the error answers every scoring
route can give with their one body shape (serving.errors), the lists that must not be empty,
and the answers' schemas as pydantic writes them (BentoML's copy drops `null` from optional
fields such as ScoreResponse.campaign_id).
"""
from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from pydantic import BaseModel

TITLE = "creatorscore scoring API"
SCORE_EXAMPLE = Path(__file__).parent / "examples" / "score_request.json"
DESCRIPTION = """\
Explainable scoring of influencer-marketing creators: engagement, audience authenticity
(fake-follower risk and fake share with a 90% interval), niche fit and, for a campaign, the
expected conversions, revenue and ROI with their intervals. Every answer carries its
provenance (registered model name and version, feature and contract versions).

- `POST /score`: 1..N creators as data-contract records (profile, posts, optional
  follower_history, audience_sample, comments), optionally a campaign and the planned
  collaborations. Build a body from a dataset with
  `creatorscore example-request --data DIR [--campaign ID]`.
- `POST /rank`: candidates for a campaign ranked by the objective, the best selection
  within a budget, the top ones explained. The answer names the candidates
  (`candidate_set`): send that name with another budget, objective or top_k to rank them
  again without sending them (422 `unknown_candidate_set` once it is no longer kept).
- `POST /audit_followers`: fake probability of follower accounts and the sample's fake share.
- `GET /model_info`: model versions, training metrics, the feature documentation, limits.
- `/livez`, `/readyz`, `/metrics` (Prometheus).

Errors: `{"error", "detail": [{"loc", "msg", "type"}]}` with 400 (not JSON or wrong
shape), 401 (API key, when CREATORSCORE_API_KEY is set: `X-API-Key` or
`Authorization: Bearer`), 413 (limits), 415 (not JSON), 422 (data contract), 503 (busy,
with `Retry-After`; or the models are not loaded yet).
Field names and types: the data contract (data/CONTRACT.md). Licence: Apache-2.0.
"""
SWAGGER_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="stylesheet" href="./static_content/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="./static_content/swagger-ui-bundle.js"></script>
<script src="./static_content/swagger-ui-standalone-preset.js"></script>
<script>
window.ui = SwaggerUIBundle({{url: "./docs.json", dom_id: "#swagger-ui", deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "StandaloneLayout"}});
</script>
</body>
</html>
"""


ERROR_SCHEMA = "Error"
ERROR_SCHEMAS = {
    "ErrorDetail": {
        "type": "object", "required": ["loc", "msg", "type"],
        "properties": {
            "loc": {"type": "array", "description": "field path of the problem",
                    "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
            "msg": {"type": "string"},
            "type": {"type": "string"}}},
    ERROR_SCHEMA: {
        "type": "object", "required": ["error", "detail"],
        "properties": {
            "error": {"type": "string", "description": "summary"},
            "detail": {"type": "array", "items": {"$ref": "#/components/schemas/ErrorDetail"}}}},
}
# The errors a scoring route answers (serving.middleware, serving.admission, BentoML's request
# models, the contract validator); GET /model_info has no body to refuse.
POST_ERRORS = {
    "400": "not JSON, or not the request's shape",
    "401": "missing or wrong API key (when CREATORSCORE_API_KEY is set)",
    "413": "body or list over a limit (CREATORSCORE_MAX_*)",
    "415": "Content-Type is not application/json",
    "422": "the data contract or a request parameter is not met",
    "503": "busy (see Retry-After) or the models are not loaded yet",
}
GET_ERRORS = {code: POST_ERRORS[code] for code in ("401", "503")}
# Lists the service refuses when empty (422 naming the list): route -> body fields.
NON_EMPTY_LISTS = {"/score": ("creators",), "/rank": ("creators",),
                   "/audit_followers": ("accounts",)}
SCORING_ROUTES = ("/score", "/rank", "/audit_followers", "/model_info")


def package_version() -> str:
    try:
        return version("creatorscore")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


def swagger_page() -> str:
    """The /docs page: Swagger UI (BentoML's bundled copy, no CDN) over /docs.json."""
    return SWAGGER_PAGE.format(title=TITLE)


def openapi_document(generated: dict, score_example: dict | None = None,
                     answers: Mapping[str, type[BaseModel]] | None = None) -> dict:
    """BentoML's generated document with our info, the /score example, GET /model_info, the
    error answers, the non-empty lists and `answers` (route -> response model) as the 200s."""
    document = copy.deepcopy(generated)
    document["info"] = {"title": TITLE, "version": package_version(),
                        "description": DESCRIPTION,
                        "license": {"name": "Apache-2.0",
                                    "url": "https://www.apache.org/licenses/LICENSE-2.0"}}
    paths = document.setdefault("paths", {})
    if score_example is None and SCORE_EXAMPLE.exists():
        score_example = json.loads(SCORE_EXAMPLE.read_text(encoding="utf-8"))
    score = paths.get("/score", {}).get("post")
    if score is not None and score_example is not None:
        content = score.setdefault("requestBody", {}).setdefault("content", {})
        content.setdefault("application/json", {})["examples"] = {
            "campaign": {"summary": "Two creators for a campaign, with their planned "
                                    "collaborations (creatorscore example-request)",
                         "value": score_example}}
    model_info = paths.get("/model_info", {})
    if "post" in model_info:
        get = copy.deepcopy(model_info["post"])
        get.pop("requestBody", None)
        get["operationId"] = "model_info_get"
        get["summary"] = "Model versions, training metrics, features and limits"
        model_info["get"] = get
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for route, model in (answers or {}).items():
        _document_answer(paths.get(route, {}), model, schemas)
    schemas.update(copy.deepcopy(ERROR_SCHEMAS))
    for route in SCORING_ROUTES:
        for method, operation in paths.get(route, {}).items():
            _document_errors(operation, POST_ERRORS if method == "post" else GET_ERRORS)
    for route, fields in NON_EMPTY_LISTS.items():
        body = paths.get(route, {}).get("post", {}).get("requestBody", {})
        properties = body.get("content", {}).get("application/json", {}).get(
            "schema", {}).get("properties", {})
        for name in fields:
            if name in properties:
                properties[name]["minItems"] = 1
    return document


def _document_answer(path: dict, model: type[BaseModel], schemas: dict) -> None:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        schemas[name] = definition
    for operation in path.values():
        responses = operation.setdefault("responses", {})
        ok = responses.pop(200, None) or responses.pop("200", None) or {}
        ok.setdefault("description", "Successful Response")
        ok["content"] = {"application/json": {"schema": schema}}
        responses["200"] = ok


def _document_errors(operation: dict, errors: Mapping[str, str]) -> None:
    """The route's error answers, all `{"error", "detail": [{"loc", "msg", "type"}]}`;
    BentoML's own entries (400 with a string detail, 404, 500) are replaced: the service
    answers no 404 or 500 on these routes."""
    responses = {str(code): answer for code, answer in operation.get("responses", {}).items()
                 if not str(code).startswith(("4", "5"))}
    for code, description in errors.items():
        answer = {"description": description, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}}}}
        if code == "503":
            answer["headers"] = {"Retry-After": {
                "description": "seconds to wait (when busy)", "schema": {"type": "integer"}}}
        responses[code] = answer
    operation["responses"] = responses
