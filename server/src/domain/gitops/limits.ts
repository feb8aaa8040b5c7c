import { isCollection, Lexer, type Node } from 'yaml';

/**
 * How big a flags document may be. Anyone with a viewer token can send one to `plan`, so the
 * limits bound the work and memory one request can cost; each sits far above what a real
 * installation writes (the 2,000-flag file of the gitops-apply benchmark is 347 KB).
 */
export const DOCUMENT_LIMITS = {
  /** Request body of plan/apply, and what the CLI sends: ~10,000 flags written as stages. */
  bytes: 2 * 1024 * 1024,
  flags: 10_000,
  segments: 1_000,
  environments: 100,
  /**
   * Items of any one list or map. The longest list the schema accepts is a target's 5,000 user
   * IDs; without this, zod would report (and we would locate) every bad item of a huge list.
   */
  itemsPerCollection: 10_000,
  /** Nesting: rule clause values sit 8 levels deep, a variation's JSON value at most 4 + 32. */
  depth: 48,
  /**
   * YAML tokens per file, counted before the document is built: the `yaml` tree of a 2 MB file
   * of `a,a,a,…` (3 million tokens) needs more than 512 MB; the benchmark's file at 10,000 flags has 720,000.
   */
  tokens: 1_000_000,
  /** Problems listed in one error response: enough to fix a file, not a copy of a hostile one. */
  problemsReported: 100,
} as const;

export const formatBytes = (bytes: number): string => (bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`);

/** What exceeds the depth or size limits in a parsed YAML tree, with where; iterative, so any input is safe. */
export function shapeProblem(root: unknown): { node: Node; message: string } | undefined {
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (!isCollection(node)) continue;
    if (depth > DOCUMENT_LIMITS.depth) return { node, message: DEPTH_MESSAGE };
    if (node.items.length > DOCUMENT_LIMITS.itemsPerCollection) {
      return { node, message: ITEMS_MESSAGE(String(node.items.length)) };
    }
    for (const item of node.items as unknown[]) {
      // Map items are pairs: a key can be a collection too (`? [a, b]: c`).
      if (item !== null && typeof item === 'object' && 'key' in item && 'value' in item) {
        stack.push([(item as { key: unknown }).key, depth + 1], [(item as { value: unknown }).value, depth + 1]);
      } else stack.push([item, depth + 1]);
    }
  }
  return undefined;
}

const FLOW_START = new Set(['[', '{']);
const FLOW_END = new Set([']', '}']);
/** The lexer's zero-width markers (document start, flow end, scalar): not text of the file. */
const MARKERS = new Set(['\x02', '\x18', '\x1f']);
const ITEMS_MESSAGE = (count: string) => `${count} items in one list or map; a flags file allows at most ${DOCUMENT_LIMITS.itemsPerCollection}`;
const DEPTH_MESSAGE = `nested more than ${DOCUMENT_LIMITS.depth} levels deep (the limit for a flags file)`;

/**
 * One cheap pass of the YAML lexer before the parser builds anything: too many tokens, or flow
 * collections (`[[[[…`) nested beyond the limit (the composer recurses per level and would
 * overflow its stack). `offset` is where in the text the limit was crossed.
 */
export function tokenProblem(text: string): { offset: number; message: string } | undefined {
  let tokens = 0;
  let offset = 0;
  /** Items so far of each open flow collection. */
  const items: number[] = [];
  for (const lexeme of new Lexer().lex(text)) {
    if (++tokens > DOCUMENT_LIMITS.tokens) return { offset, message: `more than ${DOCUMENT_LIMITS.tokens} YAML tokens; a flags file allows at most that many` };
    if (FLOW_START.has(lexeme) && items.push(1) > DOCUMENT_LIMITS.depth) return { offset, message: DEPTH_MESSAGE };
    if (FLOW_END.has(lexeme)) items.pop();
    if (lexeme === ',' && items.length > 0 && ++items[items.length - 1]! > DOCUMENT_LIMITS.itemsPerCollection) return { offset, message: ITEMS_MESSAGE(`more than ${DOCUMENT_LIMITS.itemsPerCollection}`) };
    if (!MARKERS.has(lexeme)) offset += lexeme.length;
  }
  return undefined;
}

/** The parser's own stack overflow (deep block nesting), said as the limit it is. */
export function nestingMessage(message: string): string {
  return /call stack/i.test(message) ? DEPTH_MESSAGE : message;
}

/** Too many flags, segments or environments in all files together (checked before validating each). */
export function countProblem(counts: { flags: number; segments: number; environments: number }): string | undefined {
  for (const kind of ['flags', 'segments', 'environments'] as const) {
    if (counts[kind] > DOCUMENT_LIMITS[kind]) return `${counts[kind]} ${kind}; the files may hold at most ${DOCUMENT_LIMITS[kind]} ${kind} in all`;
  }
  return undefined;
}
