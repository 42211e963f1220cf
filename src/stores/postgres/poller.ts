/**
 * Runs `task` every `interval` ms, measured from the end of the previous run,
 * so a slow database never stacks runs. Its timer is unref'd: polling alone
 * never keeps a process alive. `stop()` is safe to call twice and waits for a
 * run in progress.
 */
export class Poller {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;

  constructor(
    private readonly interval: number,
    private readonly task: () => Promise<void>,
    private readonly onError: (error: unknown) => void,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    // A run still in flight from before a stop() schedules the next one itself.
    if (this.running === undefined) this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(): void {
    if (this.stopped || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.task()
        .catch((error: unknown) => this.onError(error))
        .finally(() => {
          this.running = undefined;
          this.schedule();
        });
    }, this.interval);
    this.timer.unref();
  }
}
