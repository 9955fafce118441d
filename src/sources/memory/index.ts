// The memory kind: batches pushed in-process, by tests and embedders (see ../types.ts).
import type { SourceDescriptor } from '../types.js';
import { MemorySource } from './memory.js';

export const memory: SourceDescriptor<'memory', MemorySource> = {
  defaultName: 'memory',
  create: (name) => new MemorySource(name),
  acks: false,
};
