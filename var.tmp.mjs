import { build } from 'esbuild';
import { readdirSync } from 'node:fs';
const variants = { plain: {}, ws: { minifyWhitespace: true }, wssyn: { minifyWhitespace: true, minifySyntax: true }, full: { minify: true } };
for (const [name, opts] of Object.entries(variants)) {
  await build({ bundle: true, platform: 'node', target: 'node20', format: 'cjs', external: ['@azure/functions-core'], entryPoints: { index: 'functions/index.ts' }, outdir: `/tmp/var/${name}`, logLevel: 'error', ...opts,
  plugins: [{ name: 'x', setup(b) { b.onResolve({ filter: /\/lazy\/[\w-]+\.js$/ }, (a) => ({ path: '/work/main/dist/lazy/' + a.path.split('/').pop(), external: true })); } }] });
}
