'use strict';
/**
 * The function's console, as AWS's Node.js runtime makes it: each call is one line on stdout,
 * `<ISO time>\t<request id>\t<LEVEL>\t<message>`, with the message's newlines turned into
 * carriage returns so a multi-line message stays one log event. Before the first invocation
 * the request id reads "undefined", as on Lambda. AWS_LAMBDA_LOG_LEVEL drops lower levels.
 */

const util = require('util');
const errors = require('./errors.js');

const LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];
// Where AWS's runtime keeps the current request id; some libraries read it from there.
const REQUEST_ID = Symbol.for('aws.lambda.runtime.requestId');

module.exports.setRequestId = (requestId) => {
  globalThis[REQUEST_ID] = requestId;
};

function write(level, message, params) {
  const text = util.format(message, ...params);
  const line = `${new Date().toISOString()}\t${globalThis[REQUEST_ID]}\t${level}\t${text}`;
  // Pipes are written synchronously on Linux: the line is out before the response is posted.
  process.stdout.write(line.replace(/\n/g, '\r') + '\n');
}

module.exports.patchConsole = function patchConsole() {
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

/** "Invoke Error", "Uncaught Exception"...: a label, then the error as JSON, at ERROR level. */
module.exports.logError = (label, error) => {
  console.error(label, errors.toFormatted(errors.intoError(error)));
};
