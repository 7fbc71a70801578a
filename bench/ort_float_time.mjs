// Times onnxruntime (CPU, one thread, all graph optimizations) on a float ONNX model, one sample
// at a time, as QuantizeML's calibration runs it (its min / max reductions not counted): the peer
// of bench_quantize's calibration. Prints milliseconds per sample (best of three).
//
// Usage: node ort_float_time.mjs MODEL.onnx [SAMPLES]
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'tests', 'onnx_oracle', 'package.json'));
const ort = require('onnxruntime-node');

const [model, samplesArg] = process.argv.slice(2);
const samples = Number(samplesArg || 256);
const options = { graphOptimizationLevel: 'all', intraOpNumThreads: 1, interOpNumThreads: 1 };
const session = await ort.InferenceSession.create(model, options);
const input = session.inputNames[0];
// One sample: the declared dims with the batch (symbolic or not) set to 1.
const dims = session.inputMetadata[0].shape.map((d, i) => (i === 0 || typeof d !== 'number' ? 1 : d));
const size = dims.reduce((a, b) => a * b, 1);
const inputs = Array.from({ length: samples },
  () => new ort.Tensor('float32', Float32Array.from({ length: size }, () => Math.random()), dims));
let best = Infinity;
for (let run = 0; run < 3; run++) {
  const start = process.hrtime.bigint();
  for (const x of inputs) await session.run({ [input]: x });
  best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e6 / samples);
}
console.log(best.toFixed(4));
