/** The server's key rule (flags.schemas.ts `keySchema`), checked as the user types. */
export const KEY_PATTERN = /^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$/;
export const KEY_MAX = 100;

export function keyProblem(key: string, existing: ReadonlySet<string> = new Set()): string | undefined {
  if (key === '') return 'A key is required';
  if (key.length > KEY_MAX) return `At most ${KEY_MAX} characters`;
  if (/[A-Z]/.test(key)) return 'Use lowercase letters only';
  if (/\s/.test(key)) return 'No spaces: use "-" or "_" between words';
  if (!KEY_PATTERN.test(key)) return 'Use lowercase letters, digits, ".", "_" or "-", starting and ending with a letter or digit';
  if (existing.has(key)) return `A flag named "${key}" already exists`;
  return undefined;
}

/** A key suggested from a display name: "New checkout flow" → "new-checkout-flow". */
export function keyFromName(name: string): string {
  return name
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, KEY_MAX);
}
