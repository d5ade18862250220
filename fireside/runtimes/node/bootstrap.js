'use strict';
/**
 * Fireside's runtime for `nodejs*.x` functions: the process inside each execution environment.
 *
 * Started as `node [Lambda's flags] bootstrap.js`, it loads the function's handler, then serves
 * invocations over the Runtime API at $AWS_LAMBDA_RUNTIME_API, and behaves for the function
 * author like AWS's managed Node.js runtime: the same handler resolution and `Runtime.*` errors,
 * async and callback handlers (with `callbackWaitsForEmptyEventLoop`), the `context` object,
 * console lines, error bodies and log lines, and response streaming (`awslambda.streamifyResponse`,
 * `awslambda.HttpResponseStream`: `streaming.js`).
 *
 * It runs on the host's Node.js with its standard library only, and it is on every cold
 * start's path, so it requires little (`net`; `http` only for a streamed response).
 *
 * With $FIRESIDE_SNAPSHOT_FD it is a snapshot template (`snapshot.js`): Init runs once, then
 * each environment Fireside asks for is a fork of this process that serves invokes.
 */

const errors = require('./errors.js');
const logging = require('./logging.js');
const { load } = require('./loader.js');
const { RuntimeApi } = require('./rapid.js');
const streaming = require('./streaming.js');

const CALLBACK_WARNING =
  'AWS Lambda plans to remove support for callback-based function handlers starting with ' +
  'Node.js 24. You will need to update this function to use an async handler to use Node.js 24 ' +
  'or later. For more information and to provide feedback on this change, see ' +
  'https://github.com/aws/aws-lambda-nodejs-runtime-interface-client/issues/137. To disable ' +
  'this warning, set the AWS_LAMBDA_NODEJS_DISABLE_CALLBACK_WARNING environment variable.';
const CALLBACK_REMOVED =
  'ERROR: AWS Lambda has removed support for callback-based function handlers starting with ' +
  'Node.js 24. You need to modify this function to use a supported handler signature to use ' +
  'Node.js 24 or later. For more information see ' +
  'https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html.';

const noop = () => {};
let api;
/** The snapshot template's control socket, until this process becomes an environment. */
let template = null;
/** Runs once, when the first event is here (a snapshot copy's `learn`). */
let atFirstEvent = noop;
/** What runs when the event loop has nothing left to do (set per invocation). */
let onEmptyEventLoop = noop;
/** The invocation being served; an uncaught error is reported against it (before: Init's). */
let currentRequestId = null;

function die(message) {
  process.stderr.write(`fireside bootstrap: ${message}\n`);
  process.exit(1);
}

const dieOf = (error) => die(String(error?.message ?? error));

/** An uncaught error ends the runtime, reported as Init's error or the invocation's. */
function crash(error, exitCode) {
  if (template) {
    template.initError(errors.toRapidResponse(error));
  }
  if (!api) {
    die(String(error?.stack ?? error));
  }
  const response = errors.toRapidResponse(error);
  // This process exits next: it must not have asked for another event.
  const sent = currentRequestId
    ? api.fail(currentRequestId, response, false)
    : api.initError(response);
  sent.then(() => process.exit(exitCode), dieOf);
}

/** The Lambda version of this runtime (24 for nodejs24.x), whatever Node.js runs it. */
function runtimeMajor() {
  const match = /nodejs(\d+)/.exec(process.env.AWS_EXECUTION_ENV || '');
  return Number(match ? match[1] : process.versions.node.split('.')[0]);
}

function parseHeader(value, name) {
  if (value === undefined) {
    return undefined;
  }
  try {
    return JSON.parse(value);
  } catch (error) {
    throw new Error(`Cannot parse ${name} as json: ${error.toString()}`);
  }
}

/**
 * The handler's `context` and `callback` for one invocation. The first of callback, succeed,
 * fail, done (or the returned promise) decides the outcome; a callback's result waits for the
 * event loop to empty unless `callbackWaitsForEmptyEventLoop` was set to false.
 */
