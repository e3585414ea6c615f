#!/bin/bash
# run.sh — `make bench`: every benchmark under tests/bench/, full length.
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 tests/bench/bringup.py "$@"
