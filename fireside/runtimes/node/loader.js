'use strict';
/**
 * Finding the function's handler from `_HANDLER`, by Lambda's rules.
 *
 * `dir/sub/module.export.nested`: the module is `module` under `<task root>/dir/sub`, the
 * handler the (nested) export after the first dot. The module file is tried extensionless,
 * then as `.js` (CommonJS, or an ES module when the nearest package.json says
 * `"type": "module"`), `.mjs` and `.cjs`; failing all of those, it is resolved as a package name
 * from the task root (so NODE_PATH applies). Failures carry AWS's `Runtime.*` types.
 */

const fs = require('fs');
const path = require('path');
const errors = require('./errors.js');

function split(handlerString) {
  if (handlerString.includes('..')) {
    throw new errors.MalformedHandlerName(
      `'${handlerString}' is not a valid handler name. Use absolute paths when specifying ` +
        'root directories in handler names.',
    );
  }
  const base = path.basename(handlerString);
  const moduleRoot = handlerString.slice(0, handlerString.indexOf(base));
  const match = /^([^.]*)\.(.*)$/.exec(base);
  if (!match) {
    throw new errors.MalformedHandlerName('Bad handler');
  }
  return { moduleRoot, module: match[1], exportPath: match[2] };
}

const requireIfExists = (file) => (fs.existsSync(file) ? require(file) : undefined);
const importIfExists = async (file) => (fs.existsSync(file) ? import(file) : undefined);

// Whether the nearest package.json above `directory` declares ES modules; a node_modules
// directory on the way up ends the search (as in AWS's runtime).
function declaresModules(directory) {
  for (let dir = directory; ; dir = path.dirname(dir)) {
    if (dir.endsWith('/node_modules')) {
      return false;
    }
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest)) {
      try {
        return JSON.parse(fs.readFileSync(manifest, 'utf8'))?.type === 'module';
      } catch (error) {
        console.warn(
          `${manifest} cannot be read, it will be ignored for ES module detection purposes.`,
          error,
        );
        return false;
      }
    }
    if (dir === path.dirname(dir)) {
      return false;
    }
  }
}

async function loadModule(appRoot, moduleRoot, moduleName) {
  const file = path.resolve(appRoot, moduleRoot, moduleName);
  const extensionless = requireIfExists(file);
  if (extensionless) {
    return extensionless;
  }
  const esm = fs.existsSync(`${file}.js`) && declaresModules(path.dirname(file));
  if (!esm) {
    const loaded = requireIfExists(`${file}.js`);
    if (loaded) {
      return loaded;
    }
  }
  const loaded =
    (esm && (await importIfExists(`${file}.js`))) ||
    (await importIfExists(`${file}.mjs`)) ||
    requireIfExists(`${file}.cjs`);
  if (loaded) {
    return loaded;
  }
  return require(require.resolve(moduleName, { paths: [appRoot, moduleRoot] }));
}

/** The handler function; throws the error Lambda reports when it cannot be loaded. */
module.exports.load = async function load(appRoot, handlerString) {
  const { moduleRoot, module, exportPath } = split(handlerString);
  let loaded;
  try {
    loaded = await loadModule(appRoot, moduleRoot, module);
  } catch (error) {
    if (error instanceof SyntaxError) {
      throw new errors.UserCodeSyntaxError(error);
    }
    if (error?.code === 'MODULE_NOT_FOUND') {
      throw new errors.ImportModuleError(error);
    }
    throw error;
  }
  const handler = exportPath.split('.').reduce((value, key) => value && value[key], loaded);
  if (!handler) {
    throw new errors.HandlerNotFound(`${handlerString} is undefined or not exported`);
  }
  if (typeof handler !== 'function') {
    throw new errors.HandlerNotFound(`${handlerString} is not a function`);
  }
  return handler;
};
