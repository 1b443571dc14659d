// guestpass on Azure: a Flex Consumption function app that reaches Table Storage,
// Key Vault and Application Insights as one user-assigned managed identity. No
// storage keys, no secrets in app settings: the secrets live in Key Vault and
// reach the app as Key Vault references resolved with that identity.
//
//   azd up                                   (azure.yaml, infra/main.parameters.json; its
//                                            preprovision hook makes the secrets)
//   az deployment group create -g <rg> -f infra/main.bicep -p environmentName=<name>
//                                            (then store the secrets: docs/deploying.md, "Store the secrets")
//     (mail through Communication Services from DoNotReply@<the linked domain>; emailTransport=sendgrid emailFrom=<address> for SendGrid)
// Every app setting of the function app is set here (appSettings below): a redeployment
// replaces the whole list, so a setting changed any other way would not survive it.
targetScope = 'resourceGroup'

@minLength(1)
@maxLength(64)
@description('Name of the environment (azd sets AZURE_ENV_NAME); it seeds the resource names.')
param environmentName string

@description('Region of every resource; it must offer the Flex Consumption plan.')
param location string = resourceGroup().location

@description('How guestpass sends mail (EMAIL_TRANSPORT): acs, Communication Services provisioned here, sending as the identity; or sendgrid, with the sendGridApiKey secret.')
@allowed(['acs', 'sendgrid'])
param emailTransport string = 'acs'

@description('Sender address of guestpass mail (EMAIL_FROM) with sendgrid: a sender SendGrid has verified. Not used with acs, which sends from DoNotReply@ the linked sender domain (output GUESTPASS_EMAIL_SENDER): ACS refuses any other domain.')
param emailFrom string = ''

@description('Where Communication Services keeps its data at rest (a geography: Europe, United States, UK, ...).')
param communicationDataLocation string = 'Europe'

@description('Own sender domain for Communication Services (contoso.com), provisioned beside the Azure-managed <guid>.azurecomm.net domain; empty: the managed domain alone.')
param emailCustomDomain string = ''

@description('Set once the own domain\'s DNS records are verified: it is then linked and mail goes from it (ACS links only verified domains); until then from the managed domain.')
param emailCustomDomainVerified bool = false

@description('Mails one tenant may send per UTC day (MAIL_DAILY_CAP_PER_TENANT; 0: no cap).')
@minValue(0)
param mailDailyCapPerTenant int = 5000

@description('Display name of the sender (EMAIL_FROM_NAME).')
param emailFromName string = 'guestpass'

@description('Public base URL of the API (PUBLIC_BASE_URL: session issuer, links). Empty: https://<function app>.azurewebsites.net.')
param publicBaseUrl string = ''

@description('Node.js major version: the current LTS that Azure Functions runs GA.')
@allowed(['22', '24'])
param nodeVersion string = '22'

@description('Flex Consumption instance size in MB.')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@description('Upper bound of instances Flex Consumption scales out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Keep deleted Key Vault secrets recoverable and the vault unpurgeable for 90 days (turn off only for throwaway environments).')
param keyVaultPurgeProtection bool = true

@secure()
@description('CODE_PEPPER (npm run keys; azd: the preprovision hook). Empty: the secret is left as it is; set it with az keyvault secret set.')
param codePepper string = ''

@secure()
@description('SIGNING_KEYS (npm run keys; azd: the preprovision hook). Empty: the secret is left as it is; set it with az keyvault secret set.')
param signingKeys string = ''

@secure()
@description('OPERATOR_KEY (npm run keys): the deployment operator\'s management credential. Empty: the secret is left as it is.')
param operatorKey string = ''

@secure()
@description('SENDGRID_API_KEY (a SendGrid key with Mail Send only). Empty: the secret is left as it is.')
param sendGridApiKey string = ''

@secure()
@description('ACS_EVENTS_SECRET (npm run keys; azd: the preprovision hook): the secret of the Event Grid subscription URL for ACS delivery reports. Empty: the secret is left as it is.')
param acsEventsSecret string = ''

@description('SENDGRID_WEBHOOK_PUBLIC_KEY: the verification key of SendGrid\'s signed Event Webhook (a public key, as SendGrid shows it). Empty: /api/mail-events/sendgrid answers 401.')
param sendGridWebhookPublicKey string = ''

@description('Object id of whoever runs the deployment (azd sets AZURE_PRINCIPAL_ID): may then store the secrets (Key Vault Secrets Officer). Empty: no such assignment.')
param principalId string = ''

@description('Kind of principal principalId is: azd passes AZURE_PRINCIPAL_TYPE, ServicePrincipal when a pipeline provisions.')
@allowed(['User', 'ServicePrincipal', 'Group'])
param principalType string = 'User'

