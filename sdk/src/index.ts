export { BUCKETS, SEED, bucket, murmur3, percentageToBuckets } from './bucket.js';
export { evaluate, evaluateCompiled, compileFlag, compileRuleSet, FLAG_NOT_FOUND } from './evaluate.js';
export type { CompiledFlag, EvaluationDetail } from './evaluate.js';
export { MAX_PATTERN_LENGTH, compilePattern } from './clauses.js';
export { parseSemVer, compareSemVer } from './semver.js';
export * from './types.js';
