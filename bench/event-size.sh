#!/bin/bash
# Bytes per event of `csm-agent --all-events` during a mixed workload; see bench/event-size.py.
#   sudo bash bench/event-size.sh [--seconds N] [--baseline OTHER_BINARY] [--agent BINARY] [-- AGENT_ARGS...]
exec python3 "$(dirname "$0")/event-size.py" "$@"
