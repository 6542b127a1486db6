package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/rewardrelay/rewardrelay/cmd/rewardctl/internal/localstack"
	"github.com/rewardrelay/rewardrelay/shared/announce"
	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// eventsCheck is what simulate finds on the local bus.
type eventsCheck struct {
	// posted and reversed count the ledger's post and reverse entries.
	posted, reversed int
	// lags are, per entry written since since, the time from its write to
	// its first publication.
	lags  []time.Duration
	diffs []string
}

// checkEvents waits (up to timeout) until every entry of the ledger is on
// the local bus, then checks that every posted reward produced exactly one
// distinct Reward Posted id (its entry's) and every reversal one Reward
// Reversed, and no other id. A repeated event (at least once) is no
// difference: its id is the same.
func checkEvents(ctx context.Context, path string, l reward.Ledger, since time.Time, timeout time.Duration) (eventsCheck, error) {
	want := map[string]map[string]bool{announce.RewardPosted: {}, announce.RewardReversed: {}}
	for _, e := range l.Entries {
		switch e.Kind {
		case reward.KindPost, reward.KindRedelivered:
			want[announce.RewardPosted][e.ID] = true
		case reward.KindReverse:
			want[announce.RewardReversed][e.ID] = true
		}
	}
	deadline := time.Now().Add(timeout)
	for {
		evs, _, err := localstack.ReadEvents(path, 0)
		if err != nil {
			return eventsCheck{}, err
		}
		got := map[string]map[string]bool{}
		first := map[string]localstack.SinkEvent{}
		occurred := map[string]time.Time{}
		for _, e := range evs {
			var d announce.Detail
			if err := json.Unmarshal(e.Detail, &d); err != nil {
				return eventsCheck{}, fmt.Errorf("event %s: %w", e.ID, err)
			}
			if got[e.DetailType] == nil {
				got[e.DetailType] = map[string]bool{}
			}
			got[e.DetailType][d.ID] = true
			if _, ok := first[d.ID]; !ok {
				first[d.ID] = e
				occurred[d.ID], _ = time.Parse(time.RFC3339Nano, d.OccurredAt)
			}
		}
		missing := 0
		for _, e := range l.Entries {
			if _, ok := first[e.ID]; !ok {
				missing++
			}
		}
		if missing > 0 && time.Now().Before(deadline) {
			select {
			case <-ctx.Done():
				return eventsCheck{}, ctx.Err()
			case <-time.After(250 * time.Millisecond):
			}
			continue
		}
		c := eventsCheck{posted: len(want[announce.RewardPosted]), reversed: len(want[announce.RewardReversed])}
		if missing > 0 {
			c.diffs = append(c.diffs, fmt.Sprintf("%d ledger entries were not published on the local bus within %s", missing, timeout))
		}
		for dt, ids := range want {
			for id := range ids {
				if !got[dt][id] {
					c.diffs = append(c.diffs, fmt.Sprintf("entry %s produced no %s event", id, dt))
				}
			}
			for id := range got[dt] {
				if !ids[id] {
					c.diffs = append(c.diffs, fmt.Sprintf("%s event %s has no entry of its kind in the ledger", dt, id))
				}
			}
		}
		for id, e := range first {
			if at := occurred[id]; !at.Before(since) {
				c.lags = append(c.lags, e.PublishedAt.Sub(at))
			}
		}
		return c, nil
	}
}

// eventFigures are the events function's figures for --load.
type eventFigures struct {
	published, putRequests, putEntries, invocations int64
	busy                                            float64
	lags                                            []time.Duration
}

func (f eventFigures) print(w io.Writer) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
	if f.busy > 0 {
		fmt.Fprintf(w, "  events published per second per invocation  %.0f (%d events in %d invocations, %.2f s busy)\n", float64(f.published)/f.busy, f.published, f.invocations, f.busy)
	}
	if f.putEntries > 0 {
		fmt.Fprintf(w, "  PutEvents requests per 100 entries  %.1f (%d requests for %d entries)\n", 100*float64(f.putRequests)/float64(f.putEntries), f.putRequests, f.putEntries)
	}
	fmt.Fprintf(w, "  ledger-to-bus lag  p50 %s, p99 %s (%d entries)\n", ms(percentile(f.lags, 0.5)), ms(percentile(f.lags, 0.99)), len(f.lags))
}
