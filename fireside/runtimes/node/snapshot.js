'use strict';
/**
 * Snapshot starts (SnapStart) for Node.js: the bootstrap as a template. After Init (the handler
 * loaded) it tells Fireside it is ready and hands its thread to the fork server, a native addon
 * built by Fireside (`fork/fireside_fork.c`, at $FIRESIDE_NODE_FORK). The addon returns to
 * JavaScript only in each forked environment, already in namespaces of its own, restricted
 * (capabilities, seccomp, Landlock) and with libuv's kernel state re-created; here that process
 * re-creates what a copy must not share (`separate`) and then waits, parked, until a start
 * takes it and sends its variables: only those are left to apply when an invoke is waiting.
 * While parked it is also told when its network is served, and connects to its Runtime API
 * then (a blocking connect in the addon: no turn of the event loop runs the function's code
 * before its variables), so that its first `/next` leaves in the same turn as the restore.
 *
 * The template runs V8 with `--single-threaded` (Fireside adds it): a fork keeps only the
 * calling thread, so background tasks posted in a copy would never run, and a copy's first
 * garbage collection would wait on them for ever. It also runs with `--no-memory-reducer`
 * (see fork_addon.py).
 */

const crypto = require('crypto');
const fs = require('fs');

/** The addon's `serve` and `exit`, loaded before Init so that a missing one costs no Init. */
function loadAddon(file) {
  const module = { exports: {} };
  process.dlopen(module, file);
  return module.exports;
}

/** The template's control socket: Init's outcome goes there. */
class Template {
  constructor(fd, addonFile) {
    this.fd = fd;
    /** In a copy: a Runtime API client made while it was parked (`prepareApi`). */
    this.api = null;
    try {
      this.addon = loadAddon(addonFile);
    } catch (error) {
      this.initError({
        errorType: 'Runtime.SnapshotUnavailable',
        errorMessage: `cannot load ${addonFile}: ${error.message}`,
      });
    }
  }

  /** Init failed: Fireside starts an environment from scratch, which reports it as usual. */
  initError(response) {
    fs.writeSync(this.fd, JSON.stringify({ init_error: response }) + '\n');
    process.exit(1);
  }

  /** Connects the Runtime API client made while parked (its listener exists now). */
  connectAhead() {
    if (this.api === null || this.api.socket !== null) {
      return;
    }
    const fd = this.addon.connect(this.api.hostname, this.api.port);
    if (fd >= 0) {
      const net = require('net');
      this.api.adopt(new net.Socket({ fd, readable: true, writable: true }));
      this.api.nextAhead();
    }
  }

  /**
   * In a copy that has received its first event: the pages it has written since its fork are
   * listed for the copies parked after it to write ahead (once per template: the first copy to
   * get here). Each first write after a start is a page fault that copies a page it shares
   * with the template; written while parked, they cost a start nothing.
   */
  learn() {
    this.addon.learn();
  }

  /**
   * Init is done: serve forks (after rehearsing a copy's first invocation with `rehearse`,
   * the bootstrap's). Never settles in the template (it exits when Fireside closes
   * the socket); in each environment, resolves with that environment's variables.
   */
  async forked(rehearse) {
    await warmUp(rehearse);
    fs.writeSync(this.fd, '{"ready": true}\n');
    return new Promise((resolve) => {
      // From a check-phase callback: libuv is between polls, with no events half-dispatched
      // when the copy re-creates its epoll instance.
      setImmediate(() => {
        const own = this.addon.serve(this.fd); // returns only in a copy, parked
        separate(this.addon);
        this.api = prepareApi();
        // Nothing changes the variables until `restore`: read once here, not after the start.
        const parkedEnv = { ...process.env };
        // The pages the template's first copy wrote up to its first event, written now (`learn`).
        this.addon.prefault();
        let env = null;
        while (env === null) {
          // Until a start takes this copy: `{"network": true}` first, then its variables.
          for (const line of this.addon.receive(own).split('\n')) {
            const message = line ? JSON.parse(line) : {};
            if (message.env) {
              env = message.env;
            } else if (message.network) {
              this.connectAhead();
            }
          }
        }
        fs.closeSync(own);
        resolve(restore(env, parkedEnv));
      });
    });
  }
}

/**
 * Rehearsals of a copy's first invocation. V8 compiles a function when it first runs, and gives
 * it a feedback vector (where its inline caches learn) only once it has run about eight times
 * its own size in bytecode: after ten, both are the template's, shared, and not made again in
 * each copy (measured: one rehearsal instead of ten leaves 0.1-0.2 ms more on each start).
 */
const REHEARSALS = 10;

/**
 * Code that every copy runs first, compiled once here rather than in each copy: a copy's first
 * invocation, rehearsed by the bootstrap (`rehearse`) against a stand-in Runtime API on the
 * template's own loopback, the restore of variables, and the random number paths of
 * `reseedRandom`.
 */
