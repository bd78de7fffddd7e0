#!/bin/sh
# secretstore-setup in place of EdgeX 4's security-secretstore-setup entrypoint.sh (docs/deploy.md, docs/edgex.md §2).
#
# Runs as root with only CAP_CHOWN, CAP_DAC_OVERRIDE and CAP_FOWNER (compose: cap_drop ALL + cap_add), which is what
# handing the token files to the services' users takes: the token folders are chowned here, BEFORE the program
# starts, and each token file is chowned by the program right after it is written (token-config.json's
# file_permissions), because the program opens the stage gate itself as soon as the files are there.
#
# Needs only /bin/sh and coreutils (mkdir, chown): no Node, no yq, no su-exec. The service list comes from
# /res-file-token-provider/token-config.services, written with token-config.json when the image was built
# (packaging/container/edgex-token-config.sh): rebuild the image when you change token-config.json.
# Everything after the entrypoint goes to `secretstore-setup bootstrap` (compose: --secretStoreInterval=10
# --longRun=true): ONE process does the setup, the stage gate and --longRun (do not run it twice, docs/edgex.md §2).
set -eu

SECRETS_ROOT="${TOKENFILEPROVIDER_OUTPUTDIR:-/tmp/edgex/secrets}"   # set the variable if OutputDir differs in the file
SERVICES_FILE="${SECRETSTORE_SETUP_SERVICES:-/res-file-token-provider/token-config.services}"
EDGEX_USER="${EDGEX_USER:-2002}"
EDGEX_GROUP="${EDGEX_GROUP:-2001}"
EKUIPER_UID="${EDGEX_EKUIPER_USER_ID:-1001}"
EKUIPER_GID="${EDGEX_EKUIPER_GROUP_ID:-1001}"

# As EdgeX's entrypoint: the store's configuration volume belongs to OpenBao's user (uid 100, gid 1000).
mkdir -p /openbao/config/assets
chown -Rh 100:1000 /openbao/

# The token folders belong to the services BEFORE the setup runs (the program keeps a folder's owner, sets 0700).
while IFS= read -r svc || [ -n "$svc" ]; do
  case $svc in '' | '#'*) continue ;; esac
  mkdir -p "$SECRETS_ROOT/$svc"
done <"$SERVICES_FILE"
chown -Rh "$EDGEX_USER:$EDGEX_GROUP" "$SECRETS_ROOT"
if [ -d "$SECRETS_ROOT/rules-engine" ]; then chown -Rh "$EKUIPER_UID:$EKUIPER_GID" "$SECRETS_ROOT/rules-engine"; fi

exec /usr/local/bin/secretstore-setup bootstrap "$@"
