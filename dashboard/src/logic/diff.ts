/** A before/after difference at one path, values pretty-printed; undefined when absent. */
export interface Change {
  path: string;
  before?: string;
  after?: string;
}

/** Bookkeeping fields that change on every write: noise in a diff. */
const NOISE = new Set(['version', 'updatedAt', 'updatedBy', 'createdAt', 'id']);

function flatten(value: unknown, path: string, out: Map<string, string>): void {
  if (Array.isArray(value)) {
    if (value.length === 0) out.set(path, '[]');
    value.forEach((v, i) => flatten(v, `${path}[${i}]`, out));
  } else if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0 && path) out.set(path, '{}');
    for (const [k, v] of entries) {
      if (path === '' && NOISE.has(k)) continue;
      flatten(v, path ? `${path}.${k}` : k, out);
    }
  } else if (value !== undefined && !(value === null && path === '')) {
    out.set(path || '(value)', JSON.stringify(value));
  }
}

/** Leaf-level differences between two JSON snapshots, in a stable order. */
export function diffSnapshots(before: unknown, after: unknown, scope?: string): Change[] {
  const pick = (v: unknown) => (scope && v && typeof v === 'object' ? scopeOf(v, scope) : v);
  const a = new Map<string, string>();
  const b = new Map<string, string>();
  flatten(pick(before), '', a);
  flatten(pick(after), '', b);
  const paths = [...new Set([...a.keys(), ...b.keys()])].sort();
  const changes: Change[] = [];
  for (const path of paths) {
    const x = a.get(path);
    const y = b.get(path);
    if (x !== y) changes.push({ path, ...(x === undefined ? {} : { before: x }), ...(y === undefined ? {} : { after: y }) });
  }
  return changes;
}

/** Limit a flag snapshot to one environment's configuration plus the flag's own fields. */
function scopeOf(flag: object, environment: string): unknown {
  const { environments, ...rest } = flag as { environments?: Record<string, unknown> };
  return { ...rest, ...(environments?.[environment] === undefined ? {} : { environments: { [environment]: environments[environment] } }) };
}
