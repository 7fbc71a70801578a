// Runs a plain (float) ONNX model with onnxruntime, sample by sample: the independent reference
// of the quantizer's float evaluator (`quantizeml run`).
//
// Usage: node run_float.mjs MODEL.onnx IN.npy OUT.npy [TENSOR ...]
//   IN.npy: float32 (N, ...input dims without the batch); sample i runs as a batch of one
//   OUT.npy: float32 (N, ...) the model's output; with TENSOR names (made graph outputs by the
//   caller), OUT.npy is a directory of <index>.npy, one per TENSOR, each stacked over the samples
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

import { readNpy, writeNpy } from './npy.mjs';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');

async function main() {
  const [modelFile, inFile, outFile, ...tensors] = process.argv.slice(2);
  const inputs = readNpy(inFile);
  const session = await ort.InferenceSession.create(modelFile, { graphOptimizationLevel: 'disabled' });
  const names = tensors.length ? tensors : [session.outputNames[0]];
  const sampleDims = [1, ...inputs.shape.slice(1)];
  const size = sampleDims.reduce((a, b) => a * b, 1);
  const collected = names.map(() => []);
  let dims = names.map(() => null);
  for (let n = 0; n < inputs.shape[0]; ++n) {
    const x = new ort.Tensor('float32', inputs.data.slice(n * size, (n + 1) * size), sampleDims);
    const out = await session.run({ [session.inputNames[0]]: x });
    names.forEach((name, i) => { collected[i].push(out[name].data); dims[i] = out[name].dims; });
  }
  const stack = (i) => {
    const per = collected[i][0].length;
    const all = new Float32Array(per * collected[i].length);
    collected[i].forEach((d, t) => all.set(d, t * per));
    return [[inputs.shape[0], ...dims[i].slice(1)], all];
  };
  if (!tensors.length) {
    const [shape, data] = stack(0);
    writeNpy(outFile, 'float32', shape, data);
    return;
  }
  fs.mkdirSync(outFile, { recursive: true });
  names.forEach((_, i) => {
    const [shape, data] = stack(i);
    writeNpy(path.join(outFile, `${i}.npy`), 'float32', shape, data);
  });
}

main().catch(e => { console.error(`run_float: error: ${e.message}`); process.exit(1); });
