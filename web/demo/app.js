// The page's main thread: reads the controls, talks to the training worker,
// and hands what comes back to the board, which draws once per frame.

import { Board } from './board.js';
import { $, setText } from './dom.js';
import { ExperimentPanel } from './experiments-ui.js';
import { EXPERIMENTS, experimentById } from './experiments.js';
import { applyQuery, setControl, writeUrl } from './url-state.js';
import { renderMath } from './math.js';
import { CHAR_EMBEDDING } from './tasks.js';

const STRUCTURAL = new Set([
  'task', 'seqLength', 'patternLength', 'horizon', 'textSource', 'seed', 'cell', 'hiddenSize',
  'layers', 'gruVariant', 'recurrentInit', 'recurrentScale', 'forgetBiasOne', 'activation', 'bidirectional', 'dropout',
]);
const LIVE = new Set(['optimizer', 'lrLog', 'batchSize', 'clip', 'tauLog', 'tbptt']);
// Pasted text longer than this is kept aside instead of going into the text box.
const TEXTAREA_LIMIT = 200_000;
const PREVIEW_CHARS = 4000;
const SAMPLE_EVERY_MS = 3000;

const TASK_HINTS = {
  adding: 'Two numbers are marked somewhere in a long row of random ones; the answer, read at the last step, is their sum. The first mark sits in the first half, so the cell must hold it for up to T steps.',
  copy: 'A pattern of S symbols, a silent gap, a "go" signal; then the pattern must be replayed. The gap is T − 2S steps.',
  sines: 'Two sine waves of random frequency and phase, with noise; predict the clean signal a few steps ahead.',
  chars: 'Predict the next character of a text, then write new text one character at a time. Each character goes in as its '
    + `id, which picks its row of an embedding: a table of learnt numbers, ${CHAR_EMBEDDING} per character (as many as the alphabet `
    + 'when it is smaller), trained with the rest of the model. That row is the input xₜ of its step.',
};

// What the character model built now reads, for the task hint.
function charInputs(built) {
  const e = built?.task.embedding;
  if (built?.task.name !== 'chars') return '';
  if (!e) return ` Now: one-hot vectors of ${built.task.outputSize} (a model saved before the page used an embedding).`;
  return ` Now: an alphabet of ${e.vocabSize}, so the table is ${e.vocabSize} × ${e.size}.`;
}

const form = $('settings');
const board = new Board();
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });

const state = {
  ready: false,
  running: false,
  built: null,        // the worker's 'built' message for the current run
  building: false,
  needsBuild: true,
  heldText: null,     // a large paste kept out of the text box
  userTextSent: false,
  lastSample: 0,
  sampling: false,
  stepping: false,    // Step was pressed: say so when its progress arrives
  skipped: {},        // steps skipped as non-finite, per cell, as last announced
  experimenting: false,
  experiment: null,   // the experiment the URL names
};

// A link's settings go into the form before anything is built from it.
const fromUrl = applyQuery(form, location.search);
if (experimentById(fromUrl.experiment)) state.experiment = fromUrl.experiment;

// ---- settings ------------------------------------------------------------------

function intField(name) {
  const input = form.elements[name];
  const min = Number(input.min);
  const max = Number(input.max);
  let value = Math.round(Number(input.value));
  if (!Number.isFinite(value)) value = Number(input.defaultValue);
  value = Math.min(max, Math.max(min, value));
  if (String(value) !== input.value) input.value = String(value);
  return value;
}

function readSettings() {
  const f = form.elements;
  return {
    task: f.task.value,
    seqLength: intField('seqLength'),
    patternLength: intField('patternLength'),
    horizon: intField('horizon'),
    textSource: f.textSource.value,
    seed: intField('seed'),
    cell: f.cell.value,
    hiddenSize: Number(f.hiddenSize.value),
    layers: Number(f.layers.value),
    gruVariant: f.gruVariant.value,
    recurrentInit: f.recurrentInit.value,
    recurrentScale: Number(f.recurrentScale.value),
    forgetBiasOne: f.forgetBiasOne.checked,
    activation: f.activation.value,
    bidirectional: f.bidirectional.checked,
    dropout: Math.min(0.9, Math.max(0, Number(f.dropout.value) || 0)), // SPEC §12: p < 1
  };
}

function readHyper() {
  const f = form.elements;
  return {
    optimizer: f.optimizer.value,
    lr: roundLog(10 ** Number(f.lrLog.value)),
    batchSize: Number(f.batchSize.value),
    clip: f.clip.checked,
    tau: roundLog(10 ** Number(f.tauLog.value)),
    tbptt: intField('tbptt'),
  };
}

