'use strict';
/**
 * The Runtime API (2018-06-01) client: HTTP/1.1 written and read by hand on one kept-alive TCP
 * socket (`net`), as the Python and Ruby runtimes do. Node's `http` client cannot pipeline, and
 * its first request in a fresh process (a snapshot copy's) costs milliseconds of JavaScript;
 * here each request is one write. The request for the next event leaves in the same write as
 * the result (`respond`, `fail`), and the Runtime API answers both in one write: one wake-up of
 * this process per invoke instead of two. `/next` waits as long as it takes (no timeout).
 * While no request is pending the socket is unref'd, so it never keeps the event loop alive: a
 * callback handler's "wait for an empty event loop" sees only the function's own work.
 * Streamed responses (`openStream`) go through Node's `http`, loaded when first needed.
 */

const net = require('net');

const PREFIX = '/2018-06-01/runtime';
const NEXT = `${PREFIX}/invocation/next`;
const ERROR_TYPE = 'Lambda-Runtime-Function-Error-Type';
/** A result larger than this is sent alone: after one the Runtime API may refuse (413) the
 * runtime asks for the next event itself (well under any response limit). */
const PIPELINE_LIMIT = 1 << 20;
const HEAD_END = Buffer.from('\r\n\r\n');
const MAX_HEAD = 64 * 1024;

/** A header value as it may go on the wire: no line breaks, nothing outside Latin-1. */
const headerValue = (value) => String(value).replace(/[^\x20-\x7e\x80-\xff\t]/g, '?');

class RuntimeApi {
  constructor(address) {
    this.address = address;
    const colon = address.lastIndexOf(':');
    this.hostname = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
    this.port = Number(address.slice(colon + 1));
    if (!this.hostname || !Number.isInteger(this.port)) {
      throw new Error(`bad AWS_LAMBDA_RUNTIME_API ${JSON.stringify(address)}`);
    }
    this.common = `Host: ${address}\r\nUser-Agent: fireside-nodejs/${process.versions.node}\r\n`;
    this.socket = null;
    /** Whether the current socket has carried a request (a fresh one is never retried). */
    this.used = false;
    this.buffer = Buffer.alloc(0);
    /** Answers expected on the socket, in order: `{ resolve, reject, started }`. */
    this.waiting = [];
    /** The answer (a promise) to the `/next` sent behind the last result, or null. */
    this.pipelined = null;
    this.streamAgent = null;
  }

  /** A connection made ahead (a parked snapshot copy's, `snapshot.js`): requests go on it. */
  adopt(socket) {
    this.attach(socket);
    this.used = true; // made ahead: a request that finds it closed is retried once
  }

  /**
   * Asks for the first event ahead, on a connection made ahead (a parked snapshot copy's,
   * `snapshot.js`): the Runtime API reads it once a start takes the copy, and `next()` returns
   * its answer. A failure surfaces there, as the `/next` it stands for.
   */
  nextAhead() {
    const answer = this.request('GET', NEXT);
    answer.catch(() => {}); // handled by `next()`, which may never come (a copy never taken)
    this.pipelined = answer;
  }

  /** The next event: `{headers, body}` (headers lower-cased, body a string). */
  async next() {
    const pipelined = this.pipelined;
    this.pipelined = null;
    let answer = pipelined === null ? null : await pipelined;
    if (answer === null) {
      answer = await this.request('GET', NEXT);
    } else if (answer.status < 200 || answer.status >= 300) {
      throw new Error(`GET ${NEXT}: HTTP ${answer.status} ${answer.body.toString('utf8', 0, 500)}`);
    }
    return { headers: answer.headers, body: answer.body.toString('utf8') };
  }

  /** The result; with `next` (the default) the request for the next event goes with it. */
  respond(requestId, body, next = true) {
    const path = `${PREFIX}/invocation/${encodeURIComponent(requestId)}/response`;
    return this.request('POST', path, body, { 'Content-Type': 'application/json' }, next);
  }

  /** The invocation's error; `next` as for `respond` (false when this process then exits). */
  fail(requestId, response, next = true) {
    const path = `${PREFIX}/invocation/${encodeURIComponent(requestId)}/error`;
    // The function's own errors go out as "Unhandled", the Runtime API's usual value.
    const headers = { 'Content-Type': 'application/json', [ERROR_TYPE]: 'Unhandled' };
    return this.request('POST', path, JSON.stringify(response), headers, next);
  }

