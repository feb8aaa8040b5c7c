import Fastify from 'fastify';

/**
 * The reference for the OFREP benchmark: a bare Fastify server with POST routes that parse a JSON
 * body and answer JSON of the same shape as an OFREP evaluation — one flag (`/evaluate`) and a bulk
 * answer for BULK_FLAGS flags (`/evaluate-bulk`). No logging, no authentication, no evaluation: the
 * floor any OFREP implementation on Fastify is measured against. Prints its URL on stdout.
 */
const BULK_FLAGS = 50;
const app = Fastify({ logger: false });
app.post('/evaluate', async (request) => {
  const body = request.body as { context?: { targetingKey?: string } };
  return { key: 'bench-flag', value: body.context?.targetingKey !== undefined, reason: 'SPLIT', variant: 'on', metadata: {} };
});
const keys = Array.from({ length: BULK_FLAGS }, (_, i) => `bench-flag-${i}`);
app.post('/evaluate-bulk', async (request) => {
  const body = request.body as { context?: { targetingKey?: string } };
  const on = body.context?.targetingKey !== undefined;
  return { flags: keys.map((key) => ({ key, value: on, reason: 'SPLIT', variant: 'on', metadata: {} })) };
});
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
process.stdout.write(`listening http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}\n`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
