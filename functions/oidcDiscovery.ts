import { openIdConfiguration } from '../lib/oidc/discovery.js';
import { runtime } from '../lib/runtime.js';
import { tenantParams } from '../lib/schemas.js';
import { endpoint, json, registerHttp } from './http.js';

/*
 * A route segment starting with a dot is an ordinary literal to the Functions host: it
 * maps each route with WebJobsRouteBuilder.MapFunctionRoute
 * (Azure/azure-functions-host src/WebJobs.Script.WebHost/WebScriptHostHttpRoutesManager.cs),
 * whose template goes through ASP.NET Core's RoutePatternParser, and its IsValidLiteral
 * refuses only '?' in a literal (dotnet/aspnetcore src/Http/Routing/src/Patterns/RoutePatternParser.cs).
 * The local host matches literals the same way (test/oidc.test.ts requests it).
 */
export default registerHttp('oidcDiscovery', {
  route: '{tenant}/.well-known/openid-configuration',
  methods: ['GET', 'HEAD'],
  authLevel: 'anonymous',
  handler: endpoint({ params: tenantParams, cacheControl: 'public, max-age=300' }, async ({ params }) =>
    // Public metadata, read by SPAs on any origin (as Entra's is).
    json(200, await openIdConfiguration(await runtime(), params.tenant), { 'Access-Control-Allow-Origin': '*' }),
  ),
});
