#!/usr/bin/env bash
# The main job on a fresh machine: install, generate a demo world, validate it, train the models
# (MLflow store under mlruns/), score and rank a campaign, start the scoring service (with the
# brand manager's page at /app) and send it a request; it ends by printing the page's URL.
# The service keeps running at the end (Ctrl-C stops it); DEMO_KEEP_SERVING=0 stops it instead.
set -euo pipefail
cd "$(dirname "$0")/.."
export BENTOML_DO_NOT_TRACK=true MPLBACKEND=Agg
PORT="${PORT:-3000}"
WORLD=demo/world

if [ ! -x .venv/bin/creatorscore ]; then
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[dev]'
fi
cs=.venv/bin/creatorscore

$cs generate --out "$WORLD" --creators 2000 --campaigns 60 --seed 7
$cs validate "$WORLD"
$cs train --data "$WORLD"
campaign=$(.venv/bin/python -c "import pandas as pd; print(pd.read_csv('$WORLD/campaigns.csv').sort_values('start_date').campaign_id.iloc[-1])")
$cs score --data "$WORLD" --campaign "$campaign" --out demo/scores_campaign.csv
$cs example-request --data "$WORLD" --campaign "$campaign" --creators 3 --out demo/request.json
# The brand manager's shortlist under half the campaign's planned spend, as a static page.
budget=$(.venv/bin/python -c "import pandas as pd; c = pd.read_csv('$WORLD/collaborations.csv'); print(round(c.loc[c.campaign_id == '$campaign', 'cost'].sum() / 2))")
$cs rank --data "$WORLD" --campaign "$campaign" --budget "$budget" --out demo/shortlist.html

$cs serve --port "$PORT" --data "$WORLD" > demo/serve.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
echo "Waiting for the service on port $PORT (log: demo/serve.log)..."
for _ in $(seq 1 120); do
  if curl -sf "http://127.0.0.1:$PORT/readyz" > /dev/null; then break; fi
  if ! kill -0 $server 2>/dev/null; then cat demo/serve.log; exit 1; fi
  sleep 1
done
set -x
curl -sf -X POST "http://127.0.0.1:$PORT/score" -H 'Content-Type: application/json' \
  --data @demo/request.json -o demo/response.json
set +x
.venv/bin/python -c "import json; text = json.dumps(json.load(open('demo/response.json')), indent=2); print(text[:3000]); print('... (whole answer in demo/response.json)')"
echo "The service is running on http://127.0.0.1:$PORT (OpenAPI docs at /docs)."
echo "The shortlist of campaign $campaign under a budget of $budget: demo/shortlist.html."
echo "The brand manager's page (open it in a browser; choose the dataset '$(basename "$WORLD")', campaign $campaign is preselected, then 'Rank the candidates'):"
echo "  http://127.0.0.1:$PORT/app/"
if [ "${DEMO_KEEP_SERVING:-1}" = "1" ]; then
  echo "Ctrl-C stops it."
  wait $server
fi
