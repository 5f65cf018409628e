// Prints every test file's duration at the end of a run (slowest first) and the run's wall time,
// so CI output shows where the suite's time goes. A report, never an assertion.
import type { Reporter, TestModule } from 'vitest/node';

export default class FileDurationsReporter implements Reporter {
  private started = 0;

  onTestRunStart(): void {
    this.started = performance.now();
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const rows = testModules.map((m) => {
      const d = m.diagnostic();
      // Import (collect: the file and its suite callbacks) + every test and hook of the file.
      const seconds = (d.environmentSetupDuration + d.prepareDuration + d.setupDuration + d.collectDuration + d.duration) / 1000;
      return { file: m.relativeModuleId, seconds, tests: [...m.children.allTests()].length, state: m.state() };
    });
    rows.sort((a, b) => b.seconds - a.seconds);
    const total = rows.reduce((s, r) => s + r.seconds, 0);
    const width = Math.max(...rows.map((r) => r.file.length), 4);
    const lines = rows.map((r) => `  ${r.file.padEnd(width)} ${r.seconds.toFixed(1).padStart(7)} s  ${String(r.tests).padStart(4)} tests  ${r.state}`);
    console.log(
      `\n[durations] per test file (import + tests), slowest first:\n${lines.join('\n')}\n` +
        `  ${'sum'.padEnd(width)} ${total.toFixed(1).padStart(7)} s\n[durations] run wall time: ${((performance.now() - this.started) / 1000).toFixed(1)} s`,
    );
  }
}
