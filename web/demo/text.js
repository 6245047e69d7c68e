// Turning user text into something a character model can train on: bounded
// in size and alphabet, so a huge or exotic paste cannot exhaust memory.

/** Longest text used for training; the rest is dropped (and the page says so). */
export const MAX_TEXT_CHARS = 2_000_000;
/** Largest alphabet; rarer characters become REPLACEMENT. */
export const MAX_VOCABULARY = 96;
export const REPLACEMENT = '\uFFFD';

/**
 * Normalises line ends, cuts to MAX_TEXT_CHARS, and replaces all but the
 * MAX_VOCABULARY - 1 most frequent characters.
 * Returns { text, originalLength, truncated, replacedKinds }.
 */
export function prepareText(raw) {
  if (typeof raw !== 'string') throw new TypeError('text must be a string');
  const originalLength = raw.length;
  let text = raw.length > MAX_TEXT_CHARS ? raw.slice(0, MAX_TEXT_CHARS) : raw;
  text = text.replace(/\r\n?/g, '\n');
  if (text.indexOf('\0') !== -1) {
    throw new Error('this looks like a binary file (it contains NUL characters), not text');
  }
  // Characters outside the Basic Multilingual Plane (emoji, rare scripts) are
  // two UTF-16 units; they always become REPLACEMENT so one character is one unit.
  const counts = new Map();
  let astral = 0;
  for (const ch of text) {
    if (ch.length > 1) astral++;
    else counts.set(ch, (counts.get(ch) ?? 0) + 1);
  }
  let replacedKinds = 0;
  if (counts.size > MAX_VOCABULARY - 1 || astral > 0) {
    const kept = new Set([...counts.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, MAX_VOCABULARY - 1)
      .map(([ch]) => ch));
    replacedKinds = counts.size - kept.size + (astral > 0 ? 1 : 0);
    let out = '';
    const parts = [];
    for (const ch of text) {
      out += kept.has(ch) ? ch : REPLACEMENT;
      if (out.length > 65536) { parts.push(out); out = ''; }
    }
    parts.push(out);
    text = parts.join('');
  }
  return { text, originalLength, truncated: originalLength > MAX_TEXT_CHARS, replacedKinds };
}
