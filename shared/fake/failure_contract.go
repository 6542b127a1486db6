package fake

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// RunFailureLogContract checks that a reward.FailureLog behaves as the port
// says. newLog returns an empty log for each subtest.
func RunFailureLogContract(t *testing.T, newLog func(t *testing.T) reward.FailureLog) {
	at := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	first := reward.MessageFailure{MessageID: "m-1", Provider: reward.FirstPromoter, EventID: "e-1", EventType: "commission.updated",
		Reason: "the platform's API is unreachable", Receives: 1, At: at, ExpiresAt: at.Add(14 * 24 * time.Hour)}

	t.Run("a failure reads back whole", func(t *testing.T) {
		l := newLog(t)
		if err := l.RecordFailure(t.Context(), first); err != nil {
			t.Fatal(err)
		}
		got, err := l.Failure(t.Context(), "m-1")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(first, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})

	t.Run("the last failure of a message replaces the earlier", func(t *testing.T) {
		l := newLog(t)
		last := first
		last.Reason, last.Receives, last.At = "reward: invalid", 5, at.Add(15*time.Minute)
		for _, f := range []reward.MessageFailure{first, last} {
			if err := l.RecordFailure(t.Context(), f); err != nil {
				t.Fatal(err)
			}
		}
		got, err := l.Failure(t.Context(), "m-1")
		if err != nil || got.Reason != last.Reason || got.Receives != 5 || !got.At.Equal(last.At) {
			t.Errorf("got %+v, %v, want the last failure", got, err)
		}
	})

	t.Run("a message that never failed is not found", func(t *testing.T) {
		l := newLog(t)
		if err := l.RecordFailure(t.Context(), first); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Failure(t.Context(), "m-2"); !errors.Is(err, reward.ErrNotFound) {
			t.Errorf("got %v, want ErrNotFound", err)
		}
	})

	t.Run("a failure of an undecodable message names what it can", func(t *testing.T) {
		l := newLog(t)
		bare := reward.MessageFailure{MessageID: "m-3", Reason: "queue: undecodable message: no provider attribute", Receives: 2, At: at, ExpiresAt: at.Add(time.Hour)}
		if err := l.RecordFailure(t.Context(), bare); err != nil {
			t.Fatal(err)
		}
		got, err := l.Failure(t.Context(), "m-3")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(bare, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}
