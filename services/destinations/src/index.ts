export * from './config';
export * from './dead-letter';
export { agentFor, deliverCrmBatch, deliverWebhook } from './deliver';
export { runDestinations, selectDestinations } from './main';
