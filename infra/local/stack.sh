#!/usr/bin/env bash
# The real local stack without Docker: Kafka (KRaft), Apicurio Registry, Redis, ClickHouse.
#
#   stack.sh install              install / download what is missing (apt, Maven), nothing is started
#   stack.sh up [service]         start everything (or one service) and wait until healthy; reuses healthy ones
#   stack.sh down [service]       stop (SIGTERM, then SIGKILL after $STACK_STOP_TIMEOUT s)
#   stack.sh kill <service>       SIGKILL at once: a crash, for fault tests (`up` starts it again)
#   stack.sh status               one line per service: running/stopped, pid, port, healthy
#   stack.sh logs [service]       last lines of the logs (all services, or one)
#   stack.sh purge                down, then delete data and logs (keeps the download cache)
#
# Services: kafka, registry, redis, clickhouse; redis-cluster (3 masters) only with `up redis-cluster` or
# TIERSTREAM_REDIS_CLUSTER=1. Defaults live in infra/local/env.sh.
# STACK_SECURE=1: the same commands on the secured stack (SASL_SSL, TLS, passwords; docs/security.md), next to this one.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$SCRIPT_DIR/env.sh"

SERVICES=(redis clickhouse kafka registry)
# The secured stack (STACK_SECURE=1) adds the registry's HTTPS + basic-auth front (lib/registry.sh).
if [[ ${STACK_SECURE:-0} == 1 ]]; then SERVICES+=(registry-proxy); fi
# Optional: a Redis Cluster of 3 masters next to the single Redis (the Cluster-mode e2e test runs on it). Plain `up`
# starts it only when TIERSTREAM_REDIS_CLUSTER=1; `down`, `status`, `logs` and `purge` always cover it.
OPTIONAL_SERVICES=(redis-cluster)
ALL_SERVICES=("${SERVICES[@]}" "${OPTIONAL_SERVICES[@]}")
IFS=',' read -r -a REDIS_CLUSTER_PORT_LIST <<<"${REDIS_CLUSTER_PORTS// /}"
DATA_DIR="$TIERSTREAM_STACK_DIR/data"
LOG_DIR="$TIERSTREAM_STACK_DIR/logs"
PID_DIR="$TIERSTREAM_STACK_DIR/pids"
CONF_DIR="$TIERSTREAM_STACK_DIR/conf"
KAFKA_LIBS="$TIERSTREAM_STACK_CACHE_DIR/kafka-libs-$KAFKA_VERSION"
APICURIO_HOME="$TIERSTREAM_STACK_CACHE_DIR/apicurio-registry-$APICURIO_VERSION"
export DEBIAN_FRONTEND=noninteractive

log() { printf '[stack] %s\n' "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

# Install, then one script per component (configs and start): lib/<component>.sh.
# shellcheck source=lib/install.sh
source "$SCRIPT_DIR/lib/install.sh"
# shellcheck source=lib/kafka.sh
source "$SCRIPT_DIR/lib/kafka.sh"
# shellcheck source=lib/registry.sh
source "$SCRIPT_DIR/lib/registry.sh"
# shellcheck source=lib/redis.sh
source "$SCRIPT_DIR/lib/redis.sh"
# shellcheck source=lib/clickhouse.sh
source "$SCRIPT_DIR/lib/clickhouse.sh"
# The secured stack (STACK_SECURE=1): passwords, certificates, client settings.
# shellcheck source=lib/secure.sh
source "$SCRIPT_DIR/lib/secure.sh"
# shellcheck source=lib/certs.sh
source "$SCRIPT_DIR/lib/certs.sh"

# ---------------------------------------------------------------- per-service facts

port_of() {
  case $1 in
  kafka) echo "$KAFKA_PORT" ;;
  registry) registry_backend_port ;;
  registry-proxy) echo "$APICURIO_PORT" ;;
  redis) echo "$REDIS_PORT" ;;
  clickhouse) echo "$CLICKHOUSE_HTTP_PORT" ;;
  redis-cluster) echo "$REDIS_CLUSTER_PORTS" ;;
  redis-cluster-*) echo "${1#redis-cluster-}" ;;
  esac
}

