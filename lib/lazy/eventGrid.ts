/**
 * @azure/eventgrid's publisher, loaded when the first event is published to the custom
 * topic (EVENT_GRID_TOPIC_ENDPOINT, lib/events/eventGrid.ts): an app without the topic
 * never parses it (lib/lazy/README.md).
 */
export { AzureKeyCredential, EventGridPublisherClient } from '@azure/eventgrid';
