// Finds the functions of a C or JavaScript source and how many lines each
// spans, for the function-length rule in tests/structure.test.js. Not a
// parser: a tokenizer that skips comments, strings, template literals (with
// their ${…} parts scanned as code), character literals, regex literals (by
// the usual rule of the token before a '/') and C preprocessor lines, then
// brace matching. A '{' opens a function body when it follows
//   C:  ')' at the top level                    int f(void) {
//   JS: 'function' [name] (…)                   function f() {, function () {
//       name (…) outside a control statement     method() {, get x() {, [k]() {
//       => (an arrow function with a block body) (a) => {
// A function spans from the line of its name (or parameters) to its '}'.

const JS_KEYWORDS_BEFORE_REGEX = new Set(['return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void',
  'throw', 'case', 'do', 'else', 'yield', 'await']);
const CONTROL = new Set(['if', 'for', 'while', 'switch', 'catch', 'with', 'function', 'return', 'typeof', 'await']);
const IDENT = /[A-Za-z0-9_$\u0080-\uffff]/;
const PUNCT3 = ['>>>=', '...', '===', '!==', '**=', '<<=', '>>=', '>>>', '&&=', '||=', '??='];
const PUNCT2 = ['=>', '==', '!=', '<=', '>=', '&&', '||', '??', '?.', '++', '--', '+=', '-=', '*=', '/=', '%=',
  '&=', '|=', '^=', '<<', '>>', '**', '->', '::'];

// Whether a '/' after this token starts a regex literal (JS).
function regexAllowed(prev) {
  if (!prev) return true;
  if (prev.type === 'id') return JS_KEYWORDS_BEFORE_REGEX.has(prev.value);
  if (prev.type === 'punct') return ![')', ']', '}', '++', '--'].includes(prev.value);
  return false; // after a number, string or regex: division
}

// The end (index after) of a quoted string or character literal starting at i.
function skipQuoted(src, i) {
  const quote = src[i];
  for (let j = i + 1; j < src.length; j++) {
    if (src[j] === '\\') j++;
    else if (src[j] === quote || src[j] === '\n') return j + 1;
  }
  return src.length;
}

// The end of a regex literal starting at i (the '/').
function skipRegex(src, i) {
  let inClass = false;
  let j = i + 1;
  for (; j < src.length && src[j] !== '\n'; j++) {
    if (src[j] === '\\') j++;
    else if (src[j] === '[') inClass = true;
    else if (src[j] === ']') inClass = false;
    else if (src[j] === '/' && !inClass) break;
  }
  j++;
  while (j < src.length && IDENT.test(src[j])) j++; // flags
  return j;
}

// The end of a comment or C preprocessor line at i, or -1 if there is none.
function skipComment(src, i, lang, atLineStart) {
  if (src.startsWith('//', i)) {
    const end = src.indexOf('\n', i);
    return end < 0 ? src.length : end;
  }
  if (src.startsWith('/*', i)) {
    const end = src.indexOf('*/', i + 2);
    return end < 0 ? src.length : end + 2;
  }
  if (lang === 'c' && src[i] === '#' && atLineStart) {
    let j = i;
    while (j < src.length && src[j] !== '\n') j += src[j] === '\\' ? 2 : 1;
    return j;
  }
  return -1;
}

// Scans a template literal from i (just after '`' or a '}' that closes a
// ${…}) to its end or its next '${'. Returns { end, open: true if at '${' }.
function scanTemplate(src, i) {
  for (let j = i; j < src.length; j++) {
    if (src[j] === '\\') j++;
    else if (src[j] === '`') return { end: j + 1, open: false };
    else if (src[j] === '$' && src[j + 1] === '{') return { end: j + 2, open: true };
  }
  return { end: src.length, open: false };
}

/**
 * The tokens of a source, { type: 'id' | 'num' | 'str' | 'regex' | 'punct', value, line, text }
 * (a template literal is one 'str' token per piece between its ${…} parts).
 */
