// Azure Communication Services Email: an Email Communication Service with one sender
// domain (Azure-managed, <guid>.azurecomm.net, ready at once; or the operator's own
// domain), linked to a Communication Services resource that the app sends through
// with its managed identity (roleAssignments.bicep grants the role).
// Resource shapes: Azure/bicep-types-az generated/communication/microsoft.communication/2023-04-01/types.md.
param tags object
param communicationName string
param emailServiceName string

@description('Where the services keep their data at rest: a geography such as Europe or United States, not a region.')
param dataLocation string

@description('Own sender domain such as contoso.com; empty: an Azure-managed domain.')
param customDomain string = ''

@description('Link the own domain only once its DNS records (domain, SPF, DKIM) are verified: ACS refuses to link an unverified domain.')
param customDomainVerified bool = false

resource emailService 'Microsoft.Communication/emailServices@2023-04-01' = {
  name: emailServiceName
  location: 'global'
  tags: tags
  properties: {
    dataLocation: dataLocation
  }
}

// The Azure-managed domain, always: the app sends from it at once, and until an own domain is verified.
resource managedDomain 'Microsoft.Communication/emailServices/domains@2023-04-01' = {
  parent: emailService
  name: 'AzureManagedDomain'
  location: 'global'
  tags: tags
  properties: {
    domainManagement: 'AzureManaged'
    // Transactional mail: no link rewriting or tracking pixel.
    userEngagementTracking: 'Disabled'
  }
}

// The operator's own domain, when given: its DNS records (domain, SPF, DKIM) are added from the portal.
resource customerDomain 'Microsoft.Communication/emailServices/domains@2023-04-01' = if (!empty(customDomain)) {
  parent: emailService
  name: empty(customDomain) ? 'unused' : customDomain
  location: 'global'
  tags: tags
  properties: {
    domainManagement: 'CustomerManaged'
    userEngagementTracking: 'Disabled'
  }
}

// Sends from the own domain once it is verified (ACS refuses to link an unverified domain), else from the managed one.
var useCustomDomain = !empty(customDomain) && customDomainVerified

resource communication 'Microsoft.Communication/communicationServices@2023-04-01' = {
  name: communicationName
  location: 'global'
  tags: tags
  properties: {
    dataLocation: dataLocation
    // The link between the two: ACS sends only from linked domains.
    linkedDomains: useCustomDomain ? [managedDomain.id, customerDomain.id] : [managedDomain.id]
  }
}

output name string = communication.name
output endpoint string = 'https://${communication.properties.hostName}'
// The linked domain the app sends from (a customer-managed domain sends as itself): DoNotReply@
// this domain exists on every domain (other sender usernames are senderUsernames children).
output senderDomain string = useCustomDomain ? customDomain : managedDomain.properties.mailFromSenderDomain
