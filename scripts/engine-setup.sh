#!/usr/bin/env bash
# Installs and starts the container engine StageX's Stage1-X builds need (Docker Engine with
# the containerd image store + buildx), for stagex-pipeline's engine tests (run as root).
#
#   scripts/engine-setup.sh          install when missing, start dockerd when not running
#   scripts/engine-setup.sh stop     stop the dockerd this script started (nothing else)
#   scripts/engine-setup.sh second [stop]
#                                    a second, independent engine on this machine (own data
#                                    root, exec root, socket, and its own network namespace:
#                                    a dockerd with --bridge=none would delete the first one's
#                                    docker0) as the docker context `stage0-second`, for builds
#                                    spread over two builders
#
# Debian bookworm's docker.io (20.10) is too old for StageX's flags, so Debian trixie is
# added as a source pinned at priority 100 (nothing upgrades from it unless asked with
# `-t trixie`) and docker.io + docker-buildx come from there: dockerd 26, buildx 0.13,
# (today's trixie docker.io also upgrades libc6 to trixie's 2.41; nothing else follows). Idempotent: an engine that already answers with the containerd
# snapshotter is left alone; dockerd is started only when no daemon answers, and its pid is
# recorded so that `stop` ends exactly that process.
#
# Environment: ENGINE_SOCKET (default /var/run/docker.sock), ENGINE_STATE (default
# /var/run/stage0-engine: pid file and dockerd log), ENGINE_WAIT (seconds, default 60).
set -euo pipefail

SOCKET="${ENGINE_SOCKET:-/var/run/docker.sock}"
STATE="${ENGINE_STATE:-/var/run/stage0-engine}"
DAEMON_ARGS=()
NETNS=()
if [ "${1:-}" = second ]; then
    shift
    SOCKET=/var/run/stage0-second.sock
    STATE=/var/run/stage0-engine-second
    mkdir -p "$STATE"
    echo '{"features":{"containerd-snapshotter":true}}' >"$STATE/daemon.json"
    DAEMON_ARGS=(--data-root /var/lib/stage0-second --exec-root "$STATE/exec"
        --pidfile "$STATE/docker.pid" --config-file "$STATE/daemon.json")
    NETNS=(unshare --net)
    if [ "${1:-}" != stop ] && ! docker context inspect stage0-second >/dev/null 2>&1; then
        docker context create stage0-second --docker "host=unix://$SOCKET" >/dev/null
    fi
fi
WAIT="${ENGINE_WAIT:-60}"
PIDFILE="$STATE/dockerd.pid"
export DOCKER_HOST="unix://$SOCKET"

log() { echo "engine-setup: $*"; }

if [ "${1:-}" = stop ]; then
    if [ -f "$PIDFILE" ]; then
        pid="$(cat "$PIDFILE")"
        if kill -0 "$pid" 2>/dev/null; then
            log "stopping dockerd (pid $pid, started by this script)"
            kill "$pid"
            for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
        fi
        rm -f "$PIDFILE"
    else
        log "no dockerd started by this script; nothing to stop"
    fi
    exit 0
fi

engine_ok() {
    docker version -f '{{.Server.Version}}' >/dev/null 2>&1 &&
        [[ "$(docker info -f '{{.DriverStatus}}' 2>/dev/null)" == *io.containerd.snapshotter.v1* ]] &&
        docker buildx version >/dev/null 2>&1
}

if engine_ok; then
    log "engine already running: docker $(docker version -f '{{.Server.Version}}'), $(docker buildx version)"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "engine-setup: need root to install and start dockerd" >&2
    exit 1
fi

have() { [ "$(dpkg-query -W -f '${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }
version_of() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || true; }

# docker.io from bookworm (20.10) is too old: require the trixie one (>= 26).
if ! have docker.io || ! have docker-buildx ||
    ! dpkg --compare-versions "$(version_of docker.io)" ge 26; then
    if ! grep -rqs 'trixie' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        log "adding Debian trixie as an apt source (pinned at priority 100)"
        cat >/etc/apt/sources.list.d/stage0-trixie.sources <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    fi
    if [ ! -f /etc/apt/preferences.d/stage0-trixie ]; then
        cat >/etc/apt/preferences.d/stage0-trixie <<'EOF'
Package: *
Pin: release n=trixie
Pin-Priority: 100
EOF
    fi
    export DEBIAN_FRONTEND=noninteractive
    log "apt-get update"
    apt-get update -q
    log "apt-get install -t trixie docker.io docker-buildx"
    apt-get install -y -q --no-install-recommends -t trixie docker.io docker-buildx
fi

mkdir -p /etc/docker "$STATE"
if [ "${#DAEMON_ARGS[@]}" -gt 0 ]; then
    : # the second engine has its own daemon.json
elif [ ! -f /etc/docker/daemon.json ]; then
    echo '{"features":{"containerd-snapshotter":true}}' >/etc/docker/daemon.json
elif ! tr -d ' \n\t' </etc/docker/daemon.json | grep -q '"containerd-snapshotter":true'; then
    echo "engine-setup: /etc/docker/daemon.json exists without \"containerd-snapshotter\": true;" \
        "add it under \"features\" and restart dockerd" >&2
    exit 1
fi

if docker version -f '{{.Server.Version}}' >/dev/null 2>&1; then
    echo "engine-setup: a Docker daemon answers on $SOCKET but without the containerd" \
        "snapshotter or buildx; it was not started here, so restart it yourself with" \
        "/etc/docker/daemon.json = {\"features\":{\"containerd-snapshotter\":true}}" >&2
    exit 1
fi

log "starting dockerd (log $STATE/dockerd.log)"
# /usr/sbin/dockerd is the trixie one; setsid keeps it out of the caller's process group.
setsid "${NETNS[@]}" /usr/sbin/dockerd --host "unix://$SOCKET" "${DAEMON_ARGS[@]}" >"$STATE/dockerd.log" 2>&1 </dev/null &
echo $! >"$PIDFILE"
for _ in $(seq 1 "$WAIT"); do
    if engine_ok; then
        log "engine ready: docker $(docker version -f '{{.Server.Version}}'), $(docker buildx version)"
        exit 0
    fi
    if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
        echo "engine-setup: dockerd exited; last lines of $STATE/dockerd.log:" >&2
        tail -n 20 "$STATE/dockerd.log" >&2
        exit 1
    fi
    sleep 1
done
echo "engine-setup: dockerd did not answer within ${WAIT}s; see $STATE/dockerd.log" >&2
tail -n 20 "$STATE/dockerd.log" >&2
exit 1
