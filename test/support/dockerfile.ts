import { readFileSync } from 'node:fs';
import path from 'node:path';

// The repository's Dockerfile read as its instructions, for tests that check it or reproduce its runtime stage.

export const DOCKERFILE = path.resolve(__dirname, '../../Dockerfile');

export interface Stage {
  /** The FROM image, e.g. `node:24-slim`. */
  image: string;
  /** Its instructions after FROM, continuation lines joined and comments dropped. */
  instructions: string[];
}

/** Dockerfile stages by name. */
export function dockerfileStages(text = readFileSync(DOCKERFILE, 'utf8')): Map<string, Stage> {
  const instructions = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const byStage = new Map<string, Stage>();
  let current: Stage | undefined;
  for (const instruction of instructions) {
    const from = instruction.match(/^FROM\s+(\S+)\s+AS\s+(\S+)/i);
    if (from) byStage.set(from[2], (current = { image: from[1], instructions: [] }));
    else current?.instructions.push(instruction);
  }
  return byStage;
}

/** The variables a stage's ENV instructions set (`ENV A=1 B=2`; unquoted values, as the Dockerfile writes them). */
export function stageEnv(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const instruction of stage.instructions) {
    const m = instruction.match(/^ENV\s+(.*)$/i);
    if (!m) continue;
    for (const pair of m[1].trim().split(/\s+/)) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new Error(`ENV without NAME=value: ${instruction}`);
      env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return env;
}

/** The runtime stage's `WORKDIR` (where its relative COPY destinations land). */
export function stageWorkdir(stage: Stage): string {
  const workdir = stage.instructions.find((i) => /^WORKDIR\s/i.test(i));
  if (!workdir) throw new Error('the stage has no WORKDIR');
  return workdir.split(/\s+/)[1];
}
