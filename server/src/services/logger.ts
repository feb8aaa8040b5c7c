/** What services log through (pino's logger, which Fastify provides, fits). */
export interface Logger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

/** For tests and tools that want silence. */
export const SILENT: Logger = { info() {}, warn() {}, error() {} };
