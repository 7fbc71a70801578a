#!/usr/bin/env bash
# `akida summary` on every real .fbz fixture: each runs, counts and names the layers listed in
# shared/docs/fixture-layers.txt (decoded from the files independently of this project), and
# the layer rows match published vendor summaries of the same architectures.
set -euo pipefail
BIN_DIR=$1 SOURCE_DIR=$2
FIXTURES=$SOURCE_DIR/../shared/fixtures/fbz
LISTING=$SOURCE_DIR/../shared/docs/fixture-layers.txt
if [[ ! -d $FIXTURES || ! -f $LISTING ]]; then
  echo "SKIP akida_summary: $FIXTURES or $LISTING is absent"
  exit 0
fi
AKIDA=$BIN_DIR/akida
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# "## file.fbz" then "layer NAME inbound=..." lines, per fixture.
count=0
for fbz in "$FIXTURES"/*.fbz; do
  name=$(basename "$fbz")
  "$AKIDA" summary "$fbz" > "$WORK/summary.txt" || fail "summary of $name exited $?"
  layers=$(awk -v f="## $name" '$0 == f {on = 1; next} /^## / {on = 0} on && $1 == "layer" {print $2}' "$LISTING")
  [[ -n $layers ]] || fail "$name is not in $LISTING"
  n=$(wc -l <<< "$layers")
  # The model table's data row ends with the layer count.
  data_row=$(sed -n 5p "$WORK/summary.txt" | sed 's/ *$//')
  [[ $data_row == *"  $n" ]] || fail "$name: model row '$data_row' does not end with $n layers"
  while read -r layer; do
    grep -qF -- "$layer (" "$WORK/summary.txt" || fail "$name: layer $layer is not listed"
  done <<< "$layers"
  first=$(head -1 <<< "$layers") last=$(tail -1 <<< "$layers")
  grep -qF -- "SW/$first-$last (Software)" "$WORK/summary.txt" || fail "$name: no sequence line SW/$first-$last"
  count=$((count + 1))
done
[[ $count -ge 8 ]] || fail "only $count fixtures found"

# tenn_v1: labels as the vendor prints Akida 1.0 layers; kernels as published for the same
# layer kinds (MNIST example: conv2d (InputConv.) (3, 3, 1, 32), dense (Fully.) (1, 1, 3136, 10)).
"$AKIDA" summary "$FIXTURES/tenn_v1.fbz" | sed 's/ *$//' > "$WORK/tenn.txt"
for row in "conv2d (InputConv.)           [13, 13, 32]  (3, 3, 1, 32)" \
           "separable_conv2d (Sep.Conv.)  [7, 7, 64]    (3, 3, 32, 1)" \
           "                                            (1, 1, 32, 64)" \
           "dense (Fully.)                [1, 1, 10]    (1, 1, 3136, 10)" \
           "[28, 28, 1]  [1, 1, 10]    1          3"; do
  grep -qxF -- "$row" "$WORK/tenn.txt" || fail "tenn_v1: missing row '$row'"
done

# ei_fomo_v1 has the architecture of an Edge Impulse FOMO model whose mapped summary was
# published (metanav/vehicle_detection_brainchip_edge_impulse README). Its layer rows, without
# the NPs column (the first 23 + 2 + 14 + 2 + 16 = 57 characters), must be ours exactly.
cat > "$WORK/published.txt" <<'PUBLISHED'
conv_0 (InputConv.)      [112, 112, 16]  (3, 3, 3, 16)     N/A
conv_1 (Conv.)           [112, 112, 32]  (3, 3, 16, 32)    4  
conv_2 (Conv.)           [56, 56, 64]    (3, 3, 32, 64)    6  
conv_3 (Conv.)           [56, 56, 64]    (3, 3, 64, 64)    3  
separable_4 (Sep.Conv.)  [28, 28, 128]   (3, 3, 64, 1)     3  
                                         (1, 1, 64, 128)      
separable_5 (Sep.Conv.)  [28, 28, 128]   (3, 3, 128, 1)    2  
                                         (1, 1, 128, 128)     
conv2d (Conv.)           [28, 28, 32]    (1, 1, 128, 32)   2  
conv2d_1 (Conv.)         [28, 28, 2]     (1, 1, 32, 2)     1  
PUBLISHED
cut -c1-57 "$WORK/published.txt" > "$WORK/expected_rows.txt"
"$AKIDA" summary "$FIXTURES/ei_fomo_v1.fbz" | sed -n '13,$p' | grep -v '^_*$' > "$WORK/rows.txt"
diff "$WORK/expected_rows.txt" "$WORK/rows.txt" || fail "ei_fomo_v1 rows differ from the published ones"
sed -n 5p < <("$AKIDA" summary "$FIXTURES/ei_fomo_v1.fbz") | grep -qxF "[224, 224, 3]  [28, 28, 2]   1          8     " \
  || fail "ei_fomo_v1: model row differs from the published '[224, 224, 3]  [28, 28, 2]   1          8'"
echo "akida summary: $count fixtures OK"