@description('Appended to the Key Vault name. azd gives each provisioning after `azd down` a new one (the preprovision hook), because the deleted vault keeps its name for 90 days under purge protection. Empty: the plain name.')
@maxLength(4)
param keyVaultSuffix string = ''

@description('Where Azure Monitor alerts go (wrong-code and step-up surges, mail failures, poison queues, failing webhook endpoints): the email of the action group. Empty: no alert rules.')
param alertEmail string = ''

@description('Provision an Event Grid custom topic (CloudEvents 1.0) that the app publishes every event to as its identity (EVENT_GRID_TOPIC_ENDPOINT), for Azure consumers to subscribe to. Off: no topic, no publishing.')
param eventGridTopic bool = false

var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var tags = { 'azd-env-name': environmentName, application: 'guestpass' }
var functionAppName = 'func-guestpass-${resourceToken}'
var deploymentContainerName = 'app-package-${resourceToken}'
var secretNames = {
  codePepper: 'code-pepper'
  signingKeys: 'signing-keys'
  sendGridApiKey: 'sendgrid-api-key'
  operatorKey: 'operator-key'
  acsEventsSecret: 'acs-events-secret'
}

// The one identity the app uses for the host's storage, the guestpass tables, the
// deployment package, the Key Vault references and Application Insights.
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-guestpass-${resourceToken}'
  location: location
  tags: tags
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    tags: tags
    logAnalyticsName: 'log-guestpass-${resourceToken}'
    applicationInsightsName: 'appi-guestpass-${resourceToken}'
  }
}

module alerts 'modules/alerts.bicep' = if (!empty(alertEmail)) {
  name: 'alerts'
  params: {
    location: location
    tags: tags
    workspaceId: monitoring.outputs.workspaceId
    actionGroupName: 'ag-guestpass-${resourceToken}'
    alertEmail: alertEmail
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    tags: tags
    name: 'stguestpass${resourceToken}'
    deploymentContainerName: deploymentContainerName
  }
}

module keyVault 'modules/keyVault.bicep' = {
  name: 'keyVault'
  params: {
    location: location
    tags: tags
    // At most 24 characters: 6 + 13 (uniqueString) + 4.
    name: 'kv-gp-${resourceToken}${keyVaultSuffix}'
    purgeProtection: keyVaultPurgeProtection
    secretValues: {
      '${secretNames.codePepper}': codePepper
      '${secretNames.signingKeys}': signingKeys
      '${secretNames.sendGridApiKey}': sendGridApiKey
      '${secretNames.operatorKey}': operatorKey
      '${secretNames.acsEventsSecret}': acsEventsSecret
    }
  }
}

module communication 'modules/communication.bicep' = {
  name: 'communication'
  params: {
    tags: tags
    communicationName: 'acs-guestpass-${resourceToken}'
    emailServiceName: 'ecs-guestpass-${resourceToken}'
    dataLocation: communicationDataLocation
    customDomain: emailCustomDomain
    customDomainVerified: emailCustomDomainVerified
  }
}

// With ACS, its delivery reports reach the app through Event Grid and a queue (no webhook secret to keep).
var acsEventsQueueName = 'acs-delivery-reports'
module acsEvents 'modules/acsEvents.bicep' = if (emailTransport == 'acs') {
  name: 'acsEvents'
  params: {
    tags: tags
    communicationServiceName: communication.outputs.name
    storageAccountName: storage.outputs.name
    queueName: acsEventsQueueName
  }
}

module roles 'modules/roleAssignments.bicep' = {
  name: 'roleAssignments'
  params: {
    appPrincipalId: identity.properties.principalId
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    communicationServiceName: communication.outputs.name
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
  }
}

// Optional: every event also published to a custom topic, as the identity (EventGrid Data Sender on the topic).
module eventGrid 'modules/eventGrid.bicep' = if (eventGridTopic) {
  name: 'eventGrid'
  params: {
    location: location
    tags: tags
    name: 'egt-guestpass-${resourceToken}'
    appPrincipalId: identity.properties.principalId
  }
}

var keyVaultReference = '@Microsoft.KeyVault(VaultName=${keyVault.outputs.name};SecretName='
// ACS sends only from a linked domain, so its sender comes from the domain provisioned and linked here.
var senderAddress = emailTransport == 'acs' ? 'DoNotReply@${communication.outputs.senderDomain}' : emailFrom

