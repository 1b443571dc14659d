import { build } from 'esbuild';
import { cpSync, mkdirSync } from 'node:fs';
const stubs = (process.argv[2] || '').split(',').filter(Boolean);
await build({ entryPoints: { index: 'functions/index.ts' }, bundle: true, platform: 'node', target: 'node20', format: 'cjs', outdir: '/tmp/w22/exp/dist', external: ['@azure/functions-core'], minifyWhitespace: true, charset: 'ascii', logLevel: 'error',
  plugins: [{ name: 'x', setup(b) {
    b.onResolve({ filter: /\/lazy\/[\w-]+\.js$/ }, (a) => ({ path: a.path, external: true }));
    b.onResolve({ filter: /^@azure\/core-xml$/ }, () => ({ path: 'core-xml', namespace: 'stub' }));
    for (const s of stubs) b.onResolve({ filter: new RegExp('^' + s.replace(/[/.]/g, '\\$&') + '$') }, () => ({ path: s, namespace: 'stub' }));
    b.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({ contents: 'module.exports = new Proxy(function(){}, { get: () => function(){} });', loader: 'js' }));
  } }] });
