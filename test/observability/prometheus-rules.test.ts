import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { prometheusBinary } from '../support/prometheus-binaries.ts';

const run = promisify(execFile);
const RULES_DIR = path.resolve('infra/prometheus');
const promtool = prometheusBinary('promtool');
const files = readdirSync(RULES_DIR);
const ruleFiles = files.filter((f) => f.endsWith('.rules.yml')).sort();
const testFiles = files.filter((f) => f.endsWith('.test.yml')).sort();

/** promtool's output, and its exit status (0: passed). */
async function promtoolRun(args: string[], cwd = RULES_DIR): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(promtool!, args, { cwd });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/**
 * The alert and recording rules of infra/prometheus/ are checked and unit-tested by Debian's
 * promtool: each `*.rules.yml` parses, and each `*.test.yml` beside them passes.
 */
describe.runIf(promtool !== null)('Prometheus rules (promtool)', () => {
  it('has a unit test file that loads every rules file', async () => {
    expect(ruleFiles.length).toBeGreaterThan(0);
    const { readFile } = await import('node:fs/promises');
    const tested = new Set<string>();
    for (const file of testFiles) {
      const text = await readFile(path.join(RULES_DIR, file), 'utf8');
      for (const rules of ruleFiles) if (text.includes(`- ${rules}`)) tested.add(rules);
    }
    expect([...tested].sort()).toEqual(ruleFiles);
  });

  it.each(ruleFiles)('%s passes promtool check rules', async (file) => {
    const { code, output } = await promtoolRun(['check', 'rules', file]);
    expect(output).toContain('SUCCESS');
    expect(code).toBe(0);
  });

  it.each(testFiles)('%s passes promtool test rules', async (file) => {
    const { code, output } = await promtoolRun(['test', 'rules', file]);
    expect(code, output).toBe(0);
    expect(output).toContain('SUCCESS');
  });

  it('fails a rule test whose expectation is wrong (the run really checks)', async () => {
    const { mkdtemp, rm, writeFile, copyFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(path.join(tmpdir(), 'pixelfind-promtool-'));
    try {
      await copyFile(path.join(RULES_DIR, 'indexing.rules.yml'), path.join(dir, 'indexing.rules.yml'));
      await writeFile(
        path.join(dir, 'wrong.test.yml'),
        [
          'rule_files: [indexing.rules.yml]',
          'evaluation_interval: 1m',
          'tests:',
          '  - interval: 1m',
          '    input_series:',
          `      - series: 'pixelfind_index_jobs_settled_total{outcome="dead"}'`,
          `        values: '0x5'`,
          '    alert_rule_test:',
          '      - eval_time: 5m',
          '        alertname: PixelfindIndexJobsDead',
          '        exp_alerts: [{ exp_labels: { severity: ticket } }]',
          '',
        ].join('\n'),
      );
      const { code, output } = await promtoolRun(['test', 'rules', 'wrong.test.yml'], dir);
      expect(output).toContain('FAILED');
      expect(code).not.toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
