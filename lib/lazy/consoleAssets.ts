/** One file of the operator console: its text, and the same bytes gzipped (base64). */
export interface ConsoleAsset {
  contentType: string;
  /** Content-hashed name: cached for a year. */
  immutable: boolean;
  text: string;
  gzip: string;
}

/**
 * The console's built files by name. scripts/build.mjs replaces this module with the
 * files it has just built from web/console, so they travel in the package as the lazy
 * bundle dist/lazy/consoleAssets.js, read on the console's first request and not at
 * every cold start. Run from source (the test runner importing functions/ directly),
 * the console is empty.
 */
export const consoleAssets: Record<string, ConsoleAsset> = {};
