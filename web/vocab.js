// vocab.js — a character vocabulary for character-level models.

import { RnnlabError, describe } from './errors.js';
import { checkObject, checkKeys, checkInt } from './options.js';

export class Vocabulary {
  // The sorted set of characters (code points) in `text`.
  static fromText(text) {
    if (typeof text !== 'string') throw new RnnlabError('E_TYPE', `Vocabulary.fromText: expected a string, got ${describe(text)}`);
    if (text.length === 0) throw new RnnlabError('E_INVALID', 'Vocabulary.fromText: expected non-empty text, got an empty string');
    return new Vocabulary([...new Set(Array.from(text))].sort());
  }

  constructor(chars) {
    if (!Array.isArray(chars) || chars.length === 0 || !chars.every((c) => typeof c === 'string' && Array.from(c).length === 1)) {
      throw new RnnlabError('E_TYPE', `Vocabulary: expected a non-empty array of single characters, got ${describe(chars)}`);
    }
    if (new Set(chars).size !== chars.length) throw new RnnlabError('E_INVALID', 'Vocabulary: the characters must be distinct');
    this.chars = Object.freeze([...chars]);
    this.size = chars.length;
    this._index = new Map(chars.map((c, i) => [c, i]));
  }

  encode(text) {
    if (typeof text !== 'string') throw new RnnlabError('E_TYPE', `encode: expected a string, got ${describe(text)}`);
    const chars = Array.from(text);
    const ids = new Int32Array(chars.length);
    chars.forEach((c, i) => {
      const id = this._index.get(c);
      if (id === undefined) {
        throw new RnnlabError('E_INVALID', `encode: character ${JSON.stringify(c)} at position ${i} is not in the vocabulary of ${this.size} characters`);
      }
      ids[i] = id;
    });
    return ids;
  }

  decode(ids) {
    let s = '';
    for (let i = 0; i < ids.length; i++) {
      const c = this.chars[ids[i]];
      if (c === undefined) throw new RnnlabError('E_INVALID', `decode: id ${ids[i]} at position ${i}: expected 0 to ${this.size - 1}`);
      s += c;
    }
    return s;
  }

  // Next-character data: x one-hot [N, T, size], y [N, T] the following characters.
  dataset(text, options) {
    checkObject(options, 'dataset options');
    checkKeys(options, ['seqLength', 'stride'], 'dataset options');
    const ids = this.encode(text);
    const T = checkInt(options.seqLength, 'dataset options.seqLength', 1, 1e6);
    const stride = checkInt(options.stride ?? T, 'dataset options.stride', 1, 1e6);
    if (ids.length < T + 1) {
      throw new RnnlabError('E_SHAPE', `dataset: seqLength ${T} needs at least ${T + 1} characters of text, got ${ids.length}`);
    }
    const N = Math.floor((ids.length - T - 1) / stride) + 1;
    const V = this.size;
    const x = new Float32Array(N * T * V);
    const y = new Int32Array(N * T);
    for (let n = 0; n < N; n++) {
      for (let t = 0; t < T; t++) {
        const at = n * stride + t;
        x[(n * T + t) * V + ids[at]] = 1;
        y[n * T + t] = ids[at + 1];
      }
    }
    return { x, y, shape: [N, T, V] };
  }

  toJSON() {
    return { chars: this.chars };
  }
}
