#!/usr/bin/env bash
# `make demo`: start the simulator, run playbooks/demo.yml twice against it,
# and show that the second run changes nothing.  Called by the Makefile with
# the venv on PATH and ANSIBLE_COLLECTIONS_PATH set to the installed tarball.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SIMULATOR=$ROOT/tests/simulator/capgo_simulator.py
SEED=$ROOT/tests/simulator/demo_seed.json
PLAYBOOK=$ROOT/playbooks/demo.yml
RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/capgo-demo.XXXXXX")
SIM_PID=

stop_simulator() {
  if [[ -n $SIM_PID ]] && kill -0 "$SIM_PID" 2>/dev/null; then
    kill "$SIM_PID" 2>/dev/null || true
    wait "$SIM_PID" 2>/dev/null || true
  fi
  rm -rf "$RUN_DIR"
}
trap stop_simulator EXIT
trap 'exit 130' INT TERM

[[ -f $SIMULATOR ]] || { echo "demo: $SIMULATOR is missing"; exit 1; }
[[ -f $PLAYBOOK ]] || { echo "demo: $PLAYBOOK is missing"; exit 1; }

seed_args=()
[[ -f $SEED ]] && seed_args=(--seed "$SEED")
python "$SIMULATOR" --port 0 --port-file "$RUN_DIR/port" "${seed_args[@]}" >"$RUN_DIR/simulator.log" 2>&1 &
SIM_PID=$!
for _ in $(seq 200); do
  [[ -s $RUN_DIR/port ]] && break
  kill -0 "$SIM_PID" 2>/dev/null || { cat "$RUN_DIR/simulator.log"; echo "demo: the simulator exited"; exit 1; }
  sleep 0.05
done
[[ -s $RUN_DIR/port ]] || { echo "demo: the simulator did not report its port"; exit 1; }
CAPGO_API_URL=$(cat "$RUN_DIR/port")  # the simulator writes its URL (older drafts: the port)
[[ $CAPGO_API_URL == http* ]] || CAPGO_API_URL="http://127.0.0.1:$CAPGO_API_URL"
export CAPGO_API_URL

# The demo key and app come from the seed file; without one, seed a minimal org.
read -r CAPGO_API_KEY CAPGO_DEMO_APP_ID < <(python - "$SEED" "$CAPGO_API_URL" <<'PY'
import json, os, sys, urllib.request, uuid

seed_path, url = sys.argv[1:3]
if os.path.isfile(seed_path):
    with open(seed_path) as handle:
        seed = json.load(handle)
else:
    seed = {
        "apps": [{"app_id": "com.example.app", "org": "org1", "name": "Example App"}],
        "keys": [{"key": str(uuid.uuid4()), "mode": "all", "org": "org1", "apps": None}],
    }
    request = urllib.request.Request(url + "/_sim/seed", data=json.dumps(seed).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=10).read()
keys = seed.get("keys") or []
key = next((k for k in keys if k.get("mode") == "all"), keys[0] if keys else {})
apps = seed.get("apps") or [{}]
print(key.get("key", ""), apps[0].get("app_id", "com.example.app"))
PY
)
export CAPGO_API_KEY CAPGO_DEMO_APP_ID NO_PROXY=127.0.0.1,localhost
[[ -n $CAPGO_API_KEY ]] || { echo "demo: no API key in $SEED"; exit 1; }

run_demo() {  # $1 = log file; prints the play output, returns ansible-playbook's rc
  local rc=0
  ansible-playbook "$PLAYBOOK" >"$1" 2>&1 || rc=$?
  if grep -qF -- "$CAPGO_API_KEY" "$1"; then
    echo "demo: the API key appeared in the playbook output" >&2
    return 99
  fi
  cat "$1"
  return "$rc"
}
recap_changed() { sed -n 's/.*localhost *:.* changed=\([0-9]*\).*/\1/p' "$1" | tail -n 1; }

echo "== Capgo simulator on $CAPGO_API_URL (app $CAPGO_DEMO_APP_ID)"
echo "== First run: bring the app to the state playbooks/demo.yml describes"
run_demo "$RUN_DIR/first.log"
echo "== Second run: the same playbook again, nothing left to change"
run_demo "$RUN_DIR/second.log"

first=$(recap_changed "$RUN_DIR/first.log")
second=$(recap_changed "$RUN_DIR/second.log")
echo
echo "Demo summary: first run changed=${first:-?}, second run changed=${second:-?}."
if [[ $second != 0 ]]; then
  echo "The second run should report changed=0: the playbook is not idempotent." >&2
  exit 1
fi
echo "The second run changed nothing: the collection is idempotent."
