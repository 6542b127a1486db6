package firstpromoter

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// listed is the platform's commission lookup: it lists rows and records
// each request's ids; down fails every request.
type listed struct {
	ProcessAPI
	rows     map[int64]Commission
	requests [][]int64
	down     error
}

func (l *listed) Commissions(_ context.Context, ids []int64) ([]Commission, error) {
	l.requests = append(l.requests, ids)
	if l.down != nil {
		return nil, l.down
	}
	var out []Commission
	for _, id := range ids {
		if c, ok := l.rows[id]; ok {
			out = append(out, c)
		}
	}
	return out, nil
}

// ledger is the ledger's stored commissions.
type ledger map[string]reward.Commission

func (l ledger) Commission(_ context.Context, _ reward.Provider, id string) (reward.Commission, error) {
	if c, ok := l[id]; ok {
		return c, nil
	}
	return reward.Commission{}, reward.ErrNotFound
}

func (l ledger) Held(context.Context, reward.Provider, reward.Recipient) (bool, error) {
	return false, nil
}

func deliveries(bodies ...string) []reward.Delivery {
	ds := make([]reward.Delivery, len(bodies))
	for i, b := range bodies {
		ds[i] = reward.Delivery{Body: []byte(b)}
	}
	return ds
}

func commissionEvent(eventType string, id int64) string {
	return fmt.Sprintf(`{"event_type":%q,"data":{"id":%d,"unit":"points","amount":500}}`, eventType, id)
}

// TestPlatformLooksUpABatchOnceAndLanesByPromoter: a batch's commissions
// are read in one request, each once (test and payout events need none);
// its lanes are the promoters the platform names, and a commission it
// does not list is its own.
func TestPlatformLooksUpABatchOnceAndLanesByPromoter(t *testing.T) {
	api := &listed{rows: map[int64]Commission{
		1: {ID: 1, Status: "approved", Unit: "points", Amount: 500, PromoterCampaign: PromoterCampaign{PromoterID: 7}},
		2: {ID: 2, Status: "pending", Unit: "points", Amount: 300, PromoterCampaign: PromoterCampaign{PromoterID: 7}},
	}}
	p := &Platform{API: api, Rules: points()}
	b, err := p.Prepare(t.Context(), deliveries(
		commissionEvent("commission.updated", 1), commissionEvent("commission.approved", 2), commissionEvent("commission.updated", 1),
		commissionEvent("commission.updated", 3), `{"event_type":"payout.completed","data":{"id":9}}`,
		`{"event_type":"commission.updated","data":{"id":4,"test":true}}`, `not json`,
	))
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]int64{{1, 2, 3}}; fmt.Sprint(api.requests) != fmt.Sprint(want) {
		t.Errorf("requests %v, want %v", api.requests, want)
	}
	var lanes []string
	for i := range 7 {
		lanes = append(lanes, b.Lane(i))
	}
	want := []string{"firstpromoter#promoter#7", "firstpromoter#promoter#7", "firstpromoter#promoter#7", "firstpromoter#commission#3", "firstpromoter#commission#9", "firstpromoter#commission#4", ""}
	if !slices.Equal(lanes, want) {
		t.Errorf("lanes %q, want %q", lanes, want)
	}
	req, err := b.Request(t.Context(), 1, ledger{})
	if err != nil || req.Intent == nil || req.Intent.Target != reward.TargetPending || req.Intent.Amount != 300 || req.Intent.Account.Recipient != reward.Promoter("7") {
		t.Errorf("commission 2: %+v %v, want the platform's pending 300 points of promoter 7", req.Intent, err)
	}
	if req, err := b.Request(t.Context(), 3, ledger{}); err != nil || !req.Stale || req.Intent != nil {
		t.Errorf("a commission the platform does not list: %+v %v, want stale", req, err)
	}
	for _, i := range []int{4, 5} {
		if req, err := b.Request(t.Context(), i, ledger{}); err != nil || req.Intent != nil || req.Stale {
			t.Errorf("delivery %d: %+v %v, want nothing to change", i, req, err)
		}
	}
	if _, err := b.Request(t.Context(), 6, ledger{}); !errors.Is(err, reward.ErrInvalid) {
		t.Errorf("a body that is not JSON: %v, want ErrInvalid", err)
	}
}

// TestPlatformUnreachableAppliesOnlyDenialsTheLedgerKnows: while the
// lookup fails, a denial of a stored commission is applied with its
// stored account and amount; anything else waits for the platform.
func TestPlatformUnreachableAppliesOnlyDenialsTheLedgerKnows(t *testing.T) {
	for _, p := range []*Platform{{API: &listed{down: ErrUnavailable}, Rules: points()}, {Rules: points()}} {
		b, err := p.Prepare(t.Context(), deliveries(commissionEvent("commission.denied", 1), commissionEvent("commission.denied", 2), commissionEvent("commission.approved", 1)))
		if err == nil {
			t.Fatal("no error from a lookup that failed")
		}
		stored := reward.Account{Provider: reward.FirstPromoter, Unit: reward.Points, Recipient: reward.Promoter("7")}
		l := ledger{"1": {Provider: reward.FirstPromoter, ID: "1", Account: stored, Status: reward.Pending, Amount: 250}}
		req, err := b.Request(t.Context(), 0, l)
		if err != nil || !req.Offline || req.Intent == nil || req.Intent.Target != reward.TargetDenied || req.Intent.Account != stored || req.Intent.Amount != 250 {
			t.Errorf("a stored commission's denial: %+v %v, want applied with its stored account and amount", req.Intent, err)
		}
		for _, i := range []int{1, 2} {
			if _, err := b.Request(t.Context(), i, l); !errors.Is(err, reward.ErrPlatformDown) {
				t.Errorf("delivery %d: %v, want it to wait for the platform", i, err)
			}
		}
	}
}
