// Secrets kept in files (passwords, tokens): read where a connection is made, never inlined in config.
import { readFileSync } from 'node:fs';

/** The file's content without the trailing newline an editor leaves; read on every connect, so a rotated secret is picked up. */
export function readSecretFile(path: string | undefined): string | undefined {
  return path ? readFileSync(path, 'utf8').trim() : undefined;
}
