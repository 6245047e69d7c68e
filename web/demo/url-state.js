// Every control of the settings form, the chosen experiment and the seed in
// the page's URL, and back: a copied link reopens the same run (the engine
// is deterministic). Text the user pasted is not put in a link.

/** The names of the form's controls that a link carries. */
export function controlNames(form) {
  const names = [];
  for (const el of form.elements) {
    if (!el.name || names.includes(el.name)) continue;
    if (el.type === 'file' || el.tagName === 'TEXTAREA' || el.tagName === 'BUTTON' || el.tagName === 'FIELDSET') continue;
    names.push(el.name);
  }
  return names;
}

/** One control's value as text: '1' or '0' for a checkbox. */
function valueOf(form, name) {
  const el = form.elements[name];
  if (el.type === 'checkbox') return el.checked ? '1' : '0';
  return el.value;
}

/** The form (and `exp`, when given) as a query string. */
export function encodeControls(form, experiment = null) {
  const params = new URLSearchParams();
  if (experiment) params.set('exp', experiment);
  for (const name of controlNames(form)) params.set(name, valueOf(form, name));
  return params.toString();
}

/**
 * Sets one control from text or a value, if the control accepts it: a radio
 * or select only takes one of its own values, a number is clamped to the
 * control's range. Returns whether it was set.
 */
export function setControl(form, name, value) {
  const el = form.elements[name];
  if (!el) return false;
  const text = String(value);
  if (el instanceof RadioNodeList || el.tagName === 'SELECT') {
    const options = el instanceof RadioNodeList ? [...el].map((r) => r.value) : [...el.options].map((o) => o.value);
    if (!options.includes(text)) return false;
    el.value = text;
    return true;
  }
  if (el.type === 'checkbox') {
    el.checked = value === true || text === '1' || text === 'true';
    return true;
  }
  if (el.type === 'number' || el.type === 'range') {
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n)) return false;
    const lo = el.min === '' ? -Infinity : Number(el.min);
    const hi = el.max === '' ? Infinity : Number(el.max);
    el.value = String(Math.min(hi, Math.max(lo, n)));
    return true;
  }
  el.value = text;
  return true;
}

/** Applies a query string to the form; returns { applied: [names], experiment }. */
export function applyQuery(form, search) {
  const params = new URLSearchParams(search);
  const applied = [];
  for (const name of controlNames(form)) {
    if (params.has(name) && setControl(form, name, params.get(name))) applied.push(name);
  }
  return { applied, experiment: params.get('exp') };
}

/** Puts the form (and experiment) in the address bar without a new history entry. */
export function writeUrl(form, experiment = null) {
  const query = encodeControls(form, experiment);
  const url = `${location.pathname}?${query}${location.hash}`;
  history.replaceState(null, '', url);
  return new URL(url, location.href).href;
}
