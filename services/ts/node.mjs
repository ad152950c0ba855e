// @ts-check
/**
 * The boilerplate every TypeScript-SDK node shares: the same contract as the Python
 * services' `services/node.py`, so the supervisor, the checker and the views cannot
 * tell the languages apart.
 *
 * A service module builds a node for its group, registers one durable function and
 * runs it:
 *
 *     const node = new Node("service-h");
 *     node.register(async function rax(ctx, arg) { return node.step(ctx, "rax", arg); });
 *     node.run();
 *
 * Environment (names as in resonate_rpc_cli/contracts/naming.py): RESONATE_URL,
 * RPCDEMO_NODE_NAME, RPCDEMO_NODE_ID, RPCDEMO_LEDGER_DIR (else $RPCDEMO_HOME/ledger),
 * RPCDEMO_READY_FILE, RPCDEMO_TTL, RPCDEMO_STEP_DELAY, RPCDEMO_DELAY_MODE,
 * RPCDEMO_FAIL_FIRST, RPCDEMO_FAIL_ALWAYS, RESONATE_TOKEN, RPCDEMO_PARENT_PID.
 *
 * Contract: bad configuration exits 2 and a ledger that cannot be opened exits 3, each
 * with one line on stderr; the ready file is written (temp + rename) once the SSE
 * listener is connected; SIGTERM/SIGINT stop the SDK and exit 0; when the parent named
 * by RPCDEMO_PARENT_PID is gone the node stops itself (exit 3 after a 2 s grace).
 */

import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { PollMessageSource } from "@resonatehq/sdk";
import { Exponential, Resonate } from "@resonatehq/sdk/async";
import { readConfig, ConfigError, expectedValue } from "./config.mjs";

/** @typedef {import("./config.mjs").NodeConfig} NodeConfig */
/** @typedef {import("@resonatehq/sdk/async").Context} Context */
/** @typedef {(ctx: Context, arg: number) => Promise<number>} DurableFn */

// The SDK's SSE listener waits 1 s doubling to 30 s between reconnects: after a partition
// or a server restart a node would stay deaf for up to 30 s. Use the Python nodes' ladder
// (services/sse.py: 0.2 s doubling to 5 s); the SDK reads these statics on every retry.
// @ts-expect-error private readonly in the SDK's types, a plain static field at run time
PollMessageSource.INITIAL_BACKOFF_MS = 200;
// @ts-expect-error as above
PollMessageSource.MAX_BACKOFF_MS = 5000;

/** How long a stopping node waits for the SDK before exiting anyway (ms). */
const STOP_GRACE_MS = 2000;
/** How often the lifeline looks at the parent (ms). */
const LIFELINE_MS = 200;

/**
 * One line on stdout, timestamped like the Python nodes' (the supervisor keeps it in
 * the node's log).
 * @param {string} message
 */
export function say(message) {
  const stamp = new Date().toISOString().slice(11, 23);
  process.stdout.write(`${stamp} ${message}\n`);
}

/**
 * JSON with sorted keys and no spaces: byte for byte what Python's
 * `json.dumps(obj, separators=(",", ":"), sort_keys=True)` writes for flat records.
 * @param {Record<string, unknown>} obj
 * @returns {string}
 */
export function sortedJson(obj) {
  return JSON.stringify(obj, Object.keys(obj).sort());
}

/** Append-only, fsync'd ledger of one node incarnation (contracts/ledger.py). */
export class LedgerWriter {
  /**
   * @param {string} dir
   * @param {string} name
   * @param {string} nodeId
   */
  constructor(dir, name, nodeId) {
    fs.mkdirSync(dir, { recursive: true });
    this.path = path.join(dir, `${name}.${nodeId}.jsonl`);
    this.fd = fs.openSync(this.path, "a", 0o644);
  }

  /** @param {Record<string, unknown>} entry  one line, written and fsync'd before returning */
  append(entry) {
    fs.writeSync(this.fd, sortedJson(entry) + "\n");
    fs.fsyncSync(this.fd);
  }
}

/**
 * Write `info` as JSON to `file` atomically (temp file in the same dir + rename).
 * @param {string} file
 * @param {Record<string, unknown>} info
 */
export function writeReadyFile(file, info) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, JSON.stringify(info, Object.keys(info).sort()) + "\n");
  fs.renameSync(tmp, file);
}

