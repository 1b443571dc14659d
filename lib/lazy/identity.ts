// @azure/identity with MSAL (about 600 KiB bundled): only an app that reaches Table
// Storage by TABLES_ENDPOINT needs it, and only when it first asks for a token.
export { DefaultAzureCredential } from '@azure/identity';
