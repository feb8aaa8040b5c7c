/** Where a command writes: injectable so commands can be tested without a terminal. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

export interface Column {
  header: string;
  /** Longer cells are cut with "…" so one long description cannot wreck the table. */
  maxWidth?: number;
}

const GAP = '  ';

/** An aligned, plain-text table: header row, then one row per item; no trailing spaces. */
export function formatTable(columns: readonly (Column | string)[], rows: readonly (readonly string[])[]): string {
  const specs = columns.map((c) => (typeof c === 'string' ? { header: c } : c));
  const cells = rows.map((row) => specs.map((spec, i) => truncate(oneLine(row[i] ?? ''), spec.maxWidth)));
  const widths = specs.map((spec, i) => Math.max(spec.header.length, ...cells.map((row) => row[i]!.length)));
  const line = (row: readonly string[]) =>
    row
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join(GAP)
      .trimEnd();
  return [line(specs.map((s) => s.header)), ...cells.map(line)].join('\n') + '\n';
}

/** `label: value` lines with the values aligned. */
export function formatFields(fields: readonly (readonly [string, string])[]): string {
  const width = Math.max(...fields.map(([label]) => label.length + 1));
  return fields.map(([label, value]) => `${`${label}:`.padEnd(width)} ${oneLine(value)}`.trimEnd()).join('\n') + '\n';
}

export function truncate(text: string, maxWidth: number | undefined): string {
  if (maxWidth === undefined || text.length <= maxWidth) return text;
  return `${text.slice(0, Math.max(0, maxWidth - 1))}…`;
}

/** Newlines and tabs inside a cell would break the columns. */
function oneLine(text: string): string {
  return text.replace(/[\r\n\t]+/g, ' ');
}

/** `2026-11-27T17:25:31.533Z` → `2026-11-27 17:25:31Z`: sortable, unambiguous, one column wide. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '-';
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})/.exec(iso);
  return m ? `${m[1]} ${m[2]}Z` : iso;
}

/** `{ production: '10%', staging: 'off' }` → `production: 10%  staging: off`, in the server's order. */
export function formatStages(stages: readonly (readonly [string, string])[]): string {
  return stages.map(([env, stage]) => `${env}: ${stage}`).join(GAP);
}

export function formatValue(value: unknown): string {
  return JSON.stringify(value) ?? 'null';
}

export function plural(count: number, singular: string, pluralForm = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : pluralForm}`;
}
