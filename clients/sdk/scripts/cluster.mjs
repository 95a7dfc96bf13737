// Real gonghui nodes for the SDK's tests and its type generator: the binary cargo built
// (`target/debug/gonghui`, or $GONGHUI_BIN), on random loopback ports, on a fresh
// database of the Postgres at 127.0.0.1:5432, with SMS codes caught by a webhook here.
import { spawn, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { createServer as createTcpServer } from "node:net";
import { fileURLToPath } from "node:url";
import path from "node:path";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const target = process.env.CARGO_TARGET_DIR ?? path.join(repo, "target");
export const binary = process.env.GONGHUI_BIN ?? path.join(target, "debug", "gonghui");
const postgres = process.env.GONGHUI_TEST_PG ?? "postgres://postgres@127.0.0.1:5432";

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createTcpServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function psql(sql) {
  execFileSync("psql", [`${postgres}/postgres`, "-qc", sql], { stdio: "ignore" });
}

/** Catches the codes the nodes send, by phone. */
async function smsInbox() {
  const codes = new Map();
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      const { phone, code } = JSON.parse(body);
      codes.set(phone, code);
      res.end();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${server.address().port}/sms`, codes, server };
}

async function waitReady(http, child) {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`the node exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${http}/readyz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${http} never became ready`);
}

/**
 * Starts `nodes` nodes sharing one fresh database. `env` adds settings (GONGHUI_*).
 * Answers their addresses and the means to log in, kill, restart and stop them.
 */
export async function startCluster({ nodes = 1, env = {} } = {}) {
  const database = `gonghui_test_sdk_${randomBytes(6).toString("hex")}`;
  psql(`CREATE DATABASE "${database}"`);
  const sms = await smsInbox();
  const common = {
    ...process.env,
    DATABASE_URL: `${postgres}/${database}`,
    GONGHUI_DATA_KEY: randomBytes(32).toString("hex"),
    GONGHUI_SMS: "http",
    GONGHUI_SMS_WEBHOOK: sms.url,
    GONGHUI_SMS_PER_ADDRESS_HOUR: "100000",
    GONGHUI_LOG: "warn",
    GONGHUI_DB_POOL: "8",
    GONGHUI_WORKERS: "2",
    ...env,
  };
  const started = [];
  const launch = async (port) => {
    const child = spawn(binary, ["serve", "--listen", `127.0.0.1:${port}`], {
      env: common,
      stdio: ["ignore", "ignore", "inherit"],
    });
    const node = { port, http: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}/ws`, child };
    await waitReady(node.http, child);
    return node;
  };
  const ports = [];
  for (let i = 0; i < nodes; i++) ports.push(await freePort());
  // Every node lists every node, as a deployment would: consoles fail over between them.
  common.GONGHUI_CONSOLE_NODES ??= ports.map((p) => `http://127.0.0.1:${p}`).join(",");
  // The site's address (activity links, their codes) is the first node's.
  common.GONGHUI_PUBLIC_URL ??= `http://127.0.0.1:${ports[0]}`;
  for (const port of ports) started.push(await launch(port));

  const cluster = {
    database,
    nodes: started,
    http: started.map((n) => n.http),
    ws: started.map((n) => n.ws),
    /** Creates the root union and its admin; answers the root union's id. */
    bootstrap(phone, password) {
      const out = execFileSync(
        binary,
        ["bootstrap", "--union-name", "广东省总工会", "--admin-phone", phone, "--admin-password", password],
        { env: common },
      );
      return JSON.parse(out.toString()).union_id;
    },
    /** The last SMS code sent to `phone`. */
    smsCode(phone) {
      return sms.codes.get(phone);
    },
    /** Logs `phone` in by SMS code on node `i`; answers `{token, user_id}`. */
    async login(phone, client = "app", i = 0) {
      const base = started[i].http;
      const sent = await fetch(`${base}/api/v1/auth/sms-codes`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ phone }),
      });
      if (sent.status !== 202) throw new Error(`sms-codes: ${sent.status} ${await sent.text()}`);
      const login = await fetch(`${base}/api/v1/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ phone, sms_code: sms.codes.get(phone), client }),
      });
      if (!login.ok) throw new Error(`login: ${login.status} ${await login.text()}`);
      const { token, user } = await login.json();
      return { token, user_id: user.id };
    },
    /** Kills node `i` at once (SIGKILL): its sockets drop without a close frame. */
    kill(i) {
      started[i].child.kill("SIGKILL");
    },
    /** Stops node `i` gracefully (SIGTERM): it closes its sockets with 1012 and exits. */
    async terminate(i) {
      const child = started[i].child;
      child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode === null ? child.once("exit", r) : r()));
    },
    /** Starts node `i` again on its port. */
    async restart(i) {
      started[i] = await launch(started[i].port);
    },
    /** The cluster's database, for a psql session of a test's own. */
    sqlUrl() {
      return `${postgres}/${database}`;
    },
    /** Runs SQL on the cluster's database; answers what it printed (one value: the value). */
    sqlValue(statement) {
      return execFileSync("psql", [`${postgres}/${database}`, "-qAtc", statement]).toString().trim();
    },
    async stop() {
      for (const node of started) {
        if (node.child.exitCode === null) {
          node.child.kill("SIGTERM");
          await new Promise((r) => node.child.once("exit", r));
        }
      }
      sms.server.close();
      psql(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    },
  };
  return cluster;
}
