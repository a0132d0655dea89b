#!/usr/bin/env bash
# A real, local Kubernetes control plane on loopback: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and kwok (simulated nodes, so pods are scheduled and
# become Running without a kubelet). The binaries come from hack/build-components.sh.
#
#   local-cluster.sh up              start (idempotent); last line: export KUBECONFIG=<path>
#   local-cluster.sh down            stop exactly the processes `up` started, and wipe etcd
#   local-cluster.sh status          print the state of each component
#   local-cluster.sh stop  <name>    stop one component (etcd, kube-apiserver, ...), for tests
#   local-cluster.sh start <name>    start it again with the same flags and ports
#
# OUTRIGGER_KCM_API_QPS raises the kube-controller-manager's API rate (default 20 requests/s, as
# upstream): the benchmark's 2,000 Deployments otherwise take minutes to get their ReplicaSets.
#
# State lives in $OUTRIGGER_CLUSTER_DIR (default: .outrigger/local-cluster in the repo):
# pki/, kubeconfigs, etcd data, pids/, cmd/ (each component's command line) and logs/.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/versions.sh"

state="${OUTRIGGER_CLUSTER_DIR:-$here/../.outrigger/local-cluster}"
mkdir -p "$state" && state="$(cd "$state" && pwd)"
pki="$state/pki" logs="$state/logs" pids="$state/pids" cmds="$state/cmd"
kubeconfig="$state/admin.kubeconfig"
components=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

log() { echo "local-cluster: $*" >&2; }
die() { log "error: $*"; exit 1; }

