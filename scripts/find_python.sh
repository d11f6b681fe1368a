#!/usr/bin/env bash
# Print the path of a Python interpreter of version $1 (e.g. 3.12), or exit 1 if none is installed.
# Looks for python$1 on PATH (a pyenv shim counts only if it runs), then in pyenv's versions.
set -uo pipefail
want=${1:?usage: scripts/find_python.sh 3.12}
is_version() { "$1" -c "import sys; sys.exit(f'{sys.version_info[0]}.{sys.version_info[1]}' != '$want')" 2>/dev/null; }
if p=$(command -v "python$want") && is_version "$p"; then
  echo "$p"; exit 0
fi
if command -v pyenv >/dev/null && latest=$(pyenv latest "$want" 2>/dev/null); then
  p="$(pyenv root)/versions/$latest/bin/python$want"
  if [ -x "$p" ] && is_version "$p"; then echo "$p"; exit 0; fi
fi
exit 1
