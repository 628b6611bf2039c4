# Sourced by deploy/run.sh and the bench scripts: a development HS256 secret in
# .data/dev-jwt-secret (made once, mode 600) and a token issued with it by holdings-token.
#   dev_token BIN_DIR SUBJECT SCOPE...   prints a token valid for 12 hours
dev_secret=.data/dev-jwt-secret
if [ ! -s "$dev_secret" ]; then
  mkdir -p .data
  (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dev_secret")
fi
dev_token() {
  local bin=$1 subject=$2; shift 2
  local scopes=()
  for scope in "$@"; do scopes+=(--scope "$scope"); done
  "$bin/holdings-token" --secret-file "$dev_secret" --subject "$subject" --lifetime 43200 "${scopes[@]}"
}
