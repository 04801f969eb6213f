#!/bin/sh
# Entry point of the ticket-server image.
#
# It only prepares the command line, then `exec`s node, so node becomes PID 1
# and receives docker's / the kubelet's SIGTERM itself: ticket-server handles
# SIGTERM by handing unissued lease slots back (a clean restart continues
# with the next number). Nothing stays in between to lose or delay the signal.
#
# TICKET_SERVER_INSTANCE_FROM_HOSTNAME=1 (StatefulSets): pods are named
# NAME-0, NAME-1, …; pod NAME-k runs as --instance k+1. A hostname without a
# numeric suffix is refused (exit 2), as is a second source of --instance:
# silently guessing an instance number could make two servers issue the same
# values.
#
# TICKET_SERVER_ENTRYPOINT_DRY_RUN=1 prints the command, one argument per
# line, instead of running it (for tests and for checking a manifest).
#
# Arguments that start with "-", or a ticket-server command (serve, dump,
# restore, next), go to ticket-server; anything else is run as given
# (`docker run IMAGE sh`).
set -eu

main_js="${TICKET_SERVER_MAIN:-/app/dist/cli/main.js}"

fail() {
  echo "ticket-server entrypoint: $*" >&2
  exit 2
}

run() {
  if [ "${TICKET_SERVER_ENTRYPOINT_DRY_RUN:-0}" = "1" ]; then
    for arg in "$@"; do printf '%s\n' "$arg"; done
    exit 0
  fi
  exec "$@"
}

# Not for ticket-server: run it as given.
case "${1:-}" in
  '' | -* | serve | dump | restore | next) ;;
  *) run "$@" ;;
esac

case "${TICKET_SERVER_INSTANCE_FROM_HOSTNAME:-}" in
  '' | 0) run node "$main_js" "$@" ;;
  1) ;;
  *) fail "TICKET_SERVER_INSTANCE_FROM_HOSTNAME must be 1 or 0, got \"${TICKET_SERVER_INSTANCE_FROM_HOSTNAME}\"" ;;
esac

# `next` is a client: it has no instance.
if [ "${1:-}" = "next" ]; then run node "$main_js" "$@"; fi

if [ -n "${TICKET_SERVER_INSTANCE:-}" ]; then
  fail "TICKET_SERVER_INSTANCE_FROM_HOSTNAME=1 and TICKET_SERVER_INSTANCE are both set: keep one"
fi
for arg in "$@"; do
  case "$arg" in
    --instance | --instance=*) fail "TICKET_SERVER_INSTANCE_FROM_HOSTNAME=1 and $arg are both given: keep one" ;;
  esac
done

host="${HOSTNAME:-}"
if [ -z "$host" ] && [ -r /proc/sys/kernel/hostname ]; then host="$(cat /proc/sys/kernel/hostname)"; fi
host="${host%%.*}"
ordinal="${host##*-}"
if [ -z "$host" ] || [ "$ordinal" = "$host" ]; then
  fail "TICKET_SERVER_INSTANCE_FROM_HOSTNAME=1 needs a hostname ending in -ORDINAL (NAME-0, NAME-1, … as a StatefulSet names its pods), got \"$host\""
fi
case "$ordinal" in
  '' | *[!0-9]* | 0?* | ??????*)
    fail "TICKET_SERVER_INSTANCE_FROM_HOSTNAME=1: hostname \"$host\" does not end in -ORDINAL (a number from 0 to 65535 without leading zeros)"
    ;;
esac
if [ "$ordinal" -gt 65535 ]; then
  fail "TICKET_SERVER_INSTANCE_FROM_HOSTNAME=1: ordinal $ordinal of hostname \"$host\" is above 65535 (instance 65536 is the largest)"
fi

run node "$main_js" "$@" --instance "$((ordinal + 1))"
