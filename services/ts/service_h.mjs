// @ts-check
/** service-h in TypeScript: `rax`, one branch of the fan-out (n + 1). */

import { Node } from "./node.mjs";

const node = new Node("service-h");

node.register(
  /** @param {import("@resonatehq/sdk/async").Context} ctx @param {number} arg */
  async function rax(ctx, arg) {
    return await node.step(ctx, "rax", arg);
  },
);

node.run();
