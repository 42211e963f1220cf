import { hostname, userInfo } from 'node:os';

/** `cli:user@host`, as recorded in `requested_by` and `withdrawn_by`. */
export function cliUser(): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry for the uid (common in containers).
    user = process.env.USER ?? process.env.LOGNAME ?? `uid${process.getuid?.() ?? ''}`;
  }
  return `cli:${user}@${hostname()}`.slice(0, 200);
}
