# The tierstream services and tierctl as a container: the repository with its production npm packages, run from
# TypeScript by tsx (as `npm run tierctl` and the supervisor do). Built by docker-compose.yml (context: the repository).
FROM node:20-bookworm-slim
WORKDIR /app
COPY . .
# Production packages only (tsx and the clients are dependencies); `npm install`, not `npm ci`: see scripts/bootstrap.sh.
RUN npm install --omit=dev --no-audit --no-fund && npm cache clean --force
# Metrics and health must answer probes and scrapes from other containers.
ENV HTTP_HOST=0.0.0.0 NODE_ENV=production
USER node
