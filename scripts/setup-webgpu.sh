#!/usr/bin/env bash
# Installs a WebGPU-capable Vulkan driver (Mesa's lavapipe from bookworm-backports) when Node
# finds no WebGPU adapter. Idempotent; run as root. Bookworm's own Mesa 22.3 is refused by Dawn.
set -euo pipefail
cd "$(dirname "$0")/.."

probe() {
  node --input-type=module -e "
    import { create } from 'webgpu';
    const gpu = create([]);
    const adapter = await gpu.requestAdapter();
    if (!adapter) process.exit(1);
    const info = adapter.info ?? {};
    console.log('webgpu adapter:', info.vendor || '?', info.architecture || '', info.device || info.description || '');
    process.exit(0);
  " 2>/dev/null
}

if probe; then exit 0; fi

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-webgpu: no WebGPU adapter found and not root; install mesa-vulkan-drivers from bookworm-backports" >&2
  exit 1
fi

# Add the backports suite to the existing Debian source entry (deb822 or one-line format),
# reusing whatever mirror it already names.
src=/etc/apt/sources.list.d/debian.sources
if [ -f "$src" ]; then
  if ! grep -q 'bookworm-backports' "$src"; then
    sed -i -E 's/^(Suites:.*\bbookworm-updates\b.*)$/\1 bookworm-backports/' "$src"
  fi
elif [ -f /etc/apt/sources.list ] && ! grep -q 'bookworm-backports' /etc/apt/sources.list; then
  line=$(grep -E '^deb .* bookworm main' /etc/apt/sources.list | head -1)
  [ -n "$line" ] && echo "${line/ bookworm / bookworm-backports }" >> /etc/apt/sources.list
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# The suite's priority is low, so it has to be named.
apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null

if ! probe; then
  echo "setup-webgpu: driver installed but Node still finds no WebGPU adapter" >&2
  exit 1
fi
