// Builds and briefly trains a model in TensorFlow.js Layers, the way a tfjs user would, on real
// reviews turned into ids by an rnn_dist text pipeline, then saves it (model.json + weights.bin,
// with that vocab.json beside them) and its own predictions of the same reviews:
//   node train_tfjs.js --pipeline vocab.json --reviews LIST --out DIR [--cell lstm|gru-reset-before]
//                      [--train-reviews N]
// One epoch on every (LIST length / N)-th review (pure-JS backpropagation through time is slow:
// N = 40 by default), predictions of all of them.
// DIR/predictions.tsv: "probability<TAB>label<TAB>file", 8 digits, as `rnn_dist predict --digits 8`.
// --cell gru-reset-before builds tfjs's own GRU (reset_after false, the only one tfjs runs), which
// rnn_dist imports as --layers gru:8:reset_after=false.
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const { loadPipeline, encode } = require('./text_pipeline.js');
const { saveTfjsModel } = require('./tfjs_io.js');

function parseArgs(argv) {
  const args = { cell: 'lstm', 'train-reviews': 40 };
  for (let i = 0; i < argv.length; i += 2) args[argv[i].replace(/^--/, '')] = argv[i + 1];
  return args;
}

// Embedding (mask_zero) -> LSTM(8, return_sequences) -> SimpleRNN(4) -> Dense(1, sigmoid): a
// masked 2-layer stack; or a GRU as tfjs builds it by default.
function buildModel(p, cell) {
  const model = tf.sequential();
  model.add(tf.layers.embedding({ inputDim: p.num_words, outputDim: 8, maskZero: true, inputLength: p.maxlen }));
  if (cell === 'gru-reset-before') {
    model.add(tf.layers.gru({ units: 8, recurrentActivation: 'sigmoid' }));
  } else {
    model.add(tf.layers.lstm({ units: 8, returnSequences: true, recurrentActivation: 'sigmoid' }));
    model.add(tf.layers.simpleRNN({ units: 4 }));
  }
  model.add(tf.layers.dense({ units: 1, activation: 'sigmoid' }));
  model.compile({ optimizer: tf.train.rmsprop(0.01), loss: 'binaryCrossentropy' });
  return model;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const p = loadPipeline(args.pipeline);
  const files = fs.readFileSync(args.reviews, 'utf8').split('\n').filter((l) => l);
  const ids = files.flatMap((f) => encode(fs.readFileSync(f, 'utf8'), p));
  const x = tf.tensor2d(Int32Array.from(ids), [files.length, p.maxlen], 'int32');
  const stride = Math.max(1, Math.floor(files.length / Number(args['train-reviews'])));
  const picked = files.map((_, i) => i).filter((i) => i % stride === 0);
  const xTrain = tf.gather(x, picked);
  const yTrain = tf.tensor2d(picked.map((i) => (files[i].includes('/pos/') ? 1 : 0)), [picked.length, 1]);
  const model = buildModel(p, args.cell);
  await model.fit(xTrain, yTrain, { epochs: 1, batchSize: 10, shuffle: true, verbose: 0 });
  await saveTfjsModel(model, args.out);
  fs.copyFileSync(args.pipeline, path.join(args.out, 'vocab.json'));
  const probabilities = model.predict(x).dataSync();
  const lines = files.map((f, i) => `${probabilities[i].toFixed(8)}\t${probabilities[i] > 0.5 ? 'positive' : 'negative'}\t${f}`);
  fs.writeFileSync(path.join(args.out, 'predictions.tsv'), lines.join('\n') + '\n');
  console.log(`train_tfjs: trained and saved ${args.out} (${model.countParams()} parameters)`);
}

main().catch((e) => { console.error(`train_tfjs: ${e.message}`); process.exit(1); });
