'use strict';
/**
 * The main module of each pooled child process (see isolate-runtime.cjs).
 * A process cannot share memory with its parent: the termination arrives as
 * a message, so the token turns at the next turn of this event loop, and a
 * synchronous loop is stopped by SIGTERM, then SIGKILL (src/isolation/process-pool.ts).
 */
const { MessageFlag, crossable, runTask } = require('./isolate-runtime.cjs');

let current;

process.on('message', (message) => {
  if (message === null || typeof message !== 'object') return;
  if (message.type === 'run') {
    const flag = new MessageFlag();
    current = { id: message.id, flag, token: undefined };
    const job = current;
    runTask(message.task, flag, (made) => {
      job.token = made;
    }).then((answer) => {
      if (current === job) current = undefined;
      send({ type: 'answer', id: job.id, ...crossable(answer) });
    });
  } else if (message.type === 'terminate' && current !== undefined && current.id === message.id) {
    current.flag.set(message);
    current.token?.sync();
  }
});

function send(message) {
  process.send(message, (error) => {
    // The parent is gone: nothing is waiting for this answer.
    if (error) process.exit(0);
  });
}

// The parent closed the channel (its pool closed, or it exited): so do we.
process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready' });
