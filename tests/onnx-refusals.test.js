// loadONNX refuses what rnnlab cannot represent, each an E_FORMAT naming the
// node and its operator: reverse layers, what a bidirectional layer cannot be, embeddings
// rnnlab cannot represent (another axis, a table not [V, E], ids used otherwise), other operators on the activations, peepholes,
// clip, coupled LSTM gates, batch-first layout, mixed layers, no head. And
// rnnlab/onnx without protobufjs is E_LOAD naming the package.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { createModel } from '../web/rnnlab.js';
import { toONNX, loadONNX, useProtobuf } from '../web/onnx.js';
import { onnxModelCodec } from '../web/onnx/proto.js';
import { expectError } from './helpers/expect-error.js';
import { randomModel } from './helpers/interchange.js';

const codec = await onnxModelCodec();
const text = (s) => new TextEncoder().encode(s);

// An rnnlab-written graph as a plain object, changed by `edit`, encoded again.
async function edited(config, edit, options = {}) {
  const model = await createModel({ inputSize: 3, hiddenSize: 4, outputSize: 2, seed: 1, ...config });
  const proto = codec.decode(await toONNX(model, options));
  model.dispose();
  edit(proto.graph);
  return codec.encode(proto);
}
const nodeOf = (g, op) => g.node.find((n) => n.opType === op);
const setAttr = (node, name, attr) => {
  node.attribute = node.attribute.filter((a) => a.name !== name).concat([{ name, ...attr }]);
};

test('bidirectional layers: what rnnlab cannot represent is E_FORMAT; a reverse-only layer too', async () => {
  // a forward graph claiming two directions: its W holds one
  const bytes = await edited({ cell: 'lstm' }, (g) => setAttr(nodeOf(g, 'LSTM'), 'direction', { type: 3, s: [...text('bidirectional')] }));
  await expectError(() => loadONNX(bytes), 'E_FORMAT', ["node 'LSTM_1' (LSTM)", 'W has dims [1,16,3]', 'expected [2,16,3]']);
  const reverse = await edited({ cell: 'gru' }, (g) => setAttr(nodeOf(g, 'GRU'), 'direction', { type: 3, s: [...text('reverse')] }));
  await expectError(() => loadONNX(reverse), 'E_FORMAT', ["node 'GRU_1' (GRU)", "'reverse'", 'reverse only']);
  const bi = { cell: 'rnn', bidirectional: true };
  const mixed = await edited(bi, (g) => setAttr(nodeOf(g, 'RNN'), 'activations', { type: 8, strings: [text('Tanh'), text('Relu')] }));
  await expectError(() => loadONNX(mixed), 'E_FORMAT', ["node 'RNN_1' (RNN)", 'different activations', 'Tanh,Relu']);
  const one = await edited(bi, (g) => setAttr(nodeOf(g, 'RNN'), 'activations', { type: 8, strings: [text('Tanh')] }));
  await expectError(() => loadONNX(one), 'E_FORMAT', ["node 'RNN_1' (RNN)", '1 activations, expected 2']);
  // seq[:, -1] of a bidirectional layer holds h← after one step, not rnnlab's 'last'
  const lastStep = await edited({ ...bi, output: 'last' }, (g) => {
    const transpose = g.node.find((n) => n.opType === 'Transpose' && n.input[0] === 'RNN_1_out1');
    transpose.input[0] = 'Reshape_1_out0';
    transpose.attribute = [{ name: 'perm', type: 7, ints: [1, 0, 2] }];
    g.initializer.push({ name: 'minus1', dims: [], dataType: 7, int64Data: [-1] });
    g.node.splice(g.node.indexOf(transpose) + 1, 0, { name: 'pick', opType: 'Gather', input: [transpose.output[0], 'minus1'], output: ['picked'], attribute: [{ name: 'axis', type: 2, i: 1 }] });
    g.node = g.node.filter((n) => n.name !== 'Reshape_2');
    nodeOf(g, 'MatMul').input[0] = 'picked';
  });
  await expectError(() => loadONNX(lastStep), 'E_FORMAT', ["node 'pick' (Gather)", 'one time step', 'bidirectional']);
  const squeezed = await edited(bi, (g) => {
    const t = g.node.find((n) => n.opType === 'Transpose' && n.input[0] === 'RNN_1_out0');
    Object.assign(t, { opType: 'Squeeze', input: [t.input[0], 'axis1'], attribute: [] });
    g.initializer.push({ name: 'axis1', dims: [1], dataType: 7, int64Data: [1] });
  });
  await expectError(() => loadONNX(squeezed), 'E_FORMAT', ["(Squeeze)", 'direction axis', 'bidirectional']);
});

