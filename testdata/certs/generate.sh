#!/usr/bin/env bash
# Generates every certificate, key and container fixture in testdata/certs/ with the openssl CLI
# (OpenSSL 3.0 or later; also jq and iconv). Run from anywhere: `bash testdata/certs/generate.sh`. The files are
# committed; nothing in this folder is edited by hand.
#
# Two stages: the base keys and certificates (*.key, *.crt in this folder), which other fixtures
# and tests depend on, are made only when missing or with `--new-keys`; the derived inputs
# (variants/, keys/, bad/, signer-chain.pem) are remade from them on every run. Certificates are valid for 100 years,
# except the one made expired on purpose. The PKCS#12 / encrypted-key passphrase is in
# PASSPHRASE below (a test secret, nothing else).
set -euo pipefail
cd "$(dirname "$0")"
export LC_ALL=C

PASSPHRASE="trailseal-test"
DAYS=36500
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# A minimal config so the extensions do not depend on the system's openssl.cnf.
cat >"$WORK/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
[rsa_recipient]
basicConstraints = critical, CA:false
keyUsage = critical, keyEncipherment, dataEncipherment
subjectKeyIdentifier = hash
[ec_recipient]
basicConstraints = critical, CA:false
keyUsage = critical, keyAgreement
subjectKeyIdentifier = hash
[ca]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[signer]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[tsa]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[tls]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth, emailProtection, OCSPSigning, 1.3.6.1.4.1.99999.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[plain]
basicConstraints = critical, CA:false
EOF
CNF="$WORK/openssl.cnf"

NEW_KEYS=0
if [[ "${1:-}" == "--new-keys" || ! -f rsa2048-a.crt ]]; then NEW_KEYS=1; fi

# self_signed NAME KEYSPEC EXTENSIONS CN: a self-signed certificate NAME.crt with key NAME.key
# (PKCS#8 PEM, unencrypted).
self_signed() {
  local name=$1 keyspec=$2 ext=$3 cn=$4
  openssl genpkey $keyspec -out "$name.key" 2>/dev/null
  openssl req -config "$CNF" -new -x509 -key "$name.key" -out "$name.crt" -days "$DAYS" \
    -sha256 -subj "/O=trailseal tests/CN=$cn" -extensions "$ext"
}

# issued NAME KEYSPEC EXTENSIONS CN: a certificate NAME.crt issued by ca.crt, key NAME.key.
issued() {
  local name=$1 keyspec=$2 ext=$3 cn=$4
  openssl genpkey $keyspec -out "$name.key" 2>/dev/null
  openssl req -config "$CNF" -new -key "$name.key" -out "$WORK/$name.csr" \
    -subj "/O=trailseal tests/CN=$cn"
  openssl x509 -req -in "$WORK/$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
    -CAserial "$WORK/ca.srl" -out "$name.crt" -days "$DAYS" -sha256 \
    -extfile "$CNF" -extensions "$ext" 2>/dev/null
}

RSA2048="-algorithm RSA -pkeyopt rsa_keygen_bits:2048"

