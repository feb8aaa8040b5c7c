/** Client commands (flags, envs, tokens, audit) talk to a running server over the REST API. */
export async function runClientCommand(command: string | undefined, _args: string[]): Promise<number> {
  process.stderr.write(`switchyard: unknown command ${JSON.stringify(command ?? '')}; try "switchyard help"\n`);
  return 2;
}
