// Shapes of the Local Management API bodies rackboot reads and writes, from the swagger
// (spectrocloud/librarium docs/api-content/api-docs/edge-v1/emc-api.json). Every field is optional
// as in the swagger (the Go server omits empty ones); unknown fields pass through.

import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

const Opt = Type.Optional;
const Str = Type.String();

export const V1Error = Type.Object({ code: Opt(Str), message: Opt(Str), ref: Opt(Str), details: Opt(Type.Unknown()) });
export type V1Error = Static<typeof V1Error>;

export const V1Ping = Type.Object({ msg: Opt(Str) });
export const V1LoginSuccess = Type.Object({
  IsFirstLogin: Opt(Type.Boolean()),
  Token: Type.Object({ Authorization: Str }),
});
export type V1LoginSuccess = Static<typeof V1LoginSuccess>;

export const V1Health = Type.Object({ status: Opt(Type.Union([Type.Literal('Healthy'), Type.Literal('Unhealthy')])), reason: Opt(Str) });
export const V1NodeRole = Type.Union(['init', 'controlplane', 'worker', 'unknown'].map((r) => Type.Literal(r)));
export const V1State = Type.Union(['Provisioning', 'Running', 'Deleting', 'Error'].map((s) => Type.Literal(s)));
export type V1State = 'Provisioning' | 'Running' | 'Deleting' | 'Error';

export const V1Nic = Type.Object({
  nicName: Opt(Str),
  ip: Opt(Str),
  macAddr: Opt(Str),
  gateway: Opt(Str),
  subnet: Opt(Str),
  isDefault: Opt(Type.Boolean()),
  dns: Opt(Type.Array(Str)),
});
export type V1Nic = Static<typeof V1Nic>;

export const V1MetaData = Type.Object({
  id: Opt(Str),
  name: Opt(Str),
  labels: Opt(Type.Record(Str, Str)),
  creationTimestamp: Opt(Str),
  lastModifiedTimestamp: Opt(Str),
});

export const V1EdgeHostInfo = Type.Object({
  metadata: Opt(V1MetaData),
  spec: Opt(
    Type.Object({
      connectionMode: Opt(Str),
      managementMode: Opt(Str),
      networkInfo: Opt(Type.Array(V1Nic)),
      nodeRole: Opt(V1NodeRole),
      hardwareSpec: Opt(Type.Unknown()),
    }),
  ),
  status: Opt(
    Type.Object({
      agentVersion: Opt(Str),
      configurationStatus: Opt(Type.Union(['pending', 'inprogress', 'configured'].map((s) => Type.Literal(s)))),
      hostName: Opt(Str),
      isClusterPhase: Opt(Type.Boolean()),
    }),
  ),
});
export type V1EdgeHostInfo = Static<typeof V1EdgeHostInfo>;

export const V1LinkToken = Type.Object({
  token: Str,
  remainingTime: Opt(Type.Integer()),
  interval: Opt(Type.Integer()),
});
export type V1LinkToken = Static<typeof V1LinkToken>;

export const LinkState = Type.Union(['Pending', 'InProgress', 'Completed', 'Failed'].map((s) => Type.Literal(s)));
export const V1LinkPeer = Type.Object({
  id: Opt(Str),
  ip: Opt(Str),
  localUIPort: Opt(Str),
  role: Opt(Str),
  nodeRole: Opt(V1NodeRole),
  status: Opt(Str),
  contentSyncStatus: Opt(Str),
  health: Opt(V1Health),
});
export const V1LinkStatus = Type.Object({
  status: Opt(LinkState),
  errorMessage: Opt(Str),
  peers: Opt(Type.Array(V1LinkPeer)),
});
export type V1LinkStatus = Static<typeof V1LinkStatus>;

export const UploadResponse = Type.Object({ message: Opt(Str), uploadPath: Opt(Str) });
export type UploadResponse = Static<typeof UploadResponse>;

export const V1UploadedContentDetails = Type.Object({
  fileName: Opt(Str),
  sha256Hash: Opt(Str),
  sizeInBytes: Opt(Type.Integer()),
  sizeInMiB: Opt(Type.Number()),
  sizeInGiB: Opt(Type.Number()),
  uploadDateTime: Opt(Str),
});
export type V1UploadedContentDetails = Static<typeof V1UploadedContentDetails>;

