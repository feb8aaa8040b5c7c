import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of PostgreSQL that counts the packets a client sends — each round trip is
 * at least one, and statements sent together travel as one — and may hold each packet for `delayMs`
 * in both directions, to stand for a network between the server and its database.
 */
export class PostgresProxy {
  /** Packets from the client so far. */
  sent = 0;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly target: URL,
    private readonly delayMs = 0,
  ) {
    this.server = createServer((client) => {
      const upstream = connect(Number(target.port || 5432), target.hostname);
      for (const socket of [client, upstream]) {
        socket.setNoDelay(true);
        socket.on('error', () => {});
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
      }
      client.on('data', (chunk) => {
        this.sent++;
        this.pass(upstream, chunk);
      });
      upstream.on('data', (chunk) => this.pass(client, chunk));
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  }

  private pass(to: Socket, chunk: Buffer): void {
    if (this.delayMs > 0) setTimeout(() => to.write(chunk), this.delayMs);
    else to.write(chunk);
  }

  /** Starts it; resolves with the target's URL pointed at the proxy. */
  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    if (!address || typeof address === 'string') throw new Error('the proxy has no port');
    const url = new URL(this.target);
    url.hostname = '127.0.0.1';
    url.port = String(address.port);
    return url.toString();
  }

  /** Packets sent while `fn` runs. */
  async count(fn: () => Promise<unknown>): Promise<number> {
    const before = this.sent;
    await fn();
    return this.sent - before;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
