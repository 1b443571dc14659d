import { build } from 'esbuild';
const r = await build({ entryPoints: { index: 'functions/index.ts' }, bundle: true, platform: 'node', target: 'node20', format: 'cjs', write: false, metafile: true, outdir: '/tmp/metaout', external: ['@azure/functions-core'], minifyWhitespace: true, charset: 'ascii', logLevel: 'error',
  plugins: [{ name: 'x', setup(b) { b.onResolve({ filter: /\/lazy\/[\w-]+\.js$/ }, (a) => ({ path: a.path, external: true })); b.onResolve({ filter: /^(@azure\/core-xml|jsonwebtoken|https-proxy-agent|http-proxy-agent)$/ }, (a) => ({ path: a.path, external: true })); } }] });
const out = Object.values(r.metafile.outputs).find((o) => o.entryPoint);
const by = {}; const detail = process.argv[2];
for (const [file, info] of Object.entries(out.inputs)) {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  const key = detail && file.includes(detail) ? file : m ? m[1] : file.split('/').slice(0, 2).join('/');
  by[key] = (by[key] ?? 0) + info.bytesInOutput;
}
console.log(Object.entries(by).sort((a, b) => b[1] - a[1]).slice(0, 40).map(([k, v]) => `${(v / 1024).toFixed(1).padStart(6)} KB ${k}`).join('\n'));
