// Runs a float ONNX model (one input, one output) with onnxruntime on a batch, in slices of at
// most 1000 samples (the model's batch dimension must be dynamic, or 1 with SLICE=1).
//
// Usage: node run_float.mjs MODEL.onnx IN.npy OUT.npy [SLICE]
//   IN.npy: float32 (N, ...the model's input dims); OUT.npy: float32 (N, ...the output dims).
import { createRequire } from 'node:module';
import { readNpy, writeNpy } from './npy.mjs';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');

async function main() {
  const [modelFile, inFile, outFile, sliceArg] = process.argv.slice(2);
  const inputs = readNpy(inFile);
  if (inputs.type !== 'float32') throw new Error(`${inFile}: dtype ${inputs.type}, expected float32`);
  const session = await ort.InferenceSession.create(modelFile);
  const [inputName] = session.inputNames, [outputName] = session.outputNames;
  const n = inputs.shape[0], sample = inputs.data.length / n;
  const slice = Number(sliceArg || 1000);
  const parts = [];
  let outDims = null;
  for (let first = 0; first < n; first += slice) {
    const count = Math.min(slice, n - first);
    const feed = new ort.Tensor('float32', inputs.data.slice(first * sample, (first + count) * sample),
                                [count, ...inputs.shape.slice(1)]);
    const out = (await session.run({ [inputName]: feed }))[outputName];
    parts.push(out.data);
    outDims = out.dims.slice(1);
  }
  const per = parts[0].length / Math.min(slice, n);
  const all = new Float32Array(per * n);
  let offset = 0;
  for (const p of parts) { all.set(p, offset); offset += p.length; }
  writeNpy(outFile, 'float32', [n, ...outDims], all);
}

main().catch(e => { console.error(`run_float: error: ${e.message}`); process.exit(1); });
