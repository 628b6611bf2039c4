# Sourced by the bench scripts: builds release holdingsd and holdings-bench, starts holdingsd
# (embedded broker) on a fresh database of the local Postgres with the extra holdingsd
# arguments given, sets $bin and $address, and cleans everything up on exit.
swift build -c release --product holdingsd >/dev/null
swift build -c release --product holdings-bench >/dev/null
swift build -c release --product holdings-token >/dev/null
bin=$(swift build -c release --show-bin-path)
source deploy/dev-credentials.sh
HOLDINGS_TOKEN=$(dev_token "$bin" bench admin)
export HOLDINGS_TOKEN
bash deploy/postgres.sh start >/dev/null
admin=$(bash deploy/postgres.sh url | sed 's#/holdings$#/postgres#')
database="bench_$(date +%s)"
psql "$admin" -qc "CREATE DATABASE $database"
url=$(bash deploy/postgres.sh url | sed "s#/holdings\$#/$database#")
log=$(mktemp)
# --no-agent: each scenario measures its own path; the monitoring agent (which re-evaluates every client it
# sees) is left out of these figures.
"$bin/holdingsd" --port 0 --database-url "$url" --plaintext --jwt-hs256-secret-file "$dev_secret" --no-agent "$@" >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; psql "$admin" -qc "DROP DATABASE IF EXISTS $database" || true; rm -f "$log"' EXIT
source scripts/server-address.sh
wait_listening "$log"
echo "holdingsd (release, embedded broker) at $address; $(nproc) cores shared with Postgres and the bench client"