// Every app setting of the function app. test/infra.test.ts holds this list against
// the settings schema in lib/config.ts: each guestpass setting here is one the schema
// knows, and every setting required outside development is here.
var appSettings = {
  // The Functions host's own storage (timer leases, host keys, the mail queue its
  // send-mail trigger reads), through the identity: no connection string.
  AzureWebJobsStorage__accountName: storage.outputs.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identity.properties.clientId
  // Telemetry: Application Insights with local auth off, so the identity signs the ingestion.
  APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.connectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.properties.clientId};Authorization=AAD'

  // guestpass (lib/config.ts)
  TABLES_ENDPOINT: storage.outputs.tableEndpoint
  AZURE_CLIENT_ID: identity.properties.clientId
  TABLE_PREFIX: 'guestpass'
  PUBLIC_BASE_URL: empty(publicBaseUrl) ? 'https://${functionAppName}.azurewebsites.net' : publicBaseUrl
  EMAIL_TRANSPORT: emailTransport
  EMAIL_FROM: senderAddress
  EMAIL_FROM_NAME: emailFromName
  // The identity signs ACS requests (Communication and Email Service Owner on the resource).
  ACS_ENDPOINT: communication.outputs.endpoint
  // Only with acs: a reference to a secret never stored would stop the app at start.
  ACS_EVENTS_SECRET: emailTransport == 'acs' ? '${keyVaultReference}${secretNames.acsEventsSecret})' : ''
  SENDGRID_WEBHOOK_PUBLIC_KEY: sendGridWebhookPublicKey
  MAIL_DAILY_CAP_PER_TENANT: string(mailDailyCapPerTenant)
  // The queue every mail waits in; the send-mail trigger names it as %MAIL_QUEUE_NAME%.
  MAIL_QUEUE_NAME: 'send-mail'
  // The queue webhook deliveries and their retries wait in; the deliver-webhook trigger names it as %WEBHOOK_QUEUE_NAME%.
  WEBHOOK_QUEUE_NAME: 'webhook-deliveries'
  // The queue Event Grid writes ACS delivery reports to; the mailEventsAcsQueue trigger names it as %ACS_EVENTS_QUEUE_NAME%.
  ACS_EVENTS_QUEUE_NAME: acsEventsQueueName
  // Only with eventGridTopic: the topic every event is also published to, as the identity; empty: none
  // (`!`: the module exists whenever the condition holds, which Bicep's nullability check cannot see).
  EVENT_GRID_TOPIC_ENDPOINT: eventGridTopic ? eventGrid!.outputs.endpoint : ''
  CODE_PEPPER: '${keyVaultReference}${secretNames.codePepper})'
  SIGNING_KEYS: '${keyVaultReference}${secretNames.signingKeys})'
  // Only with sendgrid: a reference to a secret never stored would stop the app at start.
  SENDGRID_API_KEY: emailTransport == 'sendgrid' ? '${keyVaultReference}${secretNames.sendGridApiKey})' : ''
  // The guessing bound (SECURITY.md): codes compared for one guest per UTC day from callers that are not its own.
  GUEST_UNFAMILIAR_GUESSES_PER_DAY: '100'
  // Wrong codes from unfamiliar callers per tenant and per deployment per day, past which such callers must solve a step-up.
  TENANT_FAILED_VERIFICATIONS_PER_DAY: '150'
  DEPLOYMENT_FAILED_VERIFICATIONS_PER_DAY: '1500'
  // What bounds anonymous writes (SECURITY.md): codes asked for from unfamiliar addresses per tenant per hour.
  TENANT_UNFAMILIAR_SEND_CODES_PER_HOUR: '1000'
  STEP_UP_PROVIDER: 'altcha'
  OPERATOR_KEY: '${keyVaultReference}${secretNames.operatorKey})'
}

module functionApp 'modules/functionApp.bicep' = {
  name: 'functionApp'
  params: {
    location: location
    tags: tags
    name: functionAppName
    planName: 'plan-guestpass-${resourceToken}'
    identityId: identity.id
    deploymentContainerUrl: '${storage.outputs.blobEndpoint}${storage.outputs.deploymentContainerName}'
    nodeVersion: nodeVersion
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    appSettings: appSettings
  }
  // The app resolves its Key Vault references and opens storage at start: the roles come first
  // (and the topic's, when there is one, so its first events are not refused).
  dependsOn: [roles, eventGrid]
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = resourceGroup().name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_URL string = 'https://${functionApp.outputs.defaultHostName}'
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_TABLES_ENDPOINT string = storage.outputs.tableEndpoint
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.properties.clientId
output AZURE_APPLICATION_INSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output AZURE_COMMUNICATION_SERVICES_ENDPOINT string = communication.outputs.endpoint
output GUESTPASS_EMAIL_SENDER string = senderAddress
output GUESTPASS_EVENT_GRID_TOPIC_ENDPOINT string = eventGridTopic ? eventGrid!.outputs.endpoint : ''