test('an embedding: a hand-made Gather from a table loads; lookups rnnlab cannot represent are E_FORMAT', async () => {
  const ids = (elemType = 7, dims = 2) => ({ name: 'ids', type: { tensorType: { elemType, shape: { dim: [{ dimParam: 'batch' }, { dimParam: 'time' }, { dimValue: 3 }].slice(0, dims) } } } });
  const withTable = (fn = () => {}) => edited({ cell: 'rnn' }, (g) => {
    g.input[0] = ids();
    g.initializer.push({ name: 'table', dims: [10, 3], dataType: 1, floatData: Array.from({ length: 30 }, (_, k) => k / 30) });
    g.node.unshift({ name: 'embed', opType: 'Gather', input: ['table', 'ids'], output: ['input'], attribute: [] });
    fn(g);
  });
  const model = await loadONNX(await withTable());
  assert.deepEqual(model.config.embedding, { vocabSize: 10, size: 3 });
  assert.equal(model.predict([[9, 0]]).output.length, 4);
  model.dispose();
  const cases = [
    [(g) => { g.node[0].attribute = [{ name: 'axis', type: 2, i: 1 }]; }, ["node 'embed' (Gather)", 'axis 1, expected 0']],
    [(g) => { g.initializer.at(-1).dims = [5, 2, 3]; }, ["node 'embed' (Gather)", 'dims [5,2,3]', 'table [vocabSize, size]']],
    [(g) => { g.initializer.at(-1).dataType = 7; g.initializer.at(-1).int64Data = Array(30).fill(1); g.initializer.at(-1).floatData = []; }, ['an integer tensor of dims [10,3]']],
    [(g) => { g.node.splice(1, 0, { name: 'again', opType: 'Gather', input: ['table', 'ids'], output: ['unused'], attribute: [] }); }, ["node 'again' (Gather)", 'second lookup']],
    [(g) => { g.node.splice(1, 0, { name: 'shift', opType: 'Add', input: ['ids', 'ids'], output: ['unused'], attribute: [] }); }, ["node 'shift' (Add)"]],
    [(g) => { g.node.shift(); g.input.push({ name: 'input', type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'b' }, { dimParam: 't' }, { dimValue: 3 }] } } } }); }, ["node 'RNN_1' (RNN)", 'input X must be the graph input']],
    [(g) => { g.input[0] = ids(1); }, ["graph input 'ids' (FLOAT, rank 2)"]],
  ];
  for (const [fn, says] of cases) await expectError(async () => loadONNX(await withTable(fn)), 'E_FORMAT', says);
  await expectError(async () => loadONNX(await withTable((g) => { g.node.shift(); g.node[0].input[0] = 'ids'; })), 'E_FORMAT', ["node 'Transpose_1' (Transpose)"]);
});

test('toONNX options.ids is int64 or int32', async () => {
  const model = await createModel({ cell: 'lstm', embedding: { vocabSize: 4, size: 2 }, hiddenSize: 3, outputSize: 1 });
  await expectError(() => toONNX(model, { ids: 'int8' }), 'E_INVALID', ['options.ids', "'int64'", "'int32'", '"int8"']);
  model.dispose();
});

test('an operator rnnlab does not have is E_FORMAT naming the node and operator', async () => {
  const bytes = await edited({ cell: 'gru', gruVariant: 'reset-after' }, (g) => {
    const add = nodeOf(g, 'Add');
    add.output = ['logits'];
    g.node.push({ name: 'probabilities', opType: 'Softmax', input: ['logits'], output: ['output'], attribute: [] });
  });
  await expectError(() => loadONNX(bytes), 'E_FORMAT', ["node 'probabilities' (Softmax)", 'Softmax']);
  const tanh = await edited({ cell: 'rnn' }, (g) => {
    const t = nodeOf(g, 'Transpose');
    t.input = ['squashed'];
    g.node.unshift({ name: 'squash', opType: 'Tanh', input: ['input'], output: ['squashed'], attribute: [] });
  });
  await expectError(() => loadONNX(tanh), 'E_FORMAT', ["node 'squash' (Tanh)"]);
});

