# Certificates for the service tests, made at test time with openssl in the current directory
# (sourced by tests/serve_test.sh and tests/serve_postgres.sh).
#   test_ca                       ca.pem and ca.key: a CA valid for two days
#   certificate NAME SAN          NAME.pem and NAME.key, signed by the CA, with that subjectAltName
#   fingerprint NAME              the lower-case hex SHA-256 of NAME.pem (DER), as serve.json wants
#   signing_key                   signing.key and signing.pub: the host's Ed25519 checkpoint key
test_ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
    -days 2 -subj "/CN=kakehashi test CA" 2>/dev/null
}
certificate() {
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.csr" \
    -subj "/CN=$1" 2>/dev/null
  printf 'subjectAltName=%s\n' "$2" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$1.pem" -days 2 \
    -extfile "$1.ext" 2>/dev/null
}
fingerprint() { openssl x509 -in "$1.pem" -outform DER | sha256sum | cut -d' ' -f1; }
signing_key() {
  openssl genpkey -algorithm ed25519 -out signing.key 2>/dev/null
  openssl pkey -in signing.key -pubout -out signing.pub
}
