// ACS delivery reports to the app, owned by Bicep: an Event Grid system topic on the
// Communication Services resource and a subscription that writes each
// EmailDeliveryReportReceived event to a queue on the app's storage account, which the
// app's mailEventsAcsQueue function reads (functions/mailEventsAcsQueue.ts). A queue
// rather than a webhook: Event Grid checks a webhook with a validation handshake when the
// subscription is made, and at provision time the app's code is not deployed yet.
param location string = 'global'
param tags object = {}
param communicationServiceName string
param storageAccountName string
// The app setting ACS_EVENTS_QUEUE_NAME names the same queue.
param queueName string

var roleIds = {
  // "Storage Queue Data Message Sender": add messages, nothing else.
  storageQueueDataMessageSender: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'
}

resource communication 'Microsoft.Communication/communicationServices@2023-04-01' existing = {
  name: communicationServiceName
}

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storageAccount
  name: 'default'
}

// Made here, not by the app: Event Grid delivers only to a queue that exists.
resource queue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: queueName
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: 'egst-${communicationServiceName}'
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: communication.id
    topicType: 'Microsoft.Communication.CommunicationServices'
  }
}

// The topic's own identity writes the queue: no key, no SAS.
resource topicSendsToQueue 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storageAccount.id, systemTopic.id, roleIds.storageQueueDataMessageSender)
  scope: storageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageQueueDataMessageSender)
    principalId: systemTopic.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource deliveryReports 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = {
  parent: systemTopic
  name: 'guestpass-delivery-reports'
  dependsOn: [topicSendsToQueue, queue]
  properties: {
    deliveryWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      destination: {
        endpointType: 'StorageQueue'
        properties: {
          resourceId: storageAccount.id
          queueName: queueName
          // A report older than the sign-in log's 30 days has no mail row left to update.
          queueMessageTimeToLiveInSeconds: 604800
        }
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [
        'Microsoft.Communication.EmailDeliveryReportReceived'
      ]
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
  }
}

output queueName string = queue.name
