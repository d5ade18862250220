'use strict';
/**
 * The function's console, as AWS's Node.js runtime makes it. Each call is one line on stdout:
 * under AWS_LAMBDA_LOG_FORMAT=JSON a JSON object `{timestamp, level, requestId, message}`,
 * otherwise `<ISO time>\t<request id>\t<LEVEL>\t<message>`; newlines in a message become
 * carriage returns so it stays one log event. Before the first invocation the request id reads
 * "undefined" (a JSON record has none), as on Lambda. AWS_LAMBDA_LOG_LEVEL drops lower levels.
 */

const util = require('util');
const errors = require('./errors.js');

const LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];
// Where AWS's runtime keeps the current request id; some libraries read it from there.
const REQUEST_ID = Symbol.for('aws.lambda.runtime.requestId');
const json = () => (process.env.AWS_LAMBDA_LOG_FORMAT || '').toUpperCase() === 'JSON';

module.exports.setRequestId = (requestId) => {
  globalThis[REQUEST_ID] = requestId;
};

function textLine(level, message, params) {
  const text = util.format(message, ...params);
  return `${new Date().toISOString()}\t${globalThis[REQUEST_ID]}\t${level}\t${text}`;
}

// An Error given alone is logged as an object with these fields first, then its own ones.
function describeErrors(_key, value) {
  if (!(value instanceof Error)) return value;
  const stack = typeof value.stack === 'string' ? value.stack.split('\n') : value.stack;
  return {
    errorType: value?.constructor?.name ?? 'UnknownError',
    errorMessage: value.message,
    stackTrace: stack,
    ...value,
  };
}

function jsonLine(level, message, params) {
  const record = { timestamp: new Date().toISOString(), level, requestId: globalThis[REQUEST_ID] };
  if (params.length === 0) {
    // One value is kept as itself (an object stays an object); one that cannot be serialized
    // (a cycle, a BigInt) is logged as util.format prints it.
    record.message = message;
    try {
      return JSON.stringify(record, describeErrors);
    } catch {
      record.message = util.format(message);
      return JSON.stringify(record);
    }
  }
  record.message = util.format(message, ...params);
  const error = [message, ...params].find((value) => value instanceof Error);
  if (error !== undefined) {
    record.errorType = error?.constructor?.name ?? 'UnknownError';
    record.errorMessage = error.message;
    record.stackTrace = typeof error.stack === 'string' ? error.stack.split('\n') : [];
  }
  return JSON.stringify(record);
}

module.exports.patchConsole = function patchConsole() {
  const format = json() ? jsonLine : textLine;
  const write = (level, message, params) => {
    // Pipes are written synchronously on Linux: the line is out before the response is posted.
    process.stdout.write(format(level, message, params).replace(/\n/g, '\r') + '\n');
  };
  const wanted = (process.env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase();
  const lowest = Math.max(0, LEVELS.indexOf(wanted));
  const logger = (level) =>
    LEVELS.indexOf(level) >= lowest
      ? (message, ...params) => write(level, message, params)
      : () => {};
  console.trace = logger('TRACE');
  console.debug = logger('DEBUG');
  console.info = logger('INFO');
  console.log = console.info;
  console.warn = logger('WARN');
  console.error = logger('ERROR');
  console.fatal = (message, ...params) => write('FATAL', message, params);
};

/**
 * "Invoke Error", "Uncaught Exception"...: at ERROR level, the label and then the error as
 * JSON; under JSON logs the error alone, as a record whose message is the error's fields.
 */
module.exports.logError = (label, error) => {
  if (json()) {
    console.error(errors.intoError(error));
    return;
  }
  console.error(label, errors.toFormatted(errors.intoError(error)));
};
