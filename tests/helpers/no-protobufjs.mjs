// Loaded with node --import: makes 'protobufjs' unresolvable, as in an app
// that installed rnnlab without its optional peer dependency.
import { register } from 'node:module';

register('data:text/javascript,' + encodeURIComponent(`
  export async function resolve(specifier, context, next) {
    if (specifier === 'protobufjs' || specifier.startsWith('protobufjs/')) {
      const e = new Error("Cannot find package 'protobufjs'");
      e.code = 'ERR_MODULE_NOT_FOUND';
      throw e;
    }
    return next(specifier, context);
  }`));
