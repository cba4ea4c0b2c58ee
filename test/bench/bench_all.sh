#!/bin/sh
exec /usr/bin/python3 "$(dirname "$0")/bench_all.py" "$@"
