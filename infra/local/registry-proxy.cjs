// The secured stack's schema registry front (infra/local/stack.sh, STACK_SECURE=1): HTTPS with the local CA's server
// certificate and HTTP basic auth in front of Apicurio Registry, which listens on loopback only. Apicurio 3.0 itself
// authenticates through OIDC only (Keycloak); a Confluent-style client sends basic auth, as to Confluent's registry.
// Usage: node registry-proxy.cjs <config.json> with {host, port, backend, certFile, keyFile, user, passwordFile}.
// Plain CommonJS so that it runs with `node` and no transpiler.
'use strict';
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const crypto = require('node:crypto');

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const expected = Buffer.from(`${config.user}:${fs.readFileSync(config.passwordFile, 'utf8').trim()}`);
const backend = new URL(config.backend);

/** Whether the request carries the configured user and password (compared in constant time). */
function authorized(req) {
  const m = /^Basic\s+(\S+)$/i.exec(req.headers.authorization || '');
  if (!m) return false;
  const given = Buffer.from(m[1], 'base64');
  return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}

const server = https.createServer(
  { cert: fs.readFileSync(config.certFile), key: fs.readFileSync(config.keyFile) },
  (req, res) => {
    if (!authorized(req)) {
      // Never logs the header: one line per refusal, without what was sent.
      process.stdout.write(`${new Date().toISOString()} 401 ${req.method} ${req.url}\n`);
      res.writeHead(401, {
        'www-authenticate': 'Basic realm="tierstream registry"',
        'content-type': 'application/json',
      });
      res.end('{"error_code":401,"message":"Unauthorized"}');
      return;
    }
    const headers = { ...req.headers, host: backend.host };
    delete headers.authorization;
    const upstream = http.request(
      { host: backend.hostname, port: backend.port, method: req.method, path: req.url, headers },
      (up) => {
        res.writeHead(up.statusCode || 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', (err) => {
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error_code: 502, message: `registry backend: ${err.message}` }));
    });
    req.pipe(upstream);
  },
);
server.keepAliveTimeout = 65_000;
server.listen(config.port, config.host, () => {
  process.stdout.write(
    `${new Date().toISOString()} registry proxy on https://${config.host}:${config.port} -> ${config.backend}\n`,
  );
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
