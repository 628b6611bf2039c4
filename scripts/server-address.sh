# Sourced by the bench and load scripts: `wait_listening LOG` waits up to 30 s for the
# server writing LOG to print "listening on ADDRESS" and sets $address; without it, prints
# the log and exits.
wait_listening() {
  address=""
  for _ in $(seq 1 300); do
    address=$(sed -n 's/.*listening on \([0-9.]*:[0-9]*\).*/\1/p' "$1")
    [ -n "$address" ] && return 0
    sleep 0.1
  done
  cat "$1"
  exit 1
}
