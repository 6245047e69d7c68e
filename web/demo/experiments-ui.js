// The guided experiments card: one entry per experiment with its claim, a Run
// button, and, once it has run, the sentence built from its numbers.

import { EXPERIMENTS, experimentById } from './experiments.js';
import { describeExperiment } from './experiment-text.js';
import { $, setText } from './dom.js';

export class ExperimentPanel {
  /** `onRun(id)` starts an experiment. */
  constructor(onRun) {
    this.current = null;
    this.steps = 0;
    this.items = new Map();
    const list = $('experiments');
    list.replaceChildren(...EXPERIMENTS.map((experiment, k) => this.makeItem(experiment, k + 1)));
    list.addEventListener('click', (event) => {
      const button = event.target.closest('button[data-experiment]');
      if (button && !button.disabled) onRun(button.dataset.experiment);
    });
  }

  makeItem(experiment, number) {
    const li = document.createElement('li');
    li.className = 'experiment';
    li.id = `experiment-${experiment.id}`;
    const title = document.createElement('h3');
    title.textContent = experiment.title;
    const claim = document.createElement('p');
    claim.className = 'claim';
    claim.textContent = experiment.claim;
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'small';
    button.dataset.experiment = experiment.id;
    button.textContent = 'Run';
    button.setAttribute('aria-label', `Run experiment ${number}: ${experiment.title}`);
    const outcome = document.createElement('p');
    outcome.className = 'outcome';
    outcome.hidden = true;
    li.append(title, claim, button, outcome);
    this.items.set(experiment.id, { li, button, outcome });
    return li;
  }

  setBusy(busy) {
    for (const { button } of this.items.values()) button.disabled = busy;
  }

  started(id, steps) {
    this.current = id;
    this.steps = steps;
    for (const [key, item] of this.items) item.li.classList.toggle('active', key === id);
    const item = this.items.get(id);
    item.outcome.hidden = true;
    item.outcome.removeAttribute('data-result');
    document.body.dataset.experiment = 'running';
    this.status(`${experimentById(id).title}: training ${steps} steps…`);
  }

  progress(totalSteps) {
    if (!this.current || document.body.dataset.experiment !== 'running') return;
    this.status(`${experimentById(this.current).title}: step ${Math.min(totalSteps, this.steps)} of ${this.steps}…`);
  }

  measuring(id) {
    this.status(`${experimentById(id).title}: measuring…`);
  }

  /** Shows the sentence for a result; returns it. */
  finished(result) {
    const sentence = describeExperiment(result);
    const item = this.items.get(result.id);
    item.outcome.textContent = sentence;
    item.outcome.dataset.result = JSON.stringify(result);
    item.outcome.hidden = false;
    document.body.dataset.experiment = 'done';
    this.status(`Done: ${experimentById(result.id).title}. ${sentence}`);
    return sentence;
  }

  failed(message) {
    document.body.dataset.experiment = 'failed';
    this.status(`The experiment stopped: ${message}`);
  }

  status(text) {
    setText($('experiment-status'), text);
  }
}
