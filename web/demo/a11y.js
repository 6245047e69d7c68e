// Text alternatives for the plots: under each plot a summary of what it shows
// now, in numbers (a polite live region, rewritten at most every few seconds
// and only when its text changed), and the plotted data as a table behind a
// disclosure, built only while it is open. The words come from describe.js;
// the canvases themselves are labelled images pointing at their summary.
// A new plot card needs only data-plot="name" and entries in describe.js.

import { SUMMARIES, dataTable } from './describe.js';
import { $, setText } from './dom.js';

const SUMMARY_MS = 3000; // the calm rate: at most one rewrite of the summaries this often

export class PlotTexts {
  /** `board` is read when the texts are due: its cells, task, plotData and gates. */
  constructor(board) {
    this.board = board;
    this.parts = new Map();
    this.dirty = new Set();
    this.timer = 0;
    this.last = -Infinity;
    for (const card of document.querySelectorAll('[data-plot]')) {
      const part = card.dataset.plot;
      if (SUMMARIES[part]) this.parts.set(part, this.makeTexts(card, part));
    }
    const toggle = $('announce-plots');
    toggle?.addEventListener('change', () => this.setLive(toggle.checked));
    this.setLive(toggle ? toggle.checked : true);
  }

  makeTexts(card, part) {
    const title = card.querySelector('h2');
    title.id ||= `${part}-title`;
    const summary = document.createElement('p');
    summary.className = 'plot-summary';
    summary.id = `${part}-summary`;
    summary.setAttribute('aria-atomic', 'true');
    const details = document.createElement('details');
    details.className = 'plot-data';
    const label = document.createElement('summary');
    label.textContent = 'The data as a table';
    const holder = document.createElement('div');
    holder.className = 'table-wrap';
    holder.tabIndex = 0; // a wide table scrolls: the keyboard must reach it
    holder.setAttribute('role', 'region');
    holder.setAttribute('aria-label', `${title.textContent}: data`);
    details.append(label, holder);
    details.addEventListener('toggle', () => { if (details.open) this.renderTable(part); });
    const figure = card.querySelector('.plot, .heatmaps');
    figure.setAttribute('role', 'group');
    figure.setAttribute('aria-labelledby', title.id);
    figure.setAttribute('aria-describedby', summary.id);
    figure.after(summary, details);
    return { card, title, summary, details, holder, version: 0, rendered: -1 };
  }

  setLive(on) {
    for (const { summary } of this.parts.values()) summary.setAttribute('aria-live', on ? 'polite' : 'off');
  }

  /** A chart's canvas is an image named by the card's title and described by its summary. */
  chartCreated(part, chart) {
    const texts = this.parts.get(part);
    const wrap = chart.plot.root.querySelector('.u-wrap');
    if (!texts || !wrap) return;
    wrap.setAttribute('role', 'img');
    wrap.setAttribute('aria-labelledby', texts.title.id);
    wrap.setAttribute('aria-describedby', texts.summary.id);
  }

  /** The part was redrawn: its texts follow within SUMMARY_MS. */
  mark(...parts) {
    for (const part of parts) {
      const texts = this.parts.get(part);
      if (!texts) continue;
      texts.version++;
      this.dirty.add(part);
    }
    if (this.dirty.size && !this.timer) {
      const wait = Math.max(0, this.last + SUMMARY_MS - performance.now());
      this.timer = setTimeout(() => this.flush(), wait);
    }
  }

  /** A new run: every text is rewritten at once (not on the calm clock). */
  reset() {
    clearTimeout(this.timer);
    this.timer = 0;
    this.last = -Infinity;
    this.mark(...this.parts.keys());
  }

  flush() {
    this.timer = 0;
    this.last = performance.now();
    const due = [...this.dirty];
    this.dirty.clear();
    for (const part of due) {
      const texts = this.parts.get(part);
      setText(texts.summary, this.board.task ? SUMMARIES[part](this.board) : '');
      if (texts.details.open) this.renderTable(part);
    }
  }

  renderTable(part) {
    const texts = this.parts.get(part);
    if (texts.rendered === texts.version) return;
    texts.rendered = texts.version;
    const table = this.board.task ? dataTable(this.board, part) : null;
    if (!table) { texts.holder.replaceChildren(noData()); return; }
    texts.holder.replaceChildren(buildTable(`${texts.title.textContent}: ${table.note}`, table));
  }
}

function noData() {
  const p = document.createElement('p');
  p.className = 'hint';
  p.textContent = 'No data yet.';
  return p;
}

function buildTable(caption, { columns, rows }) {
  const table = document.createElement('table');
  table.className = 'data';
  const cap = table.createCaption();
  cap.textContent = caption;
  const head = table.createTHead().insertRow();
  for (const name of columns) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = name;
    head.append(th);
  }
  const body = table.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    row.forEach((text, k) => {
      const cell = document.createElement(k === 0 ? 'th' : 'td');
      if (k === 0) cell.scope = 'row';
      else cell.className = 'num';
      cell.textContent = text;
      tr.append(cell);
    });
  }
  return table;
}