class InjectedFailure extends Error {}

/** One node process of a group: its config, its SDK instance, its ledger. */
export class Node {
  /** @param {string} group */
  constructor(group) {
    this.group = group;
    /** @type {DurableFn[]} */
    this.functions = [];
    /** @type {NodeConfig | undefined} */
    this.config = undefined;
    /** @type {LedgerWriter | undefined} */
    this.ledger = undefined;
  }

  /** @param {DurableFn} fn registered under its own name when the node starts */
  register(fn) {
    this.functions.push(fn);
    return fn;
  }

  /**
   * Do `func`'s own work for `arg` in a durable checkpoint (a `ctx.run` child, retried
   * with the SDK's exponential policy); in `sleep` delay mode a durable `ctx.sleep`
   * comes first. Returns the oracle's value.
   * @param {Context} ctx
   * @param {string} func
   * @param {number} arg
   * @returns {Promise<number>}
   */
  async step(ctx, func, arg) {
    const cfg = this.cfg();
    if (cfg.stepDelayMs > 0 && cfg.delayMode === "sleep") {
      await ctx.sleep(cfg.stepDelayMs);
    }
    /** @type {(c: Context, f: string, p: string, a: number) => Promise<number>} */
    const checkpoint = (c, f, p, a) => this.checkpoint(c, f, p, a);
    return await ctx.run(checkpoint, func, ctx.id, arg, ctx.options({ retryPolicy: new Exponential() }));
  }

  /**
   * The body of the `ctx.run` child: ledger `start`, work, ledger `end`.
   * @param {Context} ctx
   * @param {string} func
   * @param {string} promiseId
   * @param {number} arg
   * @returns {Promise<number>}
   */
  async checkpoint(ctx, func, promiseId, arg) {
    const cfg = this.cfg();
    const stepId = ctx.id;
    this.append("start", func, promiseId, stepId, arg, null);
    if (cfg.failFirst && this.firstAttempt(stepId)) {
      say(`${cfg.name} ${func}(${arg}) injected failure on first attempt step=${stepId}`);
      throw new InjectedFailure(`${func}(${arg}): injected failure on the first attempt`);
    }
    if (cfg.failAlways) {
      say(`${cfg.name} ${func}(${arg}) failed: InjectedFailure: fails on every attempt step=${stepId}`);
      throw new InjectedFailure(`${func}(${arg}): injected failure on every attempt`);
    }
    if (cfg.stepDelayMs > 0 && cfg.delayMode === "work") {
      await new Promise((resolve) => setTimeout(resolve, cfg.stepDelayMs));
    }
    const value = expectedValue(func, arg);
    this.append("end", func, promiseId, stepId, arg, value);
    say(`${cfg.name} ${func}(${arg}) = ${value} promise=${promiseId} step=${stepId}`);
    return value;
  }

  /** @returns {NodeConfig} */
  cfg() {
    if (this.config === undefined) throw new Error("node not configured: call run() first");
    return this.config;
  }

  /**
   * @param {string} phase
   * @param {string} func
   * @param {string} promiseId
   * @param {string} stepId
   * @param {number} arg
   * @param {number | null} value
   */
  append(phase, func, promiseId, stepId, arg, value) {
    const cfg = this.cfg();
    this.ledger?.append({
      ts: Date.now() / 1000, phase, node: cfg.name, node_id: cfg.nodeId, os_pid: process.pid,
      group: cfg.group, func, promise_id: promiseId, step_id: stepId, arg, value,
    });
  }

  /**
   * True exactly once per step across all processes sharing the ledger dir (the same
   * marker files the Python nodes use).
   * @param {string} stepId
   */
  firstAttempt(stepId) {
    const dir = path.join(this.cfg().ledgerDir, "attempts");
    fs.mkdirSync(dir, { recursive: true });
    const name = createHash("sha256").update(stepId).digest("hex").slice(0, 32);
    try {
      fs.writeFileSync(path.join(dir, name), stepId + "\n", { flag: "wx" });
      return true;
    } catch {
      return false;
    }
  }

