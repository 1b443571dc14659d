import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEPLOYMENT_SETTINGS, loadConfig, settingsSchema } from '../lib/config.js';
import { generateCodePepper, generateSigningKeys } from '../lib/signin/keys.js';
import { METRICS } from '../lib/telemetry/metrics.js';
import { at, bicepFiles, Expression, readBicep, syntaxProblems, type BicepValue, type Resource } from './bicep.js';

const REPO = resolve(__dirname, '..');
const INFRA = join(REPO, 'infra');
const files = bicepFiles(INFRA).map((file) => readBicep(file, INFRA));
const main = files.find((file) => file.file === 'main.bicep')!;
const resources = files.flatMap((file) => file.resources).filter((resource) => !resource.existing);

/**
 * App settings the Azure platform reads itself, not guestpass: the only names main.bicep
 * may set besides the schema's.
 */
const PLATFORM_SETTINGS: Record<string, string> = {
  AzureWebJobsStorage__accountName: "the Functions host's storage (timer leases, host keys), reached by identity instead of a connection string",
  AzureWebJobsStorage__credential: "'managedidentity': the host signs in to that storage with a managed identity",
  AzureWebJobsStorage__clientId: 'which managed identity: the user-assigned one',
  APPLICATIONINSIGHTS_CONNECTION_STRING: 'where the host and worker send telemetry',
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Entra ID ingestion as the identity (local auth is off on the component)',
};

/** Values to stand in for deployment-time expressions when main.bicep's settings are loaded as the app would load them. */
const SAMPLE_VALUES: Record<string, string> = {
  TABLES_ENDPOINT: 'https://stguestpasssample.table.core.windows.net/',
  AzureWebJobsStorage__accountName: 'stguestpasssample',
  AzureWebJobsStorage__clientId: '00000000-0000-0000-0000-000000000001',
  MAIL_QUEUE_NAME: 'send-mail',
  ACS_EVENTS_QUEUE_NAME: 'acs-delivery-reports',
  AZURE_CLIENT_ID: '00000000-0000-0000-0000-000000000001',
  PUBLIC_BASE_URL: 'https://func-guestpass-sample.azurewebsites.net',
  EMAIL_FROM: 'guestpass@contoso.com',
  EMAIL_FROM_NAME: 'guestpass',
  CODE_PEPPER: generateCodePepper(),
  SIGNING_KEYS: generateSigningKeys(),
  SENDGRID_API_KEY: 'SG.sample-key',
  OPERATOR_KEY: generateCodePepper(),
  EMAIL_TRANSPORT: 'acs',
  ACS_ENDPOINT: 'https://acs-guestpass-sample.europe.communication.azure.com',
  MAIL_DAILY_CAP_PER_TENANT: '5000',
  APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=00000000-0000-0000-0000-000000000002;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/',
  ACS_EVENTS_SECRET: generateCodePepper(),
  EVENT_GRID_TOPIC_ENDPOINT: 'https://egt-guestpass-sample.westeurope-1.eventgrid.azure.net/api/events',
  // As SendGrid shows it: the base64 DER of an EC P-256 public key.
  SENDGRID_WEBHOOK_PUBLIC_KEY: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
};

function sample(setting: string): string {
  const value = SAMPLE_VALUES[setting];
  if (value === undefined) throw new Error(`give ${setting} a sample value in SAMPLE_VALUES (test/infra.test.ts)`);
  return value;
}

/**
 * The settings loadConfig refuses to start without outside development, found by
 * asking it: start from nothing but Production and add each setting it names.
 */
function requiredOutsideDevelopment(): string[] {
  const env: Record<string, string> = { AZURE_FUNCTIONS_ENVIRONMENT: 'Production' };
  const required: string[] = [];
  for (;;) {
    try {
      loadConfig(env, () => undefined);
      return required;
    } catch (error) {
      if (!(error instanceof ConfigError) || required.includes(error.setting)) throw error;
      required.push(error.setting);
      env[error.setting] = sample(error.setting);
    }
  }
}

const appSettings = main.vars.get('appSettings') as Record<string, BicepValue>;
const text = (value: BicepValue | undefined) => (value instanceof Expression ? value.text : value);
const ofType = (type: string) => resources.filter((resource) => resource.type === type);
const one = (type: string): Resource => {
  const found = ofType(type);
  expect(found, `exactly one ${type}`).toHaveLength(1);
  return found[0]!;
};

