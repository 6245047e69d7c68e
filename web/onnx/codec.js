// Protobuf messages from a schema (proto.js's SCHEMA, protobufjs's JSON form)
// over protobufjs's Reader and Writer: the wire format is protobufjs's, the
// messages are walked here by the schema. No generated code: protobufjs's
// reflection (light/full builds) compiles its codecs with Function(), which a
// page whose Content-Security-Policy has no 'unsafe-eval' forbids; its
// minimal build (Reader, Writer only) runs under any CSP.
//
// Decoded messages are plain objects: every field present, with protobuf's
// defaults (0, '', empty bytes, [] for repeated fields, null for messages).
// int64 values are numbers when exact, else what the Reader gives (a Long, or
// an inexact number) for int64() in proto.js to refuse.

// Wire types per scalar type; repeated numbers may come packed (wire type 2).
const WIRE = { int64: 0, int32: 0, float: 5, double: 1, string: 2, bytes: 2 };
const PACKABLE = new Set(['int64', 'int32', 'float', 'double']);
const MAX_DEPTH = 32; // GraphProto in AttributeProto in NodeProto in GraphProto…

function safe(v) {
  if (typeof v === 'number') return v;
  const n = typeof v?.toNumber === 'function' ? v.toNumber() : Number(v);
  return Number.isSafeInteger(n) ? n : v;
}

const READ = {
  int64: (r) => safe(r.int64()), int32: (r) => r.int32(), float: (r) => r.float(), double: (r) => r.double(),
  string: (r) => r.string(), bytes: (r) => r.bytes(),
};
const WRITE = {
  int64: (w, v) => w.int64(v), int32: (w, v) => w.int32(v), float: (w, v) => w.float(v), double: (w, v) => w.double(v),
  string: (w, v) => w.string(v), bytes: (w, v) => w.bytes(v),
};
const DEFAULT = { int64: 0, int32: 0, float: 0, double: 0, string: '' };

const isMessage = (type) => !(type in WIRE);

function defaults(t) {
  const out = {};
  for (const f of t.fields) out[f.name] = f.repeated ? [] : isMessage(f.type) ? null : f.type === 'bytes' ? new Uint8Array(0) : DEFAULT[f.type];
  return out;
}

/** A codec of the messages in `nested` (a package's types, by name) over protobufjs's Reader and Writer. */
class MessageCodec {
  constructor(protobuf, nested) {
    this.protobuf = protobuf;
    this.nested = nested;
    this.types = new Map();
  }

  typeOf(name) {
    if (this.types.has(name)) return this.types.get(name);
    const fields = Object.entries(this.nested[name].fields).map(([fname, f]) => ({ name: fname, id: f.id, type: f.type, repeated: f.rule === 'repeated' }));
    const t = { fields, byId: new Map(fields.map((f) => [f.id, f])) };
    this.types.set(name, t);
    return t;
  }

  readField(r, f, wire, depth) {
    if (isMessage(f.type)) {
      if (wire !== 2) throw new Error(`field ${f.name} has wire type ${wire}, expected 2 (a message)`);
      return this.readMessage(r, r.uint32(), f.type, depth + 1);
    }
    if (wire !== WIRE[f.type]) throw new Error(`field ${f.name} (${f.type}) has wire type ${wire}, expected ${WIRE[f.type]}`);
    return READ[f.type](r);
  }

  readMessage(r, length, name, depth) {
    if (depth > MAX_DEPTH) throw new Error(`messages nested deeper than ${MAX_DEPTH}`);
    const end = r.pos + length;
    if (end > r.len) throw new Error(`a ${name} of ${length} bytes runs past the end of the data`);
    const t = this.typeOf(name);
    const out = defaults(t);
    while (r.pos < end) {
      const tag = r.uint32();
      const f = t.byId.get(tag >>> 3);
      const wire = tag & 7;
      if (!f) {
        r.skipType(wire);
      } else if (f.repeated && wire === 2 && PACKABLE.has(f.type)) {
        const stop = r.uint32() + r.pos;
        if (stop > end) throw new Error(`packed field ${f.name} runs past its message`);
        while (r.pos < stop) out[f.name].push(READ[f.type](r));
      } else if (f.repeated) {
        out[f.name].push(this.readField(r, f, wire, depth));
      } else {
        out[f.name] = this.readField(r, f, wire, depth);
      }
    }
    if (r.pos !== end) throw new Error(`a ${name} ends inside a field`);
    return out;
  }

  writeMessage(w, obj, name) {
    for (const f of this.typeOf(name).fields) {
      const v = obj[f.name];
      if (v === undefined || v === null || (f.repeated && v.length === 0)) continue;
      if (f.repeated && PACKABLE.has(f.type)) {
        w.uint32(((f.id << 3) | 2) >>> 0).fork();
        for (const x of v) WRITE[f.type](w, x);
        w.ldelim();
      } else {
        for (const x of f.repeated ? v : [v]) this.writeField(w, f, x);
      }
    }
  }

  writeField(w, f, v) {
    if (isMessage(f.type)) {
      w.uint32(((f.id << 3) | 2) >>> 0).fork();
      this.writeMessage(w, v, f.type);
      w.ldelim();
    } else {
      w.uint32(((f.id << 3) | WIRE[f.type]) >>> 0);
      WRITE[f.type](w, v);
    }
  }

  /** The message `name` in `bytes`, as a plain object. */
  decode(name, bytes) {
    return this.readMessage(this.protobuf.Reader.create(bytes), bytes.length, name, 0);
  }

  /** A plain object as the bytes of message `name`. */
  encode(name, obj) {
    const w = this.protobuf.Writer.create();
    this.writeMessage(w, obj, name);
    return new Uint8Array(w.finish()); // a plain Uint8Array of its own (Node's Writer gives a Buffer)
  }
}

/** A codec of the messages in `nested`: { decode(name, bytes), encode(name, object) }. */
export const messageCodec = (protobuf, nested) => new MessageCodec(protobuf, nested);
