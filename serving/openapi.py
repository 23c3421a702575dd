"""The service's OpenAPI document and its page: `/docs.json` and `/docs`.

BentoML generates the paths and schemas from the routes' request models; this adds what it
cannot know: a title, the package version, a description for operators, the request example
of /score (written by `creatorscore example-request`, see scripts/openapi_example.py), and
GET /model_info (a plain route beside BentoML's POST one).
"""
from __future__ import annotations

import copy
import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

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
  within a budget, the top ones explained.
- `POST /audit_followers`: fake probability of follower accounts and the sample's fake share.
- `GET /model_info`: model versions, training metrics, the feature documentation, limits.
- `/livez`, `/readyz`, `/metrics` (Prometheus).

Errors: `{"error", "detail": [{"loc", "msg", "type"}]}` with 400 (not JSON or wrong
shape), 401 (API key, when CREATORSCORE_API_KEY is set: `X-API-Key` or
`Authorization: Bearer`), 413 (limits), 415 (not JSON), 422 (data contract).
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


def package_version() -> str:
    try:
        return version("creatorscore")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


def swagger_page() -> str:
    """The /docs page: Swagger UI (BentoML's bundled copy, no CDN) over /docs.json."""
    return SWAGGER_PAGE.format(title=TITLE)


def openapi_document(generated: dict, score_example: dict | None = None) -> dict:
    """BentoML's generated document with our info, the /score example and GET /model_info."""
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
    return document