export const V1HarborContentSyncStatus = Type.Object({
  name: Opt(Str),
  version: Opt(Str),
  contentType: Opt(Str),
  status: Opt(Type.Union(['pending', 'completed', 'failed'].map((s) => Type.Literal(s)))),
  msg: Opt(Str),
  source: Opt(Str),
  target: Opt(Str),
  size: Opt(Str),
  lastSyncTimestamp: Opt(Str),
});
export const V1HarborContentsSyncStatus = Type.Object({
  pendingItems: Opt(Type.Array(V1HarborContentSyncStatus)),
  errors: Opt(Type.Record(Str, Str)),
  statusMessage: Opt(Str),
});
export type V1HarborContentsSyncStatus = Static<typeof V1HarborContentsSyncStatus>;

export const V1Taint = Type.Object({
  key: Str,
  value: Opt(Str),
  effect: Type.Union(['NoSchedule', 'PreferNoSchedule', 'NoExecute'].map((s) => Type.Literal(s))),
});
export const V1EdgeNativeHost = Type.Object({
  hostUid: Str,
  hostName: Opt(Str),
  hostAddress: Opt(Str),
  nicName: Opt(Str),
});
export const V1EdgeNativeMachinePoolConfig = Type.Object({
  name: Str,
  isControlPlane: Type.Boolean(),
  useControlPlaneAsWorker: Opt(Type.Boolean()),
  hosts: Type.Array(V1EdgeNativeHost),
  labels: Opt(Type.Array(Str)),
  taints: Opt(Type.Array(V1Taint)),
});
export type V1EdgeNativeMachinePoolConfig = Static<typeof V1EdgeNativeMachinePoolConfig>;
export const V1ProfileVariable = Type.Object({ name: Str, value: Str, profileUid: Opt(Str) });
export const V1ClusterConfiguration = Type.Object({
  metadata: Type.Object({ name: Str, labels: Opt(Type.Record(Str, Str)) }),
  spec: Type.Object({
    archiveUploadPath: Opt(Str),
    cloudConfig: Type.Object({
      spec: Type.Object({
        clusterConfig: Type.Object({
          controlPlaneEndpoint: Opt(Type.Object({ type: Str, host: Str })),
          ntpServers: Opt(Type.Array(Str)),
          sshKeys: Opt(Type.Array(Str)),
        }),
        machinePoolConfig: Type.Array(V1EdgeNativeMachinePoolConfig),
      }),
    }),
    profileVariables: Opt(Type.Array(V1ProfileVariable)),
  }),
});
export type V1ClusterConfiguration = Static<typeof V1ClusterConfiguration>;

export const V1AcceptedResponseWithMessage = Type.Object({ message: Opt(Str) });

export const V1Condition = Type.Object({
  type: Str,
  status: Str,
  reason: Opt(Str),
  message: Opt(Str),
  lastTransitionTime: Opt(Str),
  lastProbeTime: Opt(Str),
});
export type V1Condition = Static<typeof V1Condition>;

export const V1ClusterNodeStatus = Type.Object({
  nodeName: Opt(Str),
  ipv4: Opt(Str),
  nodeState: Opt(V1State),
  health: Opt(V1Health),
  k8sVersion: Opt(Str),
});
export const V1Cluster = Type.Object({
  metadata: Opt(V1MetaData),
  spec: Opt(Type.Object({ vip: Opt(Str), hostIDs: Opt(Type.Array(Str)) })),
  status: Opt(
    Type.Object({
      clusterState: Opt(V1State),
      clusterStateReason: Opt(Str),
      health: Opt(V1Health),
      kubeconfig: Opt(Str),
      k8sVersion: Opt(Str),
      clusterConditions: Opt(Type.Array(V1Condition)),
      nodePools: Opt(
        Type.Array(
          Type.Object({
            pool: Opt(Type.Object({ name: Opt(Str), isControlPlane: Opt(Type.Boolean()) })),
            nodes: Opt(Type.Array(V1ClusterNodeStatus)),
          }),
        ),
      ),
    }),
  ),
});
export type V1Cluster = Static<typeof V1Cluster>;

export const V1LifecycleEvents = Type.Object({
  clusterEvents: Opt(Type.Array(V1Condition)),
  edgeHostEvents: Opt(Type.Array(V1Condition)),
  expectedOrder: Opt(Type.Array(Type.Unknown())),
});
export type V1LifecycleEvents = Static<typeof V1LifecycleEvents>;

export function conforms<S extends TSchema>(schema: S, value: unknown): value is Static<S> {
  return Value.Check(schema, value);
}

/** First validation problem as `path: message`, for error reports. */
export function firstProblem(schema: TSchema, value: unknown): string {
  const e = Value.Errors(schema, value).First();
  return e === undefined ? 'invalid' : `${e.path || '/'}: ${e.message}`;
}
