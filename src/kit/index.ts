export type { KitApi } from './api';
export { BULK_CHUNK, KitClient, type KitClientOptions } from './client';
export * from './errors';
export {
  createKitLimiter,
  type KitLimiter,
  type KitLimiterOptions,
  type LimiterCounts,
  type LimiterPriority,
  limiterIdFor,
  type ScheduleOptions,
} from './limiter';
export { backoffMs, DEFAULT_RETRY_POLICY, isRetryable, type RetryPolicy, SAFE_TO_REPEAT } from './retry';
export { KIT_MAX_BUDGET, KIT_WINDOW_MS, maxInWindow, spacingMs, sustainedShare } from './spacing';
export { FileTokenStore, MemoryTokenStore, type OAuthTokens, type TokenStore } from './tokenStore';
export * from './types';
