// Public API of the standalone MAAS REST API 2.0 client. Nothing here imports from server/.

export { MaasClient, apiRootFromBaseUrl, mapHttpError, parseRetryAfter, statusFromConflictText } from './client.js';
export type { HttpMethod, MaasClientOptions, MaasLogger, MaasRequest, MaasResponse, RequestBody } from './client.js';

export { authorizationHeader, newNonce, oauthEscape, oauthParams, parseApiKey } from './auth.js';
export type { MaasApiKey, OAuthParams, SignOptions } from './auth.js';

export { appendParams, formBody, multipartBody, queryString, seg, withTrailingSlash } from './encoding.js';
export type { FormParams, FormScalar, FormValue, MultipartBody, MultipartFile } from './encoding.js';

export { fail, ok, MaasConfigError } from './errors.js';
export type { MaasError, MaasErrorCode, MaasMachineStatusRef, MaasResult } from './errors.js';

export {
  ALL_MAAS_STATUS_CODES,
  MAAS_STATUS,
  MAAS_STATUS_NAMES,
  canDeploy,
  canRelease,
  describeStatus,
  isAllocated,
  isBroken,
  isDeployed,
  isDeploying,
  isDeployTerminal,
  isFailed,
  isMaasStatusCode,
  isReady,
  isTransient,
  simpleStatus,
  statusConstant,
  statusFilterName,
  statusFromFilterName,
  statusFromName,
} from './status.js';
export type { MaasSimpleStatus, MaasStatusCode, MaasStatusConstant, MaasStatusFilter, MaasStatusInfo } from './status.js';

export {
  abortMachine,
  addTag,
  allocateMachine,
  deployMachine,
  encodeUserData,
  listMachines,
  lockMachine,
  markBroken,
  markFixed,
  powerOff,
  powerOn,
  queryPowerState,
  readMachine,
  readPowerParameters,
  readPowerParametersBulk,
  releaseMachine,
  removeTag,
  unlockMachine,
  updateTagNodes,
} from './machines.js';
export type { AllocateOptions, DeployOptions, MachineFilter, PowerState, ReleaseOptions } from './machines.js';

export { MAX_EVENTS_PER_PAGE, collectEvents, queryEvents, tailEvents } from './events.js';
export type { CollectedEvents, CollectOptions, EventFilter, EventQuery, MaasEventLevel } from './events.js';

export {
  DEFAULT_CHUNK_SIZE,
  bytesFromProgress,
  createBootResource,
  deleteBootResource,
  findUploadFile,
  hashFile,
  listBootResources,
  readBootResource,
  uploadBootResourceContent,
  uploadCustomImage,
} from './boot-resources.js';
export type {
  BootResourceFiletype,
  CreateBootResourceOptions,
  LocatedFile,
  UploadCustomImageOptions,
  UploadProgress,
  UploadResult,
} from './boot-resources.js';

export { readVersion, whoAmI } from './account.js';
export type { MaasUser, MaasVersion } from './account.js';

export { checkSchema } from './schema.js';
export type {
  MaasBootResource,
  MaasBootResourceFile,
  MaasBootResourceSet,
  MaasEvent,
  MaasEventsPage,
  MaasMachine,
  MaasTag,
} from './schema.js';
