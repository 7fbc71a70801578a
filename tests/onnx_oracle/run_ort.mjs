// Runs a runnable QuantizeML ONNX model (see quantizeml_onnx_runnable.py) with onnxruntime,
// one frame at a time, carrying the FIFO states from frame to frame.
//
// Usage: node run_ort.mjs PREFIX FRAMES.npy OUT_DIR
//   PREFIX.onnx / PREFIX.probe.onnx / PREFIX.json as written by quantizeml_onnx_runnable.py
//   FRAMES.npy: float32 (T, ...input dims without N), frame t is run as a batch of one
//   OUT_DIR/<index>.npy: the output of the index-th com.brainchip node for every frame, stacked
//   on a leading time axis, in the dtype onnxruntime produced (int8/uint8/int32/float32).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

import { DTYPES, readNpy, writeNpy } from './npy.mjs';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');

async function main() {
  const [prefix, framesFile, outDir] = process.argv.slice(2);
  const spec = JSON.parse(fs.readFileSync(`${prefix}.json`, 'utf8'));
  const frames = readNpy(framesFile);
  const frameDims = [1, ...frames.shape.slice(1)];
  const frameSize = frameDims.reduce((a, b) => a * b, 1);
  const frameAt = t => new ort.Tensor('float32', frames.data.slice(t * frameSize, (t + 1) * frameSize), frameDims);
  const options = { graphOptimizationLevel: 'disabled' };  // execute the bodies as written

  // The FIFO states start as zeros: learn each FIFO input's shape from the stateless probe.
  const states = {};
  if (spec.states.length > 0) {
    const probe = await ort.InferenceSession.create(`${prefix}.probe.onnx`, options);
    const seen = await probe.run({ [spec.input]: frameAt(0) });
    for (const s of spec.states) {
      const [n, c, ...xy] = seen[s.input].dims;  // (N, C, X, Y) -> state (N, C, T-1, X, Y)
      const dims = [n, c, s.fifo_size - 1, ...xy];
      states[s.name] = new ort.Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)), dims);
    }
  }

  const session = await ort.InferenceSession.create(`${prefix}.onnx`, options);
  const collected = spec.layers.map(() => []);
  let dimsOf = spec.layers.map(() => null), typeOf = spec.layers.map(() => null);
  for (let t = 0; t < frames.shape[0]; ++t) {
    const feeds = { [spec.input]: frameAt(t) };
    for (const s of spec.states) feeds[`${s.name}:state_in`] = states[s.name];
    const out = await session.run(feeds);
    for (const s of spec.states) states[s.name] = out[`${s.name}:state_out`];
    spec.layers.forEach((layer, i) => {
      const tensor = out[layer.output];
      collected[i].push(tensor.data);
      dimsOf[i] = tensor.dims; typeOf[i] = tensor.type;
    });
  }
  fs.mkdirSync(outDir, { recursive: true });
  spec.layers.forEach((layer, i) => {
    const Ctor = DTYPES[Object.keys(DTYPES).find(k => DTYPES[k][0] === typeOf[i])][1];
    const per = collected[i][0].length;
    const all = new Ctor(per * collected[i].length);
    collected[i].forEach((d, t) => all.set(d, t * per));
    writeNpy(path.join(outDir, `${i}.npy`), typeOf[i], [collected[i].length, ...dimsOf[i]], all);
  });
}

main().catch(e => { console.error(`run_ort: error: ${e.message}`); process.exit(1); });
