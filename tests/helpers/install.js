// Puts rnnlab into <app>/node_modules/rnnlab as `npm install rnnlab` would:
// package.json, README.md and the package's "files", nothing else.
import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export function installPackage(app) {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const installed = join(app, 'node_modules', 'rnnlab');
  mkdirSync(installed, { recursive: true });
  for (const f of ['package.json', 'README.md', ...pkg.files]) {
    if (existsSync(join(root, f))) cpSync(join(root, f), join(installed, f), { recursive: true });
  }
  return installed;
}
