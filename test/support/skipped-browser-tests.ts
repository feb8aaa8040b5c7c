import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import type { Reporter, TestModule, Vitest } from 'vitest/node';
import { browserTestProblems } from './chromium.js';

/**
 * A vitest reporter for the end of the run: without Chromium (or the built dashboard) the browser
 * tests skip, and the warning they print at import scrolls away long before the run ends. This one
 * prints, after vitest's own summary, how many browser tests did not run and why. Under CI=true the
 * same files fail instead (test/support/browser.ts throws); it then says why they failed.
 */

/** A browser test file is one that imports test/support/browser.ts. */
export const BROWSER_SUPPORT_IMPORT = /from\s+['"][./]*(?:test\/)?support\/browser(?:\.js)?['"]/;

export interface BrowserFileOutcome {
  file: string;
  skippedTests: number;
  failedToLoad: boolean;
}

/** The lines to print for these browser test files, given what keeps the browser tests from running. */
export function skippedBrowserTestsReport(outcomes: readonly BrowserFileOutcome[], problems: readonly string[]): string[] {
  if (problems.length === 0) return [];
  const skipped = outcomes.filter((o) => o.skippedTests > 0);
  const failed = outcomes.filter((o) => o.failedToLoad);
  const why = problems.map((p) => `  - ${p}`);
  const lines: string[] = [];
  if (skipped.length > 0) {
    const tests = skipped.reduce((sum, o) => sum + o.skippedTests, 0);
    lines.push(`Browser tests NOT RUN: ${tests} test${tests === 1 ? '' : 's'} in ${skipped.length} file${skipped.length === 1 ? '' : 's'} skipped, because:`, ...why);
    lines.push('  They run once that is fixed; with CI=true a missing browser fails the run instead.');
  }
  if (failed.length > 0) {
    lines.push(`Browser tests FAILED to load: ${failed.length} file${failed.length === 1 ? '' : 's'} (CI=true requires a browser), because:`, ...why);
  }
  return lines;
}

export class SkippedBrowserTestsReporter implements Reporter {
  private vitest: Vitest | undefined;
  private readonly isBrowserFile = new Map<string, boolean>();

  onInit(vitest: Vitest): void {
    this.vitest = vitest;
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    if (!this.vitest) return;
    const root = this.vitest.config.root;
    const outcomes = testModules
      .filter((module) => this.importsBrowserSupport(module.moduleId))
      .map((module) => ({
        file: relative(root, module.moduleId),
        skippedTests: [...module.children.allTests('skipped')].length,
        failedToLoad: module.state() === 'failed' && module.errors().some((error) => /browser tests cannot run under CI/.test(error.message ?? '')),
      }));
    const lines = skippedBrowserTestsReport(outcomes, browserTestProblems(root));
    if (lines.length === 0) return;
    this.vitest.logger.log('');
    for (const line of lines) this.vitest.logger.log(line);
  }

  private importsBrowserSupport(file: string): boolean {
    let known = this.isBrowserFile.get(file);
    if (known === undefined) {
      try {
        known = BROWSER_SUPPORT_IMPORT.test(readFileSync(file, 'utf8'));
      } catch {
        known = false;
      }
      this.isBrowserFile.set(file, known);
    }
    return known;
  }
}
