// Debian's python3 with torch, for the tests that run PyTorch itself. Asks
// Python whether torch is importable without importing it (that takes seconds).
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

export const PYTHON = process.env.RNNLAB_PYTHON || '/usr/bin/python3';

function torchMissing() {
  if (!existsSync(PYTHON)) return `${PYTHON} is missing`;
  const probe = spawnSync(PYTHON, ['-c', 'import importlib.util, sys; sys.exit(importlib.util.find_spec("torch") is None)']);
  return probe.status === 0 ? null : `${PYTHON} cannot import torch (apt-get install python3-torch)`;
}

/**
 * { missing, skip }: why torch cannot run (null when it can), and the reason to
 * skip, outside CI only (CI installs python3-torch, so there a missing torch fails).
 */
export function torchStatus() {
  const missing = torchMissing();
  return { missing, skip: missing && !process.env.CI ? `${missing}; under CI this fails` : false };
}
