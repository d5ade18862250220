/**
 * A module resolution hook: a bare specifier (`lodash`, `@scope/pkg/sub`) that Node.js did not
 * find in the `node_modules` directories above the importing file is looked up in each
 * NODE_PATH entry that is a `node_modules` directory, in order, with the package's own
 * `exports` and ES module conditions applied as for any other lookup.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const DIRECTORIES = (process.env.NODE_PATH || '')
  .split(path.delimiter)
  .filter((entry) => path.isAbsolute(entry) && path.basename(entry) === 'node_modules');

function packageName(specifier) {
  if (/^[./]|^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(specifier)) {
    return null; // relative, absolute or a URL (node:, file:, data:)
  }
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    const name = error?.code === 'ERR_MODULE_NOT_FOUND' ? packageName(specifier) : null;
    const directory = name && DIRECTORIES.find((dir) => existsSync(path.join(dir, name)));
    if (!directory) {
      throw error;
    }
    // Resolved as if imported from a file beside that directory: its `node_modules` is the
    // first place Node.js looks.
    const parentURL = pathToFileURL(path.join(path.dirname(directory), 'node-path.mjs')).href;
    return nextResolve(specifier, { ...context, parentURL });
  }
}