function invocation(requestId, headers, isAsync, scheduleNext) {
  let decided = false;
  let reported = false;
  let waitForEmptyEventLoop = true;

  const postError = (error) => {
    onEmptyEventLoop = noop;
    logging.logError('Invoke Error', error);
    api.fail(requestId, errors.toRapidResponse(error)).then(scheduleNext, dieOf);
  };
  const complete = (result) => {
    if (reported) {
      console.error(
        'Invocation has already been reported as done. Cannot call complete more than once per invocation.',
      );
      return;
    }
    reported = true;
    onEmptyEventLoop = noop;
    let body;
    try {
      body = JSON.stringify(result === undefined ? null : result) ?? 'null';
    } catch {
      postError(new Error('Unable to stringify response body'));
      return;
    }
    api.respond(requestId, body).then(scheduleNext, dieOf);
  };
  const done = (error, result) => {
    if (error !== undefined && error !== null) {
      postError(error);
    } else {
      complete(result);
    }
  };
  const first =
    (fn) =>
    (...args) => {
      if (!decided) {
        decided = true;
        fn(...args);
      }
    };

  const callback = first((error, result) => {
    onEmptyEventLoop = noop;
    if (error !== undefined && error !== null) {
      postError(error);
    } else if (!waitForEmptyEventLoop) {
      complete(result);
    } else {
      onEmptyEventLoop = () => setImmediate(() => complete(result));
    }
  });

  const deadline = Number(headers['lambda-runtime-deadline-ms']);
  const context = {
    get callbackWaitsForEmptyEventLoop() {
      return waitForEmptyEventLoop;
    },
    set callbackWaitsForEmptyEventLoop(value) {
      waitForEmptyEventLoop = value;
    },
    succeed: first((result) => done(null, result)),
    fail: first((error) => done(error ?? 'handled', null)),
    done: first(done),
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: undefined,
    identity: undefined,
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    awsRequestId: requestId,
    tenantId: headers['lambda-runtime-aws-tenant-id'],
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };

  // The handler neither settled nor called back, and nothing is left to run.
  onEmptyEventLoop = () => {
    decided = reported = true;
    onEmptyEventLoop = noop;
    if (isAsync) {
      const error = new errors.NodeJsExit(errors.NODE_JS_EXIT_MESSAGE);
      logging.logError('Invoke Error', error);
      api.fail(requestId, errors.toRapidResponse(error)).then(scheduleNext, dieOf);
    } else {
      api.respond(requestId, 'null').then(scheduleNext, dieOf);
    }
  };
  return { context, callback };
}

/**
 * One invocation of a `streamifyResponse` handler: it writes to a response stream, and the
 * invocation ends when that stream has ended (or with the handler's error: in the stream's
 * trailers once a byte has gone out, else as an ordinary `/error`).
 */
function serveStreaming(handler, body, requestId, headers, scheduleNext) {
  const { context } = invocation(requestId, headers, true, scheduleNext);
  const response = streaming.createResponseStream(
    api,
    requestId,
    handler[streaming.HANDLER_HIGH_WATER_MARK],
  );
  let reported = false;
  const report = (error) => {
    if (reported) {
      return;
    }
    reported = true;
    onEmptyEventLoop = noop;
    logging.logError('Invoke Error', error);
    const rapid = errors.toRapidResponse(error);
    const sent = response.started() ? response.fail(rapid) : api.fail(requestId, rapid);
    sent.then(scheduleNext, dieOf);
  };
  response.finished.then(() => {
    if (!reported) {
      reported = true;
      onEmptyEventLoop = noop;
      scheduleNext();
    }
  }, dieOf);
  // Nothing left to run and the stream never ended: as an async handler that never settles.
  onEmptyEventLoop = () => report(new errors.NodeJsExit(errors.NODE_JS_EXIT_MESSAGE));
  try {
    context.clientContext = parseHeader(headers['lambda-runtime-client-context'], 'ClientContext');
    context.identity = parseHeader(headers['lambda-runtime-cognito-identity'], 'CognitoIdentity');
    const result = handler(JSON.parse(body), response.stream, context);
    if (result && typeof result.then === 'function') {
      result.then(noop, report);
    }
  } catch (error) {
    report(error);
  }
}

/** Serves the next invocation; `after` (by default: serve the one after) runs once it is done. */
async function serve(handler, isAsync, after = null) {
  const scheduleNext = after ?? (() => setImmediate(() => serve(handler, isAsync).catch(dieOf)));
  const { headers, body } = await api.next();
  const first = atFirstEvent;
  atFirstEvent = noop;
  first();
  const requestId = headers['lambda-runtime-aws-request-id'];
  if (!requestId) {
    die('/next answered without a Lambda-Runtime-Aws-Request-Id');
  }
  currentRequestId = requestId;
  logging.setRequestId(requestId);
  const traceId = headers['lambda-runtime-trace-id'];
  if (traceId) {
    process.env._X_AMZN_TRACE_ID = traceId;
  } else {
    delete process.env._X_AMZN_TRACE_ID;
  }
  if (streaming.isStreaming(handler)) {
    serveStreaming(handler, body, requestId, headers, scheduleNext);
    return;
  }
  const { context, callback } = invocation(requestId, headers, isAsync, scheduleNext);
  try {
    context.clientContext = parseHeader(headers['lambda-runtime-client-context'], 'ClientContext');
    context.identity = parseHeader(headers['lambda-runtime-cognito-identity'], 'CognitoIdentity');
    const result = handler(JSON.parse(body), context, callback);
    if (result && typeof result.then === 'function') {
      result.then(context.succeed, context.fail).catch(context.fail);
    }
  } catch (error) {
    callback(error);
  }
}

