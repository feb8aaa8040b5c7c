import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AxeResults, NodeResult, Result } from 'axe-core';
import type { Page } from 'playwright-core';

/**
 * axe-core in a page, under the dashboard's Content-Security-Policy. `page.addScriptTag({ path })`
 * inserts an inline <script>, which `script-src 'self'` blocks (the page reports a violation and
 * `window.axe` never appears); `page.evaluate` runs through the DevTools protocol, outside the
 * policy, so the page under test keeps its real CSP (no `bypassCSP`).
 */
const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** WCAG 2.0 and 2.1, levels A and AA: what the dashboard promises. */
export const WCAG_21_AA = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] as const;

export type AxeViolation = Result;

/** Load axe-core into `page` (once per document; a navigation loads a new document). */
export async function injectAxe(page: Page): Promise<void> {
  const loaded = await page.evaluate(() => typeof (window as unknown as { axe?: unknown }).axe === 'object');
  if (loaded) return;
  await page.evaluate(AXE_SOURCE);
  const ok = await page.evaluate(() => typeof (window as unknown as { axe?: { version?: string } }).axe?.version === 'string');
  if (!ok) throw new Error('axe-core did not load into the page');
}

/** Run the WCAG 2.1 A/AA rules on the whole document (or `include`, a CSS selector); the violations. */
export async function axeViolations(page: Page, options: { include?: string } = {}): Promise<AxeViolation[]> {
  await injectAxe(page);
  const results = await page.evaluate(
    async ([include, tags]) => {
      const axe = (window as unknown as { axe: { run(context: unknown, options: unknown): Promise<AxeResults> } }).axe;
      const context = include ? { include: [include] } : document;
      // resultTypes: only violations are needed, which keeps the result small (passes are dropped).
      return axe.run(context, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    },
    [options.include, [...WCAG_21_AA]] as const,
  );
  return results.violations;
}

function describeNode(node: NodeResult): string {
  const target = node.target.map((t) => (Array.isArray(t) ? t.join(' >>> ') : String(t))).join(' ');
  const why = (node.failureSummary ?? '').replace(/\s+/g, ' ').trim();
  return `    ${target}\n      ${node.html.replace(/\s+/g, ' ').slice(0, 200)}\n      ${why}`;
}

/** One readable block per violated rule: id, impact, help, link, and each failing element. */
export function formatViolations(violations: AxeViolation[]): string {
  return violations
    .map((v) => `[${v.impact ?? 'unknown'}] ${v.id}: ${v.help} (${v.helpUrl})\n${v.nodes.map(describeNode).join('\n')}`)
    .join('\n\n');
}

/**
 * Throw, with every violation spelled out, unless the page (in its current colour scheme and
 * state) has none. `where` names the page and state in the message.
 */
export async function expectNoAxeViolations(page: Page, where: string, options: { include?: string } = {}): Promise<void> {
  const violations = await axeViolations(page, options);
  if (violations.length > 0) throw new Error(`axe: ${violations.length} WCAG 2.1 A/AA rule(s) violated on ${where}:\n\n${formatViolations(violations)}`);
}

/** WCAG relative luminance of an sRGB colour `rgb(r, g, b)`, `rgba(…)` or `#rrggbb`. */
export function luminance(color: string): number {
  const channels = parseColor(color);
  const [r, g, b] = channels.map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}

/** WCAG contrast ratio of two opaque colours (1 … 21). */
export function contrastRatio(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}

function parseColor(color: string): [number, number, number] {
  const value = color.trim().toLowerCase();
  const hex = /^#([0-9a-f]{6})$/.exec(value) ?? /^#([0-9a-f]{3})$/.exec(value);
  if (hex) {
    const digits = hex[1]!.length === 3 ? [...hex[1]!].map((d) => d + d).join('') : hex[1]!;
    return [0, 2, 4].map((i) => parseInt(digits.slice(i, i + 2), 16)) as [number, number, number];
  }
  const rgb = /^rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)(?:[\s,/]+([\d.]+%?))?\s*\)$/.exec(value);
  if (rgb) {
    if (rgb[4] !== undefined && rgb[4] !== '1' && rgb[4] !== '100%') throw new Error(`contrast of a translucent colour is undefined: ${color}`);
    return [Number(rgb[1]), Number(rgb[2]), Number(rgb[3])];
  }
  throw new Error(`not a colour this check understands: "${color}"`);
}
