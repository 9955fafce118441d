// What a redis-streams source's connections share: credentials and client name, and how a stream
// entry becomes a raw message. Used by the source, the tail's history read-back and the tail follower.
import type { RedisOptions } from 'ioredis';
import type { SourceConfig } from '../../config/schema.js';
import type { RawMessage } from '../../events/raw.js';
import { readSecretFile } from '../../util/secret.js';

/** An entry as ioredis' Buffer commands return it; fields is null for an entry deleted while pending. */
export type Entry = [id: Buffer, fields: Buffer[] | null];

/** Credentials of `cfg` and the client name `workflow-exporter:<name>` (as CLIENT LIST shows it). */
export function redisConnectOptions(cfg: Extract<SourceConfig, { kind: 'redis-streams' }>, name: string): RedisOptions {
  return { password: readSecretFile(cfg.passwordFile), connectionName: `workflow-exporter:${name}` };
}

/**
 * The entry's `field` (the JSON event) as bytes, or, when the producer wrote the event field by
 * field (XADD k * type X payload {...}), all its fields as an object; undefined for a deleted entry.
 */
export function entryToRaw(key: string, field: Buffer, transportId: string, fields: Entry[1]): RawMessage | undefined {
  if (!fields) return undefined;
  for (let i = 0; i < fields.length; i += 2) {
    // compared as bytes: no string per field of every entry
    if (fields[i].equals(field)) return { data: fields[i + 1], subject: key, transportId };
  }
  const value: Record<string, string> = {};
  for (let i = 0; i < fields.length; i += 2) {
    const f = fields[i].toString();
    if (f === '__proto__' || f === 'constructor' || f === 'prototype') continue;
    value[f] = fields[i + 1].toString();
  }
  return { value, subject: key, transportId };
}
