#!/usr/bin/python3
"""rnnlab's weights through PyTorch itself (SPEC.md §8), for tests/torch-roundtrip.test.js.

Run with Debian's python3-torch; the test starts one process per direction:

  /usr/bin/python3 tests/torch/roundtrip.py run DIR
      rnnlab -> PyTorch. DIR/jobs.json lists models rnnlab exported (safetensors
      or rnnlab's JSON) with an input batch. Each is loaded, strictly, into a
      module with attributes `rnn` (nn.RNN / nn.LSTM / nn.GRU, batch_first) and
      `head` (nn.Linear), then run forward and backward in float64. Outputs,
      final state, loss and every gradient go to a safetensors file (F64),
      with the weights as PyTorch read them (F32) for a bit-exact check.
      A job of kind 'readme' runs README_SNIPPET below, as the README shows it.

  /usr/bin/python3 tests/torch/roundtrip.py make DIR
      PyTorch -> rnnlab. DIR/jobs.json lists models for PyTorch to make: each is
      initialised by PyTorch with its own seed, trained a few SGD steps (so the
      weights are not at their initial values) and its state dict saved as
      F32, F64 or F16 safetensors or as rnnlab's JSON. The values as stored
      then run, in float64, on a fresh input batch; the input and the
      reference results are written for rnnlab to compare.

Only torch and the standard library: safetensors files are read and written by
the small functions below, not by the `safetensors` package.
"""
import json
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)

# ---------------------------------------------------------------- safetensors
# Layout: u64 little-endian header length N, N bytes of JSON
# {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}},
# then the little-endian data; offsets count from the end of the header.

ST_DTYPES = {  # safetensors dtype -> struct code, torch dtype
    'F64': ('d', torch.float64),
    'F32': ('f', torch.float32),
    'F16': ('e', torch.float16),
}
ST_NAMES = {dtype: name for name, (_, dtype) in ST_DTYPES.items()}


def read_safetensors(path):
    """{name: tensor} and the __metadata__ dict of a safetensors file."""
    with open(path, 'rb') as f:
        raw = f.read()
    (size,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + size].decode('utf-8'))
    metadata = header.pop('__metadata__', {})
    data = raw[8 + size:]
    tensors = {}
    for name, info in header.items():
        code, dtype = ST_DTYPES[info['dtype']]
        begin, end = info['data_offsets']
        count = (end - begin) // struct.calcsize(code)
        values = struct.unpack('<%d%s' % (count, code), data[begin:end])
        tensors[name] = torch.tensor(values, dtype=dtype).reshape(info['shape'])
    return tensors, metadata


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: tensor}; each tensor keeps its dtype (F64, F32 or F16)."""
    header = {'__metadata__': metadata} if metadata else {}
    chunks, offset = [], 0
    for name in sorted(tensors):
        t = tensors[name].detach()
        code = ST_DTYPES[ST_NAMES[t.dtype]][0]
        values = t.reshape(-1).tolist()
        chunk = struct.pack('<%d%s' % (len(values), code), *values)
        header[name] = {'dtype': ST_NAMES[t.dtype], 'shape': list(t.shape),
                        'data_offsets': [offset, offset + len(chunk)]}
        chunks.append(chunk)
        offset += len(chunk)
    text = json.dumps(header).encode('utf-8')
    text += b' ' * (-len(text) % 8)  # the data starts 8-byte aligned
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text + b''.join(chunks))


# ---------------------------------------------------------------- rnnlab's JSON weights

def read_weights_json(path):
    with open(path) as f:
        doc = json.load(f)
    assert doc['format'] == 'rnnlab-weights' and doc['version'] == 1, (doc['format'], doc['version'])
    return {name: torch.tensor(t['data'], dtype=torch.float32).reshape(t['shape'])
            for name, t in doc['tensors'].items()}


def write_weights_json(path, state_dict):
    doc = {'format': 'rnnlab-weights', 'version': 1, 'metadata': {'source': 'pytorch'},
           'tensors': {name: {'shape': list(t.shape), 'data': t.reshape(-1).tolist()}
                       for name, t in state_dict.items()}}
    with open(path, 'w') as f:
        json.dump(doc, f)


# ---------------------------------------------------------------- the model

class Net(nn.Module):
    """rnnlab's model in PyTorch: attributes rnn and head (SPEC §8)."""

    def __init__(self, cfg):
        super().__init__()
        X, H, L = cfg['inputSize'], cfg['hiddenSize'], cfg['layers']
        emb = cfg.get('embedding')
        bi = bool(cfg.get('bidirectional'))
        # before rnn: the state dict lists embedding.weight first, as rnnlab does
        self.embedding = nn.Embedding(emb['vocabSize'], emb['size']) if emb else None
        if cfg['cell'] == 'rnn':
            self.rnn = nn.RNN(X, H, L, nonlinearity=cfg['activation'], batch_first=True, bidirectional=bi)
        elif cfg['cell'] == 'lstm':
            self.rnn = nn.LSTM(X, H, L, batch_first=True, bidirectional=bi)
        else:  # reset-after, the only GRU PyTorch has
            self.rnn = nn.GRU(X, H, L, batch_first=True, bidirectional=bi)
        self.head = nn.Linear(2 * H if bi else H, cfg['outputSize'])
        self.last = cfg['output'] == 'last'
        self.bi = bi

    def forward(self, x, state, lengths=None):
        if self.embedding is not None:
            x = self.embedding(x.long())  # ids, stored as floats in the batch files
        if lengths is None:
            seq, final = self.rnn(x, state)
        else:  # SPEC §11: each sequence runs over its own length only, both directions
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths.long(), batch_first=True, enforce_sorted=False)
            seq, final = self.rnn(packed, state)
            seq, _ = nn.utils.rnn.pad_packed_sequence(seq, batch_first=True, total_length=x.shape[1])
        if self.last and self.bi:  # h_n of the top layer's two directions
            h_n = final[0] if isinstance(final, tuple) else final
            return self.head(torch.cat([h_n[-2], h_n[-1]], dim=1)), final
        return self.head(seq[:, -1] if self.last else seq), final


