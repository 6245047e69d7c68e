import * as lib from '../rnnlab.js';
import * as tasks from './tasks.js';
self.onmessage = async () => {
  await lib.init();
  const task = tasks.createTask({task:'adding', seqLength: 50, seed: 1});
  const out = {};
  for (const cell of ['rnn','lstm','gru']) {
    const m = await lib.createModel({cell, inputSize:2, hiddenSize:32, outputSize:1, output:'last', loss:'mse', seed:1});
    const b = task.batch(32);
    for (let i=0;i<50;i++) m.trainStep(b, {optimizer:{type:'adam', lr: 0.01}, clipNorm: 1});
    const t0 = performance.now();
    for (let i=0;i<200;i++) m.trainStep(b, {optimizer:{type:'adam', lr: 0.01}, clipNorm: 1});
    out[cell] = (performance.now()-t0)/200;
  }
  self.postMessage(out);
};
