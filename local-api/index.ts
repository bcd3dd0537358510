export { LocalApiClient, parseRetryAfter, type LocalApiClientOptions, type LocalApiLogger, type UploadOptions, type UploadProgress } from './client.js';
export { fail, ok, type LocalApiError, type LocalApiErrorCode, type LocalApiResult } from './errors.js';
export { createPinnedAgent, normalizeFingerprint, type LocalApiTlsOptions, type PinnedAgent } from './tls.js';
export type {
  V1Cluster,
  V1ClusterConfiguration,
  V1Condition,
  V1EdgeHostInfo,
  V1EdgeNativeMachinePoolConfig,
  V1HarborContentsSyncStatus,
  V1LifecycleEvents,
  V1LinkStatus,
  V1LinkToken,
  V1State,
  V1UploadedContentDetails,
} from './schema.js';
