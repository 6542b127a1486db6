package firstpromoter

import (
	"context"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

func TestRefusalReasonsAreBounded(t *testing.T) {
	long := strings.Repeat("é", maxReason)
	if got := bounded(long); len(got) > maxReason+len("...") || !utf8.ValidString(got) {
		t.Errorf("bounded to %d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
	}
	if got := bounded("payout missing"); got != "payout missing" {
		t.Errorf("a short reason became %q", got)
	}
}

// refusingPlatform refuses whole (422) any mark_fulfilled that carries
// refuse, and completes any other; it shows every id approved and
// unfulfilled until it fulfils it.
type refusingPlatform struct {
	refuse    int64
	fulfilled map[int64]bool
	requests  [][]int64
}

func (p *refusingPlatform) MarkFulfilled(_ context.Context, ids []int64) (BatchResult, error) {
	p.requests = append(p.requests, ids)
	if slices.Contains(ids, p.refuse) {
		return BatchResult{}, &APIError{Op: "mark_fulfilled", Status: 422, Message: "cannot fulfil", kind: ErrInvalid}
	}
	for _, id := range ids {
		p.fulfilled[id] = true
	}
	return BatchResult{Status: "completed", Total: len(ids), ProcessedCount: len(ids)}, nil
}

func (p *refusingPlatform) Standings(_ context.Context, ids []int64) (map[int64]Standing, error) {
	out := map[int64]Standing{}
	for _, id := range ids {
		out[id] = Unfulfilled
		if p.fulfilled[id] {
			out[id] = Fulfilled
		}
	}
	return out, nil
}

func TestAcknowledgeSettlesByTheLedgersIDsAndIsolatesTheRefusedOne(t *testing.T) {
	api := &refusingPlatform{refuse: 3, fulfilled: map[int64]bool{}}
	s, err := Fulfilments{API: api}.Acknowledge(t.Context(), []string{"1", "2", "3", "4", "not-an-id"})
	if err != nil {
		t.Fatal(err)
	}
	want := &reward.Settlement{
		Acknowledged: map[string]bool{"1": true, "2": true, "4": true},
		Refused:      map[string]string{"3": "cannot fulfil"},
		Unconfirmed:  map[string]string{},
		Batches:      map[string][]string{},
	}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("settlement (-want +got):\n%s", diff)
	}
	if got := api.requests[0]; !slices.Equal(got, []int64{1, 2, 3, 4}) {
		t.Errorf("first request %v, want the four FirstPromoter ids", got)
	}
}