# The cluster's nodes are sub-services named redis-cluster-<port>, each with its own pid file, config, data and log.
cluster_nodes() {
  local port
  for port in "${REDIS_CLUSTER_PORT_LIST[@]}"; do echo "redis-cluster-$port"; done
}

log_of() {
  case $1 in
  kafka) echo "$LOG_DIR/kafka/server.log" ;;
  registry) echo "$LOG_DIR/registry.log" ;;
  registry-proxy) echo "$LOG_DIR/registry-proxy.log" ;;
  redis) echo "$LOG_DIR/redis.log" ;;
  clickhouse) echo "$LOG_DIR/clickhouse/clickhouse-server.log" ;;
  redis-cluster-*) echo "$LOG_DIR/redis-cluster/${1#redis-cluster-}.log" ;;
  esac
}

# Every log file worth showing for a service (the cluster: each node's log and the output of the create step).
log_files_of() {
  local node
  case $1 in
  redis-cluster)
    for node in $(cluster_nodes); do log_of "$node"; done
    echo "$LOG_DIR/redis-cluster/create.log"
    ;;
  *)
    log_of "$1"
    console_log_of "$1"
    ;;
  esac
}

# Extra log to show on failure (stdout/stderr of processes that also write a log file of their own).
console_log_of() {
  case $1 in
  kafka) echo "$LOG_DIR/kafka.out" ;;
  clickhouse) echo "$LOG_DIR/clickhouse/clickhouse-server.err.log" ;;
  *) echo "" ;;
  esac
}

pid_file_of() { echo "$PID_DIR/$1.pid"; }

# A string that only our own instance of the service has in its command line (guards against pid reuse).
marker_of() {
  case $1 in
  kafka) echo "$CONF_DIR/kafka/server.properties" ;;
  registry) echo "-Dtierstream.stack.dir=$TIERSTREAM_STACK_DIR" ;;
  registry-proxy) echo "$SCRIPT_DIR/registry-proxy.cjs $CONF_DIR/registry-proxy.json" ;;
  redis) echo "$CONF_DIR/redis/redis.conf" ;; # in the process title, see proc-title-template
  redis-cluster-*) echo "$CONF_DIR/redis-cluster/${1#redis-cluster-}/redis.conf" ;;
  clickhouse) echo "$CONF_DIR/clickhouse/config.xml" ;;
  esac
}

# True while the process exists and is not a zombie (kill -0 succeeds on a zombie that nobody has reaped yet).
alive() {
  local state
  state=$({ awk '{print $3}' "/proc/$1/stat"; } 2>/dev/null) || return 1
  [[ -n $state && $state != Z ]]
}

