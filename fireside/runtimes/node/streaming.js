'use strict';
/**
 * Response streaming for Node.js functions, as AWS's managed runtime offers it through the
 * `awslambda` global:
 *
 *   export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
 *     responseStream = awslambda.HttpResponseStream.from(responseStream, { statusCode: 200 });
 *     responseStream.write('a');
 *     responseStream.end();
 *   });
 *
 * `streamifyResponse` marks the handler; the runtime then hands it a writable stream whose
 * bytes go to the Runtime API as they are written: one `/response` POST with
 * `Lambda-Runtime-Function-Response-Mode: streaming` and a chunked body, opened at the first
 * write (so `setContentType` still applies before it), ended by `end()`. An error after the
 * first byte ends the body with the trailers `Lambda-Runtime-Function-Error-Type` and
 * `Lambda-Runtime-Function-Error-Body` (the error JSON, base64). The stream's backpressure is
 * the socket's: `write()` returns false while the platform is not reading.
 *
 * `HttpResponseStream.from(stream, metadata)` makes it an HTTP integration response (for
 * Function URLs): Content-Type `application/vnd.awslambda.http-integration-response`, and
 * before the first body byte the metadata as JSON, then 8 NUL bytes.
 */

const { Writable } = require('stream');

const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const HANDLER_HIGH_WATER_MARK = Symbol.for('aws.lambda.runtime.handler.highWaterMark');
const STREAM_RESPONSE = 'response';
const HTTP_INTEGRATION = 'application/vnd.awslambda.http-integration-response';
const DELIMITER_LENGTH = 8;

function streamifyResponse(handler, options) {
  if (typeof handler !== 'function') {
    throw new TypeError('streamifyResponse expects a function');
  }
  handler[HANDLER_STREAMING] = STREAM_RESPONSE;
  if (options && Number.isInteger(options.highWaterMark)) {
    handler[HANDLER_HIGH_WATER_MARK] = options.highWaterMark;
  }
  return handler;
}

const isStreaming = (handler) => handler[HANDLER_STREAMING] === STREAM_RESPONSE;

class HttpResponseStream {
  static from(underlyingStream, metadata) {
    underlyingStream.setContentType(HTTP_INTEGRATION);
    // A JSON text cannot hold a NUL byte, so the delimiter cannot occur inside it.
    const prelude = JSON.stringify(metadata ?? {});
    underlyingStream._onBeforeFirstWrite = (write) => {
      write(prelude);
      write(new Uint8Array(DELIMITER_LENGTH));
    };
    return underlyingStream;
  }
}

/**
 * The response stream of one invocation: `{ stream, started(), fail(rapidError), finished }`.
 * `finished` resolves once the Runtime API has answered the streamed POST (its end, or the
 * platform cutting it off: too large).
 */
function createResponseStream(api, requestId, highWaterMark) {
  let contentType = 'application/octet-stream';
  let post = null;
  let resolveFinished;
  let rejectFinished;
  const finished = new Promise((resolve, reject) => {
    resolveFinished = resolve;
    rejectFinished = reject;
  });

  const open = () => {
    post = api.openStream(requestId, contentType);
    post.answer.then(resolveFinished, rejectFinished);
    if (typeof stream._onBeforeFirstWrite === 'function') {
      stream._onBeforeFirstWrite((chunk) => post.req.write(chunk));
    }
  };
  // Once the platform has answered (it stopped reading), further bytes go nowhere: the
  // outcome is decided, and a write error must not crash a function that ignores them.
  const writeOn = (chunk, callback) => {
    if (post.answered) {
      callback();
      return;
    }
    post.req.write(chunk, () => callback());
  };

  const stream = new Writable({
    highWaterMark,
    write(chunk, _encoding, callback) {
      if (!post) {
        open();
      }
      writeOn(chunk, callback);
    },
    final(callback) {
      if (!post) {
        open();
      }
      if (!post.answered && !post.ended) {
        post.ended = true;
        post.req.end();
      }
      callback();
    },
  });
  stream.setContentType = (type) => {
    if (post) {
      throw new Error('setContentType must be called before the first write');
    }
    contentType = String(type);
  };

  return {
    stream,
    finished,
    started: () => post !== null,
    /** End the body with the error trailers (the stream must have started). */
    fail(rapidError) {
      if (!post.answered && !post.ended) {
        post.ended = true;
        const body = Buffer.from(JSON.stringify(rapidError)).toString('base64');
        post.req.addTrailers({
          'Lambda-Runtime-Function-Error-Type': rapidError.errorType,
          'Lambda-Runtime-Function-Error-Body': body,
        });
        post.req.end();
      }
      return finished;
    },
  };
}

module.exports = {
  HttpResponseStream,
  HANDLER_HIGH_WATER_MARK,
  createResponseStream,
  isStreaming,
  streamifyResponse,
};
