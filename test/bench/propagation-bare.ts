/**
 * The floor for the propagation benchmark: the least a Node SSE server can do. A bare node:http
 * server that keeps every stream's socket and, on `POST /broadcast`, builds the event once and
 * writes the same Buffer to every socket before answering. No auth, no storage, no framework.
 * Prints its URL on stdout.
 */
import { createServer } from 'node:http';
import type { Socket } from 'node:net';

const HEAD = 'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n';
const sockets = new Set<Socket>();

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/api/sdk/stream') {
    const socket = req.socket;
    socket.setNoDelay(true);
    socket.write(`${HEAD}event: snapshot\nid: 0\ndata: {"version":0,"flags":{},"segments":{}}\n\n`);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    return;
  }
  if (req.method === 'POST' && req.url === '/broadcast') {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const { version, data } = JSON.parse(body) as { version: number; data: string };
      const frame = Buffer.from(`event: patch\nid: ${version}\ndata: ${data}\n\n`);
      for (const socket of sockets) socket.write(frame);
      res.writeHead(204).end();
    });
    return;
  }
  if (req.url === '/connections') return void res.end(String(sockets.size));
  res.writeHead(404).end();
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address && typeof address === 'object') process.stdout.write(`bare listening at http://127.0.0.1:${address.port}\n`);
});
process.on('SIGTERM', () => {
  for (const socket of sockets) socket.destroy();
  server.close(() => process.exit(0));
});