cmdline_of() { { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null || true; }

# Prints the pid of our running instance, or nothing (and removes a stale pid file).
running_pid() {
  local svc=$1 file pid
  file=$(pid_file_of "$svc")
  [[ -f $file ]] || return 0
  pid=$(tr -dc '0-9' <"$file")
  if [[ -n $pid ]] && alive "$pid" && [[ $(cmdline_of "$pid") == *"$(marker_of "$svc")"* ]]; then
    echo "$pid"
  else
    rm -f "$file"
  fi
}

# Pids of our instances that lost their pid file (found by the marker, which contains our own paths/port).
orphan_pids() {
  local svc=$1 marker p
  marker=$(marker_of "$svc")
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [[ $p == "$$" ]] && continue
    [[ $(cmdline_of "$p") == *"$marker"* ]] && alive "$p" && echo "$p"
  done
  return 0
}

port_open() { (exec 3<>"/dev/tcp/$STACK_HOST/$1") 2>/dev/null; }

healthy() {
  local svc=$1
  case $svc in
  kafka)
    port_open "$KAFKA_PORT" || return 1
    if [[ -d $TIERSTREAM_REPO_DIR/node_modules/kafkajs ]]; then
      # On the secured stack with its client settings (SASL_SSL).
      KAFKA_HEALTH_CLIENT_ENV=$(secure_enabled && echo "$TIERSTREAM_SECURE_DIR/client.env") \
        node "$SCRIPT_DIR/kafka-health.cjs" "$STACK_HOST:$KAFKA_PORT" >/dev/null 2>&1
    fi
    ;;
  registry)
    curl -fsS -o /dev/null --max-time 3 "http://$STACK_HOST:$(registry_backend_port)/apis/ccompat/v7/subjects" 2>/dev/null
    ;;
  registry-proxy)
    curl -fsS -o /dev/null --max-time 3 --cacert "$CERT_DIR/ca.pem" -u "$SECURE_USER:$(secret_of registry-tierstream)" \
      "https://$STACK_HOST:$APICURIO_PORT/apis/ccompat/v7/subjects" 2>/dev/null
    ;;
  redis) [[ $(redis_cli "$REDIS_PORT" ping 2>/dev/null) == PONG ]] ;;
  clickhouse)
    if secure_enabled; then
      [[ $(curl -fsS --max-time 3 --cacert "$CERT_DIR/ca.pem" "https://$STACK_HOST:$CLICKHOUSE_HTTP_PORT/ping" 2>/dev/null) == Ok* ]]
    else
      [[ $(curl -fsS --max-time 3 "http://$STACK_HOST:$CLICKHOUSE_HTTP_PORT/ping" 2>/dev/null) == Ok* ]]
    fi
    ;;
  redis-cluster-*) [[ $(redis_cli "$(port_of "$svc")" ping 2>/dev/null) == PONG ]] ;;
  redis-cluster)
    # Every node answers and sees the whole cluster (all 16384 slots served: cluster_state:ok).
    local port
    for port in "${REDIS_CLUSTER_PORT_LIST[@]}"; do
      [[ $(redis_cli "$port" cluster info 2>/dev/null) == *cluster_state:ok* ]] || return 1
    done
    ;;
  esac
}

# Pids of the service's running processes (of every node for the cluster), one per line.
service_pids() {
  local node
  case $1 in
  redis-cluster) for node in $(cluster_nodes); do running_pid "$node"; done ;;
  *) running_pid "$1" ;;
  esac
}

service_running() { [[ -n $(service_pids "$1") ]]; }

# ---------------------------------------------------------------- start

# Runs a command in its own session, in the background, and records its pid.
# `exec setsid` in a background subshell keeps the pid (no fork), and the new session keeps the
# service alive when the calling terminal or job goes away.
spawn() {
  local svc=$1 out=$2
  shift 2
  (exec setsid "$@" >>"$out" 2>&1 </dev/null) &
  echo $! >"$(pid_file_of "$svc")"
}

