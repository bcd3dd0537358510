// Kubernetes side of enrollment: list and watch Nodes with the cluster's kubeconfig and report, per
// node, whether it is Ready. Callers match nodes to machines (by host name or InternalIP).
// The watch resumes from the last resourceVersion it saw; on any error it lists again.

import { CoreV1Api, KubeConfig, Watch, type V1Node } from '@kubernetes/client-node';
import type { Logger } from 'pino';

export interface NodeView {
  name: string;
  internalIps: string[];
  ready: boolean;
  /** Reason/message of the Ready condition, for reports. */
  reason: string;
}

export function viewOf(n: V1Node): NodeView {
  const ready = n.status?.conditions?.find((c) => c.type === 'Ready');
  return {
    name: n.metadata?.name ?? '',
    internalIps: (n.status?.addresses ?? []).filter((a) => a.type === 'InternalIP').map((a) => a.address),
    ready: ready?.status === 'True',
    reason: ready === undefined ? 'no Ready condition' : `${ready.reason ?? ready.status}${ready.message ? `: ${ready.message}` : ''}`,
  };
}

export interface NodeWatchHandle {
  stop(): void;
}

/**
 * Calls `onNode` for every node of the initial list and for every later change (deleted nodes are
 * reported not ready). Runs until stop().
 */
export function watchNodes(kubeconfig: string, onNode: (n: NodeView, event: 'LIST' | 'ADDED' | 'MODIFIED' | 'DELETED') => void, log: Logger, retryMs = 2000): NodeWatchHandle {
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfig);
  const api = kc.makeApiClient(CoreV1Api);
  const watch = new Watch(kc);
  let stopped = false;
  let abort: AbortController | undefined;
  let timer: NodeJS.Timeout | undefined;

  const relist = async (): Promise<void> => {
    if (stopped) return;
    try {
      const list = await api.listNode();
      if (stopped) return;
      for (const n of list.items) onNode(viewOf(n), 'LIST');
      await follow(list.metadata?.resourceVersion);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'listing Kubernetes nodes failed; retrying');
      again();
    }
  };
  const follow = async (resourceVersion: string | undefined): Promise<void> => {
    if (stopped) return;
    let rv = resourceVersion;
    abort = await watch.watch(
      '/api/v1/nodes',
      { resourceVersion: rv, allowWatchBookmarks: true },
      (type: string, obj: V1Node) => {
        if (obj?.metadata?.resourceVersion !== undefined) rv = obj.metadata.resourceVersion;
        if (type === 'BOOKMARK') return;
        if (type === 'ADDED' || type === 'MODIFIED') onNode(viewOf(obj), type);
        else if (type === 'DELETED') onNode({ ...viewOf(obj), ready: false, reason: 'node deleted' }, 'DELETED');
      },
      (err: unknown) => {
        if (stopped) return;
        if (err) log.warn({ err: (err as Error).message ?? String(err) }, 'Kubernetes node watch ended; listing again');
        again();
      },
    );
    // stop() while the watch request was being opened: there was nothing to abort yet.
    if (stopped) abort.abort();
  };
  const again = () => {
    if (stopped) return;
    timer = setTimeout(() => void relist(), retryMs);
    timer.unref();
  };
  void relist();
  return {
    stop: () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      abort?.abort();
    },
  };
}