  /** Run until SIGTERM/SIGINT or the parent's death; exits the process (0, 2 or 3). */
  run() {
    const parentPid = startLifeline(() => this.stop?.(3));
    try {
      this.config = readConfig(this.group, process.env);
    } catch (err) {
      if (err instanceof ConfigError) fail(2, `${this.group}: ${err.message}`);
      throw err;
    }
    const cfg = this.config;
    try {
      this.ledger = new LedgerWriter(cfg.ledgerDir, cfg.name, cfg.nodeId);
    } catch (err) {
      fail(3, `${cfg.name}: cannot open ledger in ${cfg.ledgerDir}: ${messageOf(err)}`);
    }
    const resonate = new Resonate({
      url: cfg.url, group: cfg.group, pid: cfg.nodeId, ttl: cfg.ttlMs, token: cfg.token,
      logger: new NodeLogger(cfg.name, () => this.onConnect()),
    });
    for (const fn of this.functions) resonate.register(fn.name, fn);
    say(`${cfg.name} starting: group=${cfg.group} node_id=${cfg.nodeId} ` +
        `functions=${this.functions.map((f) => f.name).join(",")} runtime=node ${process.version}` +
        (parentPid ? ` parent=${parentPid}` : ""));
    let stopping = false;
    /** @param {number} code */
    this.stop = (code) => {
      if (stopping) return;
      stopping = true;
      say(`${cfg.name} stopping`);
      setTimeout(() => process.exit(code), STOP_GRACE_MS).unref();
      resonate.stop().finally(() => process.exit(code));
    };
    process.on("SIGTERM", () => this.stop?.(0));
    process.on("SIGINT", () => this.stop?.(0));
  }

  /** @type {((code: number) => void) | undefined} */
  stop = undefined;

  /** The listener connected: write the ready file the first time only. */
  onConnect() {
    if (this.ready) return;
    this.ready = true;
    const cfg = this.cfg();
    if (cfg.readyFile) {
      writeReadyFile(cfg.readyFile, {
        name: cfg.name, group: cfg.group, node_id: cfg.nodeId, pid: process.pid,
        ready_at: Date.now() / 1000,
      });
    }
    say(`${cfg.name} ready: group=${cfg.group} node_id=${cfg.nodeId} server=${cfg.url}`);
  }

  ready = false;
}

/**
 * The SDK's logger: warnings and errors to stderr as one line each; the HTTP poll
 * adapter's "connected" info is the readiness signal (the SDK has no other hook).
 * @implements {import("@resonatehq/sdk").Logger}
 */
class NodeLogger {
  /**
   * @param {string} name
   * @param {() => void} onConnect
   */
  constructor(name, onConnect) {
    this.name = name;
    this.onConnect = onConnect;
  }

  /** @param {Record<string, any>} _fields @param {string} _msg */
  debug(_fields, _msg) {}

  /** @param {Record<string, any>} fields @param {string} msg */
  info(fields, msg) {
    if (fields.adapter_type === "HttpPoll" && (msg === "adapter connected" || msg === "adapter reconnected")) {
      this.onConnect();
    }
  }

  /** @param {Record<string, any>} fields @param {string} msg */
  warn(fields, msg) {
    process.stderr.write(`${new Date().toISOString()} resonate ${msg} ${JSON.stringify(fields)}\n`);
  }

  /** @param {Record<string, any>} fields @param {string} msg */
  error(fields, msg) {
    this.warn(fields, msg);
  }
}

/**
 * Watch RPCDEMO_PARENT_PID: exit 3 at once if it is not our parent; call `onDeath`
 * when the parent is gone (we were re-parented), and exit 3 after a grace anyway.
 * Returns the watched pid, or undefined when there is nothing to watch.
 * @param {() => void} onDeath
 * @returns {number | undefined}
 */
export function startLifeline(onDeath) {
  const raw = process.env.RPCDEMO_PARENT_PID ?? "";
  if (!/^\d+$/.test(raw)) return undefined;
  const parent = Number(raw);
  if (process.ppid !== parent) process.exit(3);
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    setTimeout(() => process.exit(3), STOP_GRACE_MS).unref();
    onDeath();
  }, LIFELINE_MS);
  return parent;
}

/**
 * One line on stderr, then exit.
 * @param {number} code
 * @param {string} message
 * @returns {never}
 */
function fail(code, message) {
  process.stderr.write(message + "\n");
  process.exit(code);
}

/** @param {unknown} err */
function messageOf(err) {
  return err instanceof Error ? err.message : String(err);
}
