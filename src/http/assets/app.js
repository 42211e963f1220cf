// The jobterm dashboard page: plain browser JavaScript, no build step.
// It polls the API (api/fleet and api/requests) every refreshInterval ms and
// updates rows in place, keyed by job, so focus and selection survive a
// refresh. Every value reaches the DOM through textContent: nothing from the
// API is parsed as HTML.

(() => {
  const $ = (id) => document.getElementById(id);
  const state = {
    session: null,
    fleet: null,
    requests: [],
    /** Jobs seen running that are gone now: shown as ended for a while. */
    ended: new Map(),
    timer: undefined,
    inFlight: false,
    failures: 0,
    dialogJob: null,
    bulkJobs: null,
  };
  const ENDED_KEEP_MS = 20_000;

  // --- API -----------------------------------------------------------------
  async function api(path, options = {}) {
    const headers = { accept: 'application/json' };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.method === 'POST' && state.session?.csrfToken) headers['x-jobterm-csrf'] = state.session.csrfToken;
    const response = await fetch(path, {
      method: options.method ?? 'GET',
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(body?.error?.message ?? `HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  // --- sign in ---------------------------------------------------------------
  async function start() {
    // `jobterm dashboard` prints a URL with the token in its #fragment (never sent to a server): sign in with it once.
    const fragment = /^#token=(.+)$/.exec(location.hash);
    if (fragment) {
      history.replaceState(null, '', location.pathname + location.search);
      await signIn(decodeURIComponent(fragment[1]));
    }
    try {
      state.session = await api('api/session');
    } catch (error) {
      if (error.status === 401) return showSignIn(new URLSearchParams(location.search).has('signin'));
      setLive(false, `cannot reach the API: ${error.message}`);
      state.timer = setTimeout(start, 3000);
      return;
    }
    showApp();
    await refresh();
  }

  function showSignIn(failed) {
    $('app').hidden = true;
    $('who').hidden = true;
    $('signin').hidden = false;
    $('signin-error').hidden = !failed;
    setLive(false, 'signed out');
    $('token').focus();
  }

  $('signin-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!(await signIn($('token').value))) {
      $('signin-error').hidden = false;
      $('token').select();
      return;
    }
    $('token').value = '';
    $('signin').hidden = true;
    await start();
  });

  async function signIn(token) {
    const response = await fetch('login', {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }),
      credentials: 'same-origin',
    });
    return response.ok;
  }

  $('signout').addEventListener('click', async () => {
    clearTimeout(state.timer);
    await fetch('logout', { method: 'POST', credentials: 'same-origin' }).catch(() => undefined);
    state.session = null;
    showSignIn(false);
  });

  function showApp() {
    const { session } = state;
    document.title = session.title;
    $('title').textContent = session.title;
    $('who-name').textContent = session.user.name;
    $('who-role').textContent = session.user.role === 'admin' ? 'admin' : 'read-only';
    $('who').hidden = false;
    $('signin').hidden = true;
    $('app').hidden = false;
    for (const element of document.querySelectorAll('.admin-only')) element.hidden = !isAdmin();
  }

  const isAdmin = () => state.session?.user.role === 'admin';

  // --- refresh loop ----------------------------------------------------------
  async function refresh() {
    clearTimeout(state.timer);
    if (state.inFlight) return;
    state.inFlight = true;
    try {
      const [fleet, history] = await Promise.all([
        state.session.features.fleet ? api('api/fleet') : Promise.resolve(null),
        state.session.features.history ? api('api/requests?limit=50') : Promise.resolve({ requests: [] }),
      ]);
      state.fleet = fleet;
      state.requests = history.requests;
      state.failures = 0;
      render();
      setLive(true, `live · updated ${new Date().toLocaleTimeString()}`);
    } catch (error) {
      if (error.status === 401) {
        state.inFlight = false;
        return showSignIn(false);
      }
      state.failures++;
      setLive(false, `update failed: ${error.message}`);
    } finally {
      state.inFlight = false;
    }
    const delay = state.session.refreshInterval * Math.min(5, 1 + state.failures);
    state.timer = setTimeout(refresh, delay);
  }

  function setLive(ok, text) {
    $('live').className = `live ${ok ? 'ok' : 'bad'}`;
    $('live-text').textContent = text;
  }

  // --- rendering -------------------------------------------------------------
  const keyOf = (ref) => `${ref.queue}\u0000${ref.name ?? ''}\u0000${ref.id}`;
  const label = (ref) => (ref.name === undefined ? `${ref.queue}#${ref.id}` : `${ref.queue}/${ref.name}#${ref.id}`);

  function duration(ms) {
    if (ms < 1000) return `${Math.round(ms)} ms`;
    const s = Math.floor(ms / 1000);
    if (s < 60) return `${s}s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m}m ${s % 60}s`;
    const h = Math.floor(m / 60);
    return h < 48 ? `${h}h ${m % 60}m` : `${Math.floor(h / 24)}d ${h % 24}h`;
  }

  function ago(iso) {
    return `${duration(Math.max(0, Date.now() - new Date(iso).getTime()))} ago`;
  }

  /** Updates a tbody to the given rows, reusing the <tr> of each key. */
  function reconcile(tbody, rows, columns, build) {
    const existing = new Map();
    for (const tr of tbody.children) existing.set(tr.dataset.key, tr);
    let previous = null;
    for (const row of rows) {
      let tr = existing.get(row.key);
      if (tr === undefined) {
        tr = document.createElement('tr');
        tr.dataset.key = row.key;
        for (const column of columns) {
          const td = document.createElement('td');
          td.dataset.label = column;
          tr.append(td);
        }
      } else existing.delete(row.key);
      build(tr, row);
      const anchor = previous === null ? tbody.firstChild : previous.nextSibling;
      if (anchor !== tr) tbody.insertBefore(tr, anchor);
      previous = tr;
    }
    for (const tr of existing.values()) tr.remove();
  }

  function setText(td, text, className) {
    if (td.textContent !== text) td.textContent = text;
    if (className !== undefined && td.className !== className) td.className = className;
  }

  function badge(td, text, className) {
    let span = td.firstElementChild;
    if (span === null || span.tagName !== 'SPAN') {
      td.textContent = '';
      span = document.createElement('span');
      td.append(span);
    }
    span.className = `badge ${className}`;
    if (span.textContent !== text) span.textContent = text;
  }

  function render() {
    const workers = state.fleet?.workers ?? [];
    renderWorkers(workers);
    renderJobs(workers);
    renderHistory();
  }

  function renderWorkers(workers) {
    $('workers-count').textContent = state.fleet ? `(${workers.length})` : '';
    $('workers-empty').hidden = workers.length > 0;
    const rows = workers.map((worker) => ({ key: worker.workerId, worker }));
    reconcile(
      $('workers').tBodies[0],
      rows,
      ['Worker', 'Host / pid', 'Queues', 'Jobs', 'Up', 'Last seen'],
      (tr, { worker }) => {
        const [id, host, queues, jobs, up, seen] = tr.children;
        setText(id, worker.workerId, 'mono');
        setText(host, `${worker.host} / ${worker.pid}`);
        setText(
          queues,
          worker.queues.map((q) => (q.names?.length ? `${q.queue} (${q.names.join(', ')})` : q.queue)).join('; '),
        );
        setText(jobs, String(worker.jobCount), 'num');
        setText(up, duration(Date.now() - new Date(worker.startedAt).getTime()), 'num');
        setText(seen, worker.alive ? ago(worker.lastSeenAt) : `dead · ${ago(worker.lastSeenAt)}`, 'num');
      },
    );
  }

  function currentFilter() {
    const form = $('filters');
    const filter = {};
    for (const name of ['queue', 'task', 'state']) {
      const value = form.elements[name].value.trim();
      if (value !== '') filter[name] = value;
    }
    const seconds = form.elements.runningLongerThan.value;
    if (seconds !== '' && Number(seconds) > 0) filter.runningLongerThan = Math.round(Number(seconds) * 1000);
    return filter;
  }

  function matches(job, filter) {
    if (filter.queue !== undefined && job.ref.queue !== filter.queue) return false;
    if (filter.task !== undefined && !(job.task ?? '').includes(filter.task)) return false;
    if (filter.state !== undefined && job.termination.state !== filter.state) return false;
    if (filter.runningLongerThan !== undefined && job.runningMs < filter.runningLongerThan) return false;
    return true;
  }

  function renderJobs(workers) {
    // A worker's job list is as fresh as its last heartbeat, the request history is current: a job whose kill
    // has resolved since it started has ended, whatever a heartbeat still says.
    const resolved = new Map();
    for (const request of state.requests) {
      if (request.resolvedAt !== null && !resolved.has(keyOf(request.job))) resolved.set(keyOf(request.job), request);
    }
    const over = (job) => {
      const request = resolved.get(keyOf(job.ref));
      return request !== undefined && new Date(request.resolvedAt) >= new Date(job.startedAt);
    };
    const running = workers.flatMap((worker) => worker.jobs).filter((job) => !over(job));
    const now = Date.now();
    const seen = new Set(running.map((job) => keyOf(job.ref)));
    // A job that was on the page and is gone has ended: keep it, marked, for a while.
    for (const tr of $('jobs-table').tBodies[0].children) {
      const key = tr.dataset.key;
      if (!seen.has(key) && !state.ended.has(key) && tr.job) state.ended.set(key, { job: tr.job, endedAt: now });
    }
    for (const [key, entry] of state.ended) {
      if (seen.has(key) || now - entry.endedAt > ENDED_KEEP_MS) state.ended.delete(key);
    }
    updateQueueOptions(running);
    const filter = currentFilter();
    const shown = running.filter((job) => matches(job, filter)).sort((a, b) => b.runningMs - a.runningMs);
    const rows = [
      ...shown.map((job) => ({ key: keyOf(job.ref), job, ended: false })),
      ...[...state.ended.entries()].map(([key, entry]) => ({ key, job: entry.job, ended: true })),
    ];
    $('jobs-count').textContent = state.fleet ? `(${running.length})` : '';
    $('jobs-empty').hidden = rows.length > 0;
    $('jobs-empty').textContent = state.fleet
      ? 'No running jobs.'
      : 'No fleet view: this dashboard has no presence store.';
    $('bulk').disabled = shown.length === 0;
    const columns = ['Job', 'Task', 'Worker', 'Running', 'Attempt', 'Progress', 'Termination', ''];
    reconcile($('jobs-table').tBodies[0], rows, columns, (tr, { job, ended }) => {
      tr.job = job;
      tr.className = ended ? 'ended' : '';
      const [ref, task, worker, runningFor, attempt, progress, termination, actions] = tr.children;
      setText(ref, label(job.ref), 'mono');
      setText(task, job.task ?? '—');
      setText(worker, job.workerId, 'mono');
      setText(runningFor, ended ? '—' : duration(job.runningMs), 'num');
      setText(attempt, job.attempt === undefined ? '—' : String(job.attempt), 'num');
      setText(progress, job.cursor === undefined ? '—' : JSON.stringify(job.cursor).slice(0, 80), 'mono');
      const t = job.termination;
      const stateName = ended ? 'ended' : t.state;
      badge(termination, stateName === 'none' ? 'running' : stateName, `state-${stateName}`);
      termination.title = t.message
        ? `${t.kind ?? 'kill'}: ${t.message}${t.requestedBy ? ` (by ${t.requestedBy})` : ''}`
        : '';
      actions.className = 'actions';
      actions.hidden = !isAdmin();
      if (!isAdmin()) return;
      let button = actions.firstElementChild;
      if (button === null) {
        button = document.createElement('button');
        button.type = 'button';
        button.className = 'danger';
        button.addEventListener('click', () => openTerminate(tr.job));
        actions.append(button);
      }
      const terminating = t.state !== 'none';
      const text = terminating ? 'Hard stop…' : 'Terminate…';
      if (button.textContent !== text) button.textContent = text;
      button.disabled = ended;
      button.setAttribute('aria-label', `${text.replace('…', '')} ${label(job.ref)}`);
    });
  }

  function updateQueueOptions(running) {
    const select = $('filters').elements.queue;
    const queues = [...new Set(running.map((job) => job.ref.queue))].sort();
    const have = [...select.options].slice(1).map((option) => option.value);
    if (have.join('\n') === queues.join('\n')) return;
    const value = select.value;
    for (const option of [...select.options].slice(1)) option.remove();
    for (const queue of new Set([...queues, ...(value ? [value] : [])])) select.add(new Option(queue, queue));
    select.value = value;
  }

  function renderHistory() {
    const rows = state.requests.map((request) => ({ key: request.id, request }));
    $('history-empty').hidden = rows.length > 0;
    reconcile(
      $('history').tBodies[0],
      rows,
      ['When', 'Job', 'By', 'Reason', 'Status', 'Outcome', 'Took'],
      (tr, { request }) => {
        const [when, job, by, reason, status, outcome, took] = tr.children;
        setText(when, ago(request.requestedAt), 'num');
        when.title = request.requestedAt;
        setText(job, label(request.job), 'mono');
        setText(by, request.requestedBy ?? '—');
        setText(reason, request.reason);
        setText(status, request.status);
        badge(outcome, request.outcome ?? '—', request.outcome ? `outcome-${request.outcome}` : 'state-none');
        setText(took, request.tookMs === null ? '—' : `${request.tookMs} ms`, 'num');
      },
    );
  }

  for (const element of $('filters').elements) {
    element.addEventListener('input', () => render());
  }
  $('filters').addEventListener('submit', (event) => event.preventDefault());

  // --- terminate one ---------------------------------------------------------
  function openTerminate(job) {
    state.dialogJob = job;
    const terminating = job.termination.state !== 'none';
    $('terminate-title').textContent = terminating ? 'Hard stop job' : 'Terminate job';
    $('terminate-job').textContent = `${label(job.ref)} · ${job.task ?? ''} on ${job.workerId}`;
    $('terminate-reason').value = terminating ? (job.termination.message ?? '') : '';
    $('terminate-force-label').hidden = !terminating;
    $('terminate-force').checked = terminating;
    $('terminate-result').textContent = '';
    $('terminate-result').className = 'result';
    $('terminate-submit').disabled = false;
    $('terminate-dialog').showModal();
    $('terminate-reason').focus();
  }

  $('terminate-cancel').addEventListener('click', () => $('terminate-dialog').close());
  $('terminate-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const job = state.dialogJob;
    const reason = $('terminate-reason').value.trim();
    if (job === null || reason === '') return;
    const result = $('terminate-result');
    $('terminate-submit').disabled = true;
    result.className = 'result';
    result.textContent = 'Terminating…';
    const body = { job: job.ref, reason, wait: true, timeout: 30000 };
    if ($('terminate-force').checked && !$('terminate-force-label').hidden) body.force = true;
    try {
      const answer = await api('api/terminate', { method: 'POST', body });
      result.className = `result ${answer.status === 'terminated' ? 'ok' : 'bad'}`;
      result.textContent = `${answer.status.replace('_', ' ')} in ${Math.round(answer.elapsedMs)} ms`;
      announce(`${label(job.ref)}: ${answer.status.replace('_', ' ')} in ${Math.round(answer.elapsedMs)} ms`);
    } catch (error) {
      result.className = 'result bad';
      result.textContent = error.message;
      $('terminate-submit').disabled = false;
    }
    void refresh();
  });

  // --- bulk terminate --------------------------------------------------------
  $('bulk').addEventListener('click', async () => {
    const filter = currentFilter();
    $('bulk-result').textContent = '';
    $('bulk-reason').value = '';
    try {
      const preview = await api('api/bulk-terminate', { method: 'POST', body: { filter, dryRun: true } });
      state.bulkJobs = preview.jobs.map((job) => job.ref);
      $('bulk-summary').textContent =
        preview.count === 0
          ? 'No running job matches the filter.'
          : `${preview.count} running job${preview.count === 1 ? '' : 's'} match. Exactly these will be terminated:`;
      const list = $('bulk-list');
      list.textContent = '';
      for (const job of preview.jobs) {
        const li = document.createElement('li');
        li.textContent = `${label(job.ref)} · ${job.task ?? ''} · ${duration(job.runningMs)}`;
        list.append(li);
      }
      $('bulk-submit').disabled = preview.count === 0;
      $('bulk-dialog').showModal();
      $('bulk-reason').focus();
    } catch (error) {
      announce(`Dry run failed: ${error.message}`);
    }
  });
  $('bulk-cancel').addEventListener('click', () => $('bulk-dialog').close());
  $('bulk-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const reason = $('bulk-reason').value.trim();
    if (!state.bulkJobs?.length || reason === '') return;
    $('bulk-submit').disabled = true;
    try {
      const answer = await api('api/bulk-terminate', { method: 'POST', body: { jobs: state.bulkJobs, reason } });
      const counts = {};
      for (const r of answer.results) counts[r.status] = (counts[r.status] ?? 0) + 1;
      $('bulk-result').className = 'result ok';
      $('bulk-result').textContent = Object.entries(counts)
        .map(([status, n]) => `${n} ${status.replace('_', ' ')}`)
        .join(', ');
    } catch (error) {
      $('bulk-result').className = 'result bad';
      $('bulk-result').textContent = error.message;
      $('bulk-submit').disabled = false;
    }
    void refresh();
  });

  function announce(text) {
    $('status').textContent = text;
  }

  // Keyboard: "/" jumps to the filters, "r" refreshes now.
  document.addEventListener('keydown', (event) => {
    if (event.target instanceof HTMLInputElement || event.target instanceof HTMLTextAreaElement) return;
    if (event.target instanceof HTMLSelectElement || document.querySelector('dialog[open]')) return;
    if (event.key === '/') {
      event.preventDefault();
      $('filters').elements.task.focus();
    } else if (event.key === 'r' && state.session) {
      void refresh();
    }
  });

  void start();
})();