describe('infra/*.bicep', () => {
  it('parses without a syntax error in any file', () => {
    expect(files.length).toBeGreaterThanOrEqual(2);
    expect(Object.fromEntries(files.map((file) => [file.file, file.problems]))).toEqual(Object.fromEntries(files.map((file) => [file.file, []])));
  });

  it('would catch a syntax error (the check is not vacuous)', () => {
    expect(syntaxProblems("resource x 'Microsoft.Web/sites@2024-04-01' = {\n  name: \n}\n")).not.toEqual([]);
    expect(syntaxProblems("param name string = 'unterminated\n")).not.toEqual([]);
  });

  it('calls only modules that exist, passing every parameter they require and none they lack', () => {
    for (const file of files) {
      for (const [symbol, module] of file.modules) {
        const path = join(dirname(join(INFRA, file.file)), module.path);
        expect(existsSync(path), `${file.file}: module ${symbol} → ${module.path}`).toBe(true);
        const target = files.find((candidate) => join(INFRA, candidate.file) === path)!;
        const passed = Object.keys((at(module.body, 'params') ?? {}) as object);
        const required = [...target.params].filter(([, param]) => param.default === undefined).map(([name]) => name);
        expect(passed.filter((name) => !target.params.has(name)), `${symbol}: unknown parameters`).toEqual([]);
        expect(required.filter((name) => !passed.includes(name)), `${symbol}: missing parameters`).toEqual([]);
      }
    }
  });
});

describe('main.bicep app settings against the settings schema (lib/config.ts)', () => {
  it('sets every setting the app requires outside development, and every deployment setting', () => {
    const required = requiredOutsideDevelopment();
    expect(required).toEqual(expect.arrayContaining(['CODE_PEPPER', 'SIGNING_KEYS', 'SENDGRID_API_KEY', 'TABLES_ENDPOINT']));
    const missing = [...new Set([...required, ...DEPLOYMENT_SETTINGS])].filter((setting) => !(setting in appSettings));
    expect(missing).toEqual([]);
  });

  it('sets nothing the schema does not know, besides the platform settings it explains', () => {
    const unknown = Object.keys(appSettings).filter((name) => !(name in settingsSchema.shape) && !(name in PLATFORM_SETTINGS));
    expect(unknown).toEqual([]);
    // Flex Consumption rejects these: functionAppConfig.runtime takes their place.
    expect(Object.keys(appSettings)).not.toContain('FUNCTIONS_WORKER_RUNTIME');
    expect(Object.keys(appSettings)).not.toContain('FUNCTIONS_EXTENSION_VERSION');
  });

  it('gives values the app accepts: it starts in Production on them', () => {
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(appSettings)) {
      if (!(name in settingsSchema.shape)) continue;
      if (typeof value === 'string') {
        const parsed = settingsSchema.shape[name as keyof typeof settingsSchema.shape].safeParse(value);
        expect(parsed.success, `${name}: ${JSON.stringify(value)}`).toBe(true);
        env[name] = value;
      } else {
        env[name] = sample(name);
      }
    }
    const config = loadConfig({ AZURE_FUNCTIONS_ENVIRONMENT: 'Production', ...env }, () => undefined);
    expect(config.development).toBe(false);
    expect(config.email).toMatchObject({ transport: 'acs', endpoint: SAMPLE_VALUES.ACS_ENDPOINT, managedIdentityClientId: SAMPLE_VALUES.AZURE_CLIENT_ID });
    expect(config.storage.endpoint).toBe(SAMPLE_VALUES.TABLES_ENDPOINT);
  });

  it('stops the app, naming the setting, when the platform could not resolve a Key Vault reference', () => {
    // Unresolved, the platform passes the reference text itself: it must never become the pepper.
    const env = Object.fromEntries(requiredOutsideDevelopment().map((setting) => [setting, sample(setting)]));
    const unresolved = '@Microsoft.KeyVault(VaultName=kv-gp-sample;SecretName=code-pepper)';
    expect(() => loadConfig({ AZURE_FUNCTIONS_ENVIRONMENT: 'Production', ...env, CODE_PEPPER: unresolved }, () => undefined)).toThrow(
      /^Setting CODE_PEPPER is a Key Vault reference the platform could not resolve/,
    );
  });

  it('takes the five secrets from Key Vault references resolved as the user-assigned identity', () => {
    const keyVaultModule = main.modules.get('keyVault')!;
    const secretNames = main.vars.get('secretNames') as Record<string, string>;
    const stored = Object.keys(at(keyVaultModule.body, 'params', 'secretValues') as object);
    expect(stored.sort()).toEqual(Object.keys(secretNames).map((key) => `'\${secretNames.${key}}'`).sort());
    for (const [setting, key] of [['CODE_PEPPER', 'codePepper'], ['SIGNING_KEYS', 'signingKeys'], ['OPERATOR_KEY', 'operatorKey']] as const) {
      expect(text(appSettings[setting]), setting).toBe(`'\${keyVaultReference}\${secretNames.${key}})'`);
    }
    // Only when mail goes through SendGrid: unset, a reference to a secret never stored would stop the app.
    expect(text(appSettings.SENDGRID_API_KEY)).toBe(`emailTransport == 'sendgrid' ? '\${keyVaultReference}\${secretNames.sendGridApiKey})' : ''`);
    // Likewise ACS delivery reports' secret, only with ACS.
    expect(text(appSettings.ACS_EVENTS_SECRET)).toBe(`emailTransport == 'acs' ? '\${keyVaultReference}\${secretNames.acsEventsSecret})' : ''`);
    expect(text(main.vars.get('keyVaultReference'))).toBe("'@Microsoft.KeyVault(VaultName=${keyVault.outputs.name};SecretName='");
    const site = one('Microsoft.Web/sites');
    expect(text(at(site.body, 'properties', 'keyVaultReferenceIdentity'))).toBe('identityId');
    expect(at(site.body, 'identity', 'type')).toBe('UserAssigned');
    // Never a secret in plain text: only references reach the app settings.
    for (const param of ['codePepper', 'signingKeys', 'sendGridApiKey', 'operatorKey', 'acsEventsSecret']) {
      expect(main.params.get(param)!.decorators).toContain('@secure()');
      expect(Object.values(appSettings).map(text).join('\n')).not.toMatch(new RegExp(`(^|[^.\\w])${param}\\b`));
    }
  });

  it('points host storage and the guestpass tables at the identity, not at keys', () => {
    expect(text(appSettings.AzureWebJobsStorage__credential)).toBe('managedidentity');
    expect(text(appSettings.AzureWebJobsStorage__clientId)).toBe('identity.properties.clientId');
    expect(text(appSettings.AZURE_CLIENT_ID)).toBe('identity.properties.clientId');
    expect(text(appSettings.TABLES_ENDPOINT)).toBe('storage.outputs.tableEndpoint');
    expect(Object.keys(appSettings)).not.toContain('TABLES_CONNECTION_STRING');
    expect(Object.keys(appSettings)).not.toContain('AzureWebJobsStorage');
  });
});

