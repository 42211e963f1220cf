// What each message from a child process means, as one timeline row. A
// message that returns undefined is not shown.
import type { JobRef } from '../../src/index.js';
import type { JobBook } from './jobs.js';
import type { Message } from './protocol.js';
import { bar, type Tone } from './timeline.js';

export interface Row {
  readonly text: string;
  readonly tone?: Tone;
}

export function describe(message: Message, jobs: JobBook): Row | undefined {
  const m = message;
  const job = () => jobs.name(m.id);
  switch (m.event) {
    case 'standby':
      return { text: `loaded (pid ${m.pid}); on standby until the rolling deploy`, tone: 'dim' };
    case 'ready':
      return m.queue
        ? {
            text: `up (pid ${m.pid}): ${m.queue} worker, concurrency ${m.concurrency}, shutdownTimeout ${seconds(m.shutdownTimeout)}`,
          }
        : { text: `up (pid ${m.pid}): a process that only requests terminations through the API` };
    case 'job-start': {
      const attempt = m.maxAttempts ? ` (attempt ${m.attempt} of ${m.maxAttempts})` : ` (retry count ${m.attempt})`;
      const previous = m.lastError ? `; its last run ended: "${m.lastError}"` : '';
      return { text: `${job()} started${attempt}${previous}` };
    }
    case 'signal':
      return { text: `${job()} sees its token fire: ${m.kind} ("${m.message}"); stopping`, tone: 'strong' };
    case 'ignoring':
      return {
        text: `${job()} token fired (${m.kind}), but this job never looks at it: still working`,
        tone: 'strong',
      };
    case 'progress':
      return {
        text: `${job()} ${bar(m.cursor as number, m.total as number)} ${m.cursor}/${m.total} rows`,
        tone: 'dim',
      };
    case 'iterate-start':
      return { text: `${job()}: iterate() starts from the beginning (no saved cursor)` };
    case 'iterate-resume':
      return {
        text: `${job()}: iterate() resumes after cursor ${m.cursor}, the one the interrupted run saved`,
        tone: 'good',
      };
    case 'iterate-stop':
      return { text: `${job()}: stops between two rows (${m.kind}); cursor ${m.cursor} saved`, tone: 'strong' };
    case 'iterate-done':
      return {
        text: `${job()}: iterate() done: ${m.processed} rows in this run (resumed after ${m.resumedFrom ?? 'nothing'}), last cursor ${m.cursor}`,
        tone: 'good',
      };
    case 'completed':
      return { text: `${job()} completed`, tone: 'good' };
    case 'terminated':
      return {
        text: `${job()} terminated${m.escalated ? ' (escalated: it did not stop in time)' : ''}: ended for good in its queue, never retried`,
        tone: 'good',
      };
    case 'interrupted':
      return {
        text: `${job()} interrupted (${m.kind}${m.escalated ? ', escalated' : ''}): back in the queue at once, ${m.resumable ? 'attempt not spent' : 'attempt spent'}`,
        tone: 'good',
      };
    case 'escalated':
      return { text: `${job()} did not stop within the timeout: escalating`, tone: 'bad' };
    case 'unresponsive':
      return { text: `${job()}: its code still runs in this process; jobterm ignores its late result`, tone: 'dim' };
    case 'shutdown-start': {
      const running = (m.running as string[]).map((id) => jobs.name(id)).join(', ') || 'no jobs';
      return {
        text: `shutdown: stop fetching, fire the tokens of ${running}, wait up to ${seconds(m.timeout)}`,
        tone: 'strong',
      };
    }
    case 'shutdown-end': {
      const ended = (m.jobs as Array<{ id: string; status: string; escalated: boolean }>)
        .map((j) => `${jobs.name(j.id)} ${j.status}${j.escalated ? ' (escalated)' : ''}`)
        .join(', ');
      return { text: `shutdown done in ${m.durationMs} ms: ${ended || 'no jobs'}; every queue write landed, exiting` };
    }
    case 'request':
      return { text: `terminate(${refText(m.ref as JobRef, jobs)}, { wait: ${m.wait} })` };
    case 'result':
      return {
        text: `terminate(${refText(m.ref as JobRef, jobs)}) answered '${m.status}'${m.message ? `: ${m.message}` : ''}`,
        tone: m.status === 'terminated' ? 'good' : 'bad',
      };
    case 'log':
      // jobterm's warnings (e.g. an escalation) repeat what the rows above say: shown, but quietly.
      return {
        text: `log ${m.level}: ${m.message}${m.meta ? ` ${JSON.stringify(m.meta)}` : ''}`,
        tone: m.level === 'error' ? 'bad' : 'dim',
      };
    default:
      return { text: JSON.stringify(m), tone: 'dim' };
  }
}

function refText(ref: JobRef, jobs: JobBook): string {
  return `${ref.queue}${ref.name ? `/${ref.name}` : ''} ${jobs.name(ref.id)}`;
}

function seconds(ms: unknown): string {
  return `${Number(ms) / 1000} s`;
}
