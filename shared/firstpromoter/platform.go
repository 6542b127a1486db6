package firstpromoter

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// ProcessAPI is what FirstPromoter's deliveries and their acknowledgement
// ask of the platform.
type ProcessAPI interface {
	Commissions(ctx context.Context, ids []int64) ([]Commission, error)
	FulfilmentAPI
}

// Platform is FirstPromoter behind the reward.Platform port: its webhook
// events decoded once, the batch's commissions looked up in one request
// (the webhook lacks the promoter and the reward, and the platform's
// current status defends against reordered deliveries), and delivered
// rewards acknowledged with mark_fulfilled.
type Platform struct {
	// API is the account's client; nil when the account is not
	// configured: commission events then wait in the queue.
	API   ProcessAPI
	Rules Rules
}

var (
	_ reward.Platform     = (*Platform)(nil)
	_ reward.Acknowledger = (*Platform)(nil)
)

// Provider is reward.FirstPromoter.
func (p *Platform) Provider() reward.Provider { return reward.FirstPromoter }

// errNoAPI means the account is not configured.
var errNoAPI = errors.New("no FirstPromoter API configured (FIRSTPROMOTER_API_KEY, FIRSTPROMOTER_ACCOUNT_ID)")

// Prepare decodes the deliveries and reads every commission they name in
// one request (chunks of 100).
func (p *Platform) Prepare(ctx context.Context, ds []reward.Delivery) (reward.Prepared, error) {
	b := &batch{rules: p.Rules, events: make([]Event, len(ds)), errs: make([]error, len(ds))}
	var ids []int64
	seen := map[int64]bool{}
	for i, d := range ds {
		b.events[i], b.errs[i] = ParseEvent(d.Body)
		ev := b.events[i]
		if b.errs[i] != nil || ev.Data.Test {
			continue
		}
		if id, err := ev.CommissionID(); err == nil && ev.IsCommission() && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return b, nil
	}
	if p.API == nil {
		b.down = errNoAPI
		return b, b.down
	}
	rows, err := p.API.Commissions(ctx, ids)
	if err != nil {
		b.down = err
		return b, err
	}
	b.listed = make(map[int64]Commission, len(rows))
	for _, c := range rows {
		b.listed[c.ID] = c
	}
	return b, nil
}

// Acknowledge tells the platform of delivered rewards (Fulfilments); with
// no API configured it tells nothing: they stay in the outbox.
func (p *Platform) Acknowledge(ctx context.Context, ids []string) (*reward.Settlement, error) {
	if p.API == nil {
		return reward.NewSettlement(), nil
	}
	return Fulfilments{API: p.API}.Acknowledge(ctx, ids)
}

// batch is a batch's FirstPromoter deliveries with the platform's view of
// their commissions.
type batch struct {
	rules  Rules
	events []Event
	errs   []error
	listed map[int64]Commission
	down   error // the platform's view could not be read
}

// Lane is the commission's promoter as the platform returned it, else the
// commission itself.
func (b *batch) Lane(i int) string {
	if b.errs[i] != nil {
		return ""
	}
	id, err := b.events[i].CommissionID()
	if err != nil {
		return ""
	}
	if c, ok := b.listed[id]; ok && c.PromoterID() != 0 {
		return "firstpromoter#promoter#" + strconv.FormatInt(c.PromoterID(), 10)
	}
	return "firstpromoter#commission#" + strconv.FormatInt(id, 10)
}

// Request is the commission event's intent, with the platform's current
// view of the commission.
func (b *batch) Request(ctx context.Context, i int, ledger reward.LedgerReader) (reward.Request, error) {
	env, err := b.events[i], b.errs[i]
	if err != nil {
		return reward.Request{}, err
	}
	if env.Data.Test || !env.IsCommission() {
		// payout.updated / payout.completed echo our own mark_fulfilled: the
		// acknowledgement was recorded when the call answered.
		return reward.Request{}, nil
	}
	id, err := env.CommissionID()
	if err != nil {
		return reward.Request{}, err
	}
	if b.down != nil {
		return b.offline(ctx, env, id, ledger)
	}
	c, known := b.listed[id]
	in, verdict, err := b.rules.EventIntent(env, id, c, known)
	if err != nil {
		return reward.Request{}, err
	}
	switch verdict {
	case Ignore:
		return reward.Request{Note: "commission unit is not delivered by this deployment", CommissionID: in.CommissionID, Unit: in.Account.Unit}, nil
	case NotListed:
		// Deleted since the event (a deletion follows it) or not listed
		// yet; retrying it would only end in the dead-letter queue.
		return reward.Request{Stale: true, Note: "commission not returned by the platform: acknowledged, not applied", CommissionID: strconv.FormatInt(id, 10)}, nil
	case StoredAccount:
		stored, err := ledger.Commission(ctx, reward.FirstPromoter, in.CommissionID)
		if errors.Is(err, reward.ErrNotFound) {
			return reward.Request{Stale: true}, nil
		}
		if err != nil {
			return reward.Request{}, err
		}
		in.Account = stored.Account
	}
	return reward.Request{Intent: &in}, nil
}

// offline is what a commission event can do while the platform's view
// cannot be read: a denial or deletion of a commission the ledger has
// needs nothing from it (a denial is final, and the stored account is the
// one its entries were written to). Anything else waits for the platform,
// whose view decides it.
func (b *batch) offline(ctx context.Context, env Event, id int64, ledger reward.LedgerReader) (reward.Request, error) {
	down := fmt.Errorf("read commission %d from firstpromoter: %w: %w", id, reward.ErrPlatformDown, b.down)
	if env.Target() != reward.TargetDenied {
		return reward.Request{}, down
	}
	in := reward.Intent{Provider: reward.FirstPromoter, CommissionID: strconv.FormatInt(id, 10), Target: reward.TargetDenied, Acknowledge: true}
	stored, err := ledger.Commission(ctx, reward.FirstPromoter, in.CommissionID)
	if errors.Is(err, reward.ErrNotFound) {
		return reward.Request{}, down
	}
	if err != nil {
		return reward.Request{}, err
	}
	if u := stored.Account.Unit; !b.rules.Delivers(u) {
		return reward.Request{Offline: true, Note: "commission unit is not delivered by this deployment", CommissionID: in.CommissionID, Unit: u}, nil
	}
	in.Account, in.Amount = stored.Account, stored.Amount
	return reward.Request{Intent: &in, Offline: true}, nil
}
