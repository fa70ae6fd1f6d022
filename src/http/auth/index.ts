// Inbound authentication, in three parts: who is calling (authenticator), how often a client may fail
// (failureThrottle), and the express middleware that puts them together.
export * from './authenticator';
export * from './middleware';
