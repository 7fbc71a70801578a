#!/usr/bin/env bash
# `cnn2snn check`: exit 0 on a compatible model, 2 on an incompatible one with every problem
# listed (converter rules and front-end block patterns), 1 on an unreadable file; --json parses.
set -euo pipefail
BIN_DIR=$(cd "$1" && pwd) SOURCE_DIR=$(cd "$2" && pwd)
PY=/usr/bin/python3
if ! "$PY" -c "import h5py, numpy" 2>/dev/null; then echo "SKIP cnn2snn_check: no h5py for $PY"; exit 0; fi
CNN2SNN=$BIN_DIR/cnn2snn
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
run() {  # EXPECTED_STATUS ARGS... (stdout in $WORK/stdout)
  local expected=$1 status=0
  shift
  "$CNN2SNN" "$@" > "$WORK/stdout" 2> "$WORK/stderr" || status=$?
  [[ $status -eq $expected ]] || fail "cnn2snn $* exited $status, expected $expected: $(cat "$WORK/stdout" "$WORK/stderr")"
}

(cd "$SOURCE_DIR" && "$PY" -m tools.quantizeml_h5 --pattern depthwise_conv2d_relu -o "$WORK/dw.h5" > /dev/null)

# Compatible: the generated pattern model and the DS-CNN example.
run 0 check -m "$WORK/dw.h5"
grep -q "compatible with Akida 2.0" "$WORK/stdout" || fail "check output: $(cat "$WORK/stdout")"
run 0 check -m "$SOURCE_DIR/examples/ds_cnn_kws_i8_w8_a8.h5" --json
"$PY" -c "
import json, sys
r = json.load(open('$WORK/stdout'))
assert r == {'compatible': True, 'target': 'v2', 'incompatibilities': [], 'hardware_limits': []}, r
"

# Resize the kernels of the depthwise and the pointwise conv (weights resized to match).
resize_kernels() {  # OUT.h5 KX KY
  cp "$WORK/dw.h5" "$1"
  "$PY" - "$@" <<'PYTHON'
import h5py, json, numpy as np, sys
kernel = [int(sys.argv[2]), int(sys.argv[3])]
with h5py.File(sys.argv[1], "r+") as f:
    config = json.loads(f.attrs["model_config"])
    for layer in config["config"]["layers"]:
        if layer["config"]["name"] in ("dw", "head_conv"):
            layer["config"]["kernel_size"] = kernel
    f.attrs["model_config"] = json.dumps(config).encode()  # as Keras writes it
    weights = f["model_weights"]
    for path in ("dw/dw/depthwise_kernel:0", "head_conv/head_conv/kernel:0"):
        old = weights[path]
        shape, dtype = tuple(kernel) + old.shape[2:], old.dtype
        del weights[path]
        weights.create_dataset(path, data=np.random.default_rng(0).normal(0, 0.1, shape).astype(dtype))
PYTHON
}

# Converter rules: 2-bit weights on the depthwise and the pointwise conv (Akida 2.0 takes 4 or 8).
cp "$WORK/dw.h5" "$WORK/w2.h5"
"$PY" - "$WORK/w2.h5" <<'PYTHON'
import h5py, json, sys
with h5py.File(sys.argv[1], "r+") as f:
    config = json.loads(f.attrs["model_config"])
    for layer in config["config"]["layers"]:
        if layer["config"]["name"] in ("dw", "head_conv"):
            layer["config"]["quant_config"]["weight_quantizer"]["bitwidth"] = 2
    f.attrs["model_config"] = json.dumps(config).encode()
PYTHON
run 2 check -m "$WORK/w2.h5"
grep -q "not compatible with Akida 2.0 (2 incompatibilities)" "$WORK/stdout" || fail "w2: $(cat "$WORK/stdout")"
grep -q "layer 'dw': weights_bits: 2 bits, expected 4 or 8" "$WORK/stdout" || fail "w2 dw: $(cat "$WORK/stdout")"
grep -q "layer 'head_conv': weights_bits: 2 bits, expected 4 or 8" "$WORK/stdout" || fail "w2 head: $(cat "$WORK/stdout")"
run 2 check -m "$WORK/w2.h5" --json
"$PY" -c "
import json
r = json.load(open('$WORK/stdout'))
assert r['compatible'] is False and r['target'] == 'v2', r
got = sorted((i['layer'], i['field']) for i in r['incompatibilities'])
assert got == [('dw', 'weights_bits'), ('head_conv', 'weights_bits')], got
"
# convert refuses the same model with every problem in one error, and writes nothing.
run 1 convert -m "$WORK/w2.h5"
grep -q "layer 'dw'" "$WORK/stderr" && grep -q "layer 'head_conv'" "$WORK/stderr" || fail "convert error: $(cat "$WORK/stderr")"
[[ ! -e $WORK/w2.fbz ]] || fail "an incompatible conversion wrote w2.fbz"

