/**
 * Child process of the election tests (not a test file): opens the etcd storage, campaigns for the HA lock, prints
 * `held <epoch ms>` once it holds it (and `lost <epoch ms>` if it loses it), and runs until it is killed — the tests
 * SIGKILL it to play a crashed active node.
 * Usage: node election-holder.js <endpoints, comma-separated> <prefix> <nodeId>
 */
import { Logger } from '../../../../src/log.js';
import { openEtcdStorage } from '../../../../src/store/storage/etcd/etcd-storage.js';

const [endpoints, prefix, nodeId] = process.argv.slice(2);
if (endpoints === undefined || prefix === undefined || nodeId === undefined) throw new Error('usage: election-holder <endpoints> <prefix> <nodeId>');
const storage = await openEtcdStorage({ endpoints: endpoints.split(','), prefix }, new Logger({ level: 'warn' }));
const lock = await storage.ha.acquire({ nodeId, apiAddr: `http://127.0.0.1/${nodeId}` }, new AbortController().signal);
process.stdout.write(`held ${Date.now()}\n`);
await lock.lost;
process.stdout.write(`lost ${Date.now()}\n`);
// Keep running (as a stepped-down node would) until killed.
setInterval(() => undefined, 60_000);
