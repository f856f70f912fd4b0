// TensorFlow.js Layers models from and to plain files in Node without tfjs-node (which would
// download a native library): model.json + its weight files through tf.io.fromMemory, and
// model.save through tf.io.withSaveHandler.
'use strict';
const fs = require('fs');
const path = require('path');

async function loadTfjsModel(dir) {
  const tf = require('@tensorflow/tfjs');
  const model = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  const weightSpecs = [], buffers = [];
  for (const group of model.weightsManifest) {
    weightSpecs.push(...group.weights);
    for (const p of group.paths) buffers.push(fs.readFileSync(path.join(dir, p)));
  }
  const data = Buffer.concat(buffers);
  const weightData = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: model.modelTopology, weightSpecs, weightData,
                                               format: model.format, generatedBy: model.generatedBy }));
}

// Writes `model` as dir/model.json + dir/weights.bin (the layout tfjs's file handlers use).
async function saveTfjsModel(model, dir) {
  const tf = require('@tensorflow/tfjs');
  fs.mkdirSync(dir, { recursive: true });
  await model.save(tf.io.withSaveHandler(async (a) => {
    fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.from(a.weightData));
    const json = { format: a.format, generatedBy: a.generatedBy, convertedBy: a.convertedBy,
                   modelTopology: a.modelTopology,
                   weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }] };
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
}

module.exports = { loadTfjsModel, saveTfjsModel };