function roundLog(v) {
  return Number(v.toPrecision(2));
}

function showOutputs() {
  const hyper = readHyper();
  $('lr-out').textContent = String(hyper.lr);
  $('tau-out').textContent = String(hyper.tau);
  $('recurrentScale-out').textContent = Number(form.elements.recurrentScale.value).toFixed(2);
  $('temperature-out').textContent = Number($('temperature').value).toFixed(2);
}

// Shows only the controls that matter for the chosen task, cell and source.
function showRelevant() {
  const s = readSettings();
  for (const el of document.querySelectorAll('[data-for-task]')) el.hidden = el.dataset.forTask !== s.task;
  for (const el of document.querySelectorAll('[data-for-cell]')) {
    el.hidden = !(s.cell === 'all' || s.cell === el.dataset.forCell);
  }
  for (const el of document.querySelectorAll('[data-for-source]')) el.hidden = el.dataset.forSource !== s.textSource;
  for (const el of document.querySelectorAll('[data-needs]')) el.hidden = !form.elements[el.dataset.needs].checked;
  let hint = TASK_HINTS[s.task];
  if (s.task === 'copy') hint += ` Now: ${Math.max(0, s.seqLength - 2 * s.patternLength)}.`;
  if (s.task === 'chars') hint += charInputs(state.built);
  $('task-hint').textContent = hint;
}

form.addEventListener('input', (event) => {
  const name = event.target.name;
  if (event.target.type === 'range') showOutputs();
  if (name === 'cell' || name === 'task' || name === 'textSource' || name === 'clip') showRelevant();
});

form.addEventListener('change', (event) => {
  const name = event.target.name;
  if (!name) return;
  showOutputs();
  showRelevant();
  if (event.target.form === form) {
    state.experiment = null; // a link now means these settings, not the experiment's
    $('run-link').value = writeUrl(form);
  }
  if (STRUCTURAL.has(name)) {
    state.needsBuild = true;
    if (state.ready) build();
  } else if (LIVE.has(name)) {
    const hyper = readHyper();
    worker.postMessage({ type: 'hyper', hyper });
    board.setHyper(hyper);
  }
});
form.addEventListener('submit', (event) => event.preventDefault());

// ---- the worker ----------------------------------------------------------------

function build() {
  const settings = readSettings();
  if (settings.task === 'chars' && settings.textSource === 'user' && !state.userTextSent) {
    setStatus('Paste or drop a text, then press "Use this text".');
    state.needsBuild = true;
    return false;
  }
  state.building = true;
  state.needsBuild = false;
  setRunning(false);
  worker.postMessage({ type: 'build', settings, hyper: readHyper() });
  setStatus('Building the models…');
  return true;
}

// "(SIMD build, 2 threads)"; on one thread, why not more where the runtime said.
function engineKind(simd, threads, why) {
  const build = simd ? 'SIMD build' : 'the build without SIMD';
  const count = `${threads} thread${threads === 1 ? '' : 's'}`;
  return `(${build}, training on ${count}${threads === 1 && why ? `: ${why}` : ''})`;
}

