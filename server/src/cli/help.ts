import { GLOBAL_OPTIONS, type OptionSpecs } from './args.js';
import type { Command } from './command.js';
import { formatTable } from './output.js';

export const GROUPS = [
  { name: 'flags', title: 'Flags' },
  { name: 'envs', title: 'Environments' },
  { name: 'tokens', title: 'API tokens' },
  { name: 'sdk-keys', title: 'SDK keys' },
  { name: 'audit', title: 'Audit log' },
  { name: 'schedule', title: 'Scheduled changes' },
  { name: 'promote', title: 'Promotion between environments' },
  { name: 'requests', title: 'Change requests and approvals' },
  { name: 'gitops', title: 'Flags as code', members: ['export', 'diff', 'apply'] },
] as const;

function indent(text: string): string {
  return text
    .trimEnd()
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}

/** Two aligned columns without a header row. */
function list(rows: readonly (readonly [string, string])[]): string {
  return indent(formatTable(['', ''], rows).split('\n').slice(1).join('\n'));
}

function optionRows(options: OptionSpecs): [string, string][] {
  return Object.entries(options).map(([name, o]) => [
    `${o.short ? `-${o.short}, ` : ''}--${name}${o.value ? ` ${o.value}` : ''}`,
    `${o.description}${o.multiple ? ' (repeatable)' : ''}`,
  ]);
}

const GLOBAL_SECTION = `Global flags:\n${list([...optionRows(GLOBAL_OPTIONS), ['-V, --version', 'Print the version']])}`;

export function topHelp(commands: readonly Command[], version: string): string {
  const sections = GROUPS.map((group) => {
    const { name, title } = group;
    const members: readonly string[] = 'members' in group ? group.members : [];
    const inGroup = commands.filter((c) => c.name === name || c.name.startsWith(`${name} `) || members.includes(c.name));
    return `${title}:\n${list(inGroup.map((c) => [c.name, c.summary]))}`;
  });
  return [
    `switchyard ${version}: self-hosted feature flags`,
    'Usage: switchyard <command> [arguments] [flags]',
    `Server:\n${list([
      ['serve', 'Start the server (API, dashboard, SDK streams)'],
      ['db copy', 'Copy a SQLite installation into PostgreSQL, verified (no server involved)'],
      ['mcp', 'Serve the flags to coding agents: a Model Context Protocol server on stdio'],
    ])}`,
    ...sections,
    `Code:\n${list([
      ...commands.filter((c) => c.name === 'code-refs').map((c): [string, string] => [c.name, c.summary]),
      ['codegen', 'Write a TypeScript map of the flags and their value types (--check: fail when stale)'],
    ])}`,
    GLOBAL_SECTION,
    `Environment:\n${list([
      ['SWITCHYARD_URL', 'Server URL (default http://127.0.0.1:4242)'],
      ['SWITCHYARD_TOKEN', 'API token; create one with "switchyard tokens create"'],
    ])}`,
    `Exit codes:\n${list([
      ['0', 'success'],
      ['1', "the server rejected the request (its message is printed)"],
      ['2', 'usage error: unknown command or flag, missing argument; for "diff": the file would change something'],
      ['3', 'the server could not be reached'],
    ])}`,
    'Run "switchyard <command> --help" for its flags and examples.',
  ].join('\n\n') + '\n';
}

export function groupHelp(group: string, commands: readonly Command[]): string {
  const inGroup = commands.filter((c) => c.name.startsWith(`${group} `));
  return [
    `Usage: switchyard ${group} <command> [arguments] [flags]`,
    `Commands:\n${list(inGroup.map((c) => [c.name.slice(group.length + 1), c.summary]))}`,
    `Run "switchyard ${group} <command> --help" for its flags and examples.`,
  ].join('\n\n') + '\n';
}

export function commandHelp(command: Command): string {
  const args = command.arguments.map((a) => (a.optional ? `[${a.name}]` : a.name)).join(' ');
  const hasOptions = Object.keys(command.options).length > 0;
  return [
    command.summary,
    `Usage: switchyard ${command.name}${args ? ` ${args}` : ''} [flags]`,
    ...(command.description ? [command.description] : []),
    ...(command.arguments.length > 0 ? [`Arguments:\n${list(command.arguments.map((a) => [a.name, a.description]))}`] : []),
    ...(hasOptions ? [`Flags:\n${list(optionRows(command.options))}`] : []),
    GLOBAL_SECTION,
    `Examples:\n${indent(command.examples.map((e) => `$ ${e}`).join('\n'))}`,
  ].join('\n\n') + '\n';
}
