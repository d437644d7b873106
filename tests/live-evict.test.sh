#!/bin/sh
# live.test.sh with an account cache of 3 accounts for 41 riders: accounts
# are evicted and read back all through the run, and the engine still
# equals `fare-engine price` day by day and leg by leg.
ACCOUNT_CACHE=3 exec sh tests/live.test.sh "$@"