async function warmUp(rehearse) {
  const { RuntimeApi } = require('./rapid.js');
  const server = standIn();
  try {
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const api = new RuntimeApi(`127.0.0.1:${server.address().port}`);
    try {
      for (let i = 0; i < REHEARSALS; i++) {
        await rehearse(api);
      }
    } finally {
      api.close();
    }
  } catch {
    // without it a restore is a little slower, nothing more
  } finally {
    if (server.listening) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }
  const before = { ...process.env };
  restore({ ...before, FIRESIDE_REHEARSAL: '1' }, before);
  restore(before);
  reseedRandom(); // each copy makes its own again
  Math.random();
  // Init's garbage collected once here, not in every copy (each would copy the pages it frees).
  if (typeof globalThis.gc === 'function') {
    globalThis.gc();
  }
}

const REHEARSAL_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:rehearsal';

/** The rehearsal's Runtime API: an event for every `/next`, 202 for everything else. */
function standIn() {
  const http = require('http');
  return http.createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      if (request.url.endsWith('/invocation/next')) {
        response.writeHead(200, {
          'Content-Type': 'application/json',
          'Lambda-Runtime-Aws-Request-Id': 'rehearsal',
          'Lambda-Runtime-Deadline-Ms': String(Date.now() + 60000),
          'Lambda-Runtime-Invoked-Function-Arn': REHEARSAL_ARN,
          'Lambda-Runtime-Trace-Id': 'Root=1-00000000-000000000000000000000000;Sampled=0',
        });
        response.end('{}');
      } else {
        response.writeHead(202, { 'Content-Type': 'application/json' });
        response.end('{"status":"OK"}');
      }
    });
  });
}

/**
 * What a copy must not share with the template or its other copies, made while it is parked
 * (before a start takes it): its pid, its exit, its random numbers.
 */
function separate(addon) {
  // Node reads its pid once, at start-up: the template's. This is PID 1 of its namespace.
  const pid = Number(fs.readlinkSync('/proc/self'));
  Object.defineProperty(process, 'pid', { value: pid, enumerable: true, configurable: true });
  process.ppid = Number(fs.readFileSync('/proc/self/stat', 'latin1').split(') ')[1].split(' ')[1]);
  // Node's own exit joins V8's worker threads, which a copy does not have.
  process.reallyExit = (code) => addon.exit(Number(code) | 0);
  reseedRandom();
}

/**
 * The Runtime API client, made while parked for the address the template was given: a
 * private network's, which every copy is given too (the bootstrap makes another if not).
 */
function prepareApi() {
  const address = process.env.AWS_LAMBDA_RUNTIME_API;
  if (!address) {
    return null;
  }
  try {
    const { RuntimeApi } = require('./rapid.js');
    return new RuntimeApi(address);
  } catch {
    return null;
  }
}

/** The environment's own variables, once a start took this copy. */
function restore(env, current = { ...process.env }) {
  // Only what differs: setting TZ, even to its own value, makes V8 and ICU detect the time zone
  // again (a scan of /usr/share/zoneinfo, about 8 ms). `current` (the variables as they are, a
  // plain copy made while parked) is read instead of `process.env`, each of whose reads is a
  // call into Node's C++ (`getenv`, strings made anew).
  for (const name of Object.keys(current)) {
    if (!Object.hasOwn(env, name)) {
      delete process.env[name];
    }
  }
  for (const [name, value] of Object.entries(env)) {
    if (current[name] !== value) {
      process.env[name] = value;
    }
  }
  return env;
}

const POOL = 1024;
const TWO_26 = 2 ** 26;
const TWO_53 = 2 ** 53;

/**
 * V8's Math.random state is copied by the fork (every copy would draw the same numbers) and
 * cannot be reseeded from JavaScript: Math.random is replaced by draws from the OS's generator
 * (OpenSSL reseeds after a fork), 53 random bits per double, made 1,024 at a time. Node also
 * keeps random bytes made ahead in JavaScript (128 randomUUID values, 1,024 randomInt draws):
 * those made in the template are drawn past, so what follows was made in this process.
 */
function reseedRandom() {
  const words = new Uint32Array(2 * POOL);
  const pool = new Float64Array(POOL);
  let next = POOL;
  Math.random = function random() {
    if (next === POOL) {
      crypto.randomFillSync(words);
      for (let i = 0; i < POOL; i++) {
        pool[i] = ((words[2 * i] >>> 5) * TWO_26 + (words[2 * i + 1] >>> 6)) / TWO_53;
      }
      next = 0;
    }
    return pool[next++];
  };
  for (let i = 0; i < 128; i++) {
    crypto.randomUUID();
  }
  for (let i = 0; i < 1024; i++) {
    crypto.randomInt(1);
  }
}

module.exports = { Template };
