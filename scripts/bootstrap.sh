#!/usr/bin/env bash
# Installs what vxlab needs, only what is missing: Debian/Ubuntu packages and npm dependencies.
# Used by ./vx (the quick start) and .ci/run. Safe to run again: it does nothing when everything is there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "vxlab: needs root (it creates network namespaces, veths and vxlan devices): run with sudo" >&2
  exit 3
fi

# command -> Debian package
declare -A PKG=(
  [ip]=iproute2 [bridge]=iproute2 [tcpdump]=tcpdump [ping]=iputils-ping [nft]=nftables
  [fping]=fping [ethtool]=ethtool [sysctl]=procps [iperf3]=iperf3 [setpriv]=util-linux
  [timeout]=coreutils
  [strace]=strace # only the tests: the cleanup race is reproduced by holding a real `ip netns exec` at setns
)
missing=()
for c in "${!PKG[@]}"; do command -v "$c" >/dev/null 2>&1 || missing+=("${PKG[$c]}"); done
[ -d /usr/lib/cni ] || missing+=(containernetworking-plugins)
# runtime docker/kind: Debian's Docker engine and the static busybox the default node image is built from.
# ./vx sets VXLAB_NEED_DOCKER=0 when nothing it was asked to do uses a docker or kind topology.
need_docker=${VXLAB_NEED_DOCKER:-1}
if [ "$need_docker" = 1 ]; then
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' || missing+=(busybox-static)
fi
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then missing+=(nodejs npm); fi

if [ "${#missing[@]}" -gt 0 ]; then
  mapfile -t uniq < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "vxlab: installing ${uniq[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # iperf3 asks whether to start a daemon; preseed "no"
  echo 'iperf3 iperf3/start_daemon boolean false' | debconf-set-selections 2>/dev/null || true
  apt-get install -y -qq --no-install-recommends "${uniq[@]}" >/dev/null
fi

# The browser tests (HTML report, graph SVG) drive Debian's chromium through playwright-core (no browser download);
# Liberation Sans has the Helvetica metrics Graphviz lays labels out with. Optional: Ubuntu has no apt chromium
# (only a snap), and without it those tests skip outside CI.
browser=()
grep -qx 'ID=debian' /etc/os-release 2>/dev/null && ! command -v chromium >/dev/null 2>&1 && browser+=(chromium)
[ -f /usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf ] || browser+=(fonts-liberation)
if [ "${#browser[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  [ "${#missing[@]}" -gt 0 ] || apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${browser[@]}" >/dev/null \
    || echo "vxlab: could not install ${browser[*]}; the browser tests will skip (outside CI)" >&2
fi

# Debian 12 ships Node 18, Ubuntu 22.04 Node 12: vxlab needs 20. Take Node 20 from the npm registry's `node` package.
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  if [ ! -x .vxlab/node/node_modules/node/bin/node ]; then
    echo "vxlab: system Node is $(node -v 2>/dev/null || echo missing); installing Node 20 into .vxlab/node" >&2
    npm install --silent --prefix .vxlab/node node@20 >/dev/null
  fi
  export PATH="$PWD/.vxlab/node/node_modules/node/bin:$PATH"
fi

# npm dependencies: `npm ci` when the lockfile changed since the last install
stamp=node_modules/.vxlab-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

# runtime docker/kind need a running dockerd; start it when it is not running (there may be no systemd)
# shellcheck source=scripts/dockerd.sh
if [ "$need_docker" = 1 ]; then
  source "$(dirname "${BASH_SOURCE[0]}")/dockerd.sh"
  ensure_dockerd
fi
