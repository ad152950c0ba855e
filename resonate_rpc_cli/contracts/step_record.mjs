// @ts-check
/**
 * rpcdemo's optional step helper for TypeScript/JavaScript applications: record each run
 * of a step, the twin of step_record.py (copy this file into your application).
 *
 *     import { recorded } from "./step_record.mjs";
 *     const debit = recorded(async function debit(ctx, orderId, amount) { ... });
 *     const result = await ctx.run(debit, orderId, amount);
 *
 * Each run appends a `start` line before the step's body and an `end` line after it (one
 * JSON line each, fsync'd) to `<dir>/<node>.<node_id>.jsonl` in rpcdemo's ledger format;
 * `step_id` and `promise_id` are the step's own promise id (`ctx.id`). `<dir>` is
 * RPCDEMO_LEDGER_DIR, else $RPCDEMO_HOME/ledger; outside rpcdemo nothing is recorded and
 * the step runs the same. A line that cannot be written never fails the step.
 */

import * as fs from "node:fs";
import * as path from "node:path";

/** @returns {string | null} the file this process's lines go to (null: record nothing) */
export function ledgerPath() {
  const env = process.env;
  const dir = env.RPCDEMO_LEDGER_DIR || (env.RPCDEMO_HOME ? path.join(env.RPCDEMO_HOME, "ledger") : "");
  if (!dir) return null;
  const node = env.RPCDEMO_NODE || env.RPCDEMO_NODE_NAME || "node";
  const nodeId = env.RPCDEMO_NODE_ID || `pid${process.pid}`;
  return path.join(dir, `${node}.${nodeId}.jsonl`);
}

/**
 * @param {string} phase @param {{id?: string}} ctx @param {string} func
 * @param {unknown[]} args @param {unknown} value
 */
function write(phase, ctx, func, args, value) {
  const file = ledgerPath();
  if (file === null) return;
  const [node, nodeId] = path.basename(file).split(".");
  const stepId = String(ctx?.id ?? "");
  /** @type {Record<string, unknown>} */
  const line = {
    arg: args, func, group: process.env.RPCDEMO_GROUP || "", node, node_id: nodeId,
    os_pid: process.pid, phase, promise_id: stepId, step_id: stepId, ts: Date.now() / 1000,
    value: value === undefined ? null : value,
  };
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const fd = fs.openSync(file, "a", 0o644);
    try {
      fs.writeSync(fd, JSON.stringify(line) + "\n");
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // the step matters, not the record
  }
}

/**
 * `fn` with its runs recorded; keeps its name (the SDK registers functions by name).
 * @template {(ctx: any, ...args: any[]) => any} F
 * @param {F} fn
 * @returns {F}
 */
export function recorded(fn) {
  const name = fn.name || "step";
  const wrapped = {
    /** @param {any} ctx @param {...any} args */
    async [name](ctx, ...args) {
      write("start", ctx, name, args, null);
      const value = await fn(ctx, ...args);
      write("end", ctx, name, args, value);
      return value;
    },
  }[name];
  return /** @type {F} */ (/** @type {unknown} */ (wrapped));
}