if [[ $NEW_KEYS == 1 ]]; then
rm -f ./*.crt ./*.key ./*.pem

# --- Recipients (encryption certificates): five RSA-2048 and one EC per NIST curve. ---
for x in a b c d e; do
  self_signed "rsa2048-$x" "$RSA2048" rsa_recipient "trailseal test recipient rsa2048-$x"
done
self_signed ec-p256-a "-algorithm EC -pkeyopt ec_paramgen_curve:P-256" ec_recipient \
  "trailseal test recipient ec-p256-a"
self_signed ec-p384-a "-algorithm EC -pkeyopt ec_paramgen_curve:P-384" ec_recipient \
  "trailseal test recipient ec-p384-a"
self_signed ec-p521-a "-algorithm EC -pkeyopt ec_paramgen_curve:P-521" ec_recipient \
  "trailseal test recipient ec-p521-a"

# --- Odd keys for warnings: RSA-1024, Ed25519. ---
self_signed rsa1024-weak "-algorithm RSA -pkeyopt rsa_keygen_bits:1024" rsa_recipient \
  "trailseal test weak rsa1024"
self_signed ed25519-a "-algorithm ED25519" plain "trailseal test ed25519-a"

# --- An expired certificate (valid 2000-01-01 .. 2001-01-01): openssl ca can set past dates. ---
openssl genpkey $RSA2048 -out expired-rsa2048.key 2>/dev/null
openssl req -config "$CNF" -new -key expired-rsa2048.key -out "$WORK/expired.csr" \
  -subj "/O=trailseal tests/CN=trailseal test expired rsa2048"
mkdir -p "$WORK/ca"
: >"$WORK/ca/index.txt"
cat >"$WORK/ca.cnf" <<EOF
[ca]
default_ca = selfsign
[selfsign]
database = $WORK/ca/index.txt
new_certs_dir = $WORK/ca
serial = $WORK/ca/serial
default_md = sha256
policy = any
unique_subject = no
x509_extensions = ext
[any]
organizationName = optional
commonName = supplied
[ext]
basicConstraints = critical, CA:false
keyUsage = critical, keyEncipherment, dataEncipherment
EOF
echo 01 >"$WORK/ca/serial"
openssl ca -batch -config "$WORK/ca.cnf" -selfsign -keyfile expired-rsa2048.key \
  -in "$WORK/expired.csr" -startdate 20000101000000Z -enddate 20010101000000Z \
  -notext -out expired-rsa2048.crt 2>/dev/null

# --- A small PKI: test CA, a code-signing leaf (x509 identity), a TSA leaf, a TLS leaf. ---
self_signed ca "$RSA2048" ca "trailseal test ca"
issued signer "$RSA2048" signer "trailseal test signer"
issued tsa "$RSA2048" tsa "trailseal test tsa"
issued tls-eku "-algorithm EC -pkeyopt ec_paramgen_curve:P-256" tls "trailseal test tls eku"
fi # NEW_KEYS

cat signer.crt ca.crt >signer-chain.pem

# --- Input variants of rsa2048-a (the pem command's table tests) ---
C=rsa2048-a.crt
mkdir -p variants
rm -f variants/*
V=variants
openssl x509 -in $C -outform DER -out $V/der.der
# `openssl x509 -text` dump followed by the PEM (what `openssl x509 -text -in` prints).
openssl x509 -in $C -text >$V/text-dump.pem
# subject= / issuer= lines above the PEM (openssl x509 -subject -issuer).
openssl x509 -in $C -subject -issuer >$V/subject-issuer.pem
# Comments and blank lines around two certificates.
{
  echo "# recipients for the audit policy"
  echo
  cat $C
  echo
  echo "; second one:"
  cat rsa2048-b.crt
  echo "# end"
} >$V/comments-two.pem
# CRLF and CR-only line ends.
sed 's/$/\r/' $C >$V/crlf.pem
tr '\n' '\r' <$C >$V/cr.pem
# Indented base64 lines, and base64 re-wrapped at 76 columns.
sed 's/^/    /' $C >$V/indented.pem
{
  echo "-----BEGIN CERTIFICATE-----"
  base64 -w 76 <$V/der.der
  echo "-----END CERTIFICATE-----"
} >$V/rewrapped76.pem
# Base64 on one line between the markers.
{
  echo "-----BEGIN CERTIFICATE-----"
  base64 -w 0 <$V/der.der
  echo
  echo "-----END CERTIFICATE-----"
} >$V/oneline.pem
# A PEM already escaped for JSON: a string literal, and its contents without the quotes.
jq -Rs . <$C | tr -d '\n' >$V/json-string.json
jq -Rs . <$C | tr -d '\n' | sed 's/^"//; s/"$//' >$V/json-escaped.txt
# Bare base64 of the DER, wrapped and unwrapped.
base64 -w 64 <$V/der.der >$V/bare.b64
base64 -w 0 <$V/der.der >$V/bare-oneline.b64
# PKCS#7 certificate bundles (RFC 2315 degenerate SignedData): PEM and DER.
openssl crl2pkcs7 -nocrl -certfile $C -certfile rsa2048-b.crt -out $V/bundle.p7b
openssl crl2pkcs7 -nocrl -certfile $C -certfile rsa2048-b.crt -outform DER -out $V/bundle.p7c
# PKCS#12: modern (AES-256-CBC, PBKDF2, SHA-256 MAC), legacy RC2-40 + 3DES, 3DES only, with
# a chain, and with an empty password.
openssl pkcs12 -export -inkey rsa2048-a.key -in $C -name rsa2048-a -passout "pass:$PASSPHRASE" \
  -out $V/modern.p12
openssl pkcs12 -export -legacy -inkey rsa2048-a.key -in $C -name rsa2048-a \
  -passout "pass:$PASSPHRASE" -out $V/legacy-rc2.p12
openssl pkcs12 -export -certpbe PBE-SHA1-3DES -keypbe PBE-SHA1-3DES -macalg sha1 \
  -inkey rsa2048-a.key -in $C -name rsa2048-a -passout "pass:$PASSPHRASE" -out $V/legacy-3des.pfx
openssl pkcs12 -export -inkey signer.key -in signer.crt -certfile ca.crt -name signer \
  -passout "pass:$PASSPHRASE" -out $V/signer-chain.p12
openssl pkcs12 -export -inkey ec-p256-a.key -in ec-p256-a.crt -name ec-p256-a -passout "pass:" \
  -out $V/ec-nopass.p12
# No MAC at all (-nomac): only decryption can tell a wrong password.
openssl pkcs12 -export -nomac -inkey rsa2048-a.key -in $C -name rsa2048-a \
  -passout "pass:$PASSPHRASE" -out $V/nomac.p12
# Bag Attributes: what `openssl pkcs12 -nokeys` prints (friendlyName, localKeyID, subject=...).
openssl pkcs12 -in $V/modern.p12 -nokeys -passin "pass:$PASSPHRASE" -out $V/bag-attributes.pem
# OpenSSL's TRUSTED CERTIFICATE form (the certificate followed by trust settings).
openssl x509 -in $C -trustout -addtrust serverAuth -out $V/trusted.pem
# A Windows "Unicode" text file: UTF-16LE with a byte order mark.
{ printf '\xff\xfe'; iconv -f UTF-8 -t UTF-16LE <$C; } >$V/utf16le-bom.pem
# Two certificates as a JSON array of API strings, and one inside a JSON object.
jq -Rs . <$C >"$WORK/a.json"
jq -Rs . <rsa2048-b.crt >"$WORK/b.json"
jq -c -s . "$WORK/a.json" "$WORK/b.json" >$V/json-array.json
jq -n --slurpfile a "$WORK/a.json" '{name: "audit", encryption: {enabled: true, certificates: [{certificate: $a[0], four_eyes_certificate: null}]}}' >$V/policy-body.json
# Certificate and key in one PEM file.
cat rsa2048-a.key $C >$V/key-and-cert.pem

# --- Key forms of rsa2048-a and ec-p256-a (all the same key as the certificate). ---
K=keys
mkdir -p $K
rm -f $K/*
openssl pkey -in rsa2048-a.key -out $K/rsa-pkcs8.pem
openssl rsa -in rsa2048-a.key -traditional -out $K/rsa-pkcs1.pem 2>/dev/null
openssl pkcs8 -topk8 -in rsa2048-a.key -v2 aes-256-cbc -passout "pass:$PASSPHRASE" \
  -out $K/rsa-pkcs8-encrypted.pem
openssl rsa -in rsa2048-a.key -traditional -aes256 -passout "pass:$PASSPHRASE" \
  -out $K/rsa-pkcs1-encrypted.pem 2>/dev/null
openssl pkey -in rsa2048-a.key -outform DER -out $K/rsa-pkcs8.der
openssl pkcs8 -topk8 -in rsa2048-a.key -v2 aes-256-cbc -passout "pass:$PASSPHRASE" \
  -outform DER -out $K/rsa-pkcs8-encrypted.der
openssl pkey -in ec-p256-a.key -out $K/ec-pkcs8.pem
openssl ec -in ec-p256-a.key -out $K/ec-sec1.pem 2>/dev/null
openssl ecparam -name prime256v1 -out "$WORK/params.pem"
cat "$WORK/params.pem" $K/ec-sec1.pem >$K/ec-sec1-with-params.pem
openssl pkey -in ed25519-a.key -out $K/ed25519-pkcs8.pem

# --- Things that are not certificates, and broken inputs (the error table). ---
B=bad
mkdir -p $B
rm -f $B/*
openssl req -config "$CNF" -new -key rsa2048-a.key -subj "/CN=trailseal test csr" -out $B/request.csr
openssl pkey -in rsa2048-a.key -pubout -out $B/public-key.pem
cp rsa2048-a.key $B/private-key.pem
echo "hello, this file holds no certificate" >$B/no-certificate.txt
# A PEM block whose base64 is broken (a '*' in the middle of the file's line 4).
awk 'NR==4 { $0 = substr($0, 1, 10) "*" substr($0, 12) } { print }' $C >$B/bad-base64.pem
# Second block has valid base64 but the DER is truncated.
{
  cat rsa2048-b.crt
  echo "-----BEGIN CERTIFICATE-----"
  head -c 300 $V/der.der | base64 -w 64
  echo "-----END CERTIFICATE-----"
} >$B/truncated-der-second.pem
head -c 300 $V/der.der >$B/truncated.der
# A PEM without its END line.
head -n 5 $C >$B/no-end.pem

echo "generated in $(pwd)"
