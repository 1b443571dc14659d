// jsonwebtoken (with jws, jwa and semver, which it runs at load to probe Node's key
// support): only signing and verifying tokens need it, never a cold start. In the app
// bundle, scripts/build.mjs puts a stand-in for 'jsonwebtoken' whose functions load this
// bundle the first time one is called (synchronously: sign and verify are synchronous).
export { decode, JsonWebTokenError, NotBeforeError, sign, TokenExpiredError, verify } from 'jsonwebtoken';