def loss_of(cfg, out, target, lengths=None):
    """SPEC §3: MSE is the mean over every counted output element; CE the mean over counted positions."""
    if lengths is not None and cfg['output'] == 'sequence':  # positions past a length do not count
        T = out.shape[1]
        counted = (torch.arange(T)[None, :] < lengths.long()[:, None]).reshape(-1)
        out, target = out.reshape(-1, out.shape[-1])[counted], target.reshape(-1, *target.shape[2:])[counted]
    if cfg['loss'] == 'cross-entropy':
        return F.cross_entropy(out.reshape(-1, out.shape[-1]), target.reshape(-1).long())
    return F.mse_loss(out, target)


def state_of(cfg, inputs):
    h0 = inputs['h0'].double().requires_grad_(True)
    if cfg['cell'] != 'lstm':
        return h0, h0
    c0 = inputs['c0'].double().requires_grad_(True)
    return (h0, c0), (h0, c0)


def reference(cfg, weights, inputs):
    """Forward, loss and backward in float64 with exactly the given weights and inputs."""
    net = Net(cfg).double()
    net.load_state_dict({k: v.double() for k, v in weights.items()})  # strict: names and shapes
    ids = cfg.get('embedding') is not None
    x = inputs['x'] if ids else inputs['x'].double().requires_grad_(True)
    state, leaves = state_of(cfg, inputs)
    target = inputs['target'].double()
    lengths = inputs.get('lengths')
    out, final = net(x, state, lengths)
    loss = loss_of(cfg, out, target, lengths)
    loss.backward()
    res = {'output': out, 'loss': loss}
    if not ids:
        res['grad.x'] = x.grad
    if cfg['cell'] == 'lstm':
        res.update({'hT': final[0], 'cT': final[1], 'grad.h0': leaves[0].grad, 'grad.c0': leaves[1].grad})
    else:
        res.update({'hT': final, 'grad.h0': leaves.grad})
    for name, p in net.named_parameters():
        res['grad.' + name] = p.grad
    return {k: v.detach().double() for k, v in res.items()}


def random_batch(cfg, B, T, generator):
    """x in [-1, 1), h0 (c0) in [-0.4, 0.4), targets; all float32 like rnnlab's inputs."""
    X, H, Y, L = cfg['inputSize'], cfg['hiddenSize'], cfg['outputSize'], cfg['layers']
    L *= 2 if cfg.get('bidirectional') else 1  # states [layers*directions, B, H]
    rand = lambda *shape: torch.rand(*shape, generator=generator)
    emb = cfg.get('embedding')
    x = torch.randint(0, emb['vocabSize'], (B, T), generator=generator).float() if emb else rand(B, T, X) * 2 - 1
    out = {'x': x, 'h0': (rand(L, B, H) - 0.5) * 0.8}
    if cfg['cell'] == 'lstm':
        out['c0'] = (rand(L, B, H) - 0.5) * 0.8
    steps = (B,) if cfg['output'] == 'last' else (B, T)
    if cfg['loss'] == 'cross-entropy':
        out['target'] = torch.randint(0, Y, steps, generator=generator).float()
    else:
        out['target'] = rand(*steps, Y) * 2 - 1
    if cfg.get('lengths'):
        out['lengths'] = torch.tensor(cfg['lengths'], dtype=torch.float32)
    return out


# ---------------------------------------------------------------- README snippet
# README.md shows this code verbatim (the test checks it once README has it);
# `run` executes it in a folder holding rnnlab-weights.safetensors.

