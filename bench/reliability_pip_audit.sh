#!/bin/sh
# Audit the locked dependencies for known vulnerabilities (needs network access to the
# PyPI/OSV vulnerability database). Exits non-zero when a vulnerable package is found.
#   sh bench/reliability_pip_audit.sh
set -eu
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/pip-audit ]; then
    .venv/bin/python -m pip install --quiet pip-audit
fi
if [ -f uv.lock ]; then
    uv export --frozen --no-hashes --format requirements-txt > /tmp/sf-audit-req.txt
    exec .venv/bin/pip-audit --strict -r /tmp/sf-audit-req.txt
fi
exec .venv/bin/pip-audit --strict --local
