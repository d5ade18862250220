'use strict';
/**
 * The errors Fireside's Node.js runtime reports under its own `Runtime.*` types, and the two
 * shapes every error takes, as in AWS's runtime: the Runtime API body
 * `{errorType, errorMessage, trace}` (which the caller of Invoke receives) and the JSON that
 * follows "Invoke Error" or "Uncaught Exception" in the log.
 */

const util = require('util');

// Each is `Runtime.<Name>` in error bodies and stack traces; the message of one built from
// another error is that error as a string ("Error: Cannot find module ...").
const RUNTIME_ERRORS = [
  'ImportModuleError',
  'HandlerNotFound',
  'MalformedHandlerName',
  'UserCodeSyntaxError',
  'CallbackHandlerDeprecated',
  'UnhandledPromiseRejection',
  'NodeJsExit',
];

for (const name of RUNTIME_ERRORS) {
  const RuntimeError = class extends Error {};
  Object.defineProperty(RuntimeError, 'name', { value: name });
  RuntimeError.prototype.name = `Runtime.${name}`;
  module.exports[name] = RuntimeError;
}

module.exports.NODE_JS_EXIT_MESSAGE =
  'The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly ' +
  'caused by a Promise that was never settled. For more information, see ' +
  'https://nodejs.org/docs/latest/api/process.html#exit-codes';

function looksLikeError(value) {
  return Boolean(
    value &&
      typeof value.name === 'string' &&
      typeof value.message === 'string' &&
      typeof value.stack === 'string' &&
      value.name &&
      value.message &&
      value.stack,
  );
}

// DEL is escaped as AWS's runtime does, so the body stays printable.
const escapeDel = (text) => text?.replaceAll('\x7F', '%7F');

/** The Runtime API body for an error (or for anything thrown or passed to a callback). */
module.exports.toRapidResponse = function toRapidResponse(error) {
  try {
    if (util.types.isNativeError(error) || looksLikeError(error)) {
      return {
        errorType: escapeDel(error.name),
        errorMessage: escapeDel(error.message),
        trace: escapeDel(error.stack).split('\n'),
      };
    }
    return { errorType: typeof error, errorMessage: String(error), trace: [] };
  } catch {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving one or ' +
        'more of its message, name, and stack',
    };
  }
};

module.exports.intoError = (value) => (value instanceof Error ? value : new Error(value));

// Errors keep name, message and stack in non-enumerable properties: spell them out, with any
// properties of the function's own (statusCode, say) in between.
function expandErrors(_key, value) {
  if (!(value instanceof Error)) {
    return value;
  }
  const expanded = Object.assign(
    { errorType: value.name, errorMessage: value.message, code: value.code },
    value,
  );
  if (typeof value.stack === 'string') {
    expanded.stack = value.stack.split('\n');
  }
  return expanded;
}

/** An error as the log shows it after its label: a tab, then JSON. */
module.exports.toFormatted = function toFormatted(error) {
  try {
    return '\t' + JSON.stringify(error, expandErrors);
  } catch {
    return '\t' + JSON.stringify(module.exports.toRapidResponse(error));
  }
};
