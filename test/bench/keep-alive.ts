/**
 * JSON POSTs over node:http keep-alive connections, stamped on the shared clock: fetch's pool and
 * promise chain add time the benchmarks would then attribute to the server.
 */
import { Agent, request } from 'node:http';
import { now } from './measure.js';

export interface Posted {
  /** Just before the request was handed to the socket. */
  sent: number;
  /** When the response head arrived. */
  at: number;
  status: number;
  body: string;
}

export interface JsonPoster {
  post(path: string, body: unknown): Promise<Posted>;
  /** Close the pooled connections. */
  close(): void;
}

/** At most `connections` sockets to `url`; `token` as a bearer token when given. */
export function jsonPoster(url: string, token: string | undefined, connections = 1): JsonPoster {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const { hostname, port } = new URL(url);
  return {
    post(path, body) {
      const payload = JSON.stringify(body);
      const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) };
      if (token) headers.authorization = `Bearer ${token}`;
      return new Promise((resolve, reject) => {
        const sent = now();
        const req = request({ hostname, port, path, method: 'POST', agent, headers }, (res) => {
          const at = now();
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ sent, at, status: res.statusCode ?? 0, body: text }));
        });
        req.on('error', reject);
        req.end(payload);
      });
    },
    close: () => agent.destroy(),
  };
}
