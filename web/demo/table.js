// The comparison table: one row per cell of the current run, and below it
// the rows of earlier runs with a one-line summary of their settings.

import { formatValue } from './plots.js';
import { $, setText } from './dom.js';

const HISTORY_ROWS = 12;
const FILE_ACTIONS = [
  ['save', 'Save', 'Save this model to a file (weights and optimiser state)'],
  ['export', 'Weights JSON', "Export the weights under PyTorch's state-dict names as rnnlab's JSON weight format (weightsFromJSON reads it back)"],
  ['safetensors', 'safetensors', 'Export the weights for PyTorch as a .safetensors file (state-dict names)'],
  ['onnx', 'ONNX', 'Export the model as an ONNX file (opset 14) for onnxruntime and other ONNX runtimes'],
  ['tfjs', 'TF.js', 'Export the model in the TensorFlow.js Layers format: two files, model.json and the weights file it names'],
];

const count = (n) => n.toLocaleString('en-US');

export class ComparisonTable {
  constructor() {
    this.rows = new Map();
    this.history = [];
  }

  /** Rows for a new run's cells. */
  reset(task, cells) {
    this.task = task;
    $('target-header').textContent = `Steps to ${task.target.label}`;
    $('val-header').textContent = task.loss === 'mse' ? 'Val MSE' : 'Val accuracy · ppl';
    this.rows = new Map();
    const body = $('comparison-rows');
    body.replaceChildren(...cells.map((c) => {
      const tr = document.createElement('tr');
      tr.dataset.cell = c.cell;
      tr.dataset.id = c.id;
      const td = {};
      for (const key of ['name', 'params', 'ms', 'steps', 'loss', 'val', 'target', 'files']) {
        td[key] = document.createElement('td');
        if (key !== 'name' && key !== 'files') td[key].className = 'num';
        tr.append(td[key]);
      }
      const swatch = document.createElement('span');
      swatch.className = `swatch ${c.cell}`;
      swatch.setAttribute('aria-hidden', 'true');
      td.name.append(swatch, document.createTextNode(c.label));
      td.params.textContent = `${count(c.params.rnnlab)} / ${count(c.params.pytorch)}`;
      for (const [action, text, title] of FILE_ACTIONS) {
        const button = document.createElement('button');
        button.type = 'button';
        button.className = 'link';
        button.dataset.action = action;
        button.dataset.id = c.id;
        button.textContent = text;
        button.title = title;
        button.setAttribute('aria-label', `${text}: ${c.label}`); // the same name in every row otherwise
        td.files.append(button);
      }
      this.rows.set(c.id, { tr, td });
      return tr;
    }));
    this.renderHistory();
  }

  /** The figures of every row; the data attributes are what the tests read. */
  update(cells, totalSteps) {
    const ce = this.task.loss === 'cross-entropy';
    for (const c of cells) {
      const row = this.rows.get(c.id);
      if (!row) continue;
      const { tr, td } = row;
      const s = c.summary;
      setText(td.ms, s?.msPerStep != null ? s.msPerStep.toFixed(2) : '—');
      setText(td.steps, count(totalSteps));
      tr.dataset.steps = String(totalSteps);
      if (s?.firstLoss != null) {
        setText(td.loss, `${formatValue(s.firstLoss)} → ${formatValue(s.lossAverage)}`);
        tr.dataset.firstLoss = String(s.firstLoss);
        tr.dataset.loss = String(s.lossAverage);
      } else {
        setText(td.loss, '—');
      }
      if (c.val) {
        setText(td.val, ce ? `${(100 * c.val.accuracy).toFixed(1)}% · ${c.val.perplexity.toFixed(2)}` : formatValue(c.val.loss));
        tr.dataset.valLoss = String(c.val.loss);
      }
      let target = totalSteps ? 'not yet' : '—';
      let tone = '';
      if (s?.diverged) { target = 'diverged'; tone = ' bad'; }
      else if (c.reachedAt != null) { target = count(c.reachedAt); tone = ' good'; }
      setText(td.target, target);
      if (td.target.className !== `num${tone}`) td.target.className = `num${tone}`;
    }
    setText($('table-aside'), cells.length > 1 ? 'same data, same seed, one step each in turn' : '');
  }

  /** Keeps a finished run (if it trained at all) as history rows, newest first. */
  archive({ task, settings, hyper, cells, totalSteps }) {
    if (!cells.length || !totalSteps) return;
    const summary = describeRun(settings, hyper, cells);
    const ce = task.loss === 'cross-entropy';
    for (const c of cells) {
      this.history.unshift({
        label: c.label, cell: c.cell, settings: summary,
        params: count(c.params.rnnlab),
        ms: c.summary?.msPerStep != null ? c.summary.msPerStep.toFixed(2) : '—',
        steps: count(totalSteps),
        loss: c.summary ? `${formatValue(c.summary.firstLoss)} → ${formatValue(c.summary.lossAverage)}` : '—',
        val: c.val ? (ce ? `${(100 * c.val.accuracy).toFixed(1)}% acc` : `MSE ${formatValue(c.val.loss)}`) : '—',
        target: c.summary?.diverged ? 'diverged' : c.reachedAt != null ? count(c.reachedAt) : 'not reached',
      });
    }
    this.history.length = Math.min(this.history.length, HISTORY_ROWS);
  }

  renderHistory() {
    $('comparison-history').replaceChildren(...this.history.map((h) => {
      const tr = document.createElement('tr');
      const name = document.createElement('td');
      name.className = 'settings';
      const swatch = document.createElement('span');
      swatch.className = `swatch ${h.cell}`;
      const settings = document.createElement('div');
      settings.className = 'sub';
      settings.textContent = h.settings;
      name.append(swatch, document.createTextNode(h.label), settings);
      tr.append(name);
      for (const text of [h.params, h.ms, h.steps, h.loss, h.val, h.target]) {
        const td = document.createElement('td');
        td.className = 'num';
        td.textContent = text;
        tr.append(td);
      }
      tr.append(document.createElement('td'));
      return tr;
    }));
  }
}

// One line naming what set a run apart: task, size, optimiser, and every
// teaching toggle that was not at its default.
function describeRun(s, h, cells) {
  const has = (cell) => cells.some((c) => c.cell === cell);
  const task = {
    adding: `adding T=${s.seqLength}`,
    copy: `copy T=${s.seqLength} S=${s.patternLength}`,
    sines: `sines T=${s.seqLength} h=${s.horizon}`,
    chars: `chars T=${s.seqLength}`,
  }[s.task];
  return [
    task,
    `H=${s.hiddenSize}${s.layers > 1 ? `×${s.layers}` : ''}`,
    `${h.optimizer} η=${h.lr}`, `B=${h.batchSize}`,
    h.clip ? `τ=${h.tau}` : 'no clip',
    h.tbptt > 0 && h.tbptt < s.seqLength ? `TBPTT k=${h.tbptt}` : '',
    s.recurrentInit === 'gaussian' ? `gaussian ×${s.recurrentScale}` : s.recurrentScale !== 1 ? `orthogonal ×${s.recurrentScale}` : '',
    !s.forgetBiasOne && has('lstm') ? 'forget bias 0' : '',
    s.activation === 'relu' && has('rnn') ? 'relu' : '',
    s.gruVariant === 'reset-after' && has('gru') ? 'GRU reset-after' : '',
    `seed ${s.seed}`,
  ].filter(Boolean).join(', ');
}
