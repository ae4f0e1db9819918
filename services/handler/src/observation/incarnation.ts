import { randomBytes } from "node:crypto";

/** One run of a handler process; mirrors the Incarnation message. */
export interface Incarnation {
  /** Random, chosen at start: a restarted replica keeps its handler id but not this. */
  id: string;
  startedAt: Date;
}

/** A new incarnation for the process starting now. */
export function newIncarnation(): Incarnation {
  return { id: randomBytes(8).toString("hex"), startedAt: new Date() };
}
