// Node-only entry of the server (`neobert serve`, src/cli.ts); the browser bundle never imports it.
export { startServer, type RunningServer, type ServeOptions } from './server';
export { Batcher, CancelledError, type PackedForward, type BatcherLimits } from './batcher';
export { HttpError } from './http-error';
