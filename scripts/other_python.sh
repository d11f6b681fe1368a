#!/usr/bin/env bash
# The suite under another Python than the main .venv's, in its own venv (.venv-<version>).
#
#   scripts/other_python.sh 3.12          # the fast tests + one lesson under nbval (what `make ci` runs)
#   scripts/other_python.sh 3.13 full     # the whole pytest suite (fast and slow tests + every lesson)
#
# The venv is made by the Makefile's own dev rule (same requirements*.txt + constraints.txt).
# With no such interpreter on this machine it prints NOT RUN and the way to install one, and exits 0:
# `make ci` must not fail on a laptop that has only one Python, and must never claim a pass.
# torch 2.13.0 has wheels for 3.12 and 3.13 on PyPI, but they are the CUDA build (~4.5 GB per venv
# with its nvidia-* packages); only the 3.11 CPU wheel lies on this machine's disk.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:?usage: scripts/other_python.sh VERSION [smoke|full]}
what=${2:-smoke}
lesson=${JBERT_SMOKE_LESSON:-notebooks/04-16_forward_pass.ipynb}

if ! python=$(scripts/find_python.sh "$version"); then
  echo "Python $version: NOT RUN: no python$version on this machine (install it: pyenv install $version, or your OS's python$version package)"
  exit 0
fi
venv=".venv-$version"
echo "Python $version: $python -> $venv"
make --no-print-directory PYTHON="$python" VENV="$venv" dev
case "$what" in
  smoke) set -- tests "$lesson" ;;
  full) set -- -m "slow or not slow" ;;
  *) echo "unknown mode $what (smoke or full)" >&2; exit 2 ;;
esac
"$venv/bin/python" -m pytest -q -n 2 --dist loadscope "$@"
echo "Python $version ($what): passed"
