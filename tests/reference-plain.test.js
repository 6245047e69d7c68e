// The fallback (no SIMD) build against the float64 reference and finite differences.
import { init } from '../web/rnnlab.js';
import { referenceSuite } from './helpers/reference-suite.js';

await init({ simd: false });
referenceSuite('plain');