# Non-square kernels: the Keras reader and the evaluator take them (the quantized model runs),
# Akida does not; both layers are listed, and nothing is written.
resize_kernels "$WORK/k35.h5" 3 5
run 2 check -m "$WORK/k35.h5" --json
"$PY" -c "
import json
r = json.load(open('$WORK/stdout'))
assert r['compatible'] is False, r
got = sorted((i['layer'], i['field']) for i in r['incompatibilities'])
assert got == [('dw', 'kernel_size'), ('head_conv', 'kernel_size')], r
assert all('3x5' in i['problem'] for i in r['incompatibilities']), r
"
run 1 convert -m "$WORK/k35.h5"
grep -q "layer 'dw': kernel_size: kernel 3x5" "$WORK/stderr" && grep -q "layer 'head_conv': kernel_size: kernel 3x5" "$WORK/stderr" || fail "k35 convert: $(cat "$WORK/stderr")"
[[ ! -e $WORK/k35.fbz ]] || fail "an incompatible conversion wrote k35.fbz"
"$PY" - "$WORK/k35.h5" "$WORK/k35_in.npy" <<'PYTHON'
import h5py, json, numpy as np, sys
with h5py.File(sys.argv[1], "r") as f:
    shape = json.loads(f.attrs["model_config"])["config"]["layers"][0]["config"]["batch_input_shape"]
np.save(sys.argv[2], np.random.default_rng(1).integers(0, 256, [2] + shape[1:], dtype=np.uint8))
PYTHON
run 0 run -m "$WORK/k35.h5" -i "$WORK/k35_in.npy" -o "$WORK/k35_out.npy"

# Hardware limits: 4x4 kernels convert and run in software, but exceed the Akida 2.0 IP's
# kernel sizes; check says so without calling the model incompatible.
resize_kernels "$WORK/k4.h5" 4 4
run 0 check -m "$WORK/k4.h5"
grep -q "layer 'dw': kernel_size: kernel 4x4" "$WORK/stdout" || fail "k4 dw: $(cat "$WORK/stdout")"
grep -q "layer 'head_conv': kernel_size: kernel 4x4" "$WORK/stdout" || fail "k4 head: $(cat "$WORK/stdout")"
run 0 check -m "$WORK/k4.h5" --json
"$PY" -c "
import json
r = json.load(open('$WORK/stdout'))
assert r['compatible'] is True and r['incompatibilities'] == [], r
got = sorted((i['layer'], i['field']) for i in r['hardware_limits'])
assert got == [('dw', 'kernel_size'), ('head_conv', 'kernel_size')], got
"
run 0 convert -m "$WORK/k4.h5"
[[ -s $WORK/k4.fbz ]] || fail "the 4x4 model did not convert"

# Front-end block patterns: two blocks with an unsupported layer, both listed with the
# compatible patterns.
cp "$WORK/dw.h5" "$WORK/lstm.h5"
"$PY" - "$WORK/lstm.h5" <<'PYTHON'
import h5py, json, sys
with h5py.File(sys.argv[1], "r+") as f:
    config = json.loads(f.attrs["model_config"])
    for layer in config["config"]["layers"]:
        if layer["config"]["name"] in ("stem_relu", "dw/relu"):
            layer["class_name"] = "Custom>QuantizedLSTM"
    f.attrs["model_config"] = json.dumps(config).encode()
PYTHON
run 2 check -m "$WORK/lstm.h5" --json
"$PY" -c "
import json
r = json.load(open('$WORK/stdout'))
assert r['compatible'] is False, r
layers = [i['layer'] for i in r['incompatibilities']]
assert layers == ['stem_conv, stem_relu', 'dw, dw/relu'], layers
for i in r['incompatibilities']:
    assert i['field'] == 'block' and 'QuantizedLSTM' in i['problem'], i
    assert 'compatible patterns' in i['problem'], i
assert 'QuantizedDepthwiseConv2D > QuantizedReLU' in r['incompatibilities'][1]['problem'], r
"
run 2 check -m "$WORK/lstm.h5"
[[ $(grep -c "QuantizedLSTM" "$WORK/stdout") -eq 2 ]] || fail "lstm: $(cat "$WORK/stdout")"

# Unreadable files are errors (1), not incompatibilities.
head -c 2000 "$WORK/dw.h5" > "$WORK/truncated.h5"
run 1 check -m "$WORK/truncated.h5"
grep -q "^cnn2snn: error: $WORK/truncated.h5" "$WORK/stderr" || fail "truncated: $(cat "$WORK/stderr")"
run 1 check -m "$WORK/truncated.h5" --json
[[ ! -s $WORK/stdout ]] || fail "--json printed something for an unreadable file"
echo "cnn2snn check: OK"
