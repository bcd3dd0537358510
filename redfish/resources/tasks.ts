// Task and TaskMonitor. A 202 Accepted carries `Location: <task monitor>`; GET on it answers 202
// while the operation runs and then the operation's final response (DSP0266; DMTF pmem mockup).
// Some BMCs point Location at the Task itself, which answers 200 with a running TaskState (iDRAC
// jobs), so a 200 Task body in a non-terminal state also means "still running".

import { get, isRecord, num, text } from '../json.js';
import { parseMessageList, RedfishError, type RedfishMessage } from '../errors.js';

export const TERMINAL_OK_STATES = ['Completed'] as const;
/** Task ends that are failures. `Failed` is not in the enum but Supermicro sends it (bmclib fixtures). */
export const TERMINAL_FAILED_STATES = ['Exception', 'Killed', 'Cancelled', 'Interrupted', 'Failed'] as const;

export interface Task {
  path?: string;
  id?: string;
  name?: string;
  /** New | Starting | Running | Suspended | Interrupted | Pending | Stopping | Completed | Killed | Exception | Service | Cancelling | Cancelled */
  state?: string;
  /** OK | Warning | Critical */
  status?: string;
  percentComplete?: number;
  taskMonitor?: string;
  messages: RedfishMessage[];
}

export function isTaskBody(body: unknown): boolean {
  return isRecord(body) && (typeof body['TaskState'] === 'string' || /#Task\./.test(String(body['@odata.type'] ?? '')));
}

export function parseTask(body: unknown): Task {
  const raw = isRecord(body) ? body : {};
  const t: Task = { messages: parseMessageList(raw['Messages']) };
  const path = text(raw['@odata.id']);
  if (path !== undefined) t.path = path;
  const id = text(raw['Id']);
  if (id !== undefined) t.id = id;
  const name = text(raw['Name']);
  if (name !== undefined) t.name = name;
  const state = text(raw['TaskState']);
  if (state !== undefined) t.state = state;
  const status = text(raw['TaskStatus']);
  if (status !== undefined) t.status = status;
  const pc = num(raw['PercentComplete']);
  if (pc !== undefined) t.percentComplete = pc;
  const mon = text(raw['TaskMonitor']);
  if (mon !== undefined) t.taskMonitor = mon;
  // Dell mirrors job state under Oem.Dell (JobState), sometimes ahead of TaskState.
  const dellState = text(get(raw, 'Oem', 'Dell', 'JobState'));
  if (t.state === undefined && dellState !== undefined) t.state = dellState === 'Completed' ? 'Completed' : dellState === 'Failed' ? 'Exception' : 'Running';
  return t;
}

export type TaskOutcome = 'running' | 'completed' | 'failed';

export function taskOutcome(t: Task): TaskOutcome {
  if (t.state !== undefined && (TERMINAL_FAILED_STATES as readonly string[]).includes(t.state)) return 'failed';
  if (t.state === 'Completed') return t.status === 'Critical' ? 'failed' : 'completed';
  return 'running';
}

export interface TaskResult {
  /** Where the client polled. */
  monitor: string;
  /** The last Task seen (when the BMC returned Task bodies). */
  task?: Task;
  /** The final response of the original operation, when the monitor returned one. */
  status: number;
  body: unknown;
  messages: RedfishMessage[];
  polls: number;
}

export function taskFailedError(monitor: string, t: Task): RedfishError {
  const detail = t.messages.map((m) => m.message ?? m.messageId).filter((x): x is string => x !== undefined && x !== '');
  return new RedfishError(
    'RB_REDFISH_TASK_FAILED',
    `task ${t.id ?? monitor} ended ${t.state ?? 'with an error'}${t.status === undefined ? '' : ` (${t.status})`}${detail.length > 0 ? `: ${detail.join('; ')}` : ''}`,
    { path: monitor, messages: t.messages },
  );
}
