/**
 * Preloaded (`--import`) where Fireside cannot bind `/node_modules` (the `process` sandbox):
 * registers `node_path_resolve.mjs`, so that ES modules search NODE_PATH as on AWS's Node.js
 * runtimes (see fireside/runtimes/node/module_paths.py).
 */
import { register } from 'node:module';

if (typeof register === 'function') {
  register('./node_path_resolve.mjs', import.meta.url);
}
