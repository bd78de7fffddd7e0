'use strict';
// The floor of a sealed boot in Node, for `npm run bench -- startup` (bench/startup.bench.ts): what any Node program
// doing this boot's I/O pays, with none of the boot's own work. It loads the built-in modules a boot needs
// (node:http, node:crypto, node:child_process, node:fs), reads the store's state (GET sys/health), runs the IKM hook
// (EDGEX_IKM_HOOK, as the boot flow runs it: no arguments, stdout read to its end), then makes the rest of the
// boot's requests as cheap ones (GET sys/health on the same kept-alive connection) and exits.
//
// Usage: node scripts/boot-floor.cjs STORE_URL REQUESTS
const http = require('node:http');
const { spawn } = require('node:child_process');
require('node:crypto');
require('node:fs');

const [address, count] = process.argv.slice(2);
const url = new URL('/v1/sys/health?standbyok=true&sealedcode=503&uninitcode=501', address);
const requests = Number(count);
if (!Number.isInteger(requests) || requests < 1) {
  process.stderr.write('usage: node scripts/boot-floor.cjs STORE_URL REQUESTS\n');
  process.exit(2);
}
const agent = new http.Agent({ keepAlive: true });

function health() {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        res.resume();
        res.on('end', resolve);
      })
      .on('error', reject);
  });
}

function hook() {
  const path = process.env.EDGEX_IKM_HOOK;
  if (path === undefined || path === '') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const child = spawn(path, [], { stdio: ['ignore', 'pipe', 'ignore'] });
    child.stdout.resume();
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`the hook exited ${code}`))));
  });
}

(async () => {
  await health();
  await hook();
  for (let i = 1; i < requests; i++) await health();
  agent.destroy();
})().catch((err) => {
  process.stderr.write(`boot-floor: ${err.message}\n`);
  process.exitCode = 1;
});
