# shellcheck shell=bash
# Sourced by infra/local/stack.sh (the entry: lifecycle, dispatch).
# Apicurio Registry (Confluent-compatible API under /apis/ccompat/v7): its start.

start_registry() {
  local jar
  jar=$(apicurio_jar) || die "Apicurio not installed: run stack.sh install"
  mkdir -p "$DATA_DIR/registry"
  # Schemas persist in an H2 file next to Kafka's data, so schema ids in retained records stay resolvable
  # across restarts. The global BACKWARD rule makes the ccompat API refuse incompatible versions.
  spawn registry "$(log_of registry)" java "-Xmx$APICURIO_HEAP" -XX:+UseSerialGC \
    "-Dtierstream.stack.dir=$TIERSTREAM_STACK_DIR" \
    "-Dquarkus.http.host=$STACK_HOST" "-Dquarkus.http.port=$(registry_backend_port)" \
    "-Dquarkus.management.host=$STACK_HOST" "-Dquarkus.management.port=$APICURIO_MANAGEMENT_PORT" \
    "-Dapicurio.rules.global.compatibility=$APICURIO_COMPATIBILITY" \
    "-Dapicurio.datasource.url=jdbc:h2:file:$DATA_DIR/registry/registry;DB_CLOSE_ON_EXIT=FALSE" \
    "-Dapicurio.storage.snapshot.location=$DATA_DIR/registry" "-Dapicurio.import.work-dir=$DATA_DIR/registry" \
    -Dquarkus.otel.sdk.disabled=true \
    -jar "$jar"
}

# Where Apicurio itself listens: APICURIO_PORT on the plain stack; on the secured one APICURIO_BACKEND_PORT, and
# clients reach it through registry-proxy on APICURIO_PORT.
registry_backend_port() {
  if secure_enabled; then echo "$APICURIO_BACKEND_PORT"; else echo "$APICURIO_PORT"; fi
}

# The secured stack's registry front: HTTPS and basic auth (user tierstream) before Apicurio (registry-proxy.cjs).
start_registry_proxy() {
  local conf="$CONF_DIR/registry-proxy.json"
  cat >"$conf" <<EOF
{"host": "$STACK_HOST", "port": $APICURIO_PORT, "backend": "http://$STACK_HOST:$APICURIO_BACKEND_PORT",
 "certFile": "$CERT_DIR/server.pem", "keyFile": "$CERT_DIR/server.key",
 "user": "$SECURE_USER", "passwordFile": "$(secret_file registry-tierstream)"}
EOF
  spawn registry-proxy "$(log_of registry-proxy)" node "$SCRIPT_DIR/registry-proxy.cjs" "$conf"
}
