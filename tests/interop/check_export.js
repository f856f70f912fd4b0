// Scores real reviews with an independent runtime and compares the probabilities with
// `rnn_dist predict`'s:
//   node check_export.js --reviews LIST --expected PREDICT_OUT --onnx FILE | --tfjs DIR
//                        [--tolerance 1e-5]
// LIST: one review file per line; PREDICT_OUT: `rnn_dist predict --digits 8 --file ...` of the
// same files in the same order ("probability<TAB>label<TAB>file" lines). The text pipeline is the
// export's own (<name>.vocab.json beside an .onnx file, vocab.json in a tfjs folder), turned
// into ids by text_pipeline.js. Prints the largest difference and the scoring speed; exits 1 when
// a probability differs by more than the tolerance, 2 on a usage or load error.
'use strict';
const fs = require('fs');
const path = require('path');
const { loadPipeline, encode } = require('./text_pipeline.js');
const { loadTfjsModel } = require('./tfjs_io.js');

function parseArgs(argv) {
  const args = { tolerance: 1e-5 };
  for (let i = 0; i < argv.length; i += 2) args[argv[i].replace(/^--/, '')] = argv[i + 1];
  args.tolerance = Number(args.tolerance);
  if (!args.reviews || !args.expected || !(args.onnx || args.tfjs)) {
    console.error('usage: check_export.js --reviews LIST --expected PREDICT_OUT --onnx FILE | --tfjs DIR');
    process.exit(2);
  }
  return args;
}

async function scoreOnnx(file, ids, n, T) {
  const ort = require('onnxruntime-node');
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const input = new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [n, T]);
  const start = process.hrtime.bigint();
  const out = await session.run({ token_ids: input });
  return { probabilities: Array.from(out.probability.data), ns: process.hrtime.bigint() - start };
}

async function scoreTfjs(dir, ids, n, T) {
  const tf = require('@tensorflow/tfjs');
  const model = await loadTfjsModel(dir);
  const start = process.hrtime.bigint();
  const out = model.predict(tf.tensor2d(Int32Array.from(ids), [n, T], 'int32'));
  const probabilities = Array.from(out.dataSync());
  return { probabilities, ns: process.hrtime.bigint() - start };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const pipelineFile = args.onnx ? args.onnx.replace(/\.onnx$/, '') + '.vocab.json' : path.join(args.tfjs, 'vocab.json');
  const pipeline = loadPipeline(pipelineFile);
  const files = fs.readFileSync(args.reviews, 'utf8').split('\n').filter((l) => l);
  const expected = fs.readFileSync(args.expected, 'utf8').split('\n').filter((l) => l).map((l) => Number(l.split('\t')[0]));
  if (expected.length !== files.length) throw new Error(`${args.expected}: ${expected.length} lines for ${files.length} reviews`);
  const ids = files.flatMap((f) => encode(fs.readFileSync(f, 'utf8'), pipeline));
  const runtime = args.onnx ? 'onnxruntime-node' : 'tfjs';
  const { probabilities, ns } = args.onnx ? await scoreOnnx(args.onnx, ids, files.length, pipeline.maxlen)
                                          : await scoreTfjs(args.tfjs, ids, files.length, pipeline.maxlen);
  let worst = 0, at = 0;
  probabilities.forEach((p, i) => {
    const d = Math.abs(p - expected[i]);
    if (!(d <= worst)) { worst = d; at = i; }
  });
  const rate = files.length / (Number(ns) / 1e9);
  console.log(`${runtime}: ${files.length} reviews, max |p - rnn_dist| = ${worst.toExponential(2)} ` +
              `(review ${at + 1}: ${probabilities[at]} vs ${expected[at]}), tolerance ${args.tolerance}, ` +
              `${rate.toFixed(0)} reviews/s`);
  process.exit(worst <= args.tolerance ? 0 : 1);
}

main().catch((e) => { console.error(`check_export: ${e.message}`); process.exit(2); });
