package relay

import (
	"context"
	"log/slog"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/webhook"
)

// reconciling is what a run offers a platform's reconcile steps: the
// ledger through the processor's own transaction path, the run's clock,
// deadline, cursors, counters and drift.
type reconciling struct {
	rc *Reconciler
	r  *run
	// provider is the platform whose steps run.
	provider reward.Provider
}

var _ reward.Reconciling = (*reconciling)(nil)

func (x *reconciling) Now() time.Time                     { return x.rc.Processor.Now() }
func (x *reconciling) TimeLeft(ctx context.Context) error { return x.rc.timeLeft(ctx) }
func (x *reconciling) Page()                              { x.r.count(CountPages) }
func (x *reconciling) CutShort()                          { x.r.count(CountCutShort) }
func (x *reconciling) Log() *slog.Logger                  { return x.r.log }
func (x *reconciling) Ledger() reward.LedgerReader        { return x.rc.Processor.Store }

func (x *reconciling) Listed(n int) {
	for range n {
		x.r.count(CountListed)
	}
}

func (x *reconciling) Cursor(ctx context.Context, name string) (string, error) {
	return x.rc.Processor.Store.Cursor(ctx, name)
}

func (x *reconciling) SetCursor(ctx context.Context, name, value string) error {
	return x.rc.Processor.Store.SetCursor(ctx, name, value)
}

func (x *reconciling) Drift(p reward.Provider, id, problem string) { x.r.drift(p, id, problem) }

func (x *reconciling) ListFailed(ctx context.Context, list string, err error) error {
	return x.rc.listFailed(ctx, x.r, list, err)
}

// Apply applies a listed intent as the processor applies an event's: a
// refusal for the data is drift (the same row would fail every run and
// hold the rest of its list behind it).
func (x *reconciling) Apply(ctx context.Context, in reward.Intent) (reward.Change, bool, error) {
	in.At = x.Now()
	change, err := x.rc.Processor.apply(ctx, x.r.batchState, webhook.Delivery{}, in, x.r.log)
	if permanent(err) {
		x.r.drift(in.Provider, in.CommissionID, "not applied: "+err.Error())
		return change, false, nil
	}
	if err != nil {
		return change, false, err
	}
	if change.Outcome == reward.Applied {
		x.rc.audit(ctx, x.r, in.Provider, in.CommissionID)
	}
	return change, true, nil
}

// ApplyPayout applies a listed payout intent; a refusal for the data is
// drift.
func (x *reconciling) ApplyPayout(ctx context.Context, in reward.PayoutIntent) (bool, error) {
	err := x.rc.Processor.payout(ctx, x.r.batchState, webhook.Delivery{}, in, x.r.log)
	if permanent(err) {
		x.r.drift(in.Provider, in.PayoutID, "payout not applied: "+err.Error())
		return false, nil
	}
	return err == nil, err
}

func (x *reconciling) Acknowledged(ctx context.Context, c reward.Commission) {
	x.rc.recorder(x.r, c.Provider).acknowledged(ctx, c)
	x.rc.audit(ctx, x.r, c.Provider, c.ID)
}

func (x *reconciling) Approve(ctx context.Context, ids []string, send func(context.Context) error) error {
	if !x.rc.dry {
		if err := send(ctx); err != nil {
			return err
		}
	}
	if a := x.rc.acts; a != nil {
		a.add(func() { a.Approve = append(a.Approve, refs(x.provider, ids)...) })
	}
	x.r.res.Counts[CountAutoApprove] += len(ids)
	x.r.log.Info("approved by policy; delivery follows through the normal path", "commissions", len(ids))
	return nil
}

func (x *reconciling) Holds(ctx context.Context, p reward.Provider) ([]reward.Hold, error) {
	return x.rc.Processor.Store.Holds(ctx, p)
}

// SetHold writes a hold the platform's lists show, as of their time: a
// webhook was lost.
func (x *reconciling) SetHold(ctx context.Context, h reward.Hold) error {
	err := x.rc.Processor.Store.SetHold(ctx, reward.EventRecord{}, h)
	if err != nil {
		return err
	}
	x.r.count(CountApplied)
	x.r.log.Info("hold set from the platform's state: a webhook was lost", "recipient", h.Recipient, "held", h.Held, "as_of", h.At)
	return nil
}

// acknowledge tells a platform of delivered rewards; an observed run
// records the ids, and a dry one takes them as acknowledged without
// telling.
func (rc *Reconciler) acknowledge(ctx context.Context, provider reward.Provider, ack reward.Acknowledger, ids []string) (*reward.Settlement, error) {
	return rc.act(ctx, provider, ids, ack.Acknowledge, func(a *Actions) *[]CommissionRef { return &a.Acknowledge })
}

// tellUnfulfilled tells a platform of failed deliveries, as acknowledge
// does.
func (rc *Reconciler) tellUnfulfilled(ctx context.Context, provider reward.Provider, un reward.Unfulfiller, ids []string) (*reward.Settlement, error) {
	return rc.act(ctx, provider, ids, un.Unfulfil, func(a *Actions) *[]CommissionRef { return &a.Unfulfil })
}

func (rc *Reconciler) act(ctx context.Context, provider reward.Provider, ids []string, call func(context.Context, []string) (*reward.Settlement, error), to func(*Actions) *[]CommissionRef) (*reward.Settlement, error) {
	if rc.dry {
		s := reward.NewSettlement()
		for _, id := range ids {
			s.Acknowledged[id] = true
		}
		rc.acts.add(func() { *to(rc.acts) = append(*to(rc.acts), refs(provider, ids)...) })
		return s, nil
	}
	s, err := call(ctx, ids)
	if err == nil && rc.acts != nil {
		rc.acts.add(func() { *to(rc.acts) = append(*to(rc.acts), refs(provider, ids)...) })
	}
	return s, err
}
