#!/bin/sh
# Image build step of the `edgex` target (packaging/container/Dockerfile): from EdgeX's token-config.json, writes
#   OUT_DIR/token-config.json      the same services and policies, each with "file_permissions" {uid, gid}: the
#                                  services' user (EDGEX_USER:EDGEX_GROUP, default 2002:2001; rules-engine, i.e.
#                                  eKuiper: EKUIPER_UID:EKUIPER_GID, default 1001:1001), so every token file is
#                                  chowned to its service right after it is written (docs/edgex.md §2)
#   OUT_DIR/token-config.services  the service names, one per line, for entrypoint-edgex.sh (the runtime image has
#                                  no Node to read JSON with)
# Usage: edgex-token-config.sh EDGEX_TOKEN_CONFIG_JSON OUT_DIR        (needs node; runs in the build stage only)
set -eu
[ $# -eq 2 ] || { echo "usage: edgex-token-config.sh EDGEX_TOKEN_CONFIG_JSON OUT_DIR" >&2; exit 2; }
mkdir -p "$2"
node - "$1" "$2" <<'EOF'
const fs = require('node:fs');
const path = require('node:path');
const [source, outDir] = process.argv.slice(2);
const id = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (!/^\d{1,9}$/.test(v)) throw new Error(`${name} must be a number, got "${v}"`);
  return Number(v);
};
const user = { uid: id('EDGEX_USER', '2002'), gid: id('EDGEX_GROUP', '2001') };
const ekuiper = { uid: id('EKUIPER_UID', '1001'), gid: id('EKUIPER_GID', '1001') };
const config = JSON.parse(fs.readFileSync(source, 'utf8'));
if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new Error(`${source} is not a JSON object`);
const names = Object.keys(config).sort();
for (const svc of names) {
  if (!/^[-a-zA-Z0-9_]+$/.test(svc)) throw new Error(`service name "${svc}" is not a plain name`);
  const owner = svc === 'rules-engine' ? ekuiper : user;
  config[svc].file_permissions = { ...(config[svc].file_permissions ?? {}), uid: owner.uid, gid: owner.gid };
}
fs.writeFileSync(path.join(outDir, 'token-config.json'), JSON.stringify(config, null, 2) + '\n');
fs.writeFileSync(path.join(outDir, 'token-config.services'), names.join('\n') + '\n');
process.stderr.write(`edgex-token-config: ${names.length} services, owner ${user.uid}:${user.gid} (rules-engine ${ekuiper.uid}:${ekuiper.gid})\n`);
EOF
