#!/usr/bin/python3
"""PyTorch -> ONNX files for tests/onnx-torch.test.js (rnnlab's loadONNX).

  /usr/bin/python3 tests/torch/onnx_export.py DIR

DIR/jobs.json lists models: { name, cell ('rnn'|'lstm'|'gru'), nonlinearity,
layers, X, H, Y, output ('sequence'|'last'), N, T, seed, and optionally
vocab and ids ('int64'|'int32'), bidirectional (the head then reads [h→; h←]:
every step, or for 'last' h_n's top layer, torch.cat([h_n[-2], h_n[-1]], 1)) }. Each becomes a module with an `rnn`
(nn.RNN / nn.LSTM / nn.GRU, batch_first=True) and a `head` (nn.Linear) that
returns the head's result and the final states, exported by torch.onnx.export
(opset 14, dynamic batch and time axes) to DIR/NAME.onnx. With `vocab` an
`embedding` (nn.Embedding(vocab, X)) comes first and the input is ids [N, T]
of the dtype `ids` (int64 by default). The same module runs on a random input
[N, T, X] (or random ids); the input and PyTorch's outputs (float32, as the
exported graph computes) go to DIR/NAME.json.

Only torch and the standard library (torch.onnx.export needs no `onnx` package).
"""
import json
import os
import sys

import torch
import torch.nn as nn

torch.set_num_threads(1)

CELLS = {'rnn': nn.RNN, 'lstm': nn.LSTM, 'gru': nn.GRU}


class Net(nn.Module):
    def __init__(self, job):
        super().__init__()
        kwargs = {'nonlinearity': job['nonlinearity']} if job['cell'] == 'rnn' else {}
        self.embedding = nn.Embedding(job['vocab'], job['X']) if job.get('vocab') else None
        bi = bool(job.get('bidirectional'))
        self.rnn = CELLS[job['cell']](job['X'], job['H'], job['layers'], batch_first=True, bidirectional=bi, **kwargs)
        self.head = nn.Linear(job['H'] * (2 if bi else 1), job['Y'])
        self.last = job['output'] == 'last'
        self.bi = bi

    def forward(self, x):
        if self.embedding is not None:
            x = self.embedding(x)
        seq, state = self.rnn(x)
        if self.last and self.bi:  # h_n's top layer, [h→ at T-1; h← at step 0] (seq[:, -1] holds h← after one step)
            h = state[0] if isinstance(state, tuple) else state
            out = self.head(torch.cat([h[-2], h[-1]], 1))
        else:
            out = self.head(seq[:, -1]) if self.last else self.head(seq)
        return (out, *state) if isinstance(state, tuple) else (out, state)


def make(job, out_dir):
    torch.manual_seed(job['seed'])
    net = Net(job).eval()
    with torch.no_grad():  # biases away from PyTorch's small init, so every term shows
        for p in net.parameters():
            p.add_(torch.empty_like(p).uniform_(-0.3, 0.3))
    if job.get('vocab'):
        dtype = torch.int32 if job.get('ids') == 'int32' else torch.int64
        x = torch.randint(0, job['vocab'], (job['N'], job['T']), dtype=dtype)
    else:
        x = torch.randn(job['N'], job['T'], job['X'])
    names = ['output', 'h_n'] + (['c_n'] if job['cell'] == 'lstm' else [])
    axes = {'input': {0: 'batch', 1: 'time'}, 'output': {0: 'batch'}}
    if job['output'] == 'sequence':
        axes['output'][1] = 'time'
    for n in names[1:]:
        axes[n] = {1: 'batch'}
    path = os.path.join(out_dir, job['name'] + '.onnx')
    torch.onnx.export(net, (x,), path, opset_version=14, input_names=['input'],
                      output_names=names, dynamic_axes=axes)
    with torch.no_grad():
        results = net(x)
    ref = {'input': x.flatten().tolist(), 'shape': list(x.shape)}
    for n, t in zip(names, results):
        ref[n] = {'shape': list(t.shape), 'data': t.flatten().tolist()}
    with open(os.path.join(out_dir, job['name'] + '.json'), 'w') as f:
        json.dump(ref, f)


def main():
    out_dir = sys.argv[1]
    with open(os.path.join(out_dir, 'jobs.json')) as f:
        jobs = json.load(f)
    for job in jobs:
        make(job, out_dir)


if __name__ == '__main__':
    main()
