// The page's experiments run in Node: the page's run trained as the worker
// trains it (the same batches, one step per cell in turn, a cell given up
// after 10 non-finite steps in a row), then the same measurement.

import { init, createModel } from '../../web/rnnlab.js';
import { createTask } from '../../web/demo/tasks.js';
import { experimentById, measureExperiment, modelOptions, trainerOptions } from '../../web/demo/experiments.js';

const GIVE_UP_AFTER_SKIPS = 10;

/** Form-like controls as the page reads them (app.js readSettings/readHyper). */
export function fromControls(controls) {
  const c = {
    task: 'adding', seqLength: 50, patternLength: 5, horizon: 5, textSource: 'builtin', seed: 1, cell: 'all',
    hiddenSize: 32, layers: 1, gruVariant: 'reset-before', recurrentInit: 'orthogonal', recurrentScale: 1,
    forgetBiasOne: true, activation: 'tanh', optimizer: 'adam', lrLog: -2, batchSize: 32, clip: true, tauLog: 0, tbptt: 0,
    ...controls,
  };
  const round = (v) => Number(v.toPrecision(2));
  const { optimizer, lrLog, batchSize, clip, tauLog, tbptt, ...settings } = c;
  return { settings, hyper: { optimizer, lr: round(10 ** lrLog), batchSize, clip, tau: round(10 ** tauLog), tbptt } };
}

export async function runExperiment(id, { settings, hyper }) {
  await init();
  const experiment = experimentById(id);
  const task = createTask(settings);
  const cells = settings.cell === 'all' ? ['rnn', 'lstm', 'gru'] : [settings.cell];
  const runs = [];
  for (const cell of cells) {
    const model = await createModel(modelOptions(settings, task, cell));
    runs.push({ cell, model, trainer: model.trainer(null, trainerOptions(hyper)), infos: [], inARow: 0, diverged: false });
  }
  try {
    for (let step = 0; step < experiment.steps; step++) {
      const batch = task.batch(hyper.batchSize);
      for (const run of runs) {
        if (run.diverged) continue;
        for (const info of run.trainer.trainOn(batch)) {
          run.infos.push(info);
          run.inARow = info.skipped ? run.inARow + 1 : 0;
          if (run.inARow >= GIVE_UP_AFTER_SKIPS) run.diverged = true;
        }
      }
    }
    return await measureExperiment(id, { lib: { createModel }, settings, hyper, task, runs });
  } finally {
    for (const run of runs) run.model.dispose();
  }
}
