#!/usr/bin/env bash
# Builds the real peers the tests and `make demo` run against, from pinned Go
# modules, into a cache folder keyed by version:
#
#   ${SPOT_HANDLER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/spot-handler}/bin/<name>-<version>
#
# A binary already in the cache is reused, so a warm machine returns at once.
# Cold, on 2 cores, kube-apiserver and friends take 15-30 minutes; every step
# prints a line when it starts and ends so the wait is visible.
#
# Usage: hack/tools.sh [name ...]   (default: all). Prints nothing else on stdout.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${SPOT_HANDLER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/spot-handler}
bin=$cache/bin
mkdir -p "$bin"

# Versions: the one place they are pinned (internal/testenv reads the same names).
K8S_VERSION=v1.37.2
ETCD_VERSION=v3.6.16
KWOK_VERSION=v0.8.0
AEMM_VERSION=v1.13.0
HELM_VERSION=v3.22.0
STATICCHECK_VERSION=v0.7.0

log() { printf '[tools %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# progress WHAT CMD...: runs CMD, printing a line every 30s while it runs,
# so a long cold build is never silent.
progress() {
	local what=$1 t0=$SECONDS
	shift
	("$@") &
	local pid=$!
	while ! wait_for "$pid" 30; do log "still building $what ($((SECONDS - t0))s so far)"; done
	wait "$pid"
}

# wait_for PID SECONDS: true once PID has exited, false if it still runs after SECONDS.
wait_for() {
	local i
	for ((i = 0; i < $2; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 1
	done
	! kill -0 "$1" 2>/dev/null
}

have() { [ -x "$bin/$1" ]; }

# build_install NAME VERSION PKG: go install PKG@VERSION into the cache as NAME-VERSION.
build_install() {
	local name=$1 version=$2 pkg=$3 out="$1-$2"
	if have "$out"; then log "$out cached"; return; fi
	log "building $out from $pkg@$version (cold: a few minutes)"
	local t0=$SECONDS tmp
	tmp=$(mktemp -d)
	progress "$out" env GOBIN="$tmp" GOFLAGS=-mod=mod CGO_ENABLED=0 go install -ldflags="-s -w" "$pkg@$version"
	mv "$tmp/$(basename "$pkg")" "$bin/$out"
	rm -rf "$tmp"
	log "built $out in $((SECONDS - t0))s"
}

build_kube() {
	local want=() c
	for c in kube-apiserver kube-controller-manager kube-scheduler; do
		have "$c-$K8S_VERSION" || want+=("k8s.io/kubernetes/cmd/$c")
	done
	if [ ${#want[@]} -eq 0 ]; then log "kube-* $K8S_VERSION cached"; return; fi
	log "building ${want[*]##*/} $K8S_VERSION (cold on 2 cores: 15-30 min; later runs reuse the Go build cache)"
	local t0=$SECONDS tmp v=${K8S_VERSION#v}
	tmp=$(mktemp -d)
	local ld="-s -w"
	ld+=" -X k8s.io/component-base/version.gitVersion=$K8S_VERSION"
	ld+=" -X k8s.io/component-base/version.gitMajor=${v%%.*}"
	ld+=" -X k8s.io/component-base/version.gitMinor=$(echo "$v" | cut -d. -f2)"
	ld+=" -X k8s.io/component-base/version.gitTreeState=clean"
	ld+=" -X k8s.io/component-base/version/verflag.programName=kubernetes"
	(cd "$root/hack/tools/kube" && progress "kube-* $K8S_VERSION" env CGO_ENABLED=0 go build -trimpath -ldflags="$ld" -o "$tmp/" "${want[@]}")
	for c in "${want[@]}"; do mv "$tmp/${c##*/}" "$bin/${c##*/}-$K8S_VERSION"; done
	rm -rf "$tmp"
	log "built kube-* in $((SECONDS - t0))s"
}

build_etcd() {
	if have "etcd-$ETCD_VERSION"; then log "etcd-$ETCD_VERSION cached"; return; fi
	log "building etcd-$ETCD_VERSION (cold: about 3 min)"
	local t0=$SECONDS
	(cd "$root/hack/tools/etcd" && progress "etcd-$ETCD_VERSION" env CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$bin/etcd-$ETCD_VERSION" .)
	log "built etcd-$ETCD_VERSION in $((SECONDS - t0))s"
}

build_kwok() {
	build_install kwok "$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok
	# kwok needs stage definitions; the module ships them. Concatenate into one config.
	local stages="$bin/kwok-stages-$KWOK_VERSION.yaml"
	if [ -s "$stages" ]; then return; fi
	local dir
	dir=$(GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
	{
		for f in "$dir"/kustomize/stage/node/fast/node-initialize.yaml \
			"$dir"/kustomize/stage/node/heartbeat-with-lease/*.yaml \
			"$dir"/kustomize/stage/pod/general/pod-*.yaml; do
			echo "---"
			cat "$f"
		done
	} > "$stages.tmp"
	mv "$stages.tmp" "$stages"
	log "wrote $stages"
}

all=(etcd kwok aemm kube helm)
[ $# -gt 0 ] && all=("$@")
for t in "${all[@]}"; do
	case $t in
	etcd) build_etcd ;;
	kwok) build_kwok ;;
	aemm) build_install ec2-metadata-mock "$AEMM_VERSION" github.com/aws/amazon-ec2-metadata-mock/cmd/ec2-metadata-mock ;;
	kube) build_kube ;;
	helm) build_install helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm ;;
	staticcheck) build_install staticcheck "$STATICCHECK_VERSION" honnef.co/go/tools/cmd/staticcheck ;;
	*) echo "hack/tools.sh: unknown tool $t (want: etcd kwok aemm kube helm staticcheck)" >&2; exit 2 ;;
	esac
done
