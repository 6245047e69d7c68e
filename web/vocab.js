// vocab.js — a character vocabulary for character-level models.

import { RnnlabError, describe } from './errors.js';
import { checkObject, checkKeys, checkInt, checkBoolean, isNumberList } from './options.js';

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
    const twice = chars.findIndex((c, i) => chars.indexOf(c) !== i);
    if (twice !== -1) {
      throw new RnnlabError('E_INVALID', `Vocabulary: the characters must be distinct, got ${JSON.stringify(chars[twice])} ` +
        `at positions ${chars.indexOf(chars[twice])} and ${twice}`);
    }
    this.chars = Object.freeze([...chars]);
    this.size = chars.length;
    this._index = new Map(chars.map((c, i) => [c, i]));
  }

  encode(text) {
    return this._encode(text, 'encode');
  }

  // `where` names the text in messages.
  _encode(text, where) {
    if (typeof text !== 'string') throw new RnnlabError('E_TYPE', `${where}: expected a string, got ${describe(text)}`);
    const chars = Array.from(text);
    const ids = new Int32Array(chars.length);
    chars.forEach((c, i) => {
      const id = this._index.get(c);
      if (id === undefined) {
        throw new RnnlabError('E_INVALID', `${where}: character ${JSON.stringify(c)} at position ${i} is not in the vocabulary of ${this.size} characters`);
      }
      ids[i] = id;
    });
    return ids;
  }

  decode(ids) {
    if (!isNumberList(ids)) throw new RnnlabError('E_TYPE', `decode: expected an array of ids, got ${describe(ids)}`);
    let s = '';
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (typeof id !== 'number') {
        throw new RnnlabError('E_TYPE', `decode: the id at position ${i}: expected a number, got ${describe(id)}`);
      }
      if (!Number.isInteger(id) || id < 0 || id >= this.size) {
        throw new RnnlabError('E_INVALID', `decode: id ${describe(id)} at position ${i}: expected 0 to ${this.size - 1}`);
      }
      s += this.chars[id];
    }
    return s;
  }

  // Next-character data: x the ids [N, T] (for a model with an embedding),
  // or with `oneHot: true` one-hot vectors [N, T, size]; y [N, T] the
  // following characters.
  dataset(text, options) {
    checkObject(options, 'dataset options');
    checkKeys(options, ['seqLength', 'stride', 'oneHot', 'ids'], 'dataset options');
    const oneHot = oneHotOption(options);
    const ids = this._encode(text, 'dataset text');
    const T = checkInt(options.seqLength, 'dataset options.seqLength', 1, 1e6);
    const stride = checkInt(options.stride ?? T, 'dataset options.stride', 1, 1e6);
    if (ids.length < T + 1) {
      throw new RnnlabError('E_SHAPE', `dataset: seqLength ${T} needs at least ${T + 1} characters of text, got ${ids.length}`);
    }
    const N = Math.floor((ids.length - T - 1) / stride) + 1;
    const V = this.size;
    const x = oneHot ? new Float32Array(N * T * V) : new Int32Array(N * T);
    const y = new Int32Array(N * T);
    for (let n = 0; n < N; n++) {
      for (let t = 0; t < T; t++) {
        const at = n * stride + t;
        if (oneHot) x[(n * T + t) * V + ids[at]] = 1;
        else x[n * T + t] = ids[at];
        y[n * T + t] = ids[at + 1];
      }
    }
    return { x, y, shape: oneHot ? [N, T, V] : [N, T] };
  }

  toJSON() {
    return { chars: this.chars };
  }
}

// Whether dataset() makes one-hot vectors: `oneHot: true`. The older `ids`
// option is still read, as its opposite (`ids: false` is `oneHot: true`);
// given both, they must agree.
function oneHotOption(options) {
  const oneHot = options.oneHot === undefined ? undefined : checkBoolean(options.oneHot, 'dataset options.oneHot');
  const ids = options.ids === undefined ? undefined : checkBoolean(options.ids, 'dataset options.ids');
  if (oneHot !== undefined && ids !== undefined && oneHot === ids) {
    throw new RnnlabError('E_INVALID', `dataset options.ids: expected ${!oneHot} (the opposite of oneHot: ${oneHot}) ` +
      `or left out, got ${ids}`);
  }
  return oneHot ?? (ids === undefined ? false : !ids);
}
