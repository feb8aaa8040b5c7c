import Fastify from 'fastify';

/**
 * The reference for the OFREP benchmark: a bare Fastify POST route that parses a JSON body and
 * answers a JSON object of the same shape as an OFREP evaluation. Prints its URL on stdout.
 */
const app = Fastify({ logger: false });
app.post('/evaluate', async (request) => {
  const body = request.body as { context?: { targetingKey?: string } };
  return { key: 'bench-flag', value: body.context?.targetingKey !== undefined, reason: 'SPLIT', variant: 'on', metadata: {} };
});
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
process.stdout.write(`listening http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}\n`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
