import { describe, expect, it } from 'vitest';
import { createTenantBody, tenantSettingsBody } from '../lib/schemas.js';
import { createTenant, updateTenant } from '../lib/tenants/tenants.js';
import { testRuntime, uniquePrefix } from './helpers.js';

describe('changing a tenant', () => {
  it('a PATCH that names only displayName keeps the domains, origins, redirect URIs and federation', async () => {
    const rt = await testRuntime();
    const domain = `${uniquePrefix()}.contoso.test`;
    const tenant = await createTenant(rt, createTenantBody.parse({
      displayName: 'Before', domains: [domain], allowedOrigins: ['https://app.contoso.test'],
      redirectUris: ['https://app.contoso.test/welcome'], googleFederation: true,
    }));
    const changed = await updateTenant(rt, tenant.id, tenantSettingsBody.parse({ displayName: 'After' }));
    expect(changed).toMatchObject({
      displayName: 'After', domains: [domain], allowedOrigins: ['https://app.contoso.test'],
      redirectUris: ['https://app.contoso.test/welcome'], googleFederation: true,
    });
  });

  it('a PATCH with no setting is refused', () => {
    expect(tenantSettingsBody.safeParse({}).success).toBe(false);
  });
});
