/**
 * Options every command that starts the app (gateway, check-client) reads the same way:
 * the embedded server's --root, the dashboard's address and token. One place, so the
 * commands cannot drift apart in what they accept.
 */
import { APP_DEFAULTS } from '../app.js';
import { type ListenAddress, parseListen, UsageError } from '../util/option-values.js';

/** `--root` names the embedded server's directory: not empty, and not with `--upstream`. */
export function checkRootOption(values: { root?: string; upstream?: string }): void {
  if (values.root === '') throw new UsageError('--root: expected a directory');
  if (values.root !== undefined && values.upstream !== undefined) {
    throw new UsageError('--root: only for the embedded server; it cannot go with --upstream');
  }
}

/** `--dashboard HOST:PORT`, `--no-dashboard`, `--dashboard-token TOKEN` (16 to 256 visible ASCII characters). */
export function parseDashboardOptions(values: { dashboard?: string; 'no-dashboard'?: boolean; 'dashboard-token'?: string }): {
  dashboard: ListenAddress | false;
  dashboardToken: string | undefined;
} {
  if (values['no-dashboard'] && (values.dashboard !== undefined || values['dashboard-token'] !== undefined)) {
    throw new UsageError('--no-dashboard: cannot go with --dashboard or --dashboard-token');
  }
  if (values['dashboard-token'] !== undefined && !/^[\x21-\x7e]{16,256}$/.test(values['dashboard-token'])) {
    throw new UsageError('--dashboard-token: expected 16 to 256 visible ASCII characters');
  }
  return {
    dashboard: values['no-dashboard']
      ? false
      : values.dashboard !== undefined ? parseListen('--dashboard', values.dashboard) : { ...APP_DEFAULTS.dashboard },
    dashboardToken: values['dashboard-token'],
  };
}
