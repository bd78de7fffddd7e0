# shellcheck shell=bash
# Shared helpers of the IKM hooks (hooks/ikm-*). Sourced, never executed.
#
# Contract of every hook (EdgeX Vault Master Key Encryption, hardened):
#   no arguments  -> prints the IKM as lowercase hex, one line, on stdout and NOTHING else; diagnostics on stderr
#   provision     -> sets the hook up once on this device
#   --help        -> usage on stdout
# Every failure exits non-zero with ONE clear line on stderr that says what to do. The IKM never touches the disk:
# it moves through pipes and shell variables only, and every temporary file is created under umask 077.

# The caller sets IKM_HOOK_NAME (e.g. "ikm-tpm2") before sourcing.
: "${IKM_HOOK_NAME:?IKM_HOOK_NAME must be set before sourcing ikm-common.sh}"
# What starts every stderr line (ikm-dev adds a "NOT hardware-backed" tag so even a failure line says so).
: "${IKM_MSG_PREFIX:=$IKM_HOOK_NAME}"

umask 077
# The tools must never prompt: nothing of ours reads the terminal.
exec </dev/null

# ikm_die MESSAGE... — one line on stderr, exit 1.
ikm_die() {
  printf '%s: %s\n' "$IKM_MSG_PREFIX" "$*" >&2
  exit 1
}

# ikm_usage_error MESSAGE — bad invocation, exit 2.
ikm_usage_error() {
  printf '%s: %s; see %s --help\n' "$IKM_MSG_PREFIX" "$*" "$IKM_HOOK_NAME" >&2
  exit 2
}

# ikm_note MESSAGE... — a diagnostic line on stderr (never the IKM).
ikm_note() {
  printf '%s: %s\n' "$IKM_MSG_PREFIX" "$*" >&2
}

# ikm_need TOOL... — fail clearly when a required program is missing.
ikm_need() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || ikm_die "required program \"$t\" not found on PATH; install it (see docs/hooks.md)"
  done
}

# ikm_bin_to_hex — stdin bytes -> lowercase hex on stdout (no newline). od, not xxd: od is in coreutils.
ikm_bin_to_hex() {
  od -An -v -tx1 | tr -d ' \n'
}

# ikm_hex_to_bin HEX — writes the bytes of HEX on stdout (HEX already validated as even-length hex).
ikm_hex_to_bin() {
  local hex=$1 i out=''
  for ((i = 0; i < ${#hex}; i += 2)); do out+="\\x${hex:i:2}"; done
  # shellcheck disable=SC2059 # the format is built from validated hex escapes only
  printf "$out"
}

# ikm_is_hex_ikm VALUE — true when VALUE is lowercase hex of 32..64 bytes (64..128 hex characters).
ikm_is_hex_ikm() {
  [[ $1 =~ ^[0-9a-f]+$ ]] && ((${#1} % 2 == 0 && ${#1} >= 64 && ${#1} <= 128))
}

# ikm_emit HEX — the one place a hook writes the IKM: validated lowercase hex, one line, on stdout.
ikm_emit() {
  local hex=$1
  ikm_is_hex_ikm "$hex" || ikm_die "the released secret is not 32-64 bytes of hex; the device returned something unexpected (re-provision?)"
  printf '%s\n' "$hex"
}

# ikm_positive_int NAME VALUE MIN MAX — validates a whole number setting, prints it.
ikm_positive_int() {
  local name=$1 value=$2 min=$3 max=$4
  [[ $value =~ ^[0-9]{1,9}$ ]] || ikm_die "$name must be a whole number, got \"$value\""
  ((10#$value >= min && 10#$value <= max)) || ikm_die "$name must be between $min and $max, got $value"
  printf '%d' "$((10#$value))"
}

# ikm_write_file_atomic PATH [new] — stdin -> PATH, mode 0600, via a synced temp file in the same folder, then an
# atomic rename (replace) or, with "new", an atomic hard link that fails if PATH appeared meanwhile (two concurrent
# provisions cannot overwrite each other). Never used for the IKM itself (except by ikm-dev, whose point is a file).
ikm_write_file_atomic() {
  local path=$1 mode=${2:-replace} dir tmp
  dir=$(dirname -- "$path")
  [ -d "$dir" ] || ikm_die "folder $dir does not exist; create it (mode 0700) first"
  tmp=$(mktemp "$dir/.${path##*/}.XXXXXX") || ikm_die "cannot create a temporary file in $dir"
  if ! cat >"$tmp"; then rm -f -- "$tmp"; ikm_die "cannot write $path"; fi
  chmod 600 -- "$tmp"
  sync -- "$tmp" 2>/dev/null || true
  if [ "$mode" = new ]; then
    if ! ln -- "$tmp" "$path" 2>/dev/null; then rm -f -- "$tmp"; ikm_die "$path appeared meanwhile; refusing to overwrite it"; fi
    rm -f -- "$tmp"
  elif ! mv -f -- "$tmp" "$path"; then
    rm -f -- "$tmp"
    ikm_die "cannot rename the new file onto $path"
  fi
  sync -- "$dir" 2>/dev/null || true
}

# ikm_check_private_file PATH WHAT — PATH must be a regular file that group/others cannot read or write.
ikm_check_private_file() {
  local path=$1 what=$2 mode info
  IKM_FILE_SIZE=
  [ -e "$path" ] || return 0
  [ -f "$path" ] || ikm_die "$what $path is not a regular file"
  # One stat for the mode and the size (IKM_FILE_SIZE, for the caller's size check): every program a hook starts
  # costs about a millisecond of the device's boot.
  info=$(stat -L -c '%a %s' -- "$path") || ikm_die "cannot stat $what $path"
  mode=${info% *}
  IKM_FILE_SIZE=${info#* }
  if (((8#$mode & 8#077) != 0)); then
    ikm_die "$what $path has mode $mode; it must be readable by its owner only (chmod 600 $path)"
  fi
}