/**
 * A snapshot template's rehearsal of a copy's first invocation (`snapshot.js`): the code a copy
 * runs from its first `/next` to its response, with a handler of its own, against `stand` (a
 * client of a stand-in Runtime API). V8 compiles functions when they first run: rehearsed
 * here, they are compiled once, in the template, instead of in every copy after its start.
 * Nothing of the function's own code runs, and what the rehearsal changes is put back.
 */
async function rehearse(stand) {
  const traceId = process.env._X_AMZN_TRACE_ID;
  api = stand;
  try {
    await new Promise((resolve, reject) => {
      serve(async () => null, true, resolve).catch(reject);
    });
  } finally {
    api = undefined;
    currentRequestId = null;
    onEmptyEventLoop = noop;
    logging.setRequestId(undefined);
    if (traceId === undefined) {
      delete process.env._X_AMZN_TRACE_ID;
    } else {
      process.env._X_AMZN_TRACE_ID = traceId;
    }
  }
}

function uncaught(error) {
  logging.logError('Uncaught Exception', error);
  crash(error, 129);
}

function connect(prepared = null) {
  const address = process.env.AWS_LAMBDA_RUNTIME_API;
  if (!address) {
    die('AWS_LAMBDA_RUNTIME_API is not set');
  }
  if (prepared !== null && prepared.address !== address) {
    prepared.close();
  }
  api = prepared?.address === address ? prepared : new RuntimeApi(address);
}

async function main() {
  logging.patchConsole();
  const snapshotFd = process.env.FIRESIDE_SNAPSHOT_FD;
  if (snapshotFd !== undefined) {
    const { Template } = require('./snapshot.js');
    template = new Template(Number(snapshotFd), process.env.FIRESIDE_NODE_FORK);
    delete process.env.FIRESIDE_SNAPSHOT_FD;
    delete process.env.FIRESIDE_NODE_FORK;
  } else {
    connect();
  }
  process.on('uncaughtException', uncaught);
  process.on('unhandledRejection', (reason, promise) => {
    const error = new errors.UnhandledPromiseRejection(reason);
    Object.assign(error, { reason, promise });
    logging.logError('Unhandled Promise Rejection', error);
    crash(error, 128);
  });
  process.on('beforeExit', () => onEmptyEventLoop());
  globalThis.awslambda = {
    streamifyResponse: streaming.streamifyResponse,
    HttpResponseStream: streaming.HttpResponseStream,
  };

  const handler = await load(process.env.LAMBDA_TASK_ROOT || process.cwd(), process.env._HANDLER || '');
  const isAsync = handler.constructor?.name === 'AsyncFunction';
  const callbackHandler = handler.length === 3 && !isAsync && !streaming.isStreaming(handler);
  if (callbackHandler && runtimeMajor() >= 24) {
    throw new errors.CallbackHandlerDeprecated(CALLBACK_REMOVED);
  }
  const forked = template !== null;
  if (forked) {
    // From here on, one environment of many, with its own variables.
    await template.forked(rehearse);
    const prepared = template.api; // made while this copy was parked
    const copyOf = template;
    // Once its first event is here: the pages written since the fork, learnt for the copies
    // made after it (the first copy only, so the first start of a version only).
    atFirstEvent = () => copyOf.learn();
    template = null;
    connect(prepared);
  }
  if (callbackHandler && process.env.AWS_LAMBDA_NODEJS_DISABLE_CALLBACK_WARNING === undefined) {
    console.warn(CALLBACK_WARNING);
  }
  if (forked) {
    // The restore's turn: its first event may be here already (asked for while parked).
    serve(handler, isAsync).catch(dieOf);
  } else {
    setImmediate(() => serve(handler, isAsync).catch(dieOf));
  }
}

// An Init failure is reported like any uncaught error: logged, posted to /init/error, exit.
main().catch(uncaught);