describe('the resources and roles of the deployment', () => {
  it('declares a storage account with shared-key access off, its Table service and a deployment container', () => {
    const account = one('Microsoft.Storage/storageAccounts');
    expect(at(account.body, 'properties', 'allowSharedKeyAccess')).toBe(false);
    expect(at(account.body, 'properties', 'allowBlobPublicAccess')).toBe(false);
    expect(at(account.body, 'properties', 'minimumTlsVersion')).toBe('TLS1_2');
    one('Microsoft.Storage/storageAccounts/tableServices');
    one('Microsoft.Storage/storageAccounts/blobServices/containers');
  });

  it('declares a Flex Consumption plan and a Node.js function app deploying from the container as the identity', () => {
    const plan = one('Microsoft.Web/serverfarms');
    expect(at(plan.body, 'sku')).toEqual({ name: 'FC1', tier: 'FlexConsumption' });
    const site = one('Microsoft.Web/sites');
    expect(site.apiVersion >= '2023-12-01').toBe(true); // functionAppConfig
    expect(at(site.body, 'kind')).toBe('functionapp,linux');
    expect(at(site.body, 'properties', 'httpsOnly')).toBe(true);
    const config = at(site.body, 'properties', 'functionAppConfig');
    expect(at(config, 'runtime', 'name')).toBe('node');
    expect(text(at(config, 'runtime', 'version'))).toBe('nodeVersion');
    const nodeVersion = main.params.get('nodeVersion')!;
    expect(Number(nodeVersion.default)).toBeGreaterThanOrEqual(22);
    expect(Number(nodeVersion.default) % 2).toBe(0); // an even major: an LTS line
    expect(at(config, 'deployment', 'storage', 'type')).toBe('blobContainer');
    expect(at(config, 'deployment', 'storage', 'authentication')).toEqual({
      type: 'UserAssignedIdentity',
      userAssignedIdentityResourceId: new Expression('identityId'),
    });
    const settings = one('Microsoft.Web/sites/config');
    expect(at(settings.body, 'name')).toBe('appsettings');
    expect(text(at(main.modules.get('functionApp')!.body, 'params', 'appSettings'))).toBe('appSettings');
  });

  it('declares the user-assigned identity, a Key Vault with RBAC authorisation, Log Analytics and Application Insights', () => {
    one('Microsoft.ManagedIdentity/userAssignedIdentities');
    const vault = one('Microsoft.KeyVault/vaults');
    expect(at(vault.body, 'properties', 'enableRbacAuthorization')).toBe(true);
    expect(at(vault.body, 'properties', 'enableSoftDelete')).toBe(true);
    expect(one('Microsoft.KeyVault/vaults/secrets').loop).toBe(true);
    const workspace = one('Microsoft.OperationalInsights/workspaces');
    const insights = one('Microsoft.Insights/components');
    expect(text(at(insights.body, 'properties', 'WorkspaceResourceId'))).toBe(`${workspace.symbol}.id`);
    expect(at(insights.body, 'properties', 'DisableLocalAuth')).toBe(true);
    expect(text(appSettings.APPLICATIONINSIGHTS_CONNECTION_STRING)).toBe('monitoring.outputs.connectionString');
  });

  it('grants the identity each role on the one resource it is for', () => {
    const BUILT_IN_ROLES: Record<string, string> = {
      '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3': 'Storage Table Data Contributor',
      'b7e6dc6d-f1e8-4753-8033-0f276bb0955b': 'Storage Blob Data Owner',
      '974c5e8b-45b9-4653-ba55-5f855dd0fb88': 'Storage Queue Data Contributor',
      'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a': 'Storage Queue Data Message Sender',
      '4633458b-17de-408a-b874-0445c86b69e6': 'Key Vault Secrets User',
      'b86a8fe4-44ce-4948-aee5-eccb2c155cd7': 'Key Vault Secrets Officer',
      '3913510d-42f4-4e42-8a64-420c390055eb': 'Monitoring Metrics Publisher',
      // Microsoft's built-in roles list; the role ACS Email names for sending with an Entra identity.
      '09976791-48a7-449e-bb21-39d1a415f350': 'Communication and Email Service Owner',
      'd5a91429-5739-47e2-a06b-3470a27159e7': 'EventGrid Data Sender',
    };
    const grants: string[] = [];
    for (const file of files) {
      const roleIds = (file.vars.get('roleIds') ?? {}) as Record<string, string>;
      const symbols = new Map(file.resources.map((resource) => [resource.symbol, resource.type]));
      for (const assignment of file.resources.filter((resource) => resource.type === 'Microsoft.Authorization/roleAssignments')) {
        const definition = text(at(assignment.body, 'properties', 'roleDefinitionId')) as string;
        const key = /roleIds\.(\w+)\)$/.exec(definition)?.[1];
        const role = BUILT_IN_ROLES[roleIds[key ?? ''] ?? ''] ?? `unknown role ${definition}`;
        const scope = symbols.get(text(at(assignment.body, 'scope')) as string);
        const principal = text(at(assignment.body, 'properties', 'principalId'));
        grants.push(`${principal}: ${role} on ${scope}`);
      }
    }
    expect(grants.sort()).toEqual(
      [
        'appPrincipalId: Storage Table Data Contributor on Microsoft.Storage/storageAccounts',
        'appPrincipalId: Storage Blob Data Owner on Microsoft.Storage/storageAccounts',
        'systemTopic.identity.principalId: Storage Queue Data Message Sender on Microsoft.Storage/storageAccounts',
        'appPrincipalId: Storage Queue Data Contributor on Microsoft.Storage/storageAccounts',
        'appPrincipalId: Key Vault Secrets User on Microsoft.KeyVault/vaults',
        'appPrincipalId: Monitoring Metrics Publisher on Microsoft.Insights/components',
        'appPrincipalId: Communication and Email Service Owner on Microsoft.Communication/communicationServices',
        'appPrincipalId: EventGrid Data Sender on Microsoft.EventGrid/topics',
        'deployerPrincipalId: Key Vault Secrets Officer on Microsoft.KeyVault/vaults',
      ].sort(),
    );
    expect(text(at(main.modules.get('roles')!.body, 'params', 'appPrincipalId'))).toBe('identity.properties.principalId');
    // The app starts only once its roles exist (the topic's with it, when there is one).
    expect(at(main.modules.get('functionApp')!.body, 'dependsOn')).toEqual([new Expression('roles'), new Expression('eventGrid')]);
  });

  it('declares Communication Services linked to the Azure-managed domain, and to an own domain once it is verified, and the app sends through it as the identity from the linked domain', () => {
    const email = one('Microsoft.Communication/emailServices');
    const domains = ofType('Microsoft.Communication/emailServices/domains');
    const managed = domains.find((domain) => !domain.conditional)!;
    const own = domains.find((domain) => domain.conditional)!;
    expect(domains).toHaveLength(2);
    for (const domain of domains) {
      expect(text(at(domain.body, 'parent'))).toBe(email.symbol);
      expect(at(domain.body, 'properties', 'userEngagementTracking')).toBe('Disabled');
    }
    expect(at(managed.body, 'name')).toBe('AzureManagedDomain');
    expect(at(managed.body, 'properties', 'domainManagement')).toBe('AzureManaged');
    expect(at(own.body, 'properties', 'domainManagement')).toBe('CustomerManaged');
    const communication = files.find((file) => file.file === 'modules/communication.bicep')!;
    expect(text(communication.vars.get('useCustomDomain'))).toBe('!empty(customDomain) && customDomainVerified');
    const acs = one('Microsoft.Communication/communicationServices');
    expect(text(at(acs.body, 'properties', 'linkedDomains'))).toBe(`useCustomDomain ? [${managed.symbol}.id, ${own.symbol}.id] : [${managed.symbol}.id]`);
    // The sender is on the domain that is linked: ACS refuses any other ("5.1.7 The specified sender domain has not been linked").
    expect(text(communication.outputs.get('senderDomain'))).toBe(`useCustomDomain ? customDomain : ${managed.symbol}.properties.mailFromSenderDomain`);
    expect(text(main.vars.get('senderAddress'))).toBe("emailTransport == 'acs' ? 'DoNotReply@${communication.outputs.senderDomain}' : emailFrom");
    expect(text(appSettings.EMAIL_FROM)).toBe('senderAddress');
    expect(text(main.outputs.get('GUESTPASS_EMAIL_SENDER'))).toBe('senderAddress');
    for (const resource of [email, ...domains, acs]) expect(at(resource.body, 'location')).toBe('global');
    expect(text(appSettings.ACS_ENDPOINT)).toBe('communication.outputs.endpoint');
    expect(text(appSettings.EMAIL_TRANSPORT)).toBe('emailTransport');
    expect(main.params.get('emailTransport')!.default).toBe('acs');
    expect(Object.keys(appSettings)).not.toContain('ACS_CONNECTION_STRING');
    expect(text(at(main.modules.get('roles')!.body, 'params', 'communicationServiceName'))).toBe('communication.outputs.name');
  });

  /*
   * Properties as Azure/bicep-types-az lists them (generated/eventgrid/microsoft.eventgrid/2022-06-15/types.md:
   * SystemTopicProperties, EventSubscriptionProperties, DeliveryWithResourceIdentity,
   * StorageQueueEventSubscriptionDestinationProperties).
   */
  const SYSTEM_TOPIC_PROPERTIES = ['source', 'topicType'];
  const EVENT_SUBSCRIPTION_PROPERTIES = ['deadLetterDestination', 'deadLetterWithResourceIdentity', 'deliveryWithResourceIdentity', 'destination', 'eventDeliverySchema', 'expirationTimeUtc', 'filter', 'labels', 'retryPolicy'];
  const STORAGE_QUEUE_DESTINATION_PROPERTIES = ['queueMessageTimeToLiveInSeconds', 'queueName', 'resourceId'];

  it('subscribes the app to ACS delivery reports through Event Grid into a queue its trigger reads, with the topic identity allowed only to add messages', () => {
    const module = main.modules.get('acsEvents')!;
    expect(module.conditional).toBe(true);
    expect(text(at(module.body, 'params', 'queueName'))).toBe('acsEventsQueueName');
    expect(text(appSettings.ACS_EVENTS_QUEUE_NAME)).toBe('acsEventsQueueName');
    expect(main.vars.get('acsEventsQueueName')).toBe('acs-delivery-reports');

    const topic = one('Microsoft.EventGrid/systemTopics');
    expect(topic.apiVersion).toBe('2022-06-15');
    expect(Object.keys(at(topic.body, 'properties') as object).filter((p) => !SYSTEM_TOPIC_PROPERTIES.includes(p))).toEqual([]);
    expect(at(topic.body, 'properties', 'topicType')).toBe('Microsoft.Communication.CommunicationServices');
    expect(text(at(topic.body, 'properties', 'source'))).toBe('communication.id');
    expect(at(topic.body, 'identity', 'type')).toBe('SystemAssigned');

    const subscription = one('Microsoft.EventGrid/systemTopics/eventSubscriptions');
    expect(subscription.apiVersion).toBe('2022-06-15');
    expect(Object.keys(at(subscription.body, 'properties') as object).filter((p) => !EVENT_SUBSCRIPTION_PROPERTIES.includes(p))).toEqual([]);
    expect(at(subscription.body, 'properties', 'deliveryWithResourceIdentity', 'identity', 'type')).toBe('SystemAssigned');
    expect(at(subscription.body, 'properties', 'deliveryWithResourceIdentity', 'destination', 'endpointType')).toBe('StorageQueue');
    const destination = at(subscription.body, 'properties', 'deliveryWithResourceIdentity', 'destination', 'properties') as Record<string, BicepValue>;
    expect(Object.keys(destination).filter((p) => !STORAGE_QUEUE_DESTINATION_PROPERTIES.includes(p))).toEqual([]);
    expect(text(destination.queueName)).toBe('queueName');
    expect(at(subscription.body, 'properties', 'filter', 'includedEventTypes')).toEqual(['Microsoft.Communication.EmailDeliveryReportReceived']);
    expect(at(subscription.body, 'properties', 'eventDeliverySchema')).toBe('EventGridSchema');
    // The queue exists before Event Grid is told to deliver there.
    expect(one('Microsoft.Storage/storageAccounts/queueServices/queues')).toBeDefined();
  });

  /*
   * TopicProperties as Azure/bicep-types-az lists them for Microsoft.EventGrid/topics@2022-06-15
   * (generated/eventgrid/microsoft.eventgrid/2022-06-15/types.md), the writable ones.
   */
  const TOPIC_PROPERTIES = ['dataResidencyBoundary', 'disableLocalAuth', 'inboundIpRules', 'inputSchema', 'inputSchemaMapping', 'publicNetworkAccess'];

  it('optionally provisions an Event Grid custom topic taking CloudEvents 1.0, published to by the identity alone, its endpoint an app setting', () => {
    const param = main.params.get('eventGridTopic')!;
    expect(param.default).toBe(false);
    const module = main.modules.get('eventGrid')!;
    expect(module.conditional).toBe(true);
    expect(text(at(module.body, 'params', 'appPrincipalId'))).toBe('identity.properties.principalId');

    const topic = one('Microsoft.EventGrid/topics');
    expect(topic.apiVersion).toBe('2022-06-15');
    expect(Object.keys(at(topic.body, 'properties') as object).filter((p) => !TOPIC_PROPERTIES.includes(p))).toEqual([]);
    expect(at(topic.body, 'properties', 'inputSchema')).toBe('CloudEventSchemaV1_0');
    // No key can publish: the identity's role is the only way in.
    expect(at(topic.body, 'properties', 'disableLocalAuth')).toBe(true);
    expect(text(at(topic.body, 'location'))).toBe('location');

    const eventGridFile = files.find((file) => file.file === 'modules/eventGrid.bicep')!;
    expect(text(eventGridFile.outputs.get('endpoint'))).toBe(`${topic.symbol}.properties.endpoint`);
    expect(text(appSettings.EVENT_GRID_TOPIC_ENDPOINT)).toBe("eventGridTopic ? eventGrid!.outputs.endpoint : ''");
    expect(Object.keys(appSettings)).not.toContain('EVENT_GRID_TOPIC_KEY');
    // The endpoint as Azure gives it is one the app accepts, as the identity named by AZURE_CLIENT_ID.
    const config = loadConfig({ AZURE_FUNCTIONS_ENVIRONMENT: 'Production', ...Object.fromEntries(requiredOutsideDevelopment().map((setting) => [setting, sample(setting)])), EVENT_GRID_TOPIC_ENDPOINT: sample('EVENT_GRID_TOPIC_ENDPOINT'), AZURE_CLIENT_ID: sample('AZURE_CLIENT_ID') }, () => undefined);
    expect(config.eventGrid).toEqual({ endpoint: SAMPLE_VALUES.EVENT_GRID_TOPIC_ENDPOINT, managedIdentityClientId: SAMPLE_VALUES.AZURE_CLIENT_ID });
  });

  /*
   * The properties Azure/bicep-types-az lists for these types and api versions
   * (generated/monitor/microsoft.insights/2023-01-01/types.md for actionGroups,
   * .../2023-12-01/types.md for scheduledQueryRules): a misspelt property is deployed
   * silently by nothing and refused only by ARM, so it is caught here.
   */
  const ACTION_GROUP_PROPERTIES = ['armRoleReceivers', 'automationRunbookReceivers', 'azureAppPushReceivers', 'azureFunctionReceivers', 'emailReceivers', 'enabled', 'eventHubReceivers', 'groupShortName', 'itsmReceivers', 'logicAppReceivers', 'smsReceivers', 'voiceReceivers', 'webhookReceivers'];
  const EMAIL_RECEIVER_PROPERTIES = ['emailAddress', 'name', 'useCommonAlertSchema'];
  const QUERY_RULE_PROPERTIES = ['actions', 'autoMitigate', 'checkWorkspaceAlertsStorageConfigured', 'criteria', 'description', 'displayName', 'enabled', 'evaluationFrequency', 'muteActionsDuration', 'overrideQueryTimeRange', 'ruleResolveConfiguration', 'scopes', 'severity', 'skipQueryValidation', 'targetResourceTypes', 'windowSize'];
  const CONDITION_PROPERTIES = ['dimensions', 'failingPeriods', 'metricMeasureColumn', 'metricName', 'operator', 'query', 'resourceIdColumn', 'threshold', 'timeAggregation'];

  it('mails alerts for wrong-code and step-up surges, mail failures, poison queues and failing webhooks to an action group whose email is a parameter', () => {
    const group = one('Microsoft.Insights/actionGroups');
    expect(group.apiVersion).toBe('2023-01-01');
    expect(at(group.body, 'location')).toBe('global');
    expect(Object.keys(at(group.body, 'properties') as object).filter((p) => !ACTION_GROUP_PROPERTIES.includes(p))).toEqual([]);
    expect(at(group.body, 'properties', 'enabled')).toBe(true);
    expect((at(group.body, 'properties', 'groupShortName') as string).length).toBeLessThanOrEqual(12);
    const receivers = at(group.body, 'properties', 'emailReceivers') as Record<string, BicepValue>[];
    expect(receivers).toHaveLength(1);
    expect(Object.keys(receivers[0]!).filter((p) => !EMAIL_RECEIVER_PROPERTIES.includes(p))).toEqual([]);
    expect(text(receivers[0]!.emailAddress)).toBe('alertEmail');

    const rule = one('Microsoft.Insights/scheduledQueryRules');
    expect(rule.apiVersion).toBe('2023-12-01');
    expect(rule.loop).toBe(true);
    expect(at(rule.body, 'kind')).toBe('LogAlert');
    expect(Object.keys(at(rule.body, 'properties') as object).filter((p) => !QUERY_RULE_PROPERTIES.includes(p))).toEqual([]);
    const condition = (at(rule.body, 'properties', 'criteria', 'allOf') as Record<string, BicepValue>[])[0]!;
    expect(Object.keys(condition).filter((p) => !CONDITION_PROPERTIES.includes(p))).toEqual([]);
    expect((at(rule.body, 'properties', 'actions', 'actionGroups') as BicepValue[]).map(text)).toEqual([`${group.symbol}.id`]);
    expect((at(rule.body, 'properties', 'scopes') as BicepValue[]).map(text)).toEqual(['workspaceId']);

    const alertsFile = files.find((file) => file.file === 'modules/alerts.bicep')!;
    const rules = alertsFile.vars.get('rules') as Record<string, BicepValue>[];
    expect(rules.map((r) => r.name)).toEqual(['wrong-code-surge', 'step-up-surge', 'mail-failures', 'poison-queue', 'webhook-endpoint-failing']);
    const names = new Map<string, readonly string[]>(Object.values(METRICS).map((metric) => [metric.name, metric.attributes]));
    for (const r of rules) {
      const query = r.query as string;
      const metric = /Name == "([^"]+)"/.exec(query)?.[1] ?? '';
      expect(names.has(metric), `${r.name} queries ${metric}, a metric the app records`).toBe(true);
      for (const [, attribute] of query.matchAll(/Properties\["([^"]+)"\]/g)) {
        expect(names.get(metric), `${r.name}: ${metric} carries ${attribute}`).toContain(attribute);
      }
      expect(query, `${r.name} summarizes its measure`).toContain(`${r.measure as string} = `);
      for (const dimension of r.dimensions as string[]) expect(query).toMatch(new RegExp(`by .*\\b${dimension} = `));
      expect(['Average', 'Count', 'Maximum', 'Minimum', 'Total']).toContain(r.aggregation);
    }

    const module = main.modules.get('alerts')!;
    expect(text(at(module.body, 'params', 'alertEmail'))).toBe('alertEmail');
    expect(text(at(module.body, 'params', 'workspaceId'))).toBe('monitoring.outputs.workspaceId');
    expect(main.params.get('alertEmail')!.default).toBe('');
  });

  it("names its outputs in azd's UPPER_SNAKE style, the function app's name and URL among them", () => {
    const outputs = [...main.outputs.keys()];
    expect(outputs.filter((name) => !/^[A-Z][A-Z0-9_]*$/.test(name))).toEqual([]);
    expect(outputs).toEqual(expect.arrayContaining(['AZURE_FUNCTION_APP_NAME', 'AZURE_FUNCTION_APP_URL', 'AZURE_KEY_VAULT_NAME', 'AZURE_RESOURCE_GROUP']));
  });
});

