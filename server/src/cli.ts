#!/usr/bin/env node
import { ConfigError, loadConfig } from './config.js';
import { startServer } from './main.js';

const [command, ...args] = process.argv.slice(2);

async function serve(argv: string[]): Promise<void> {
  let config;
  try {
    config = loadConfig(argv, process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`switchyard: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const server = await startServer(config);
  const stop = (signal: string) => {
    process.stderr.write(`switchyard: ${signal} received, shutting down\n`);
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

if (command === 'serve') {
  await serve(args);
} else {
  const { runClientCommand } = await import('./cli/commands.js');
  process.exitCode = await runClientCommand(command, args);
}
