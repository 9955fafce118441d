// `generate`: writes dashboards, rules, alert routing, compose and k8s manifests (see issue: observability as code).
export async function generateCommand(_args: string[]): Promise<void> {
  process.stderr.write('generate: not built yet\n');
  process.exit(1);
}