test('attributes and inputs the cells do not have are E_FORMAT', async () => {
  const cases = [
    [{ cell: 'lstm' }, (g) => setAttr(nodeOf(g, 'LSTM'), 'clip', { type: 1, f: 3 }), ["'clip'"]],
    [{ cell: 'lstm' }, (g) => setAttr(nodeOf(g, 'LSTM'), 'input_forget', { type: 2, i: 1 }), ['input_forget']],
    [{ cell: 'rnn' }, (g) => setAttr(nodeOf(g, 'RNN'), 'layout', { type: 2, i: 1 }), ['layout 1']],
    [{ cell: 'rnn' }, (g) => setAttr(nodeOf(g, 'RNN'), 'activations', { type: 8, strings: [[...text('Sigmoid')]] }), ['activations [Sigmoid]']],
    [{ cell: 'lstm' }, (g) => {
      g.initializer.push({ name: 'P', dims: [1, 12], dataType: 1, floatData: Array(12).fill(0) });
      const n = nodeOf(g, 'LSTM');
      n.input = [...n.input, '', '', '', 'P'].slice(0, 8);
    }, ['peephole']],
    [{ cell: 'gru', layers: 2 }, (g) => setAttr(g.node.filter((n) => n.opType === 'GRU')[1], 'linear_before_reset', { type: 2, i: 1 }), ['layer 1 differs']],
    [{ cell: 'rnn' }, (g) => { g.node = g.node.filter((n) => n.opType !== 'Add'); nodeOf(g, 'MatMul').output = ['output']; }, ['no bias']],
  ];
  for (const [config, edit, says] of cases) {
    await expectError(async () => loadONNX(await edited(config, edit)), 'E_FORMAT', says);
  }
});

test('bytes that are not an ONNX model are E_FORMAT; a wrong type is E_TYPE', async () => {
  await expectError(() => loadONNX(new TextEncoder().encode('{"format": "not onnx"}')), 'E_FORMAT');
  await expectError(() => loadONNX(new Uint8Array(0)), 'E_FORMAT', ['no graph']);
  await expectError(() => loadONNX('model.onnx'), 'E_TYPE');
});

test('without protobufjs, rnnlab/onnx is E_LOAD naming the package', () => {
  const hooks = fileURLToPath(new URL('./helpers/no-protobufjs.mjs', import.meta.url));
  const script = `
    import { toONNX } from ${JSON.stringify(new URL('../web/onnx.js', import.meta.url).href)};
    import { createModel } from ${JSON.stringify(new URL('../web/rnnlab.js', import.meta.url).href)};
    const m = await createModel({ cell: 'rnn', inputSize: 1, hiddenSize: 2, outputSize: 1 });
    try { await toONNX(m); console.log('no error'); } catch (e) { console.log(e.code + ' ' + e.message); }`;
  const r = spawnSync(process.execPath, ['--import', hooks, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^E_LOAD .*'protobufjs'.*npm install protobufjs/);
});

test('useProtobuf takes protobufjs (any build with Reader and Writer), else E_TYPE', async () => {
  for (const bad of [null, {}, 'protobufjs', { Reader: {}, Writer: {} }]) {
    assert.throws(() => useProtobuf(bad), (e) => e.code === 'E_TYPE' && /Reader\.create and Writer\.create/.test(e.message));
  }
  const model = await randomModel({ cell: 'gru' }, { X: 2, H: 3, Y: 1, layers: 1, output: 'sequence', seed: 2 });
  const before = await toONNX(model);
  useProtobuf(await import('protobufjs/light.js')); // the CommonJS module's default, a build with reflection
  const after = await toONNX(model);
  assert.deepEqual(after, before, 'the same bytes through another build');
  const back = await loadONNX(after);
  assert.deepEqual(back.getParameters(), model.getParameters());
  useProtobuf((await import('protobufjs/minimal.js')).default);
  back.dispose();
  model.dispose();
});
