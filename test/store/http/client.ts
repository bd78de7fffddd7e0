/** A tiny HTTP client for the store tests: any method (LIST too), raw bodies, status + headers + parsed JSON. */
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';

/** A response as the tests look at it. */
export interface TestResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The parsed JSON body (undefined when the body is empty). */
  json: unknown;
}

/** Options of {@link call}. */
export interface CallOptions {
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Trust this CA for https (the test certificate). */
  ca?: Buffer;
}

/** Sends one request to `baseUrl` + `path` and reads the whole response. */
export function call(baseUrl: string, method: string, path: string, options: CallOptions = {}): Promise<TestResponse> {
  const url = new URL(path, baseUrl);
  const payload =
    options.body === undefined ? undefined : Buffer.isBuffer(options.body) ? options.body : Buffer.from(typeof options.body === 'string' ? options.body : JSON.stringify(options.body));
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers['X-Vault-Token'] = options.token;
  if (payload !== undefined) headers['Content-Length'] = String(payload.length);
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(url, { method, headers, agent: false, ca: options.ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        if (text !== '') {
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** Sends raw bytes on a fresh connection and returns everything received until the server closes or `ms` pass. */
export async function rawRequest(port: number, data: string | Buffer, ms = 500): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let text = '';
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
  socket.write(data);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  socket.destroy();
  return text;
}
