// Builds the dashboard page into dist/web (esbuild JS API; no CDN at run time): app.js bundles web/src/main.ts with
// lightweight-charts; index.html and styles.css are copied. Usage: node web/build.mjs [--dev] [--watch]
import { build, context } from 'esbuild';
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'dist', 'web');
const dev = process.argv.includes('--dev');
const watch = process.argv.includes('--watch');

const options = {
  entryPoints: [join(here, 'src', 'main.ts')],
  outfile: join(out, 'app.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['chrome110', 'firefox115', 'safari16'],
  minify: !dev,
  sourcemap: true,
  legalComments: 'linked',
  logLevel: 'warning',
};

await mkdir(out, { recursive: true });
await Promise.all(['index.html', 'styles.css'].map((f) => copyFile(join(here, f), join(out, f))));
if (watch) {
  const ctx = await context(options);
  await ctx.watch();
  console.error(`watching web/src → ${out}`);
} else {
  const r = await build({ ...options, metafile: true });
  const bytes = Object.values(r.metafile.outputs).reduce((s, o) => s + o.bytes, 0);
  console.error(`built ${out} (${Math.round(bytes / 1024)} KiB)`);
}
