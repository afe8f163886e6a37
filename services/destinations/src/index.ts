export * from './config';
export * from './dead-letter';
export { runDestinations, selectDestinations } from './main';