const onMessage = {
  gradchecked({ results }) {
    $('gradcheck-result').textContent = results.map((r) => `${r.label}: ${r.ok ? 'ok' : 'MISMATCH'}, ` +
      `worst relative error ${r.maxRelError.toExponential(1)} (${r.tensor}; tolerance ${r.tolerance} for float32)`).join(' · ');
  },
  ready({ simd, threads, threadsUnavailable }) {
    state.ready = true;
    $('engine-kind').textContent = engineKind(simd, threads, threadsUnavailable);
    experiments.setBusy(false);
    if (state.experiment) runExperiment(state.experiment, false);
    else build();
  },
  'experiment-started'({ id, steps }) {
    experiments.started(id, steps);
  },
  'experiment-measuring'({ id }) {
    experiments.measuring(id);
  },
  'experiment-result'({ result }) {
    experiments.finished(result);
    endExperiment();
    const steps = result.main?.[0]?.losses.length ?? experimentById(result.id).steps;
    setStatus(`${experimentName(result.id)} ended: ${steps} steps trained, then measured; what it found is under its claim in the Experiments card. Train goes on from these models, Reset starts over.`);
  },
  built(message) {
    state.building = false;
    state.built = message;
    if (message.loadedFrom) reflectLoaded(message.settings);
    else showRelevant(); // the task hint says what the new model reads
    board.reset(message, readHyper());
    state.skipped = {};
    refreshSampleCells(message.cells);
    for (const id of ['train', 'step', 'reset', 'gradcheck']) $(id).disabled = state.experimenting;
    $('sample').disabled = message.task.name !== 'chars';
    document.body.dataset.state = 'ready';
    const cells = message.cells.map((c) => c.label).join(', ');
    if (state.experimenting) setStatus(`${experimentName(state.experiment)}: ${cells} on the ${taskName(message.task.name)}, training…`);
    else setStatus(message.loadedFrom
      ? `Loaded ${message.loadedFrom}: ${cells}. Train to continue from where it was saved.`
      : `Ready: ${cells} on the ${taskName(message.task.name)}. Press Train.`);
    if (message.task.text) describeTextInfo(message.task.text);
  },
  progress(message) {
    board.onProgress(message);
    if (state.experimenting) experiments.progress(message.totalSteps);
    else announceProgress(message);
    maybeSample();
  },
  diag(message) {
    board.onDiag(message);
  },
  running({ running }) {
    setRunning(running);
    if (running) setStatus(`Training ${state.built?.cells.map((c) => c.label).join(', ') ?? ''}…`);
    else if (state.built && !state.building) setStatus('Paused. Train continues, Step takes one step, Reset starts over.');
  },
  sampled({ text, prime }) {
    state.sampling = false;
    const pre = $('sample-text');
    const primeSpan = document.createElement('span');
    primeSpan.className = 'prime';
    primeSpan.textContent = prime;
    pre.replaceChildren(primeSpan, document.createTextNode(text));
  },
  file({ name, mime, bytes }) {
    const url = URL.createObjectURL(new Blob([bytes], { type: mime }));
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 30000);
    setStatus(`Saved ${name} (${(bytes.byteLength / 1024).toFixed(1)} kB).`);
  },
  'text-ready'({ info, preview }) {
    state.userTextSent = true;
    describeTextInfo(info);
    if (state.heldText === null && preview !== undefined && $('user-text').readOnly) {
      $('user-text').value = preview;
    }
    if (form.elements.task.value === 'chars' && form.elements.textSource.value === 'user') build();
  },
  notice({ message }) {
    setStatus(message);
  },
  error({ message, code, during }) {
    state.building = false;
    state.sampling = false;
    const prefix = during === 'load' ? 'Could not load the model: '
      : during === 'text' ? 'Could not use the text: '
        : during === 'build' ? 'Could not build: '
          : during === 'experiment' && state.experiment ? `${experimentName(state.experiment)} stopped: ` : '';
    setStatus(`${prefix}${message}${code ? ` (${code})` : ''}`, true);
    if (during === 'text') { $('text-info').textContent = message; $('text-info').classList.add('error'); }
    if (during === 'build') state.needsBuild = true;
    if (during === 'experiment') { experiments.failed(message); endExperiment(); state.needsBuild = true; }
  },
};

worker.onmessage = (event) => onMessage[event.data.type]?.(event.data);
worker.onerror = (event) => {
  event.preventDefault();
  setStatus(`The training worker failed to start: ${event.message || 'see the browser console'}.`, true);
};
worker.postMessage({ type: 'init' });

// ---- guided experiments ------------------------------------------------------------

const experiments = new ExperimentPanel((id) => runExperiment(id, true));
experiments.setBusy(true);

// Sets the experiment's controls (on top of the form's defaults, unless they
// came from a link), puts them in the URL, and has the worker run it.
function runExperiment(id, setControls) {
  const experiment = experimentById(id);
  if (!state.ready || state.experimenting || !experiment) return;
  if (setControls) {
    const announce = $('announce-plots').checked;
    form.reset();
    $('announce-plots').checked = announce;
    for (const [name, value] of Object.entries(experiment.controls)) setControl(form, name, value);
  }
  showOutputs();
  showRelevant();
  state.experiment = id;
  $('run-link').value = writeUrl(form, id);
  state.experimenting = true;
  state.building = true;
  state.needsBuild = false;
  experiments.setBusy(true);
  for (const button of ['train', 'step', 'reset', 'gradcheck']) $(button).disabled = true;
  worker.postMessage({ type: 'experiment', id, settings: readSettings(), hyper: readHyper() });
}

/** "Experiment 5, “The LSTM cell state is a gradient highway”". */
function experimentName(id) {
  return `Experiment ${EXPERIMENTS.findIndex((e) => e.id === id) + 1}, “${experimentById(id).title}”`;
}

function endExperiment() {
  state.experimenting = false;
  experiments.setBusy(false);
  if (state.built) for (const id of ['train', 'step', 'reset', 'gradcheck']) $(id).disabled = false;
}

