/**
 * @azure/storage-queue, loaded when the first message is queued or read: an instance
 * that only answers session-checks never parses it (lib/lazy/README.md).
 */
export { QueueClient } from '@azure/storage-queue';
