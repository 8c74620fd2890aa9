#!/usr/bin/env bash
# Generates the test PKI of trailseal with the openssl CLI (3.0+). Run from anywhere:
#   bash testdata/pki/generate.sh
# Every file in this folder (except this script and README.md) is written by it; none is edited
# by hand. Certificates are valid for 100 years unless a test needs them expired or not yet valid
# (explicit dates via `openssl ca -startdate/-enddate`). Keys are fresh on every run, so the
# committed files are the reference: tests must not depend on a re-run producing equal bytes.
set -euo pipefail

OUT="$(cd "$(dirname "$0")" && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export CADIR="$WORK" # openssl reads $ENV::CADIR while parsing ca.cnf, also for `req`

LONG_START=20250101000000Z
LONG_END=21250101000000Z

cat >"$WORK/ca.cnf" <<'EOF'
[ ca ]
default_ca = ca_default

[ ca_default ]
dir = $ENV::CADIR
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no
preserve = yes

[ policy_any ]
countryName = optional
organizationName = optional
organizationalUnitName = optional
commonName = supplied

[ req ]
distinguished_name = req_dn
prompt = no
[ req_dn ]
CN = placeholder

[ v3_root ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ v3_intermediate ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ v3_codesign ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ v3_noeku ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ v3_tsa ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ v3_tsa_noncritical ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ v3_tsa_wrong_eku ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF

# One openssl-ca database per issuing CA.
newdb() {
  mkdir -p "$WORK/$1/newcerts"
  : >"$WORK/$1/index.txt"
  openssl rand -hex 16 >"$WORK/$1/serial"
}

rsa_key() { openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$OUT/$1"; }
ec_key() { openssl genpkey -quiet -algorithm EC -pkeyopt "ec_paramgen_curve:$2" -pkeyopt ec_param_enc:named_curve -out "$OUT/$1"; }

# issue NAME KEY SUBJECT ISSUER(db dir) ISSUER_CERT ISSUER_KEY EXTENSIONS START END
issue() {
  local name=$1 key=$2 subj=$3 db=$4 icert=$5 ikey=$6 ext=$7 start=$8 end=$9
  openssl req -new -config "$WORK/ca.cnf" -key "$OUT/$key" -subj "$subj" -out "$WORK/$name.csr"
  CADIR="$WORK/$db" openssl ca -batch -notext -config "$WORK/ca.cnf" -in "$WORK/$name.csr" \
    -cert "$OUT/$icert" -keyfile "$OUT/$ikey" -extensions "$ext" -subj "$subj" \
    -startdate "$start" -enddate "$end" -out "$OUT/$name" 2>/dev/null
}

selfsign() {
  local name=$1 key=$2 subj=$3 db=$4
  openssl req -new -config "$WORK/ca.cnf" -key "$OUT/$key" -subj "$subj" -out "$WORK/$name.csr"
  CADIR="$WORK/$db" openssl ca -batch -notext -selfsign -config "$WORK/ca.cnf" -in "$WORK/$name.csr" \
    -keyfile "$OUT/$key" -extensions v3_root -subj "$subj" \
    -startdate "$LONG_START" -enddate "$LONG_END" -out "$OUT/$name" 2>/dev/null
}

O="/C=XX/O=trailseal test"

# --- the trusted hierarchy: root -> intermediate -> signers; root -> TSAs -------------------------
newdb root
newdb intermediate
rsa_key root-ca.key
selfsign root-ca.pem root-ca.key "$O/CN=trailseal test root CA" root
rsa_key intermediate-ca.key
issue intermediate-ca.pem intermediate-ca.key "$O/CN=trailseal test intermediate CA" root \
  root-ca.pem root-ca.key v3_intermediate "$LONG_START" "$LONG_END"

rsa_key signer-rsa.key
issue signer-rsa.pem signer-rsa.key "$O/CN=trailseal test signer RSA" intermediate \
  intermediate-ca.pem intermediate-ca.key v3_codesign "$LONG_START" "$LONG_END"
ec_key signer-ec.key P-256
issue signer-ec.pem signer-ec.key "$O/CN=trailseal test signer ECDSA P-256" intermediate \
  intermediate-ca.pem intermediate-ca.key v3_codesign "$LONG_START" "$LONG_END"
ec_key signer-ec384.key P-384
issue signer-ec384.pem signer-ec384.key "$O/CN=trailseal test signer ECDSA P-384" intermediate \
  intermediate-ca.pem intermediate-ca.key v3_codesign "$LONG_START" "$LONG_END"
rsa_key signer-noeku.key
issue signer-noeku.pem signer-noeku.key "$O/CN=trailseal test signer without code-signing EKU" \
  intermediate intermediate-ca.pem intermediate-ca.key v3_noeku "$LONG_START" "$LONG_END"
rsa_key signer-expired.key
issue signer-expired.pem signer-expired.key "$O/CN=trailseal test signer expired" intermediate \
  intermediate-ca.pem intermediate-ca.key v3_codesign 20200101000000Z 20210101000000Z

# A leaf "issued" by another leaf (signer-noeku, which is not a CA): path building must refuse it.
newdb noeku
rsa_key signer-bad-issuer.key
issue signer-bad-issuer.pem signer-bad-issuer.key "$O/CN=trailseal test signer issued by a non-CA" \
  noeku signer-noeku.pem signer-noeku.key v3_codesign "$LONG_START" "$LONG_END"

# Chains as a signer presents them: leaf first, then the intermediate.
for s in signer-rsa signer-ec signer-ec384 signer-noeku signer-expired; do
  cat "$OUT/$s.pem" "$OUT/intermediate-ca.pem" >"$OUT/$s-chain.pem"
done

# The RSA signer key again, encrypted (PKCS#8, AES-256-CBC) with the passphrase "trailseal".
openssl pkcs8 -topk8 -v2 aes-256-cbc -passout pass:trailseal -in "$OUT/signer-rsa.key" \
  -out "$OUT/signer-rsa.enc.key"

# The RSA signer as PKCS#12 (key, leaf, intermediate; openssl 3 defaults: AES-256-CBC, PBKDF2),
# password "trailseal": one file for both --sign-cert and --sign-key.
openssl pkcs12 -export -in "$OUT/signer-rsa.pem" -inkey "$OUT/signer-rsa.key" \
  -certfile "$OUT/intermediate-ca.pem" -name "trailseal test signer RSA" -passout pass:trailseal \
  -out "$OUT/signer-rsa.p12"

# TSA certificates, issued directly by the root CA (as SPS's internal CA issues its TSA cert).
rsa_key tsa.key
issue tsa.pem tsa.key "$O/CN=trailseal test TSA" root root-ca.pem root-ca.key v3_tsa \
  "$LONG_START" "$LONG_END"
rsa_key tsa-noncritical.key
issue tsa-noncritical.pem tsa-noncritical.key "$O/CN=trailseal test TSA with non-critical EKU" root \
  root-ca.pem root-ca.key v3_tsa_noncritical "$LONG_START" "$LONG_END"
rsa_key tsa-wrong-eku.key
issue tsa-wrong-eku.pem tsa-wrong-eku.key "$O/CN=trailseal test TSA with code-signing EKU" root \
  root-ca.pem root-ca.key v3_tsa_wrong_eku "$LONG_START" "$LONG_END"
rsa_key tsa-not-yet-valid.key
issue tsa-not-yet-valid.pem tsa-not-yet-valid.key "$O/CN=trailseal test TSA not yet valid" root \
  root-ca.pem root-ca.key v3_tsa 21000101000000Z 21250101000000Z

# --- a foreign hierarchy, outside the trust anchors ------------------------------------------------
newdb foreign
rsa_key foreign-root-ca.key
selfsign foreign-root-ca.pem foreign-root-ca.key "$O/CN=trailseal test foreign root CA" foreign
rsa_key foreign-signer.key
issue foreign-signer.pem foreign-signer.key "$O/CN=trailseal test foreign signer" foreign \
  foreign-root-ca.pem foreign-root-ca.key v3_codesign "$LONG_START" "$LONG_END"

# A look-alike: a foreign intermediate with the SAME subject name as the trusted intermediate, and
# under it a leaf with the same name as the trusted RSA signer. A name match alone must not make it
# trusted (path building checks signatures, not names).
newdb foreign-intermediate
rsa_key foreign-intermediate-ca.key
issue foreign-intermediate-ca.pem foreign-intermediate-ca.key "$O/CN=trailseal test intermediate CA" \
  foreign foreign-root-ca.pem foreign-root-ca.key v3_intermediate "$LONG_START" "$LONG_END"
rsa_key foreign-lookalike-signer.key
issue foreign-lookalike-signer.pem foreign-lookalike-signer.key "$O/CN=trailseal test signer RSA" \
  foreign-intermediate foreign-intermediate-ca.pem foreign-intermediate-ca.key v3_codesign \
  "$LONG_START" "$LONG_END"

# DER copies of the anchors for tools that want DER.
openssl x509 -in "$OUT/root-ca.pem" -outform DER -out "$OUT/root-ca.der"
openssl x509 -in "$OUT/foreign-root-ca.pem" -outform DER -out "$OUT/foreign-root-ca.der"

# Sanity: every trusted, currently valid certificate verifies against the root with openssl.
openssl verify -CAfile "$OUT/root-ca.pem" -untrusted "$OUT/intermediate-ca.pem" \
  "$OUT/signer-rsa.pem" "$OUT/signer-ec.pem" "$OUT/signer-ec384.pem" "$OUT/signer-noeku.pem" >/dev/null
openssl verify -CAfile "$OUT/root-ca.pem" "$OUT/tsa.pem" "$OUT/tsa-noncritical.pem" \
  "$OUT/tsa-wrong-eku.pem" >/dev/null
echo "testdata/pki: generated in $OUT"
