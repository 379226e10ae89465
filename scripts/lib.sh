# Shared steps of scripts/run and scripts/test. Sourced, not run.

# The virtual environment with Mailward installed (and the test tools with "test").
ensure_venv() {
  local extras="${1:-}"
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip==25.3
  if [ -n "$extras" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[$extras]"
  else
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
  fi
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root for: $*" >&2; return 1; fi
}

# Debian packages the test suite drives for real (mail servers, browser, mail clients).
ensure_debian_packages() {
  local wanted=(dovecot-imapd dovecot-pop3d dovecot-lmtpd dovecot-auth-lua postfix chromium
    swaks libnet-ssleay-perl curl wrk
    dnsmasq-base pebble prometheus rspamd
    postgresql-client systemd)  # swaks speaks TLS through Net::SSLeay; dnsmasq serves the domain-check tests' DNS; pebble (ACME), prometheus (scraping /metrics) and rspamd (Postfix's milter) are started by tests; pg_dump/pg_restore/psql back up and restore; systemd-analyze verifies the generated units
  local missing=()
  for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing Debian packages: ${missing[*]}"
  echo "postfix postfix/main_mailer_type select No configuration" | as_root debconf-set-selections
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379, started or installed if needed.
ensure_postgres() {
  pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && return 0
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
  fi
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && return 0; sleep 1; done
  echo "PostgreSQL did not start on 127.0.0.1:5432" >&2
  return 1
}

ensure_redis() {
  redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && return 0
  command -v redis-server >/dev/null || as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && return 0; sleep 1; done
  echo "Redis did not start on 127.0.0.1:6379" >&2
  return 1
}
