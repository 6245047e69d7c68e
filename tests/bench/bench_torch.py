# bench_torch.py — the same workload in PyTorch on this CPU, one workload and
# one thread count per process (bench.js runs it with Debian's python3-torch).
#
#   /usr/bin/python3 tests/bench/bench_torch.py CELL SIZE THREADS [budgetMs]
#
# The same definition of a step as rnnlab (SPEC §10, tests/bench/common.js):
# nn.RNN (tanh) / nn.LSTM / nn.GRU, one layer, batch_first, input [B, T, X];
# an nn.Linear head from H to X on every step; MSE against y = x; backward;
# Adam (lr 1e-3). One forward = the layer and the head under
# torch.inference_mode(). float32. PyTorch's GRU is the reset-after variant
# (ONNX's linear_before_reset 1), rnnlab's default is reset-before: the same
# matrix work.
#
# Threads: torch.set_num_threads(THREADS) for ATen (OpenMP), and the BLAS's
# own pool: bench.js sets OPENBLAS_NUM_THREADS and OMP_NUM_THREADS before
# Python starts, and when the BLAS is OpenBLAS it is also told directly
# (openblas_set_num_threads), since PyTorch built against a generic BLAS does
# not pass its thread count on. bench.js also sets OMP_WAIT_POLICY=PASSIVE
# (unless already set): with GNU OpenMP's default spin-waiting, 2 threads on
# 2 cores shared with other work made an LSTM-M step 10x slower (1.4 s
# instead of 0.09 s), which would not be PyTorch's best.
#
# Which BLAS runs is read from the libraries this process has mapped
# (/proc/self/maps): Debian's torch links libblas.so.3, which the alternatives
# system points at OpenBLAS (libopenblas0-pthread) or at the slow reference
# BLAS (libblas3).
#
# Prints one line: the tag of common.js (RESULT_TAG) and a JSON object.

import ctypes
import json
import os
import statistics
import sys
import time

RESULT_TAG = '@@bench-result '
WORKLOADS = {
    'S': {'X': 16, 'H': 64, 'B': 16, 'T': 32},
    'M': {'X': 64, 'H': 256, 'B': 32, 'T': 64},
    'LONG': {'X': 1, 'H': 128, 'B': 32, 'T': 512},
}
GATES = {'rnn': 1, 'lstm': 4, 'gru': 3}


def blas_libraries():
    """The BLAS libraries mapped into this process, with what each says it is."""
    paths = []
    try:
        with open('/proc/self/maps') as maps:
            for line in maps:
                p = line.split()[-1]
                name = os.path.basename(p)
                if p.startswith('/') and ('blas' in name or 'blis' in name) and p not in paths:
                    paths.append(p)
    except OSError:
        return [{'path': None, 'name': 'unknown (no /proc/self/maps)'}]
    found = []
    for p in paths:
        entry = {'path': p, 'realpath': os.path.realpath(p)}
        try:
            lib = ctypes.CDLL(p)
        except OSError:
            lib = None
        if lib is not None and hasattr(lib, 'openblas_get_config'):
            lib.openblas_get_config.restype = ctypes.c_char_p
            entry['config'] = lib.openblas_get_config().decode()
            words = entry['config'].split()
            flavour = 'OpenMP' if 'openmp' in entry['realpath'] else 'pthreads' if 'pthread' in entry['realpath'] else None
            # "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Cooperlake MAX_THREADS=64": version and kernels
            entry['name'] = ' '.join(words[:2]) + (f' ({flavour})' if flavour else '')
            entry['openblas'] = lib
        elif '/blas/' in entry['realpath']:
            entry['name'] = 'the reference BLAS (Debian libblas3)'
        elif 'blis' in entry['realpath']:
            entry['name'] = 'BLIS'
        else:
            entry['name'] = os.path.basename(entry['realpath'])
        found.append(entry)
    return found


def set_threads(torch, n, blas):
    torch.set_num_threads(n)
    blas_threads = None
    for b in blas:
        lib = b.get('openblas')
        if lib is None:
            continue
        lib.openblas_set_num_threads(ctypes.c_int(n))
        if hasattr(lib, 'openblas_get_num_threads'):
            blas_threads = lib.openblas_get_num_threads()
    return {'requested': n, 'torch': torch.get_num_threads(), 'openblas': blas_threads}


