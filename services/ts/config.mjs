// @ts-check
/**
 * A TypeScript node's settings, read from the environment contract the Python nodes
 * read (services/config.py), and the value oracle (resonate_rpc_cli/contracts/flows.py).
 *
 * Pure: `readConfig` takes a mapping and returns a complete config or throws
 * `ConfigError` with a one-line message naming the variable.
 */

import { randomUUID } from "node:crypto";
import * as path from "node:path";

/**
 * @typedef {object} NodeConfig
 * @property {string} url         the server (RESONATE_URL; http(s) only: no resonate-pg here)
 * @property {string} group
 * @property {string} name        readable node name, e.g. service-h-1
 * @property {string} nodeId      the Resonate pid of this incarnation
 * @property {string} ledgerDir   absolute
 * @property {string | undefined} readyFile
 * @property {number} ttlMs       lease TTL
 * @property {number} stepDelayMs
 * @property {"work" | "sleep"} delayMode
 * @property {boolean} failFirst
 * @property {boolean} failAlways
 * @property {string | undefined} token
 */

export class ConfigError extends Error {}

const DEFAULT_URL = "http://127.0.0.1:8001";
const DEFAULT_TTL_S = 60;
const DELAY_MODES = ["work", "sleep"];

/**
 * The oracle: the value each durable function returns for `arg`.
 * @type {Record<string, (n: number) => number>}
 */
export const STEP_VALUES = {
  baz: (n) => n,
  bar: (n) => n + 1,
  foo: (n) => n + 2,
  cog: (n) => n,
  quz: (n) => n + 1,
  qux: (n) => n + 1,
  rax: (n) => n + 1,
  dop: (n) => 2 * n,
  zim: (n) => 4 * n + 1,
};

/**
 * @param {string} func
 * @param {number} arg
 * @returns {number}
 */
export function expectedValue(func, arg) {
  const value = STEP_VALUES[func];
  if (value === undefined) throw new Error(`no oracle for ${func}`);
  return value(arg);
}

/**
 * Resolve the config of a node of `group` from `env`; throw ConfigError on a bad value.
 * Defaults as the Python nodes': URL http://127.0.0.1:8001, name `<group>-1`, a fresh
 * node id, ledger $RPCDEMO_HOME/ledger (else ./.rpcdemo/ledger), TTL 60 s, no delay.
 * @param {string} group
 * @param {Record<string, string | undefined>} env
 * @returns {NodeConfig}
 */
export function readConfig(group, env) {
  const url = (env.RESONATE_URL ?? "").trim() || DEFAULT_URL;
  if (!/^https?:\/\//.test(url)) {
    throw new ConfigError(`RESONATE_URL must be an http(s) URL (the TypeScript nodes do not ` +
      `speak resonate-pg), got ${JSON.stringify(url)}`);
  }
  const nodeId = (env.RPCDEMO_NODE_ID ?? "").trim() || randomUUID().replace(/-/g, "");
  if (/[/: ]/.test(nodeId) || !/^[\x21-\x7e]+$/.test(nodeId)) {
    throw new ConfigError("RPCDEMO_NODE_ID must be printable, without '/', ':' or spaces");
  }
  const mode = (env.RPCDEMO_DELAY_MODE ?? "").trim() || "work";
  if (!DELAY_MODES.includes(mode)) {
    throw new ConfigError(`RPCDEMO_DELAY_MODE must be one of ${DELAY_MODES.join(", ")}, ` +
      `got ${JSON.stringify(mode)}`);
  }
  const failFirst = (env.RPCDEMO_FAIL_FIRST ?? "").trim();
  if (!["", "0", "1"].includes(failFirst)) {
    throw new ConfigError(`RPCDEMO_FAIL_FIRST must be 0 or 1, got ${JSON.stringify(failFirst)}`);
  }
  const home = (env.RPCDEMO_HOME ?? "").trim() || ".rpcdemo";
  const ledger = (env.RPCDEMO_LEDGER_DIR ?? "").trim() || path.join(home, "ledger");
  const ready = (env.RPCDEMO_READY_FILE ?? "").trim();
  const failing = (env.RPCDEMO_FAIL_ALWAYS ?? "").split(",").map((g) => g.trim());
  return {
    url: url.replace(/\/+$/, ""),
    group,
    name: (env.RPCDEMO_NODE_NAME ?? "").trim() || `${group}-1`,
    nodeId,
    ledgerDir: path.resolve(ledger),
    readyFile: ready ? path.resolve(ready) : undefined,
    ttlMs: seconds(env, "RPCDEMO_TTL", DEFAULT_TTL_S, true) * 1000,
    stepDelayMs: seconds(env, "RPCDEMO_STEP_DELAY", 0, false) * 1000,
    delayMode: mode === "sleep" ? "sleep" : "work",
    failFirst: failFirst === "1",
    failAlways: failing.includes(group),
    token: env.RESONATE_TOKEN || undefined,
  };
}

/**
 * @param {Record<string, string | undefined>} env
 * @param {string} name
 * @param {number} fallback
 * @param {boolean} positive  true: > 0, else >= 0
 * @returns {number}
 */
function seconds(env, name, fallback, positive) {
  const raw = (env[name] ?? "").trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || (positive && value === 0)) {
    throw new ConfigError(`${name} must be ${positive ? "> 0" : ">= 0"} seconds, ` +
      `got ${JSON.stringify(raw)}`);
  }
  return value;
}
