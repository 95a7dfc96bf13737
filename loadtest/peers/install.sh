#!/usr/bin/env bash
# Installs the peers' packages from the npm registry.
set -euo pipefail
cd "$(dirname "$0")/ws-broadcast"
npm install --no-audit --no-fund --loglevel=error
