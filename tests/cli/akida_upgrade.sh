#!/usr/bin/env bash
# `akida upgrade` of pre-2.3 files (no version field, typed parameters): the written file reads
# back as the same model (same summary, same JSON apart from the version it now records).
set -euo pipefail
BIN_DIR=$1 SOURCE_DIR=$2
FIXTURES=$SOURCE_DIR/../shared/fixtures/fbz
PY=/usr/bin/python3
if [[ ! -d $FIXTURES ]]; then echo "SKIP akida_upgrade: $FIXTURES is absent"; exit 0; fi
AKIDA=$BIN_DIR/akida
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

for name in ei_gesture_v1_pre2.3 ei_fomo_v1 hotdog_edge_v1_2021 ei_fan_v1_2.3.3; do
  old=$FIXTURES/$name.fbz new=$WORK/$name.fbz
  out=$("$AKIDA" upgrade "$old" "$new")
  [[ $out == *"$new"* ]] || fail "upgrade did not report what it wrote: $out"
  diff <("$AKIDA" summary "$old") <("$AKIDA" summary "$new") || fail "$name: summaries differ"
  "$AKIDA" dump "$old" > "$WORK/old.json"
  "$AKIDA" dump "$new" > "$WORK/new.json"
  "$PY" - "$WORK/old.json" "$WORK/new.json" <<'PYTHON' || fail "$name: dumps differ"
import json, sys
old, new = (json.load(open(p)) for p in sys.argv[1:])
assert new["version"] == "2.17.0", new["version"]
old.pop("version"); new.pop("version")
assert old == new
PYTHON
done
[[ -z $(ls -A "$WORK" | grep -v -e '\.fbz$' -e '\.json$') ]] || fail "temporary files left: $(ls -A "$WORK")"
status=0
"$AKIDA" upgrade "$WORK/absent.fbz" "$WORK/x.fbz" 2> "$WORK/err" || status=$?
[[ $status -eq 1 ]] && grep -qF "$WORK/absent.fbz" "$WORK/err" || fail "missing input: status $status, $(cat "$WORK/err")"
[[ ! -e $WORK/x.fbz ]] || fail "a failed upgrade wrote its output"
echo "akida upgrade: OK"
