// The mail templates moved to lib/mail/templates.ts; this name stays for existing imports.
export * from './mail/templates.js';
