// expectError: runs fn (sync or async) and checks the RnnlabError it throws.
import assert from 'node:assert/strict';
import { RnnlabError } from '../../web/rnnlab.js';

// `code` is one code or a list of acceptable ones; every entry of `says`
// (a string or a RegExp) must be in the message. Returns the error.
export async function expectError(fn, code, says = []) {
  let error = null;
  let threw = false;
  try {
    await fn();
  } catch (e) {
    threw = true;
    error = e;
  }
  const codes = Array.isArray(code) ? code : [code];
  const want = codes.join(' or ');
  assert.ok(threw, `expected ${want}, but the call succeeded`);
  assert.ok(error instanceof RnnlabError, `expected an RnnlabError (${want}), got ${error?.constructor?.name}: ${error?.message ?? error}`);
  assert.ok(codes.includes(error.code), `expected code ${want}, got ${error.code}: ${error.message}`);
  for (const s of says) {
    if (s instanceof RegExp) assert.match(error.message, s, `the message should match ${s}: ${JSON.stringify(error.message)}`);
    else assert.ok(error.message.includes(s), `the message should say ${JSON.stringify(s)}: ${JSON.stringify(error.message)}`);
  }
  return error;
}
