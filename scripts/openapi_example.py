"""Write serving/examples/score_request.json, the /score request example of the OpenAPI page.

The body is what `creatorscore example-request --campaign ID --creators 2` writes, on a small
generated world (8 posts per creator, no audience samples or comments, so the example stays
short). The tests check the service answers it with 200.

    .venv/bin/python scripts/openapi_example.py
"""
from __future__ import annotations

import json
from pathlib import Path

from data.loader import validate_tables
from data.synthetic import generate_world
from serving.cli import example_body

OUT = Path(__file__).resolve().parents[1] / "serving" / "examples" / "score_request.json"


def main() -> None:
    world = generate_world(n_creators=40, n_campaigns=4, seed=7, posts_per_creator=8,
                           audience_share=0.05, comment_creator_share=0.0)
    tables = validate_tables(world.tables).tables
    campaign = str(tables["collaborations"]["campaign_id"].iloc[0])
    body = example_body(tables, campaign, n_creators=2)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(body, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{OUT}: /score example, campaign {campaign}, {len(body['creators'])} creators")


if __name__ == "__main__":
    main()