describe('azd', () => {
  it("main.parameters.json names only main.bicep's parameters, each from an azd environment value", () => {
    const file = JSON.parse(readFileSync(join(INFRA, 'main.parameters.json'), 'utf8')) as { parameters: Record<string, { value: string }> };
    for (const [name, { value }] of Object.entries(file.parameters)) {
      expect(main.params.has(name), name).toBe(true);
      expect(value, name).toMatch(/^\$\{[A-Z][A-Z0-9_]*(=[^}]*)?\}$/);
    }
    const required = [...main.params].filter(([, param]) => param.default === undefined).map(([name]) => name);
    expect(required.filter((name) => !(name in file.parameters))).toEqual([]);
  });

  it('names the Key Vault with the per-provisioning suffix azd gives it, within Key Vault\'s 24 characters', () => {
    expect(text(at(main.modules.get('keyVault')!.body, 'params', 'name'))).toBe("'kv-gp-${resourceToken}${keyVaultSuffix}'");
    const suffix = main.params.get('keyVaultSuffix')!;
    expect(suffix.default).toBe('');
    expect(suffix.decorators.join(' ')).toContain('@maxLength(4)');
    // uniqueString is 13 characters.
    expect('kv-gp-'.length + 13 + 4).toBeLessThanOrEqual(24);
  });

  it("passes the secrets azd's preprovision hook makes as secure parameters that become the Key Vault secrets", () => {
    const file = JSON.parse(readFileSync(join(INFRA, 'main.parameters.json'), 'utf8')) as { parameters: Record<string, { value: string }> };
    for (const [param, variable] of [['codePepper', 'GUESTPASS_CODE_PEPPER'], ['signingKeys', 'GUESTPASS_SIGNING_KEYS'], ['operatorKey', 'GUESTPASS_OPERATOR_KEY'], ['sendGridApiKey', 'GUESTPASS_SENDGRID_API_KEY'], ['acsEventsSecret', 'GUESTPASS_ACS_EVENTS_SECRET']] as const) {
      expect(file.parameters[param]!.value).toBe(`\${${variable}}`);
      expect(main.params.get(param)!.decorators.join(' '), param).toContain('@secure()');
    }
    expect(file.parameters.principalType!.value).toBe('${AZURE_PRINCIPAL_TYPE}');
    expect(file.parameters.keyVaultSuffix!.value).toBe('${GUESTPASS_KEY_VAULT_SUFFIX}');
    const secretValues = at(main.modules.get('keyVault')!.body, 'params', 'secretValues') as Record<string, BicepValue>;
    expect(Object.values(secretValues).map(text).sort()).toEqual(['acsEventsSecret', 'codePepper', 'operatorKey', 'sendGridApiKey', 'signingKeys']);
  });

  it('azure.yaml deploys the function app that main.bicep tags for it, from a local build', () => {
    const yaml = readFileSync(join(REPO, 'azure.yaml'), 'utf8');
    const service = /^services:\n {2}(\w[\w-]*):\n((?: {4}.*\n)+)/m.exec(yaml);
    expect(service).not.toBeNull();
    const [, name, body] = service!;
    expect(body).toMatch(/^ {4}host: function$/m);
    expect(body).toMatch(/^ {4}language: js$/m);
    expect(body).toMatch(/^ {4}remoteBuild: false$/m);
    expect(yaml).toMatch(/^ {2}path: infra$/m);
    const site = one('Microsoft.Web/sites');
    expect(text(at(site.body, 'tags'))).toBe(`union(tags, { 'azd-service-name': '${name}' })`);
  });
});

