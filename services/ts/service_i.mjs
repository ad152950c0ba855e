// @ts-check
/** service-i in TypeScript: `dop`, the other branch of the fan-out (2n). */

import { Node } from "./node.mjs";

const node = new Node("service-i");

node.register(
  /** @param {import("@resonatehq/sdk/async").Context} ctx @param {number} arg */
  async function dop(ctx, arg) {
    return await node.step(ctx, "dop", arg);
  },
);

node.run();
