#!/usr/bin/env bash
# Installs Debian's chromium for the dashboard browser test (test/e2e/dashboard.browser.test.ts), once.
# playwright's own browser download cannot run offline; the test drives /usr/bin/chromium through playwright-core.
# Idempotent: does nothing when chromium is already there. Needs root (or sudo) and an apt mirror.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends chromium fonts-dejavu-core
/usr/bin/chromium --version
