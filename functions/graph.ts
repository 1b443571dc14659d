import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { json, nextLinkOf } from './http.js';

/*
 * Microsoft Graph's OData envelope for the Graph-shaped routes (functions/graph*.ts):
 * `@odata.context` and, on a page with more after it, `@odata.nextLink`, which the
 * Graph SDK's PageIterator follows.
 */

/** The service root: `<...>/graph/v1.0` of the request's URL. */
function serviceRoot(request: HttpRequest): string {
  const url = new URL(request.url);
  const at = url.pathname.indexOf('/graph/v1.0/');
  return `${url.origin}${url.pathname.slice(0, at + '/graph/v1.0'.length)}`;
}

export function graphContext(request: HttpRequest, fragment: string): string {
  return `${serviceRoot(request)}/$metadata#${fragment}`;
}

/**
 * A page with Graph's @odata.nextLink: the request's path with the query options the
 * listing parsed and the next $skiptoken; nothing else of the request's query is
 * copied (a function key passed as ?code= never lands in a link).
 */
export function graphPage<T>(request: HttpRequest, entitySet: string, listingQuery: object, result: { value: T[]; skipToken?: string }): HttpResponseInit {
  const body: Record<string, unknown> = { '@odata.context': graphContext(request, entitySet), value: result.value };
  if (result.skipToken) body['@odata.nextLink'] = nextLinkOf(request, listingQuery, result.skipToken);
  return json(200, body);
}
