// Public API of the rackboot Redfish client library. Nothing here imports from server/.

export { RedfishClient } from './client.js';
export type { ActionResult, AuthMode, PatchOptions, PostOptions, RedfishClientOptions, RedfishResponse, ResourceResponse, SettingsPatchResult } from './client.js';
export { RedfishMachine, connectRedfish } from './machine.js';
export { RedfishError, RedfishErrorCodes, isRedfishError, parseErrorBody, hasMessageId } from './errors.js';
export type { RedfishErrorCode, RedfishMessage } from './errors.js';
export type { RedfishLogger } from './logger.js';
export { certificateFingerprint, normalizeFingerprint } from './tls.js';
export type { RedfishTlsOptions, TofuInfo } from './tls.js';
export { parseRetryAfter } from './transport.js';
export type { HttpMethod, RedfishCall } from './transport.js';

export type { ServiceRoot } from './resources/service-root.js';
export type { BootSettings, ComputerSystem, PowerState, ResetAction, ResetType } from './resources/systems.js';
export { RESET_TYPES } from './resources/systems.js';
export type { EthernetInterface } from './resources/ethernet-interfaces.js';
export { normalizeMac } from './resources/ethernet-interfaces.js';
export type { Drive, DurableIdentifier, StorageSubsystem } from './resources/storage.js';
export { byIdHints } from './resources/storage.js';
export type { Manager } from './resources/managers.js';
export type { Chassis } from './resources/chassis.js';
export type { VirtualMediaSlot } from './resources/virtual-media.js';
export type { SecureBootState } from './resources/secure-boot.js';
export type { Task, TaskResult } from './resources/tasks.js';

export type { BootMode, BootOverrideResult, BootTarget, InsertMediaOptions, MediaSlotChoice, VendorId, VendorInfo, VendorStrategy } from './oem/types.js';
export { detectVendor, strategies } from './oem/detect.js';
export type { Inventory } from './operations/inventory.js';
export type { PowerResult, PowerWaitOptions } from './operations/power.js';
export type { OneTimeBootOptions } from './operations/boot.js';
export type { MediaResult } from './operations/virtual-media.js';
