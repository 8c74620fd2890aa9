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

# `openssl ca` rather than `x509 -req`: openssl 3.0 can set explicit validity dates only there.
mkdir -p "$WORK/newcerts"
touch "$WORK/index.txt"
cat >"$WORK/ext.cnf" <<CNF
[ ca ]
default_ca = ca_default
[ ca_default ]
dir = $WORK
database = $WORK/index.txt
new_certs_dir = $WORK/newcerts
serial = $WORK/serial
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no
preserve = yes
[ policy_any ]
countryName = optional
organizationName = optional
commonName = supplied
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
  openssl rand -hex 16 >"$WORK/serial"
  openssl ca -batch -notext -config "$WORK/ext.cnf" -in "$WORK/$1.csr" -cert "$3" -keyfile "$4" \
    -startdate 20250101000000Z -enddate 21250101000000Z -extensions v3_tsa -out "$OUT/$1.pem" 2>/dev/null
}

issue tsa-ec "/C=XX/O=trailseal test/CN=trailseal test TSA (ECDSA)" "$PKI/root-ca.pem" "$PKI/root-ca.key"
issue foreign-tsa "/C=XX/O=trailseal test/CN=foreign TSA" "$PKI/foreign-root-ca.pem" "$PKI/foreign-root-ca.key"

openssl verify -CAfile "$PKI/root-ca.pem" -purpose timestampsign "$OUT/tsa-ec.pem" >/dev/null
openssl verify -CAfile "$PKI/foreign-root-ca.pem" -purpose timestampsign "$OUT/foreign-tsa.pem" >/dev/null
echo "testdata/tsa: fixtures written"
