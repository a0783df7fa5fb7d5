// Node (ES module) entry.
import { createRequire } from "node:module";
const m = createRequire(import.meta.url)("./hearth.cjs");
export const { validate, availableActions, backoffDelayMs, nextJitter, OfflineQueue, HearthError, hearthErrorClass } = m;
