"""Pure rules of funding: the plan (R-FUN-1…5), co-funding envelopes, card notifications, balances."""
