import { MAX_REF_PART_LENGTH } from '../core/job-ref.js';
import { MAX_REASON_LENGTH } from '../core/options.js';
import { STATES } from './filters.js';

/** Most jobs one bulk terminate acts on. */
export const MAX_BULK = 1000;

const part = { type: 'string', minLength: 1, maxLength: MAX_REF_PART_LENGTH };
const ref = {
  type: 'object',
  required: ['queue', 'id'],
  additionalProperties: false,
  properties: { queue: part, name: part, id: part },
};
const filterProperties = {
  queue: { ...part, description: 'The queue system: graphile-worker, pg-boss, bullmq, or your own' },
  name: { ...part, description: 'The queue within it (pg-boss, BullMQ)' },
  task: { ...part, description: 'The task identifier or queue name the worker reports' },
  worker: { ...part, description: 'A worker id' },
  state: { type: 'string', enum: STATES, description: 'Where the job stands with respect to termination' },
  runningLongerThan: { type: 'integer', minimum: 0, description: 'Only jobs that have run at least this many ms' },
};
const error = {
  description: 'An error; `field` names the input that was wrong',
  content: {
    'application/json': {
      schema: {
        type: 'object',
        properties: {
          error: {
            type: 'object',
            required: ['status', 'message'],
            properties: { status: { type: 'integer' }, message: { type: 'string' }, field: { type: 'string' } },
          },
        },
      },
    },
  },
};
const errors = {
  '400': error,
  '401': { ...error, description: 'No valid token or session' },
  '403': { ...error, description: 'Signed in, but not allowed (read-only user, or a missing CSRF token)' },
};
const json = (schema: object, description = 'OK') => ({ description, content: { 'application/json': { schema } } });
const query = (name: string, schema: object, description: string) => ({ name, in: 'query', schema, description });
const terminateResult = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['terminated', 'requested', 'already_finished', 'not_found', 'timed_out'] },
    job: ref,
    requestId: { type: 'string', nullable: true },
    elapsedMs: { type: 'number', description: 'From the call to its answer' },
  },
};

/** The OpenAPI 3.1 document the handler serves at `api/openapi.json`. */
export function openApiDocument(version: string) {
  return {
    openapi: '3.1.0',
    info: {
      title: 'jobterm dashboard API',
      version,
      description:
        'See and stop running jobs. Every route needs `Authorization: Bearer <secret>` (or the page session cookie ' +
        'plus its `x-jobterm-csrf` header for POSTs). Read-only users get 403 on every POST.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
    security: [{ bearer: [] }],
    paths: {
      '/api/session': {
        get: {
          summary: 'Who is signed in, their role, and the CSRF token the page sends with POSTs',
          responses: { '200': json({ type: 'object' }), ...errors },
        },
      },
      '/api/workers': {
        get: {
          summary: 'Live workers (from their heartbeats)',
          parameters: [
            query('queue', part, 'Only workers serving this queue system'),
            query('worker', part, 'Only this worker'),
            query('includeDead', { type: 'boolean' }, 'Include workers past the dead threshold'),
          ],
          responses: { '200': json({ type: 'object' }), ...errors },
        },
      },
      '/api/jobs': {
        get: {
          summary: 'Running jobs across the fleet, oldest first',
          parameters: [
            ...Object.entries(filterProperties).map(([name, schema]) => query(name, schema, schema.description)),
            query('limit', { type: 'integer', minimum: 1, maximum: 10_000 }, 'At most this many (default 1000)'),
          ],
          responses: { '200': json({ type: 'object' }), ...errors },
        },
      },
      '/api/jobs/{queue}/{id}': {
        get: {
          summary: 'One job: where it runs (if it does) and its kill requests. Path parts are URL-encoded',
          parameters: [
            { name: 'queue', in: 'path', required: true, schema: part },
            { name: 'id', in: 'path', required: true, schema: part },
            query('name', part, 'The queue within the system (pg-boss, BullMQ)'),
          ],
          responses: { '200': json({ type: 'object' }), ...errors },
        },
      },
      '/api/requests': {
        get: {
          summary: 'Kill requests, newest first: who asked, why, when, and how each ended',
          parameters: [
            query('pending', { type: 'boolean' }, 'Only requests still in force'),
            query('limit', { type: 'integer', minimum: 1, maximum: 1000 }, 'At most this many (default 100)'),
          ],
          responses: { '200': json({ type: 'object' }), ...errors },
        },
      },
      '/api/terminate': {
        post: {
          summary: 'Terminate one job (admin). `requestedBy` is the signed-in user',
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['job'],
                  additionalProperties: false,
                  properties: {
                    job: ref,
                    reason: { type: 'string', maxLength: MAX_REASON_LENGTH },
                    wait: { type: 'boolean', description: 'Answer once a worker confirms the outcome' },
                    timeout: { type: 'integer', minimum: 0, description: 'How long `wait` waits, in ms' },
                    force: {
                      type: 'boolean',
                      description: 'Hard stop now, for a job already terminating (escalate at once)',
                    },
                  },
                },
              },
            },
          },
          responses: { '200': json(terminateResult), ...errors },
        },
      },
      '/api/bulk-terminate': {
        post: {
          summary:
            'Terminate many jobs (admin). First `{ filter, dryRun: true }` lists the jobs; then `{ jobs, reason }` ' +
            'with the listed jobs terminates exactly those',
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  additionalProperties: false,
                  properties: {
                    filter: { type: 'object', additionalProperties: false, properties: filterProperties },
                    dryRun: { type: 'boolean' },
                    jobs: { type: 'array', maxItems: MAX_BULK, items: ref },
                    reason: { type: 'string', maxLength: MAX_REASON_LENGTH },
                  },
                },
              },
            },
          },
          responses: { '200': json({ type: 'object' }), ...errors },
        },
      },
      '/api/openapi.json': { get: { summary: 'This document', responses: { '200': json({ type: 'object' }) } } },
    },
  };
}
