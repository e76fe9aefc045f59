// The live tests' Restate service, on the TypeScript SDK (@restatedev/restate-sdk, pinned in
// package.json), served over HTTP/2 on 127.0.0.1 only, on a free port the OS picks.
//
// Usage: node service.mjs <install-dir> <ready-file>
//   <install-dir>: where tools/restate-live/setup.sh installed the packages.
//   <ready-file>:  written with the port once the endpoint listens.
// Env: WFCANCEL_STEP_LOG: a file each handler appends "<invocation id> <event>" lines to, so that
//      a test can prove what ran (and what did not run after a cancel).
//
// Services:
//   WfcSlow.run({steps, step_ms})  steps of step_ms each, every step a durable ctx.run that logs
//                                  "stepN start" / "stepN done"; the invocation stays "running".
//                                  On a cancel it logs "compensated" (a cleanup that a kill skips).
//   WfcSlow.wait()                 awaits an awakeable nobody resolves: "suspended", costs nothing.
//   WfcSlow.quick()                completes at once with "done".
//   WfcSlow.fail()                 fails at once with a terminal error.
//   WfcOther.run({steps, step_ms}) the same slow handler in a second service.
import fs from "node:fs";
import http2 from "node:http2";
import path from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

// Node 20 lacks Promise.withResolvers, which the SDK uses.
if (typeof Promise.withResolvers !== "function") {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new this((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

const [installDir, readyFile] = process.argv.slice(2);
if (!installDir || !readyFile) {
  console.error("usage: node service.mjs <install-dir> <ready-file>");
  process.exit(2);
}
const require = createRequire(path.join(path.resolve(installDir), "package.json"));
const restate = await import(pathToFileURL(require.resolve("@restatedev/restate-sdk")).href);

const stepLog = process.env.WFCANCEL_STEP_LOG;
function record(id, event) {
  if (stepLog) fs.appendFileSync(stepLog, `${id} ${event}\n`);
}
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function slow(ctx, input) {
  const id = ctx.request().id;
  const steps = Number(input?.steps ?? 100000);
  const stepMs = Number(input?.step_ms ?? 500);
  try {
    for (let i = 1; i <= steps; i++) {
      await ctx.run(`step${i}`, async () => {
        record(id, `step${i} start`);
        await pause(stepMs);
        record(id, `step${i} done`);
      });
    }
  } catch (e) {
    if (e instanceof restate.TerminalError) {
      await ctx.run("compensate", async () => record(id, "compensated"));
    }
    throw e;
  }
  record(id, "finished");
  return `ran ${steps} steps`;
}

const handlers = {
  run: async (ctx, input) => slow(ctx, input),
  wait: async (ctx) => {
    const { promise } = ctx.awakeable();
    return await promise;
  },
  quick: async (ctx) => {
    record(ctx.request().id, "quick");
    return "done";
  },
  fail: async (ctx) => {
    record(ctx.request().id, "fail");
    throw new restate.TerminalError("wfcancel: failing on purpose");
  },
};

const slowService = restate.service({ name: "WfcSlow", handlers });
const otherService = restate.service({ name: "WfcOther", handlers: { run: handlers.run } });

const server = http2.createServer(restate.createEndpointHandler({ services: [slowService, otherService] }));
server.listen(0, "127.0.0.1", () => {
  const port = server.address().port;
  fs.writeFileSync(`${readyFile}.tmp`, `${port}\n`);
  fs.renameSync(`${readyFile}.tmp`, readyFile);
});
for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => process.exit(0));
}