README_SNIPPET = r'''
import json, struct
import torch
import torch.nn as nn

def load_safetensors(path):
    """rnnlab's exported .safetensors (F32 tensors) -> a PyTorch state dict."""
    with open(path, 'rb') as f:
        (size,) = struct.unpack('<Q', f.read(8))  # header length, little-endian u64
        header = json.loads(f.read(size))         # name -> dtype, shape, data_offsets
        data = f.read()
    header.pop('__metadata__', None)
    state_dict = {}
    for name, info in header.items():
        assert info['dtype'] == 'F32', info['dtype']
        begin, end = info['data_offsets']
        values = struct.unpack(f'<{(end - begin) // 4}f', data[begin:end])
        state_dict[name] = torch.tensor(values).reshape(info['shape'])
    return state_dict

def save_safetensors(path, state_dict):
    """A PyTorch state dict -> .safetensors (F32) for rnnlab's importWeights."""
    header, chunks, offset = {}, [], 0
    for name, t in state_dict.items():
        values = t.detach().float().flatten().tolist()
        chunks.append(struct.pack(f'<{len(values)}f', *values))
        header[name] = {'dtype': 'F32', 'shape': list(t.shape),
                        'data_offsets': [offset, offset + len(chunks[-1])]}
        offset += len(chunks[-1])
    text = json.dumps(header).encode()
    text += b' ' * (-len(text) % 8)               # data 8-byte aligned
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text + b''.join(chunks))

class Net(nn.Module):                             # rnnlab's names: rnn.*, head.*
    def __init__(self, input_size, hidden_size, output_size, layers=1):
        super().__init__()
        self.rnn = nn.LSTM(input_size, hidden_size, layers, batch_first=True)
        self.head = nn.Linear(hidden_size, output_size)

    def forward(self, x):                         # x: (batch, time, input_size)
        seq, _ = self.rnn(x)
        return self.head(seq[:, -1])              # output: 'last'; head(seq) for 'sequence'

model = Net(2, 32, 1)                             # the README's adding-problem LSTM
model.load_state_dict(load_safetensors('rnnlab-weights.safetensors'))
# ... train on, then save for rnnlab:
save_safetensors('pytorch-weights.safetensors', model.state_dict())
'''


def run_readme(job):
    here = os.getcwd()
    os.chdir(job['dir'])
    try:
        namespace = {'__name__': 'readme_snippet'}
        exec(compile(README_SNIPPET, 'README_SNIPPET', 'exec'), namespace)
    finally:
        os.chdir(here)
    inputs, _ = read_safetensors(job['inputs'])
    with torch.no_grad():
        out = namespace['model'](inputs['x'])  # float32, as a user would run it
    write_safetensors(job['results'], {'output': out.double()})


# ---------------------------------------------------------------- the two directions

def run(folder):
    """rnnlab -> PyTorch: load what rnnlab exported, compute everything in float64."""
    with open(os.path.join(folder, 'jobs.json')) as f:
        jobs = json.load(f)
    for job in jobs:
        if job.get('kind') == 'readme':
            run_readme(job)
            continue
        if job['format'] == 'json':
            weights = read_weights_json(job['weights'])
        else:
            weights, metadata = read_safetensors(job['weights'])
            assert metadata.get('format') == 'pt', metadata
        inputs, _ = read_safetensors(job['inputs'])
        res = reference(job['config'], weights, inputs)
        for name, t in weights.items():
            res['weights.' + name] = t  # F32, as read: the test compares bit for bit
        write_safetensors(job['results'], res)


def make(folder):
    """PyTorch -> rnnlab: init with PyTorch's seed, train a little, save, compute references."""
    with open(os.path.join(folder, 'jobs.json')) as f:
        jobs = json.load(f)
    for job in jobs:
        cfg, B, T = job['config'], job['B'], job['T']
        torch.manual_seed(job['seed'])
        net = Net(cfg)  # PyTorch's own initialisation, float32
        initial = {k: v.clone() for k, v in net.state_dict().items()}
        data = torch.Generator().manual_seed(job['seed'] + 1)
        opt = torch.optim.SGD(net.parameters(), lr=job['lr'])
        for _ in range(job['steps']):
            batch = random_batch(cfg, B, T, data)
            state = (batch['h0'], batch['c0']) if cfg['cell'] == 'lstm' else batch['h0']
            opt.zero_grad()
            out, _ = net(batch['x'], state, batch.get('lengths'))
            loss_of(cfg, out, batch['target'], batch.get('lengths')).backward()
            opt.step()
        trained = net.state_dict()
        change = max((trained[k] - initial[k]).abs().max().item() for k in trained)

        if job['store'] == 'json':
            write_weights_json(job['weights'], trained)
            stored = read_weights_json(job['weights'])
        else:
            dtype = ST_DTYPES[job['store']][1]
            write_safetensors(job['weights'], {k: v.to(dtype) for k, v in trained.items()},
                              metadata={'format': 'pt', 'torch': torch.__version__})
            stored, _ = read_safetensors(job['weights'])

        inputs = random_batch(cfg, B, T, data)
        write_safetensors(job['inputs'], inputs)
        res = reference(cfg, stored, inputs)  # the values exactly as rnnlab will read them
        res['trainedChange'] = torch.tensor(change, dtype=torch.float64)
        write_safetensors(job['results'], res)


if __name__ == '__main__':
    if len(sys.argv) != 3 or sys.argv[1] not in ('run', 'make'):
        sys.exit('usage: roundtrip.py run|make DIR')
    {'run': run, 'make': make}[sys.argv[1]](sys.argv[2])
