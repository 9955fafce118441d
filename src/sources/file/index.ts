// The file kind: a file of events read once, for `replay` (see ../types.ts).
import type { SourceDescriptor } from '../types.js';
import { FileSource } from './file.js';

export const file: SourceDescriptor<'file', FileSource> = {
  defaultName: 'file',
  create: (name, config) => new FileSource(name, config.path, config.batch, config.progress),
  acks: false,
};