def time_reps(fn, min_reps=5, max_reps=30, min_ms=500, budget_ms=3000, floor_reps=3):
    """Times fn as common.js's timeReps does: wall and CPU (every thread) in ms."""
    wall, cpu = [], []
    start = time.perf_counter()
    while True:
        c0 = time.process_time()
        t0 = time.perf_counter()
        fn()
        t1 = time.perf_counter()
        cpu.append((time.process_time() - c0) * 1e3)
        wall.append((t1 - t0) * 1e3)
        elapsed = (time.perf_counter() - start) * 1e3
        if len(wall) >= max_reps:
            break
        if len(wall) >= floor_reps and elapsed + statistics.median(wall) > budget_ms:
            break
        if len(wall) >= min_reps and elapsed >= min_ms:
            break
    return {'wall': wall, 'cpu': cpu}


def summary(t, flops):
    w, c = statistics.median(t['wall']), statistics.median(t['cpu'])
    return {'wallMs': w, 'cpuMs': c, 'reps': len(t['wall']), 'wallGflops': flops / w / 1e6,
            'cpuGflops': flops / c / 1e6, 'wall': t['wall'], 'cpu': t['cpu']}


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in GATES or sys.argv[2] not in WORKLOADS:
        print('usage: bench_torch.py rnn|lstm|gru S|M|LONG THREADS [budgetMs]', file=sys.stderr)
        sys.exit(2)
    cell, size, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    budget_ms = float(sys.argv[4]) if len(sys.argv) > 4 else 4000
    w = WORKLOADS[size]
    X, H, B, T = w['X'], w['H'], w['B'], w['T']

    import torch
    from torch import nn
    blas = blas_libraries()
    thread_info = set_threads(torch, threads, blas)
    torch.manual_seed(7)
    layer = {'rnn': lambda: nn.RNN(X, H, nonlinearity='tanh', batch_first=True),
             'lstm': lambda: nn.LSTM(X, H, batch_first=True),
             'gru': lambda: nn.GRU(X, H, batch_first=True)}[cell]()
    head = nn.Linear(H, X)
    params = list(layer.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    mse = nn.MSELoss()
    losses = []

    def step(x):
        opt.zero_grad(set_to_none=True)
        out, _ = layer(x)
        loss = mse(head(out), x)
        loss.backward()
        opt.step()
        losses.append(loss.item())  # a sync point, as rnnlab's returned loss

    def forward(x):
        with torch.inference_mode():
            out, _ = layer(x)
            return head(out)

    # Warm-up: short sequences (allocator, OpenMP and BLAS pools), then the
    # workload's own shape.
    short = torch.rand(min(B, 4), min(T, 8), X) * 2 - 1
    for _ in range(10):
        step(short)
        forward(short)
    x = torch.rand(B, T, X) * 2 - 1
    t0 = time.perf_counter()
    step(x)
    first_step_ms = (time.perf_counter() - t0) * 1e3
    first_loss = losses[-1]
    notes = []
    # A slow BLAS (the reference one: seconds a step) gets no more warm-up,
    # and as few timed calls as the budget allows, down to one.
    slow = first_step_ms * 3 > budget_ms
    if not slow:
        for _ in range(2):
            step(x)
    else:
        notes.append(f'first full-size step {first_step_ms:.0f} ms: too slow for the budget, so no more warm-up and at least 1 timed call')
    floor = 1 if slow else 3
    fwd_flops = 2 * GATES[cell] * H * (X + H) * B * T
    train = time_reps(lambda: step(x), budget_ms=budget_ms * 0.6, floor_reps=floor)
    if not slow:
        for _ in range(2):
            forward(x)
    fwd = time_reps(lambda: forward(x), budget_ms=budget_ms * 0.3, floor_reps=floor)

    config = torch.__config__.show()
    blas_info = next((s.strip() for s in config.replace(',', ' ').split() if s.startswith('BLAS_INFO=')), None)
    result = {
        'impl': 'torch', 'version': torch.__version__, 'python': sys.version.split()[0],
        'cell': cell, 'size': size, **w, 'threads': thread_info,
        'env': {k: os.environ.get(k) for k in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'OMP_WAIT_POLICY', 'LD_LIBRARY_PATH')},
        'blas': [{k: v for k, v in b.items() if k != 'openblas'} for b in blas], 'blasInfo': blas_info,
        'parallel': torch.__config__.parallel_info().split('\n')[:4],
        'timing': {'train': summary(train, 3 * fwd_flops), 'forward': summary(fwd, fwd_flops)},
        'firstStepMs': first_step_ms, 'loss': {'first': first_loss, 'last': losses[-1]}, 'notes': notes,
    }
    sys.stdout.write(RESULT_TAG + json.dumps(result) + '\n')


main()
