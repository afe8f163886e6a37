# shellcheck shell=bash
# Sourced by infra/local/stack.sh (the entry: lifecycle, dispatch).
# The secured stack's local CA and certificates
# (openssl), in $TIERSTREAM_SECURE_DIR/certs: made once, reused by every later `up`.
#   ca.pem / ca.key            the local CA (10 years); clients trust ca.pem (KAFKA_TLS_CA_FILE, REDIS_TLS_CA_FILE, ...)
#   server.pem / server.key    every secured server (SAN 127.0.0.1, ::1, localhost), signed by the CA
#   client.pem / client.key    a client certificate for mutual TLS (Kafka and Redis accept one, do not require it)
#   kafka.p12                  server.pem + server.key for Kafka's keystore (password in secrets/keystore.txt)

CERT_DIR="$TIERSTREAM_SECURE_DIR/certs"

ensure_certs() {
  [[ -f $CERT_DIR/.complete ]] && return 0
  command -v openssl >/dev/null || die "openssl is needed for the secured stack's certificates (apt-get install openssl)"
  log "certs: making a local CA and certificates in $CERT_DIR"
  rm -rf "$CERT_DIR"
  mkdir -p "$CERT_DIR"
  chmod 700 "$CERT_DIR"
  local ext="$CERT_DIR/san.ext"
  printf 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' >"$ext"
  {
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=tierstream local CA" \
      -keyout "$CERT_DIR/ca.key" -out "$CERT_DIR/ca.pem"
    local who
    for who in server client; do
      openssl req -newkey rsa:2048 -nodes -subj "/CN=tierstream-$who" \
        -keyout "$CERT_DIR/$who.key" -out "$CERT_DIR/$who.csr"
      openssl x509 -req -in "$CERT_DIR/$who.csr" -CA "$CERT_DIR/ca.pem" -CAkey "$CERT_DIR/ca.key" \
        -CAcreateserial -days 3650 -extfile "$ext" -out "$CERT_DIR/$who.pem"
    done
    openssl pkcs12 -export -in "$CERT_DIR/server.pem" -inkey "$CERT_DIR/server.key" -certfile "$CERT_DIR/ca.pem" \
      -name kafka -passout "file:$(secret_file keystore)" -out "$CERT_DIR/kafka.p12"
  } >"$CERT_DIR/openssl.log" 2>&1 || {
    tail -n 20 "$CERT_DIR/openssl.log" >&2
    die "certs: openssl failed"
  }
  rm -f "$CERT_DIR"/*.csr "$CERT_DIR/ca.srl" "$ext"
  # The servers run as this user; keys readable by it only.
  chmod 600 "$CERT_DIR"/*.key "$CERT_DIR/kafka.p12"
  touch "$CERT_DIR/.complete"
}