# pid_of <name>: prints the pid if the process `up` started is still alive.
pid_of() {
  local f="$pids/$1" pid
  [[ -f "$f" ]] || return 1
  pid="$(cat "$f")"
  # The pid must still be our binary: pids get reused after a reboot.
  [[ -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q "$1" || return 1
  echo "$pid"
}

# A free loopback port below the kernel's ephemeral range, as hack/lib/free-port.ts picks them:
# a port from that range can be taken by an outgoing connection before its component listens
# (or while it is stopped, since `start` reuses the port).
free_port() {
  node -e '
    const fs = require("fs"), net = require("net");
    let low = 32768;
    try { low = Number(fs.readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || low; } catch {}
    const high = low - 1, from = Math.max(1025, high - 12000);
    (function attempt(n) {
      if (n === 0) { console.error("no free port"); process.exit(1); }
      const port = from + Math.floor(Math.random() * (high - from + 1));
      const s = net.createServer();
      s.once("error", () => attempt(n - 1));
      s.listen(port, "127.0.0.1", () => s.close(() => console.log(port)));
    })(200);
  '
}

gen_pki() {
  [[ -f "$pki/.done" ]] && return
  log "generating certificates in $pki"
  rm -rf "$pki" && mkdir -p "$pki"
  (
    cd "$pki"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -keyout ca.key -out ca.crt -subj "/CN=outrigger-local-ca" 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    # client_cert <file> <CN> [O]
    client_cert() {
      local subj="/CN=$2"; [[ -n "${3:-}" ]] && subj="/O=$3/CN=$2"
      openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$subj" 2>/dev/null
      printf 'extendedKeyUsage=clientAuth\n' > "$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -out "$1.crt" -extfile "$1.ext" 2>/dev/null
      rm -f "$1.csr" "$1.ext"
    }
    client_cert admin kubernetes-admin system:masters
    client_cert kube-controller-manager system:kube-controller-manager
    client_cert kube-scheduler system:kube-scheduler
    client_cert kwok kwok system:masters
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\nextendedKeyUsage=serverAuth\n' > apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -out apiserver.crt -extfile apiserver.ext 2>/dev/null
    rm -f apiserver.csr apiserver.ext
  )
  touch "$pki/.done"
}

# write_kubeconfig <file> <cert-name> <server>
write_kubeconfig() {
  cat > "$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: $3
    certificate-authority: $pki/ca.crt
users:
- name: $2
  user:
    client-certificate: $pki/$2.crt
    client-key: $pki/$2.key
contexts:
- name: local
  context: {cluster: local, user: $2}
current-context: local
EOF
}

# write_commands: fixes ports and flags once per `up`, so `start <name>` restarts a component
# exactly as it was.
write_commands() {
  local bin_etcd bin_kube bin_kwok
  bin_etcd="$OUTRIGGER_CACHE/bin/etcd-$ETCD_VERSION"
  bin_kube="$OUTRIGGER_CACHE/bin/kubernetes-$KUBE_VERSION"
  bin_kwok="$OUTRIGGER_CACHE/bin/kwok-$KWOK_VERSION"
  local etcd_port etcd_peer api_port kcm_port sched_port kwok_port
  etcd_port="$(free_port)" etcd_peer="$(free_port)" api_port="$(free_port)"
  kcm_port="$(free_port)" sched_port="$(free_port)" kwok_port="$(free_port)"
  local server="https://127.0.0.1:$api_port"
  mkdir -p "$cmds"
  write_kubeconfig "$kubeconfig" admin "$server"
  write_kubeconfig "$state/kube-controller-manager.kubeconfig" kube-controller-manager "$server"
  write_kubeconfig "$state/kube-scheduler.kubeconfig" kube-scheduler "$server"
  write_kubeconfig "$state/kwok.kubeconfig" kwok "$server"
  echo "$api_port" > "$state/apiserver-port"

  # fsync off: this etcd holds throwaway test data, and fsync dominates its latency on shared disks.
  cat > "$cmds/etcd" <<EOF
$bin_etcd/etcd --name local --data-dir $state/etcd-data
  --listen-client-urls http://127.0.0.1:$etcd_port --advertise-client-urls http://127.0.0.1:$etcd_port
  --listen-peer-urls http://127.0.0.1:$etcd_peer --initial-advertise-peer-urls http://127.0.0.1:$etcd_peer
  --initial-cluster local=http://127.0.0.1:$etcd_peer --listen-metrics-urls http://127.0.0.1:$(free_port)
  --unsafe-no-fsync --log-level warn
EOF
  # No endpoint reconciler: a loopback address is not a valid endpoint of the kubernetes Service.
  cat > "$cmds/kube-apiserver" <<EOF
$bin_kube/kube-apiserver --etcd-servers http://127.0.0.1:$etcd_port
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port $api_port
  --tls-cert-file $pki/apiserver.crt --tls-private-key-file $pki/apiserver.key --client-ca-file $pki/ca.crt
  --service-account-key-file $pki/sa.pub --service-account-signing-key-file $pki/sa.key
  --service-account-issuer https://kubernetes.default.svc.cluster.local
  --service-cluster-ip-range 10.0.0.0/24 --allow-privileged=true
  --authorization-mode Node,RBAC
  --enable-admission-plugins NamespaceLifecycle,LimitRanger,ServiceAccount,DefaultStorageClass,ResourceQuota,NodeRestriction,PodSecurity,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ValidatingAdmissionPolicy
  --endpoint-reconciler-type none --profiling=false --v 1
EOF
  cat > "$cmds/kube-controller-manager" <<EOF
$bin_kube/kube-controller-manager --kubeconfig $state/kube-controller-manager.kubeconfig
  --authentication-kubeconfig $state/kube-controller-manager.kubeconfig
  --authorization-kubeconfig $state/kube-controller-manager.kubeconfig
  --bind-address 127.0.0.1 --secure-port $kcm_port --leader-elect=false
  --use-service-account-credentials --service-account-private-key-file $pki/sa.key
  --root-ca-file $pki/ca.crt --cluster-signing-cert-file $pki/ca.crt --cluster-signing-key-file $pki/ca.key
  --controllers *,-nodeipam,-service-lb-controller,-node-route-controller,-cloud-node-lifecycle-controller
  --kube-api-qps ${OUTRIGGER_KCM_API_QPS:-20} --kube-api-burst $(( ${OUTRIGGER_KCM_API_QPS:-20} * 3 / 2 ))
  --v 1
EOF
  cat > "$cmds/kube-scheduler" <<EOF
$bin_kube/kube-scheduler --kubeconfig $state/kube-scheduler.kubeconfig
  --authentication-kubeconfig $state/kube-scheduler.kubeconfig
  --authorization-kubeconfig $state/kube-scheduler.kubeconfig
  --bind-address 127.0.0.1 --secure-port $sched_port --leader-elect=false --v 1
EOF
  cat > "$cmds/kwok" <<EOF
$bin_kwok/kwok --kubeconfig $state/kwok.kubeconfig --config $bin_kwok/stages.yaml
  --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake
  --node-lease-duration-seconds 40 --cidr 10.244.0.1/16 --node-ip 10.0.0.2
  --server-address 127.0.0.1:$kwok_port
EOF
}

start_component() {
  local name="$1"
  [[ -f "$cmds/$name" ]] || die "no command recorded for $name: run 'up' first"
  if pid_of "$name" >/dev/null; then log "$name already running"; return; fi
  mkdir -p "$logs" "$pids"
  local -a argv
  read -r -a argv <<< "$(tr '\n' ' ' < "$cmds/$name")"
  # setsid: the component outlives the shell that started it, and `down` signals it alone.
  # 9>&-: the component must not inherit the lock, or it would hold it for its whole life.
  setsid "${argv[@]}" >> "$logs/$name.log" 2>&1 < /dev/null 9>&- &
  echo $! > "$pids/$name"
}

stop_component() {
  local name="$1" pid
  if pid="$(pid_of "$name")"; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    log "stopped $name (pid $pid)"
  fi
  rm -f "$pids/$name"
}

kc() { kubectl --kubeconfig "$kubeconfig" "$@"; }

# wait_for <seconds> <what> <command...>
wait_for() {
  local deadline=$((SECONDS + $1)) what="$2"; shift 2
  until "$@" >/dev/null 2>&1; do
    [[ $SECONDS -lt $deadline ]] || die "timed out waiting for $what (logs: $logs)"
    sleep 0.5
  done
}

node_ready() {
  kc get node kwok-node-0 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' | grep -q True
}

all_running() {
  local c
  for c in "${components[@]}"; do pid_of "$c" >/dev/null || return 1; done
}

cmd_up() {
  local start=$SECONDS
  if all_running && kc get --raw /readyz >/dev/null 2>&1; then
    log "already running (logs: $logs)"
    echo "export KUBECONFIG=$kubeconfig"
    return
  fi
  # A partial cluster (for example after a crash) is torn down and started fresh.
  cmd_down 2>/dev/null || true
  "$here/build-components.sh" etcd kubernetes kwok >/dev/null
  gen_pki
  write_commands
  mkdir -p "$logs"
  start_component etcd
  start_component kube-apiserver
  wait_for 120 "kube-apiserver /readyz" kc get --raw /readyz
  start_component kube-controller-manager
  start_component kube-scheduler
  start_component kwok
  # One simulated node; kwok manages nodes carrying this annotation.
  kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-0
  annotations: {kwok.x-k8s.io/node: fake}
  labels: {kubernetes.io/hostname: kwok-node-0, kubernetes.io/os: linux, kubernetes.io/arch: amd64, type: kwok}
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "1000"}
  capacity: {cpu: "32", memory: 256Gi, pods: "1000"}
EOF
  wait_for 120 "node kwok-node-0 Ready" node_ready
  wait_for 120 "the default ServiceAccount" kc get serviceaccount default -n default
  log "up in $((SECONDS - start))s; server $(kc version -o json 2>/dev/null | sed -n 's/.*"gitVersion": "\(.*\)".*/\1/p' | tail -1); logs in $logs"
  echo "export KUBECONFIG=$kubeconfig"
}

cmd_down() {
  local i
  # Reverse order: clients first, etcd last.
  for ((i = ${#components[@]} - 1; i >= 0; i--)); do stop_component "${components[$i]}"; done
  rm -rf "$state/etcd-data" "$cmds"
}

cmd_status() {
  local c pid
  for c in "${components[@]}"; do
    if pid="$(pid_of "$c")"; then echo "$c running pid=$pid"; else echo "$c stopped"; fi
  done
}

# Concurrent `up`/`down` calls (parallel test runs, npm start) take turns.
exec 9> "$state/.lock"
case "${1:-}" in
  up | down) flock 9 ;;
esac

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down; log "down" ;;
  status) cmd_status ;;
  start) start_component "${2:?component name}" ;;
  stop) stop_component "${2:?component name}" ;;
  *) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
