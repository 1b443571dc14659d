// Event Grid for Azure consumers (eventGridTopic=true): a custom topic that takes
// CloudEvents 1.0, which the app publishes every event to (EVENT_GRID_TOPIC_ENDPOINT;
// lib/events/eventGrid.ts) as its user-assigned identity, with the one role that lets it
// publish. Key access is off: the identity is the topic's only publisher. Subscribers add
// their own event subscriptions (docs/operating.md, "Event Grid").
param location string
param tags object = {}
param name string
param appPrincipalId string

var roleIds = {
  // "EventGrid Data Sender": publish events to the topic, nothing else.
  eventGridDataSender: 'd5a91429-5739-47e2-a06b-3470a27159e7'
}

resource topic 'Microsoft.EventGrid/topics@2022-06-15' = {
  name: name
  location: location
  tags: tags
  properties: {
    inputSchema: 'CloudEventSchemaV1_0'
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
  }
}

resource dataSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(topic.id, appPrincipalId, roleIds.eventGridDataSender)
  scope: topic
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.eventGridDataSender)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output name string = topic.name
// https://<name>.<region>-1.eventgrid.azure.net/api/events: the URL the SDK publishes to.
output endpoint string = topic.properties.endpoint
