/**
 * A module resolve hook: ES module imports of a bare specifier that Node cannot find from the
 * importing file are retried from each `node_modules` folder on NODE_PATH, as Lambda's Node.js
 * runtimes (18 and later) do. That is how a function's `import ... from "@aws-sdk/client-s3"`
 * finds the SDK under /var/runtime/node_modules, and a layer's package under
 * /opt/nodejs/node_modules, without packaging them. Node's own ES module resolver never reads
 * NODE_PATH; CommonJS `require` does, so it needs nothing here.
 *
 * Registered by `loader.js` (`module.register`) before the first ES module is imported.
 */
import { pathToFileURL } from 'node:url';

let parents = [];

/** `roots`: NODE_PATH's folders named node_modules, in order. */
export function initialize({ roots }) {
  // Resolving from a file directly inside `root` looks in `root/node_modules` first, then in
  // the `node_modules` beside it: `root` itself.
  parents = roots.map((root) => pathToFileURL(`${root}/.fireside-esm-paths.mjs`).href);
}

const bare = (specifier) => !/^(?:[./]|[a-zA-Z][a-zA-Z0-9+.-]*:)/.test(specifier);

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !bare(specifier)) {
      throw error;
    }
    for (const parentURL of parents) {
      try {
        return await nextResolve(specifier, { ...context, parentURL });
      } catch (retry) {
        if (retry?.code !== 'ERR_MODULE_NOT_FOUND') {
          throw retry;
        }
      }
    }
    throw error; // the original message names the importing file, as Node's does
  }
}