  initError(response) {
    const headers = { 'Content-Type': 'application/json', [ERROR_TYPE]: response.errorType };
    return this.request('POST', `${PREFIX}/init/error`, JSON.stringify(response), headers);
  }

  /**
   * One request; resolves with a 2xx answer (413 included: the response was too large, and
   * Fireside has already failed the invocation), rejects on anything else. With `next`, a
   * `GET /next` leaves in the same write; its answer is kept for `next()`.
   */
  request(method, path, body, headers = {}, next = false, retried = false) {
    let head = `${method} ${path} HTTP/1.1\r\n${this.common}`;
    for (const [name, value] of Object.entries(headers)) {
      head += `${name}: ${headerValue(value)}\r\n`;
    }
    const payload = body === undefined ? '' : body;
    if (body !== undefined) {
      head += `Content-Length: ${Buffer.byteLength(payload)}\r\n`;
    }
    const pipeline = next && Buffer.byteLength(payload) <= PIPELINE_LIMIT;
    const message = `${head}\r\n${payload}${pipeline ? `GET ${NEXT} HTTP/1.1\r\n${this.common}\r\n` : ''}`;
    if (this.socket === null) {
      this.connect();
    }
    const reused = this.used;
    this.used = true;
    const first = this.expect();
    const second = pipeline ? this.expect() : null;
    this.socket.ref();
    this.socket.write(message);
    const answered = first.promise.then(
      (answer) => {
        if ((answer.status >= 200 && answer.status < 300) || answer.status === 413) {
          return answer;
        }
        const detail = answer.body.toString('utf8', 0, 500);
        throw new Error(`${method} ${path}: HTTP ${answer.status} ${detail}`);
      },
      (error) => {
        // A kept-alive connection the server has since closed fails before any byte of the
        // answer: that alone is retried, once, on a new connection.
        if (reused && !retried && !first.started) {
          return this.request(method, path, body, headers, next, true);
        }
        throw error;
      },
    );
    if (second !== null) {
      // Lost with the connection before any byte of it: `next()` asks again (null).
      const then = second.promise.catch((error) => {
        if (second.started) {
          throw error;
        }
        return null;
      });
      then.catch(() => {}); // handled by `next()`, which may never come (the process exits)
      this.pipelined = answered.then(() => then);
      this.pipelined.catch(() => {});
    }
    return answered;
  }

  /** A streamed `/response` POST, its body still to be written: `{ req, answer, answered }`.
   * `answer` resolves with the platform's reply (2xx, or 413: too large) when it comes,
   * which may be before the body ends; `answered` turns true then. */
  openStream(requestId, contentType) {
    const http = require('http');
    if (this.streamAgent === null) {
      this.streamAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    }
    const post = { req: null, answer: null, answered: false, ended: false };
    post.answer = new Promise((resolve, reject) => {
      post.req = http.request(
        {
          hostname: this.hostname,
          port: this.port,
          method: 'POST',
          path: `${PREFIX}/invocation/${encodeURIComponent(requestId)}/response`,
          agent: this.streamAgent,
          headers: {
            'User-Agent': `fireside-nodejs/${process.versions.node}`,
            'Content-Type': contentType,
            'Lambda-Runtime-Function-Response-Mode': 'streaming',
            'Transfer-Encoding': 'chunked',
            Trailer: `${ERROR_TYPE}, Lambda-Runtime-Function-Error-Body`,
          },
        },
        (res) => {
          post.answered = true;
          const chunks = [];
          res.on('data', (chunk) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
        },
      );
      post.req.on('socket', (socket) => socket.setNoDelay(true));
      post.req.on('error', (error) => {
        if (post.answered) {
          return; // the platform answered, then closed the connection: nothing is lost
        }
        if (error.code === 'EPIPE' || error.code === 'ECONNRESET') {
          // The platform stopped reading mid-body (the response outgrew its limit) and its
          // answer was lost with the connection: the invocation is over either way. A
          // platform that is really gone fails the next `/next`.
          post.answered = true;
          resolve({ status: 0, body: Buffer.alloc(0) });
          return;
        }
        reject(error);
      });
    });
    return post;
  }

  /** Closes the connection (a request in flight fails). */
  close() {
    if (this.socket !== null) {
      this.socket.destroy();
      this.lost(this.socket, new Error('closed'));
    }
  }

  // -- the connection ---------------------------------------------------------------------
  connect() {
    this.attach(net.connect({ host: this.hostname, port: this.port, noDelay: true }));
  }

  attach(socket) {
    this.socket = socket;
    this.used = false;
    this.buffer = Buffer.alloc(0);
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.received(socket, chunk));
    socket.on('error', (error) => this.lost(socket, error));
    socket.on('close', () => this.lost(socket, new Error('the Runtime API closed the connection')));
    socket.unref();
  }

