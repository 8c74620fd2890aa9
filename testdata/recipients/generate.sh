#!/usr/bin/env bash
# Makes testdata/recipients: CMS envelopes written by `openssl cms -encrypt` in the variants a
# trailseal reader meets, each as a vector file (C2SP CCTV style): `key: value` header lines, a
# blank line, then the envelope DER in base64. `expect:` is `ok` (openLayer returns `content:`) or
# the TrailsealError code openLayer must throw. Never edit the vectors by hand: run
#   bash testdata/recipients/generate.sh
# Keys are made here (not taken from testdata/certs) so the vectors stay valid on their own.
set -euo pipefail
cd "$(dirname "$0")"
rm -rf keys vectors
mkdir -p keys vectors

subj() { echo "/O=trailseal tests/CN=trailseal recipients vector $1"; }
openssl req -x509 -newkey rsa:2048 -nodes -keyout keys/rsa.key -out keys/rsa.crt -days 36500 \
  -subj "$(subj rsa)" -addext keyUsage=keyEncipherment 2>/dev/null
for c in p256:prime256v1 p384:secp384r1; do
  name=${c%%:*}
  openssl req -x509 -newkey ec -pkeyopt "ec_paramgen_curve:${c##*:}" -nodes -keyout "keys/$name.key" \
    -out "keys/$name.crt" -days 36500 -subj "$(subj "$name")" -addext keyUsage=keyAgreement 2>/dev/null
done

content=$(openssl rand -hex 32)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo -n "$content" | xxd -r -p > "$tmp/content.bin"

# vector NAME KEY EXPECT DESCRIPTION -- openssl cms -encrypt arguments…
vector() {
  local name=$1 key=$2 expect=$3 description=$4
  shift 5
  openssl cms -encrypt -binary -in "$tmp/content.bin" -out "$tmp/$name.der" "$@"
  write "$name" "$key" "$expect" "$description" "openssl cms -encrypt -binary $*" < "$tmp/$name.der"
}

# write NAME KEY EXPECT DESCRIPTION COMMAND < DER
write() {
  {
    echo "description: $4"
    echo "key: $2"
    echo "expect: $3"
    if [ "$3" = ok ]; then echo "content: $content"; fi
    echo "made-by: $5"
    echo
    base64 -w 64
  } > "vectors/$1"
}

OAEP256=(-keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha256 -keyopt rsa_mgf1_md:sha256)
DER=(-outform DER)

vector rsa-oaep-sha256 rsa ok "RSAES-OAEP SHA-256 / MGF1-SHA-256, what trailseal writes" -- \
  "${DER[@]}" -aes-256-cbc -recip keys/rsa.crt "${OAEP256[@]}"
vector rsa-oaep-sha1 rsa ok "RSAES-OAEP with the default SHA-1 parameters (absent)" -- \
  "${DER[@]}" -aes-256-cbc -recip keys/rsa.crt -keyopt rsa_padding_mode:oaep
vector rsa-oaep-sha384 rsa ok "RSAES-OAEP SHA-384 / MGF1-SHA-384" -- \
  "${DER[@]}" -aes-256-cbc -recip keys/rsa.crt -keyopt rsa_padding_mode:oaep \
  -keyopt rsa_oaep_md:sha384 -keyopt rsa_mgf1_md:sha384
vector rsa-oaep-mixed-mgf rsa STANZA_INVALID "OAEP SHA-256 with MGF1-SHA-1: node:crypto has one digest for both" -- \
  "${DER[@]}" -aes-256-cbc -recip keys/rsa.crt -keyopt rsa_padding_mode:oaep \
  -keyopt rsa_oaep_md:sha256 -keyopt rsa_mgf1_md:sha1
vector rsa-pkcs1v15 rsa STANZA_INVALID "RSAES-PKCS1-v1_5 key transport (openssl's default), refused" -- \
  "${DER[@]}" -aes-256-cbc -recip keys/rsa.crt
vector rsa-aes128-cbc rsa ok "AES-128-CBC content" -- \
  "${DER[@]}" -aes-128-cbc -recip keys/rsa.crt "${OAEP256[@]}"
vector rsa-des3-cbc rsa STANZA_INVALID "3DES-CBC content, refused" -- \
  "${DER[@]}" -des3 -recip keys/rsa.crt "${OAEP256[@]}"
vector rsa-stream-ber rsa ok "streamed: indefinite lengths, encrypted content in constructed chunks (BER)" -- \
  "${DER[@]}" -stream -aes-256-cbc -recip keys/rsa.crt "${OAEP256[@]}"
vector p256-sha256kdf p256 ok "ECDH P-256, stdDH SHA-256 KDF, AES-256 wrap, no UKM (what trailseal writes)" -- \
  "${DER[@]}" -aes-256-cbc -recip keys/p256.crt -keyopt ecdh_kdf_md:sha256
vector p256-sha1kdf p256 ok "ECDH P-256 with openssl's default SHA-1 KDF" -- \
  "${DER[@]}" -aes-256-cbc -recip keys/p256.crt
vector p384-aes128 p384 ok "ECDH P-384, SHA-384 KDF, AES-128 wrap and AES-128-CBC content" -- \
  "${DER[@]}" -aes-128-cbc -recip keys/p384.crt -keyopt ecdh_kdf_md:sha384
vector p384-wrong-key p256 NO_MATCHING_KEY "envelope to P-384 opened with the P-256 key" -- \
  "${DER[@]}" -aes-256-cbc -recip keys/p384.crt -keyopt ecdh_kdf_md:sha256
vector multi-rsa-p256 p256 ok "three recipients (RSA, P-256, P-384), opened by the P-256 key" -- \
  "${DER[@]}" -aes-256-cbc -recip keys/rsa.crt "${OAEP256[@]}" -recip keys/p256.crt \
  -keyopt ecdh_kdf_md:sha256 -recip keys/p384.crt -keyopt ecdh_kdf_md:sha256
vector multi-rsa-p256-rsakey rsa ok "the same three recipients, opened by the RSA key" -- \
  "${DER[@]}" -aes-256-cbc -recip keys/rsa.crt "${OAEP256[@]}" -recip keys/p256.crt \
  -keyopt ecdh_kdf_md:sha256 -recip keys/p384.crt -keyopt ecdh_kdf_md:sha256
vector p256-aes256-gcm p256 STANZA_INVALID "AES-256-GCM makes AuthEnvelopedData (RFC 5083), not EnvelopedData" -- \
  "${DER[@]}" -aes-256-gcm -recip keys/p256.crt -keyopt ecdh_kdf_md:sha256

# Damaged copies of a good envelope.
head -c 200 "$tmp/rsa-oaep-sha256.der" |
  write truncated rsa STANZA_INVALID "rsa-oaep-sha256 cut at 200 bytes" "head -c 200 rsa-oaep-sha256"
{ cat "$tmp/rsa-oaep-sha256.der"; printf '\0'; } |
  write trailing-byte rsa STANZA_INVALID "rsa-oaep-sha256 with one zero byte appended" "rsa-oaep-sha256 + 00"