$('copy-link').addEventListener('click', async () => {
  const link = writeUrl(form, state.experiment);
  $('run-link').value = link;
  try {
    await navigator.clipboard.writeText(link);
    setText($('copy-link-result'), 'Copied.');
  } catch {
    $('run-link').select();
    setText($('copy-link-result'), 'Select the link and copy it.');
  }
});

function taskName(name) {
  return { adding: 'adding problem', copy: 'copy task', sines: 'sine forecast', chars: 'character model' }[name];
}

function setStatus(text, isError = false) {
  const status = $('status');
  setText(status, text);
  status.classList.toggle('error', isError);
}

// Status lines for what a step did: one step taken (after Step), or steps
// skipped because their loss or gradient was not finite.
function announceProgress(message) {
  const skipped = [];
  for (const c of message.cells) {
    const before = state.skipped[c.id] ?? 0;
    // A cell that gave up has its own notice from the worker, which stays.
    if (c.skippedCount > before && !c.diverged) skipped.push(`${cellLabel(c.id)} ${c.skippedCount - before}`);
    state.skipped[c.id] = c.skippedCount;
  }
  if (skipped.length) {
    setStatus(`Steps skipped because their loss or gradient was not finite: ${skipped.join(', ')}. Training goes on.`, true);
  } else if (state.stepping && !state.running) {
    setStatus(`One step taken: now at step ${message.totalSteps.toLocaleString('en-US')}.`);
  }
  state.stepping = false;
}

function cellLabel(id) {
  return state.built?.cells.find((c) => c.id === id)?.label ?? id;
}

function setRunning(running) {
  state.running = running;
  const button = $('train');
  button.textContent = running ? 'Pause' : 'Train';
  button.classList.toggle('running', running);
  button.setAttribute('aria-pressed', String(running));
  if (state.built) document.body.dataset.state = running ? 'training' : 'paused';
}

// ---- buttons -----------------------------------------------------------------

$('train').addEventListener('click', () => {
  if (state.running) { worker.postMessage({ type: 'pause' }); return; }
  if (state.needsBuild && !build()) return;
  worker.postMessage({ type: 'run' });
});
$('step').addEventListener('click', () => {
  if (state.needsBuild && !build()) return;
  state.stepping = true;
  worker.postMessage({ type: 'step' });
});
$('reset').addEventListener('click', () => { build(); });
$('gradcheck').addEventListener('click', () => {
  $('gradcheck-result').textContent = 'checking gradients…';
  worker.postMessage({ type: 'gradcheck' });
});

$('comparison-rows').addEventListener('click', (event) => {
  const button = event.target.closest('button[data-action]');
  if (!button) return;
  worker.postMessage({ type: button.dataset.action, id: button.dataset.id });
});

$('model-file').addEventListener('change', (event) => {
  const file = event.target.files?.[0];
  event.target.value = '';
  if (!file) return;
  setStatus(`Loading ${file.name}…`);
  // The task fields' limits, from the form itself, for the settings a file carries.
  const ranges = Object.fromEntries(['seqLength', 'patternLength', 'horizon']
    .map((name) => [name, [Number(form.elements[name].min), Number(form.elements[name].max)]]));
  worker.postMessage({ type: 'load', file, settings: readSettings(), hyper: readHyper(), ranges });
});

// Chooses a value in a <select>, adding it when the list lacks it (a loaded
// model can have a size the list does not offer).
function selectValue(select, value) {
  const text = String(value);
  if (![...select.options].some((o) => o.value === text)) {
    const option = new Option(text, text);
    const after = [...select.options].find((o) => Number(o.value) > value);
    select.add(option, after ?? null);
  }
  select.value = text;
}

// Puts the controls in line with a loaded model, without triggering a rebuild.
function reflectLoaded(settings) {
  const f = form.elements;
  f.task.value = settings.task;
  f.cell.value = settings.cell;
  selectValue(f.hiddenSize, settings.hiddenSize);
  selectValue(f.layers, settings.layers);
  f.activation.value = settings.activation;
  f.gruVariant.value = settings.gruVariant;
  f.recurrentInit.value = settings.recurrentInit;
  f.recurrentScale.value = String(settings.recurrentScale);
  f.forgetBiasOne.checked = settings.forgetBiasOne;
  f.bidirectional.checked = Boolean(settings.bidirectional);
  f.dropout.value = String(settings.dropout ?? 0);
  f.seed.value = String(settings.seed);
  for (const key of ['seqLength', 'patternLength', 'horizon']) f[key].value = String(settings[key]);
  f.textSource.value = settings.textSource;
  showOutputs();
  showRelevant();
}

