// Azure Monitor alerts on guestpass's own metrics (lib/telemetry/metrics.ts), which the
// app sends to Application Insights (APPLICATIONINSIGHTS_CONNECTION_STRING) and the
// workspace keeps in its AppMetrics table: one log search alert rule per attack or
// failure, each mailing the action group. The metric names and attributes in the
// queries are the app's; test/infra.test.ts holds them against lib/telemetry/metrics.ts.
param location string
param tags object
param workspaceId string
param actionGroupName string
param alertEmail string

@description('Wrong codes for one tenant within 15 minutes that raise the wrong-code surge alert.')
param wrongCodeSurgeThreshold int = 100

@description('Step-up challenges issued within 15 minutes, deployment-wide, that raise the step-up surge alert.')
param stepUpSurgeThreshold int = 200

@description('Mails refused, bounced or dropped within 15 minutes that raise the mail failure alert.')
param mailFailureThreshold int = 10

@description('Failed deliveries to one webhook endpoint within an hour that raise the failing endpoint alert.')
param webhookFailureThreshold int = 5

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  // Action groups are global resources.
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'guestpass'
    enabled: true
    emailReceivers: [
      {
        name: 'operator'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

var rules = [
  {
    name: 'wrong-code-surge'
    displayName: 'guestpass: wrong-code surge per tenant'
    description: 'Many wrong codes for one tenant: someone may be guessing codes. The dimension names the tenant.'
    severity: 1
    windowSize: 'PT15M'
    query: 'AppMetrics | where Name == "guestpass.codes.compared" and tostring(Properties["result"]) == "wrong" | summarize wrongCodes = sum(Sum) by tenant = tostring(Properties["tenant.id"])'
    measure: 'wrongCodes'
    aggregation: 'Total'
    dimensions: ['tenant']
    threshold: wrongCodeSurgeThreshold
  }
  {
    name: 'step-up-surge'
    displayName: 'guestpass: step-up surge'
    description: 'Many step-up challenges issued: many calls for guests from addresses they never signed in from.'
    severity: 2
    windowSize: 'PT15M'
    query: 'AppMetrics | where Name == "guestpass.stepups" and tostring(Properties["stage"]) == "issued" | summarize issued = sum(Sum)'
    measure: 'issued'
    aggregation: 'Total'
    dimensions: []
    threshold: stepUpSurgeThreshold
  }
  {
    name: 'mail-failures'
    displayName: 'guestpass: mail failures'
    description: 'The mail provider refuses, bounces or drops guestpass mail: guests get no codes.'
    severity: 1
    windowSize: 'PT15M'
    query: 'AppMetrics | where Name == "guestpass.mails" and tostring(Properties["fate"]) in ("refused", "bounced", "dropped") | summarize failures = sum(Sum) by fate = tostring(Properties["fate"])'
    measure: 'failures'
    aggregation: 'Total'
    dimensions: ['fate']
    threshold: mailFailureThreshold
  }
  {
    name: 'poison-queue'
    displayName: 'guestpass: messages in a poison queue'
    description: 'A queue message failed every try and was moved to its -poison queue: a mail or a webhook delivery was given up.'
    severity: 1
    windowSize: 'PT15M'
    query: 'AppMetrics | where Name == "guestpass.queue.depth" and tostring(Properties["queue"]) endswith "-poison" | summarize depth = max(Max) by queue = tostring(Properties["queue"])'
    measure: 'depth'
    aggregation: 'Maximum'
    dimensions: ['queue']
    threshold: 0
  }
  {
    name: 'webhook-endpoint-failing'
    displayName: 'guestpass: a webhook endpoint is failing'
    description: 'Deliveries to a tenant\'s webhook endpoint keep failing; after WEBHOOK_DISABLE_AFTER_DAYS it is disabled.'
    severity: 3
    windowSize: 'PT1H'
    query: 'AppMetrics | where Name == "guestpass.webhook.deliveries" and tostring(Properties["outcome"]) == "failed" | summarize failures = sum(Sum) by tenant = tostring(Properties["tenant.id"]), endpoint = tostring(Properties["webhook.endpoint_id"])'
    measure: 'failures'
    aggregation: 'Total'
    dimensions: ['tenant', 'endpoint']
    threshold: webhookFailureThreshold
  }
]

resource alertRules 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [
  for rule in rules: {
    name: 'alert-guestpass-${rule.name}'
    location: location
    tags: tags
    kind: 'LogAlert'
    properties: {
      displayName: rule.displayName
      description: rule.description
      severity: rule.severity
      enabled: true
      scopes: [workspaceId]
      evaluationFrequency: 'PT5M'
      windowSize: rule.windowSize
      criteria: {
        allOf: [
          {
            query: rule.query
            timeAggregation: rule.aggregation
            metricMeasureColumn: rule.measure
            operator: 'GreaterThan'
            threshold: rule.threshold
            dimensions: [for dimension in rule.dimensions: { name: dimension, operator: 'Include', values: ['*'] }]
            failingPeriods: {
              numberOfEvaluationPeriods: 1
              minFailingPeriodsToAlert: 1
            }
          }
        ]
      }
      autoMitigate: true
      actions: {
        actionGroups: [actionGroup.id]
      }
    }
  }
]

output actionGroupId string = actionGroup.id