# Starts the service unless our instance already runs. Refuses when a foreign process holds the port.
ensure_started() {
  local svc=$1 pid port
  if [[ $svc == redis-cluster ]]; then
    if healthy redis-cluster; then
      log "redis-cluster: already running (ports $REDIS_CLUSTER_PORTS)"
    else
      log "redis-cluster: starting on $STACK_HOST ports $REDIS_CLUSTER_PORTS"
      start_redis_cluster
    fi
    return 0
  fi
  pid=$(running_pid "$svc")
  if [[ -n $pid ]]; then
    log "$svc: already running (pid $pid)"
    return 0
  fi
  local orphans=()
  mapfile -t orphans < <(orphan_pids "$svc")
  if ((${#orphans[@]} == 1)); then
    # Our own instance whose pid file was lost: adopt it rather than restart it.
    echo "${orphans[0]}" >"$(pid_file_of "$svc")"
    log "$svc: already running (pid ${orphans[0]}, pid file restored)"
    return 0
  elif ((${#orphans[@]} > 1)); then
    log "$svc: stopping ${#orphans[@]} instances without pid file (pids ${orphans[*]})"
    stop_pids "$svc" "${orphans[@]}"
  fi
  port=$(port_of "$svc")
  if port_open "$port"; then
    die "$svc: port $STACK_HOST:$port is taken by a process that is not ours (set another port in the environment, see infra/local/env.sh)"
  fi
  if [[ $svc == kafka ]] && port_open "$KAFKA_CONTROLLER_PORT"; then
    die "kafka: controller port $STACK_HOST:$KAFKA_CONTROLLER_PORT is taken by a process that is not ours"
  fi
  if [[ $svc == redis-cluster-* ]] && port_open "$((port + 10000))"; then
    die "$svc: cluster bus port $STACK_HOST:$((port + 10000)) is taken by a process that is not ours"
  fi
  log "$svc: starting on $STACK_HOST:$port"
  case $svc in
  redis-cluster-*) start_redis_cluster_node "$svc" ;;
  *) "start_${svc//-/_}" ;;
  esac
}

print_failure() {
  local svc=$1 f
  log "$svc: did not become healthy within ${STACK_START_TIMEOUT}s"
  for f in $(log_files_of "$svc"); do
    [[ -n $f && -s $f ]] || continue
    echo "----- last 30 lines of $f -----" >&2
    tail -n 30 "$f" >&2
  done
}

wait_healthy() {
  local svc=$1 deadline=$((SECONDS + STACK_START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if healthy "$svc"; then
      log "$svc: healthy ($STACK_HOST:$(port_of "$svc"))"
      return 0
    fi
    if ! service_running "$svc"; then
      log "$svc: process exited during start"
      print_failure "$svc"
      return 1
    fi
    sleep 0.5
  done
  print_failure "$svc"
  return 1
}

valid_service() {
  local s
  for s in "${ALL_SERVICES[@]}"; do [[ $s == "$1" ]] && return 0; done
  die "unknown service '$1' (one of: ${ALL_SERVICES[*]})"
}

cluster_enabled() { [[ ${TIERSTREAM_REDIS_CLUSTER:-0} == 1 ]]; }

# What plain `up` starts: the four services, and the Redis Cluster when TIERSTREAM_REDIS_CLUSTER=1.
default_services() {
  printf '%s\n' "${SERVICES[@]}"
  if cluster_enabled; then echo redis-cluster; fi
}

cmd_up() {
  local targets=("$@") svc failed=()
  ((${#targets[@]})) || mapfile -t targets < <(default_services)
  for svc in "${targets[@]}"; do valid_service "$svc"; done
  mkdir -p "$TIERSTREAM_STACK_CACHE_DIR"
  install_packages
  if secure_enabled; then prepare_secure; fi
  for svc in "${targets[@]}"; do
    case $svc in
    kafka) install_kafka ;;
    registry) install_apicurio ;;
    esac
  done
  # Start everything first, then wait: the JVMs boot in parallel.
  for svc in "${targets[@]}"; do ensure_started "$svc"; done
  for svc in "${targets[@]}"; do wait_healthy "$svc" || failed+=("$svc"); done
  if ((${#failed[@]})); then
    die "not healthy: ${failed[*]} (logs: bash infra/local/stack.sh logs <service>)"
  fi
  log "stack is up (state in $TIERSTREAM_STACK_DIR)"
}

# ---------------------------------------------------------------- stop

stop_pids() {
  local svc=$1
  shift
  local pids=("$@") p deadline=$((SECONDS + STACK_STOP_TIMEOUT)) alive
  ((${#pids[@]})) || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  while ((SECONDS < deadline)); do
    alive=0
    for p in "${pids[@]}"; do alive "$p" && alive=1; done
    ((alive)) || return 0
    sleep 0.2
  done
  log "$svc: still running ${STACK_STOP_TIMEOUT}s after SIGTERM, sending SIGKILL"
  kill -KILL "${pids[@]}" 2>/dev/null || true
  sleep 0.2
}

# stop_service <service> [kill]: SIGTERM (then SIGKILL after the timeout), or with `kill` SIGKILL at once.
stop_service() {
  local svc=$1 mode=${2:-term} pid pids node
  if [[ $svc == redis-cluster ]]; then
    # All nodes at once (each flushes its AOF on SIGTERM); their nodes.conf keeps the cluster for the next `up`.
    pids=$(for node in $(cluster_nodes); do
      running_pid "$node"
      orphan_pids "$node"
    done | sort -u | tr '\n' ' ')
  else
    pid=$(running_pid "$svc")
    pids=$( (
      [[ -n $pid ]] && echo "$pid"
      orphan_pids "$svc"
    ) | sort -u | tr '\n' ' ')
  fi
  if [[ -z ${pids// /} ]]; then
    log "$svc: not running"
  else
    if [[ $mode == kill ]]; then
      log "$svc: killing (SIGKILL, pid $pids)"
      # shellcheck disable=SC2086
      kill -KILL $pids 2>/dev/null || true
      sleep 0.2
    else
      log "$svc: stopping (pid $pids)"
      # shellcheck disable=SC2086
      stop_pids "$svc" $pids
    fi
  fi
  rm -f "$(pid_file_of "$svc")"
  if [[ $svc == redis-cluster ]]; then
    for node in $(cluster_nodes); do rm -f "$(pid_file_of "$node")"; done
  fi
}

cmd_down() {
  local targets=("$@") svc i
  if ((${#targets[@]} == 0)); then
    # Reverse start order: clients of other services stop first.
    for ((i = ${#ALL_SERVICES[@]} - 1; i >= 0; i--)); do targets+=("${ALL_SERVICES[i]}"); done
  fi
  for svc in "${targets[@]}"; do valid_service "$svc"; done
  for svc in "${targets[@]}"; do stop_service "$svc"; done
}

cmd_kill() {
  (($# == 1)) || die "usage: stack.sh kill <service>"
  valid_service "$1"
  stop_service "$1" kill
}

# ---------------------------------------------------------------- status, logs

cmd_status() {
  local svc pid state health all_ok=0 services
  # The Redis Cluster is listed when it is enabled or runs; only then does its health count for the exit code.
  mapfile -t services < <(default_services)
  if ! cluster_enabled && service_running redis-cluster; then services+=(redis-cluster); fi
  printf '%-13s %-8s %-8s %-6s %s\n' SERVICE STATE PID PORT HEALTHY
  for svc in "${services[@]}"; do
    pid=$(service_pids "$svc" | paste -sd, -)
    if [[ -n $pid ]]; then state=running; else state=stopped pid=-; fi
    if healthy "$svc"; then health=yes; else health=no all_ok=1; fi
    printf '%-13s %-8s %-8s %-6s %s\n' "$svc" "$state" "$pid" "$(port_of "$svc")" "$health"
  done
  return "$all_ok"
}

cmd_logs() {
  local targets=("$@") svc f lines="${STACK_LOG_LINES:-50}"
  ((${#targets[@]})) || targets=("${ALL_SERVICES[@]}")
  for svc in "${targets[@]}"; do
    valid_service "$svc"
    for f in $(log_files_of "$svc"); do
      [[ -n $f && -f $f ]] || continue
      echo "===== $svc: $f ====="
      tail -n "$lines" "$f"
    done
  done
}

cmd_purge() {
  cmd_down
  rm -rf "$DATA_DIR" "$LOG_DIR" "$PID_DIR" "$CONF_DIR"
  log "deleted data and logs under $TIERSTREAM_STACK_DIR (download cache kept)"
}

usage() {
  sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

main() {
  local cmd=${1:-}
  (($#)) && shift
  mkdir -p "$DATA_DIR" "$LOG_DIR" "$PID_DIR" "$CONF_DIR"
  case $cmd in
  install) cmd_install ;;
  up | start) cmd_up "$@" ;;
  down | stop) cmd_down "$@" ;;
  kill) cmd_kill "$@" ;;
  status) cmd_status ;;
  logs) cmd_logs "$@" ;;
  purge) cmd_purge ;;
  -h | --help | help) usage ;;
  *)
    usage
    exit 2
    ;;
  esac
}

main "$@"
