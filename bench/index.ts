import { readdirSync } from 'node:fs';
import path from 'node:path';

// `npm run bench [-- name]`: runs the exported run() of every bench/*.ts module in turn (or only those whose
// file name contains `name`).

async function main(): Promise<void> {
  const filter = process.argv[2];
  const files = readdirSync(__dirname)
    .filter((f) => f.endsWith('.ts') && f !== 'index.ts' && !f.endsWith('.d.ts'))
    .sort();
  let ran = 0;
  for (const file of files) {
    const name = path.basename(file, '.ts');
    if (filter && !name.includes(filter)) continue;
    const mod = (await import(path.join(__dirname, file))) as { run?: () => Promise<void> };
    if (typeof mod.run !== 'function') continue;
    console.log(`\n=== bench: ${name} ===`);
    const started = Date.now();
    await mod.run();
    console.log(`=== ${name} done in ${((Date.now() - started) / 1000).toFixed(1)} s ===`);
    ran++;
  }
  if (ran === 0) console.log(filter ? `no bench matches "${filter}"` : 'no benches found');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
