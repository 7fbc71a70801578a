// Times onnxruntime (CPU, all graph optimizations) on a runnable QuantizeML ONNX model written
// by tests/onnx_oracle/quantizeml_onnx_runnable.py, one frame at a time with the FIFO states
// carried over, as bench_runtime runs our engine. Prints milliseconds per frame (best of three).
//
// Usage: node ort_time.mjs PREFIX FRAMES
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'tests', 'onnx_oracle', 'package.json'));
const ort = require('onnxruntime-node');

const [prefix, framesArg] = process.argv.slice(2);
const frames = Number(framesArg || 64);
const spec = JSON.parse(fs.readFileSync(`${prefix}.json`, 'utf8'));
const options = { graphOptimizationLevel: 'all', intraOpNumThreads: 1, interOpNumThreads: 1 };
const session = await ort.InferenceSession.create(`${prefix}.onnx`, options);
const probe = await ort.InferenceSession.create(`${prefix}.probe.onnx`, options);
const inputMeta = spec.input_dims.map(d => (typeof d === 'number' && d > 0 ? d : 1));  // N = 1
const size = inputMeta.reduce((a, b) => a * b, 1);
const frame = () => new ort.Tensor('float32', Float32Array.from({ length: size }, () => Math.random() * 4), inputMeta);

const first = frame();
const seen = await probe.run({ [spec.input]: first });
let best = Infinity;
for (let run = 0; run < 3; run++) {
  const states = {};
  for (const s of spec.states) {
    const [n, c, ...xy] = seen[s.input].dims;  // (N, C, X, Y) -> state (N, C, T-1, X, Y)
    const dims = [n, c, s.fifo_size - 1, ...xy];
    states[s.name] = new ort.Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)), dims);
  }
  const inputs = Array.from({ length: frames }, frame);
  const start = process.hrtime.bigint();
  for (const x of inputs) {
    const feeds = { [spec.input]: x };
    for (const s of spec.states) feeds[`${s.name}:state_in`] = states[s.name];
    const result = await session.run(feeds);
    for (const s of spec.states) states[s.name] = result[`${s.name}:state_out`];
  }
  best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e6 / frames);
}
console.log(best.toFixed(3));