// ---- text for the character model -------------------------------------------------

const textBox = $('user-text');

textBox.addEventListener('paste', (event) => {
  const text = event.clipboardData?.getData('text/plain') ?? '';
  if (text.length <= TEXTAREA_LIMIT) return;
  // A huge paste would make the text box itself slow: keep it aside, show a preview.
  event.preventDefault();
  holdText(text);
  sendText({ text });
});

function holdText(text) {
  state.heldText = text;
  textBox.value = text.slice(0, PREVIEW_CHARS);
  textBox.readOnly = true;
  $('text-info').classList.remove('error');
  $('text-info').textContent = `Showing the first ${PREVIEW_CHARS.toLocaleString('en-US')} of ${text.length.toLocaleString('en-US')} characters; preparing…`;
}

function sendText(payload) {
  state.userTextSent = false;
  form.elements.textSource.value = 'user';
  showRelevant();
  worker.postMessage({ type: 'text', ...payload });
}

$('use-text').addEventListener('click', () => {
  const text = state.heldText ?? textBox.value;
  if (!text.trim()) { setStatus('The text box is empty.', true); return; }
  $('text-info').textContent = 'Preparing…';
  sendText({ text });
});

$('clear-text').addEventListener('click', () => {
  state.heldText = null;
  state.userTextSent = false;
  textBox.readOnly = false;
  textBox.value = '';
  $('text-info').textContent = '';
});

function readTextFile(file) {
  if (!file) return;
  state.heldText = null;
  textBox.readOnly = true;
  textBox.value = '';
  $('text-info').classList.remove('error');
  $('text-info').textContent = `Reading ${file.name}…`;
  sendText({ file });
}

$('text-file').addEventListener('change', (event) => {
  readTextFile(event.target.files?.[0]);
  event.target.value = '';
});
textBox.addEventListener('dragover', (event) => {
  if (event.dataTransfer?.types.includes('Files')) { event.preventDefault(); textBox.classList.add('dragging'); }
});
textBox.addEventListener('dragleave', () => textBox.classList.remove('dragging'));
textBox.addEventListener('drop', (event) => {
  textBox.classList.remove('dragging');
  const file = event.dataTransfer?.files?.[0];
  if (!file) return;
  event.preventDefault();
  readTextFile(file);
});

function describeTextInfo(info) {
  const parts = [`${info.length.toLocaleString('en-US')} characters, an alphabet of ${info.vocabSize}`];
  if (info.fileBytes) parts.push(`the first part of a ${(info.fileBytes / 1048576).toFixed(1)} MB file`);
  else if (info.truncated) parts.push(`cut from ${info.originalLength.toLocaleString('en-US')}`);
  if (info.replacedKinds) parts.push(`${info.replacedKinds} rare kinds of character shown as �`);
  const el = $('text-info');
  el.classList.remove('error');
  if (form.elements.textSource.value === 'user') el.textContent = `${parts.join('; ')}.`;
}

// ---- samples ---------------------------------------------------------------------

function refreshSampleCells(cells) {
  const select = $('sample-cell');
  select.replaceChildren(...cells.map((c) => new Option(c.label, c.id)));
  const lstm = cells.find((c) => c.cell === 'lstm');
  if (lstm) select.value = lstm.id;
  $('sample-text').replaceChildren();
}

function requestSample() {
  if (!state.built || state.built.task.name !== 'chars' || state.sampling) return;
  state.sampling = true;
  state.lastSample = performance.now();
  worker.postMessage({
    type: 'sample', id: $('sample-cell').value, temperature: Number($('temperature').value),
    length: 240, prime: $('prime').value,
  });
}

function maybeSample() {
  if (state.built?.task.name === 'chars' && performance.now() - state.lastSample > SAMPLE_EVERY_MS) requestSample();
}

$('sample').addEventListener('click', requestSample);
// The samples are read aloud as they refresh only while the plots' figures are.
$('announce-plots').addEventListener('change', (event) => {
  $('sample-text').setAttribute('aria-live', event.target.checked ? 'polite' : 'off');
});
$('temperature').addEventListener('input', showOutputs);
$('temperature').addEventListener('change', requestSample);

// On a phone the settings start folded, so the plots are on the first screen.
const narrow = window.matchMedia('(max-width: 900px)');
if (narrow.matches) $('settings-panel').open = false;
narrow.addEventListener('change', () => { if (!narrow.matches) $('settings-panel').open = true; });

renderMath();
showOutputs();
showRelevant();
$('run-link').value = writeUrl(form, state.experiment);
