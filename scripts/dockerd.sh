#!/usr/bin/env bash
# ensure_dockerd: start Debian's dockerd when no Docker daemon answers, and wait until `docker info` answers.
# Without systemd (containers, CI machines) it runs dockerd in the background with its log in /var/log/dockerd.log.
# Sourced by scripts/bootstrap.sh and .ci/run.
ensure_dockerd() {
  if docker info >/dev/null 2>&1; then return 0; fi
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl start docker >/dev/null 2>&1 || true
  fi
  if ! docker info >/dev/null 2>&1 && ! pgrep -x dockerd >/dev/null 2>&1; then
    echo "vxlab: starting dockerd (log: /var/log/dockerd.log)" >&2
    setsid dockerd >/var/log/dockerd.log 2>&1 < /dev/null &
  fi
  for _ in $(seq 1 120); do
    if docker info >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "vxlab: dockerd did not answer within 60 s; see /var/log/dockerd.log" >&2
  tail -n 20 /var/log/dockerd.log >&2 2>/dev/null || true
  return 1
}