export function tokenize(src, lang) {
  const tokens = [];
  const templates = []; // brace depth at each open ${ of a template literal
  let depth = 0;
  let line = 1;
  let lineStart = true;
  let i = 0;
  const push = (type, value, end) => {
    tokens.push({ type, value, line, text: src.slice(i, end) });
    for (let k = i; k < end; k++) if (src[k] === '\n') line++;
    i = end;
    lineStart = false;
  };
  while (i < src.length) {
    const c = src[i];
    if (c === '\n') { line++; i++; lineStart = true; continue; }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') { i++; continue; }
    const comment = skipComment(src, i, lang, lineStart);
    if (comment >= 0) {
      for (let k = i; k < comment; k++) if (src[k] === '\n') line++;
      i = comment;
      continue;
    }
    if (c === '"' || c === "'") { push('str', c, skipQuoted(src, i)); continue; }
    if (c === '`' && lang === 'js') {
      const t = scanTemplate(src, i + 1);
      if (t.open) templates.push(depth);
      push('str', '`', t.end);
      continue;
    }
    if (c === '}' && templates.length && templates.at(-1) === depth) {
      templates.pop();
      const t = scanTemplate(src, i + 1);
      if (t.open) templates.push(depth);
      push('str', '`', t.end);
      continue;
    }
    if (c === '/' && lang === 'js' && regexAllowed(tokens.at(-1))) { push('regex', '/', skipRegex(src, i)); continue; }
    if (IDENT.test(c)) {
      let j = i + 1;
      while (j < src.length && (IDENT.test(src[j]) || (/[0-9]/.test(c) && src[j] === '.'))) j++;
      push(/[0-9]/.test(c) ? 'num' : 'id', src.slice(i, j), j);
      continue;
    }
    const p = PUNCT3.find((q) => src.startsWith(q, i)) ?? PUNCT2.find((q) => src.startsWith(q, i)) ?? c;
    if (p === '{') depth++;
    else if (p === '}') depth--;
    push('punct', p, i + p.length);
  }
  return tokens;
}

// The index of the '(' that matches the ')' at index close, or -1.
function openingParen(tokens, close) {
  let depth = 0;
  for (let k = close; k >= 0; k--) {
    const v = tokens[k].type === 'punct' ? tokens[k].value : '';
    if (v === ')') depth++;
    else if (v === '(' && --depth === 0) return k;
  }
  return -1;
}

// An arrow function's name: what it is assigned to, or what it is passed to.
function arrowName(tokens, start) {
  let k = start - 1;
  if (tokens[k]?.value === 'async') k--;
  const before = tokens[k];
  if (before?.value === '=' || before?.value === ':') return tokens[k - 1]?.value ?? '(arrow)';
  if (before?.value === '(' || before?.value === ',') {
    const call = before.value === '(' ? k : openingCall(tokens, k);
    return `(arrow in ${tokens[call - 1]?.value ?? '?'}(…))`;
  }
  return '(arrow)';
}

// The '(' of the call whose argument list holds index k.
function openingCall(tokens, k) {
  let depth = 0;
  for (let j = k; j >= 0; j--) {
    const v = tokens[j].type === 'punct' ? tokens[j].value : '';
    if (v === ')' || v === ']' || v === '}') depth++;
    else if ((v === '(' || v === '[' || v === '{') && depth-- === 0) return j;
  }
  return 0;
}

/** For a '{' at index k: { name, line } of the function it opens, or null. */
function functionAt(tokens, k, lang, depth) {
  const prev = tokens[k - 1];
  if (!prev || prev.type !== 'punct') return null;
  if (lang === 'js' && prev.value === '=>') {
    const params = tokens[k - 2]?.value === ')' ? openingParen(tokens, k - 2) : k - 2;
    return params < 0 ? null : { name: arrowName(tokens, params), line: tokens[params].line };
  }
  if (prev.value !== ')') return null;
  const open = openingParen(tokens, k - 1);
  const head = tokens[open - 1];
  if (open < 0 || !head) return null;
  if (lang === 'c') return depth === 0 && head.type === 'id' ? { name: head.value, line: head.line } : null;
  if (head.value === 'function' || (head.value === '*' && tokens[open - 2]?.value === 'function')) {
    return { name: '(anonymous function)', line: head.line };
  }
  if (head.type === 'id' && tokens[open - 2]?.value === 'function') return { name: head.value, line: tokens[open - 2].line };
  if (head.type === 'id' && tokens[open - 2]?.value === '*' && tokens[open - 3]?.value === 'function') {
    return { name: head.value, line: tokens[open - 3].line };
  }
  if (head.type === 'id' && !CONTROL.has(head.value)) return { name: head.value, line: head.line };
  if (head.value === ']') return { name: '[computed]', line: head.line };
  return null;
}

/** The functions of a source: [{ name, line, lines }], lines from the name to the closing '}'. */
export function findFunctions(src, lang) {
  const tokens = tokenize(src, lang);
  const open = [];
  const found = [];
  tokens.forEach((token, k) => {
    if (token.type !== 'punct') return;
    if (token.value === '{') open.push(functionAt(tokens, k, lang, open.length));
    else if (token.value === '}') {
      if (!open.length) throw new Error(`line ${token.line}: '}' closes nothing (the scanner lost its way)`);
      const fn = open.pop();
      if (fn) found.push({ name: fn.name, line: fn.line, lines: token.line - fn.line + 1 });
    }
  });
  if (open.length) throw new Error(`${open.length} '{' never closed (the scanner lost its way)`);
  return found.sort((a, b) => a.line - b.line);
}