  expect() {
    const waiter = { resolve: null, reject: null, started: false, promise: null };
    waiter.promise = new Promise((resolve, reject) => {
      waiter.resolve = resolve;
      waiter.reject = reject;
    });
    this.waiting.push(waiter);
    return waiter;
  }

  lost(socket, error) {
    if (socket !== this.socket) {
      return;
    }
    this.socket = null;
    this.buffer = Buffer.alloc(0);
    socket.destroy();
    const waiting = this.waiting;
    this.waiting = [];
    for (const waiter of waiting) {
      waiter.reject(error);
    }
  }

  received(socket, chunk) {
    if (socket !== this.socket) {
      return;
    }
    if (this.waiting.length > 0) {
      this.waiting[0].started = true;
    }
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    while (this.waiting.length > 0) {
      let parsed;
      try {
        parsed = parseResponse(this.buffer);
      } catch (error) {
        this.lost(socket, error);
        return;
      }
      if (parsed === null) {
        break;
      }
      this.buffer = this.buffer.subarray(parsed.size);
      const waiter = this.waiting.shift();
      if (this.waiting.length > 0 && this.buffer.length > 0) {
        this.waiting[0].started = true;
      }
      waiter.resolve(parsed.answer);
      if (parsed.close) {
        this.lost(socket, new Error('the Runtime API closed the connection'));
        return;
      }
    }
    if (this.waiting.length === 0) {
      socket.unref();
    }
  }
}

/**
 * One whole response at the start of `buffer`: `{ answer: {status, headers, body}, size,
 * close }`, or null when more is needed. Bodies come with a Content-Length or chunked.
 */
function parseResponse(buffer) {
  const end = buffer.indexOf(HEAD_END);
  if (end < 0) {
    if (buffer.length > MAX_HEAD) {
      throw new Error('the Runtime API sent an oversized head');
    }
    return null;
  }
  const lines = buffer.toString('latin1', 0, end).split('\r\n');
  const status = Number(lines[0].split(' ', 3)[1]);
  const headers = {};
  for (let i = 1; i < lines.length; i++) {
    const colon = lines[i].indexOf(':');
    if (colon > 0) {
      headers[lines[i].slice(0, colon).trim().toLowerCase()] = lines[i].slice(colon + 1).trim();
    }
  }
  if (!Number.isInteger(status)) {
    throw new Error(`the Runtime API sent a bad status line: ${JSON.stringify(lines[0])}`);
  }
  const close = (headers.connection || '').toLowerCase() === 'close';
  let at = end + HEAD_END.length;
  if ((headers['transfer-encoding'] || '').toLowerCase().includes('chunked')) {
    const chunks = [];
    for (;;) {
      const lineEnd = buffer.indexOf('\r\n', at);
      if (lineEnd < 0) {
        return null;
      }
      const size = parseInt(buffer.toString('latin1', at, lineEnd).split(';')[0], 16);
      if (Number.isNaN(size)) {
        throw new Error('the Runtime API sent a bad chunk');
      }
      at = lineEnd + 2;
      if (size === 0) {
        for (;;) { // trailers, up to the blank line
          const lineStop = buffer.indexOf('\r\n', at);
          if (lineStop < 0) {
            return null;
          }
          const blank = lineStop === at;
          at = lineStop + 2;
          if (blank) {
            break;
          }
        }
        return { answer: { status, headers, body: Buffer.concat(chunks) }, size: at, close };
      }
      if (buffer.length < at + size + 2) {
        return null;
      }
      chunks.push(buffer.subarray(at, at + size));
      at += size + 2;
    }
  }
  const length = Number(headers['content-length'] || 0);
  if (buffer.length < at + length) {
    return null;
  }
  const body = Buffer.from(buffer.subarray(at, at + length)); // a copy: the buffer is reused
  return { answer: { status, headers, body }, size: at + length, close };
}

module.exports = { RuntimeApi, NEXT };
