// progress.js — fit({ verbose: true }): one line per epoch, as Keras users
// expect: steps, loss, steps per second, time left. On a terminal the line is
// redrawn as the epoch runs; elsewhere (a log, a browser console) only the
// finished epoch's line is written.

const WIDTH = 24;
const REDRAW_MS = 100;

function clock(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const m = Math.floor(s / 60);
  return m >= 60 ? `${Math.floor(m / 60)}:${String(m % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}` : `${m}:${String(s % 60).padStart(2, '0')}`;
}

const number = (v) => (Number.isFinite(v) ? (Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? v.toFixed(4) : v.toExponential(3)) : String(v));

// Where lines go: a terminal's stdout (redrawn in place), else console.log.
function output() {
  const stdout = globalThis.process?.stdout;
  if (stdout?.isTTY) return { tty: true, draw: (line) => stdout.write(`\r${line}\x1b[K`), end: () => stdout.write('\n') };
  return { tty: false, draw: (line) => console.log(line), end: () => {} };
}

/** A progress bar for `trainer` (trainer.js); update(step, epoch) after each trainer.next(). */
export function progressBar(trainer, out = output()) {
  let started = performance.now();
  let steps = 0;
  let loss = NaN;
  let drawn = 0;
  const line = (done, total, tail) => {
    const filled = total ? Math.round((WIDTH * done) / total) : WIDTH;
    const bar = `${'━'.repeat(filled)}${'─'.repeat(WIDTH - filled)}`;
    const elapsed = (performance.now() - started) / 1000;
    const rate = elapsed > 0 ? steps / elapsed : 0;
    const { epoch, epochs } = trainer.progress();
    return `Epoch ${Math.min(epoch + 1, epochs)}/${epochs} ${bar} ${done}/${total} · ${steps} steps · loss ${number(loss)} · ${rate.toFixed(1)} steps/s · ${tail(elapsed, rate)}`;
  };
  return {
    update(step, epoch) {
      if (step) { steps++; if (!step.skipped) loss = step.loss; }
      if (epoch) {
        loss = epoch.loss;
        const { total } = trainer.progress();
        const val = epoch.valLoss === undefined ? '' : ` · val loss ${number(epoch.valLoss)}`;
        // trainer.progress() has moved on to the next epoch: name this one
        const text = line(total, total, (elapsed) => `${clock(elapsed)}${val}`).replace(/^Epoch \d+/, `Epoch ${epoch.epoch + 1}`);
        out.draw(text);
        out.end();
        started = performance.now();
        steps = 0;
        return;
      }
      if (!out.tty || performance.now() - drawn < REDRAW_MS) return;
      drawn = performance.now();
      const { done, total } = trainer.progress();
      out.draw(line(done, total, (elapsed, rate) => `${clock(rate > 0 ? (total - done) * (elapsed / Math.max(done, 1)) : 0)} left`));
    },
  };
}
