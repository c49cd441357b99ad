#!/usr/bin/env bash
# Idempotent setup: installs what is missing (Debian packages, a venv with the
# project and its dev tools, the web UI's node modules) and is quiet otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  pkg-config libvirt-dev libvirt-daemon libvirt-daemon-driver-qemu
  qemu-system-x86 qemu-utils ovmf openvswitch-switch ovn-central ovn-host ethtool
  iproute2 nftables tmux bridge-utils
  linux-image-amd64 busybox-static cpio kmod faketime
  mmdebstrap squashfs-tools mtools dosfstools fdisk systemd-boot-efi dnsmasq-base
)
if [[ "${QUANTIX_WITH_BROWSER:-1}" == 1 ]]; then
  APT_PACKAGES+=(chromium)
fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# libvirt's QEMU driver (Debian's build) resolves its default user and group
# "libvirt-qemu" at start-up, even embedded with QEMU running as root; the
# libvirt-daemon-system package would create them but also wants a running libvirtd.
if ! getent group libvirt-qemu >/dev/null; then groupadd --system libvirt-qemu; fi
if ! getent passwd libvirt-qemu >/dev/null; then
  useradd --system --no-create-home --home-dir /var/lib/libvirt -g libvirt-qemu \
    --shell /usr/sbin/nologin libvirt-qemu
fi

PY=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.quantix-installed
# The top-level packages too: an editable install maps only those it saw.
want=$( { cat pyproject.toml; ls -d */__init__.py; } | sha256sum | cut -d' ' -f1)
if [[ ! -f $stamp || "$(cat $stamp)" != "$want" ]]; then
  echo "setup: installing the project and its dev tools into .venv"
  # pip is noisy about this machine's mirror settings: keep its output for failures only.
  if ! { .venv/bin/pip install -q --upgrade pip && .venv/bin/pip install -q -e '.[dev]'; } \
      > .venv/pip.log 2>&1; then
    cat .venv/pip.log; exit 1
  fi
  echo "$want" > $stamp
fi

if [[ -f webui/package-lock.json ]]; then
  wstamp=webui/node_modules/.quantix-installed
  wwant=$(sha256sum webui/package-lock.json | cut -d' ' -f1)
  if [[ ! -f $wstamp || "$(cat $wstamp)" != "$wwant" ]]; then
    echo "setup: installing the web UI's node modules"
    (cd webui && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    echo "$wwant" > $wstamp
  fi
  # Build the UI (webui/dist, served by every peer at /) when its sources changed.
  bstamp=webui/dist/.quantix-built
  bwant=$(cd webui && find src index.html package-lock.json vite.config.ts tsconfig.json -type f \
    -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
  if [[ ! -f $bstamp || "$(cat $bstamp)" != "$bwant" ]]; then
    echo "setup: building the web UI"
    mkdir -p .cache
    (cd webui && npm run build --silent > ../.cache/webui-build.log 2>&1) || {
      cat .cache/webui-build.log; exit 1; }
    echo "$bwant" > $bstamp
  fi
fi
