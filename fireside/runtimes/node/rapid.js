'use strict';
/**
 * The Runtime API (2018-06-01) client: Node's `http` over one kept-alive socket, the way AWS's
 * runtime talks to it without its native addon. `/next` waits as long as it takes (no timeout).
 * Between requests the agent unrefs the idle socket, so it never keeps the event loop alive:
 * a callback handler's "wait for an empty event loop" sees only the function's own work.
 */

const http = require('http');

const PREFIX = '/2018-06-01/runtime';
const ERROR_TYPE = 'Lambda-Runtime-Function-Error-Type';

class RuntimeApi {
  constructor(address) {
    this.address = address;
    const colon = address.lastIndexOf(':');
    this.hostname = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
    this.port = Number(address.slice(colon + 1));
    if (!this.hostname || !Number.isInteger(this.port)) {
      throw new Error(`bad AWS_LAMBDA_RUNTIME_API ${JSON.stringify(address)}`);
    }
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    this.userAgent = `fireside-nodejs/${process.versions.node}`;
  }

  /** The next event: `{headers, body}` (headers lower-cased, body a string). */
  async next() {
    const { headers, body } = await this.request('GET', `${PREFIX}/invocation/next`);
    return { headers, body: body.toString('utf8') };
  }

  respond(requestId, body) {
    const path = `${PREFIX}/invocation/${encodeURIComponent(requestId)}/response`;
    return this.request('POST', path, body, { 'Content-Type': 'application/json' });
  }

  fail(requestId, response) {
    const path = `${PREFIX}/invocation/${encodeURIComponent(requestId)}/error`;
    // The function's own errors go out as "Unhandled", the Runtime API's usual value.
    const headers = { 'Content-Type': 'application/json', [ERROR_TYPE]: 'Unhandled' };
    return this.request('POST', path, JSON.stringify(response), headers);
  }

  /**
   * A streamed `/response` POST, its body still to be written: `{ req, answer, answered }`.
   * `answer` resolves with the platform's reply (2xx, or 413: too large) when it comes,
   * which may be before the body ends; `answered` turns true then.
   */
  openStream(requestId, contentType) {
    const post = { req: null, answer: null, answered: false, ended: false };
    post.answer = new Promise((resolve, reject) => {
      post.req = http.request(
        {
          hostname: this.hostname,
          port: this.port,
          method: 'POST',
          path: `${PREFIX}/invocation/${encodeURIComponent(requestId)}/response`,
          agent: this.agent,
          headers: {
            'User-Agent': this.userAgent,
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

  initError(response) {
    const headers = { 'Content-Type': 'application/json', [ERROR_TYPE]: response.errorType };
    return this.request('POST', `${PREFIX}/init/error`, JSON.stringify(response), headers);
  }

  /** One request; resolves with a 2xx answer (413 included), rejects on anything else. */
  request(method, path, body, headers = {}, retried = false) {
    return new Promise((resolve, reject) => {
      const options = {
        hostname: this.hostname,
        port: this.port,
        method,
        path,
        agent: this.agent,
        headers: { 'User-Agent': this.userAgent, ...headers },
      };
      if (body !== undefined) {
        options.headers['Content-Length'] = Buffer.byteLength(body);
      }
      const req = http.request(options, (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const answer = { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) };
          // 413: the response was too large; Fireside has already failed the invocation.
          if ((answer.status >= 200 && answer.status < 300) || answer.status === 413) {
            resolve(answer);
          } else {
            const detail = answer.body.toString('utf8', 0, 500);
            reject(new Error(`${method} ${path}: HTTP ${answer.status} ${detail}`));
          }
        });
      });
      // Each request leaves in one write; Nagle plus delayed ACKs could still stall it.
      req.on('socket', (socket) => socket.setNoDelay(true));
      req.on('error', (error) => {
        // A kept-alive connection the server has since closed fails before any answer: that
        // alone is retried, once, on a new connection.
        if (req.reusedSocket && !retried && error.code === 'ECONNRESET') {
          resolve(this.request(method, path, body, headers, true));
        } else {
          reject(error);
        }
      });
      req.end(body);
    });
  }
}

module.exports = { RuntimeApi };
