// `workflow-exporter generate`: writes dashboards, rules, alert routing, compose and k8s manifests,
// with thresholds from the `ascode` section of a config file when one is given.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../errors.js';
import { formatIssues, readConfigFile } from '../config/load.js';
import { writeFiles } from './files.js';
import { generate } from './generate.js';
import { ascodeSchema, type AscodeSettings } from '../config/ascode.js';

/** Reads only the `ascode` section, so a config for another machine (unreachable brokers) still works. */
export function settingsFromFile(file: string | undefined): AscodeSettings {
  const raw = file ? readConfigFile(file) : {};
  const parsed = ascodeSchema.safeParse(raw.ascode ?? {});
  if (!parsed.success) {
    const issues = formatIssues(parsed.error).map((i) => ({ ...i, path: `ascode.${i.path}` }));
    throw new ConfigError(`${file}: invalid ascode section: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
  }
  return parsed.data;
}

export async function generateCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { out: { type: 'string', short: 'o', default: '.' }, config: { type: 'string', short: 'c' } },
    allowPositionals: false,
  });
  const out = resolve(values.out!);
  const files = generate(settingsFromFile(values.config));
  const { written, removed } = writeFiles(out, files);
  process.stderr.write(`generate: wrote ${written} files under ${out}${removed.length ? `, removed ${removed.length} stale: ${removed.join(', ')}` : ''}\n`);
}
