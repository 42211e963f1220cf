export { type CursorItem, type IterateOptions, type IterateSummary, iterate } from './iterate.js';
