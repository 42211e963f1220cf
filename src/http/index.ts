export type { Access, Via } from './access.js';
export { CSRF_HEADER } from './access.js';
export {
  type DashboardRole,
  type DashboardTokens,
  type DashboardUser,
  generateSecret,
  MIN_SECRET_LENGTH,
  type TokenList,
} from './auth.js';
export type { JobFilter } from './filters.js';
export { createDashboard, type DashboardHandler } from './handler.js';
export { type LocalTerminator, localFleet } from './local-fleet.js';
export { openApiDocument } from './openapi.js';
export {
  DASHBOARD_DEFAULTS,
  type DashboardOptions,
  type DashboardTerminator,
  type FleetSource,
  type HistoryRequest,
  type RequestHistory,
} from './options.js';
