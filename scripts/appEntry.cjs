'use strict';
/*
 * dist/index.js, the app entry the Functions host loads (package.json "main"); scripts/build.mjs
 * copies this file there. It runs the app bundle, dist/app.js, with the V8 code cache the build
 * wrote beside it (made by the Node.js that ran the build): compiling the bundle from source is
 * the largest part of a cold start, and the cache skips it and the compiling of every function the
 * load runs. V8 takes the cache only if the same V8 version with the same flags made it for this
 * very source; otherwise the bundle compiles from source, as a plain require would. The bundle
 * runs as a module of this one: same folder, same require (its lazy bundles are ./lazy/*.js),
 * same exports.
 */
const { readFileSync } = require('node:fs');
const { wrap } = require('node:module');
const { join } = require('node:path');
const { Script } = require('node:vm');
const { crc32 } = require('node:zlib');

const file = join(__dirname, 'app.js');
const source = readFileSync(file);
/**
 * app.v8-<V8 version>.cache: named by the V8 that made it (without Node.js's suffix, which V8
 * does not compare), so another V8 does not read half a megabyte to be refused. It holds the
 * CRC-32 of the app.js it was made for (4 bytes, big-endian), then V8's data: V8 itself compares
 * only the source's length, so the checksum keeps a cache from being used with another bundle
 * of the same length. Node.js releases before 20.15 have no zlib.crc32: they compile from source.
 */
let cachedData;
try {
  const cache = readFileSync(join(__dirname, `app.v8-${process.versions.v8.replace(/-.*/, '')}.cache`));
  if (typeof crc32 === 'function' && cache.length > 4 && cache.readUInt32BE(0) === crc32(source)) cachedData = cache.subarray(4);
} catch {
  // No cache shipped: compile from source.
}
const script = new Script(wrap(source.toString('utf8')), { filename: file, cachedData });
script.runInThisContext().call(module.exports, module.exports, require, module, file, __dirname);
/** "accepted", or "none" (no cache for this bundle, or V8 refused it: made by another V8 or with other flags). The build test reads it. */
Object.defineProperty(module.exports, 'codeCache', { value: cachedData !== undefined && !script.cachedDataRejected ? 'accepted' : 'none' });
