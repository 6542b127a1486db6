package fake

import (
	"context"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// covers is Apply's balance condition for a change marked Covered: each
// account's available balance covers what the entries take from it (lock
// held).
func (s *Store) covers(c reward.Change) error {
	if !c.Covered {
		return nil
	}
	take := map[reward.Account]int64{}
	for _, e := range c.Entries {
		take[e.Account] -= e.Deltas.Available
	}
	for a, n := range take {
		if avail := s.balances[a].Available; n > 0 && avail < n {
			return &reward.Insufficient{Available: avail}
		}
	}
	return nil
}

// UnfulfilOutbox implements reward.Store.
func (s *Store) UnfulfilOutbox(_ context.Context, p reward.Provider, limit int) ([]reward.Commission, error) {
	return s.lane(p, reward.Fulfilment.Unfulfilling, limit), nil
}
