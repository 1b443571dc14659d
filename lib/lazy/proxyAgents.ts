// https-proxy-agent and http-proxy-agent (with agent-base and debug): the Azure SDK's
// HTTP pipeline makes one only when a proxy is configured (HTTPS_PROXY, HTTP_PROXY), yet
// imports them at load. In the app bundle, scripts/build.mjs puts stand-ins whose
// constructors load this bundle the first time an agent is made.
export { HttpsProxyAgent } from 'https-proxy-agent';
export { HttpProxyAgent } from 'http-proxy-agent';
