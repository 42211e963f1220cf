import { quoteIdentifier, type SchemaNames } from './schema.js';

/** The names migration 4 (presence, incremental polling) adds, quoted for SQL. */
export interface FleetNames {
  /** `"jobterm"."workers"`: one row per live terminator that runs jobs. Only jobterm's functions write it. */
  readonly workers: string;
  /** `"jobterm"."worker_queue_ids"`: the queue-side ids each worker claims, unique across the fleet. */
  readonly workerQueueIds: string;
  /** `"jobterm"."fleet_workers"`: the workers without their secret, for readers. */
  readonly fleetView: string;
  readonly heartbeat: string;
  readonly deregister: string;
  readonly claimDead: string;
  readonly completeRescue: string;
  readonly markEscalated: string;
  readonly withdraw: string;
  readonly trackChange: string;
}

export function fleetNames(names: SchemaNames): FleetNames {
  const q = (name: string) => `${names.quotedSchema}.${quoteIdentifier(name)}`;
  return {
    workers: q('workers'),
    workerQueueIds: q('worker_queue_ids'),
    fleetView: q('fleet_workers'),
    heartbeat: q('presence_heartbeat'),
    deregister: q('presence_deregister'),
    claimDead: q('presence_claim_dead'),
    completeRescue: q('presence_complete_rescue'),
    markEscalated: q('kill_request_escalated'),
    withdraw: q('kill_request_withdraw'),
    trackChange: q('kill_requests_track_change'),
  };
}
