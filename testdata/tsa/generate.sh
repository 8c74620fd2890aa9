#!/usr/bin/env bash
# Generates the timestamping fixtures that testdata/pki lacks, with the openssl CLI (3.0+):
#   bash testdata/tsa/generate.sh
# Every *.pem/*.key here is written by it; none is edited by hand. Keys are fresh on every run,
# so the committed files are the reference.
#   tsa-ec.pem/.key        ECDSA P-256 TSA issued by testdata/pki/root-ca (EKU timeStamping, critical)
#   foreign-tsa.pem/.key   ECDSA P-256 TSA issued by testdata/pki/foreign-root-ca (outside the anchors)
set -euo pipefail

OUT="$(cd "$(dirname "$0")" && pwd)"
PKI="$OUT/../pki"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

cat >"$WORK/ext.cnf" <<'CNF'
[ v3_tsa ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF

issue() { # name subject ca-cert ca-key
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$OUT/$1.key"
  openssl req -new -key "$OUT/$1.key" -subj "$2" -out "$WORK/$1.csr"
  openssl x509 -req -in "$WORK/$1.csr" -CA "$3" -CAkey "$4" -set_serial "0x$(openssl rand -hex 16)" \
    -days 36500 -sha256 -extfile "$WORK/ext.cnf" -extensions v3_tsa -out "$OUT/$1.pem"
}

issue tsa-ec "/C=XX/O=trailseal test/CN=trailseal test TSA (ECDSA)" "$PKI/root-ca.pem" "$PKI/root-ca.key"
issue foreign-tsa "/C=XX/O=trailseal test/CN=foreign TSA" "$PKI/foreign-root-ca.pem" "$PKI/foreign-root-ca.key"

openssl verify -CAfile "$PKI/root-ca.pem" -purpose timestampsign "$OUT/tsa-ec.pem" >/dev/null
openssl verify -CAfile "$PKI/foreign-root-ca.pem" -purpose timestampsign "$OUT/foreign-tsa.pem" >/dev/null
echo "testdata/tsa: fixtures written"
