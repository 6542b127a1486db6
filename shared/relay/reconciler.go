package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strconv"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/agentref"
	"github.com/rewardrelay/rewardrelay/shared/firstpromoter"
	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/webhook"
)

// ReconcileFirstPromoterAPI is what the reconciler asks of FirstPromoter.
type ReconcileFirstPromoterAPI interface {
	ListCommissions(ctx context.Context, filters url.Values, from int, fn func(page int, rows []firstpromoter.Commission) (bool, error)) (int, error)
	MarkFulfilled(ctx context.Context, ids []int64) (firstpromoter.BatchResult, error)
	BatchProcess(ctx context.Context, id string) (firstpromoter.BatchResult, error)
	Approve(ctx context.Context, ids []int64) (firstpromoter.BatchResult, error)
}

// AgentRefAPI is what the reconciler asks of AgentRef.
type AgentRefAPI interface {
	Conversions(ctx context.Context, status, cursor string) ([]agentref.Conversion, string, error)
	Payouts(ctx context.Context, status, cursor string) ([]agentref.Payout, string, error)
}

// Reconciler makes the ledger and the platforms agree: it lists what
// webhooks may have missed and applies it through the processor's own
// transaction path, acknowledges the outbox, polls asynchronous batches,
// applies the approval policy, reports drift and audits what it changed.
type Reconciler struct {
	Processor     *Processor
	FirstPromoter ReconcileFirstPromoterAPI // nil: FirstPromoter is skipped
	AgentRef      AgentRefAPI               // nil: AgentRef is skipped
	// AutoApproveAfter approves pending FirstPromoter commissions older
	// than this whose fraud check found nothing; 0 turns it off.
	AutoApproveAfter time.Duration
	// Lookback bounds the FirstPromoter lists by creation time.
	Lookback time.Duration
	// Margin is what a run keeps of its time: it starts no new work (a
	// row, a page, a chunk, a batch poll) once less than Margin is left
	// before ctx's deadline, cuts short any call still running at half of
	// it, and stores its cursors and summary in the rest. Half of it must
	// exceed the longest work a run does not interrupt: one row with its
	// audit, or recording one polled batch (up to 200 ledger requests).
	Margin time.Duration
	// OutboxLimit caps the acknowledgements of one run.
	OutboxLimit int
	// dry is set on a dry run's copy (Observed): nothing it planned was
	// stored, so there is nothing to audit.
	dry bool
}

// Run counters, in addition to the processor's.
const (
	CountListed      = "listed"
	CountPages       = "pages"
	CountAutoApprove = "auto_approved"
	CountDrift       = "drift"
	CountViolations  = "audit_violations"
	CountAudited     = "audited"
	CountBatches     = "batches_polled"
	// GaugeOutboxAge is the age in seconds of the oldest unacknowledged
	// delivery when the run looked (0 for an empty outbox).
	GaugeOutboxAge = "outbox_oldest_seconds"
)

// errDeadline stops a run early; it is not an error of the run.
var errDeadline = errors.New("deadline reached")

type run struct {
	*batchState
	summary reward.Run
	log     *slog.Logger
}

func (r *run) drift(p reward.Provider, id, problem string) {
	r.summary.Drift = append(r.summary.Drift, reward.Drift{Provider: p, CommissionID: id, Problem: problem})
	r.count(CountDrift)
	r.log.Warn("drift: not repaired automatically", "provider", p, "commission_id", id, "problem", problem)
}

func (r *run) fail(step string, err error) {
	r.summary.Errors = append(r.summary.Errors, step+": "+err.Error())
	r.log.Error("reconcile step failed; the next run retries it", "step", step, "error", err.Error())
}

// Run performs one reconciliation within ctx's deadline and stores its
// summary. Two runs at once change nothing twice: every write is the
// ledger's conditional transaction. A run that reaches its deadline stops
// between two rows, leaves the rest to the next run (cursors, the outbox,
// recorded batches) and says it was incomplete.
func (rc *Reconciler) Run(ctx context.Context) reward.Run {
	p := rc.Processor
	start := p.Now()
	id := strconv.FormatInt(start.UnixNano(), 36) + "-" + strconv.FormatUint(rand.Uint64()%1e6, 36)
	r := &run{
		batchState: &batchState{res: Result{Counts: map[string]int{}}},
		summary:    reward.Run{ID: id, Started: start, Complete: true},
		log:        p.Log.With("run", id),
	}
	steps := []struct {
		name string
		do   func(context.Context, *run) error
		on   bool
	}{
		{"firstpromoter batches", rc.pollBatches, rc.FirstPromoter != nil},
		{"firstpromoter approved", rc.fpApproved, rc.FirstPromoter != nil},
		{"firstpromoter pending", rc.fpPending, rc.FirstPromoter != nil},
		{"firstpromoter denied", rc.fpDenied, rc.FirstPromoter != nil},
		{"firstpromoter fulfilled", rc.fpFulfilled, rc.FirstPromoter != nil},
		{"firstpromoter outbox", rc.outbox, rc.FirstPromoter != nil},
		{"agentref conversions", rc.arConversions, rc.AgentRef != nil},
		{"agentref payouts", rc.arPayouts, rc.AgentRef != nil},
	}
	// The steps' calls end half the margin before the deadline at the
	// latest: the rest is for the cursors and the summary.
	work := ctx
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		work, cancel = context.WithDeadline(ctx, deadline.Add(-rc.Margin/2))
		defer cancel()
	}
	for _, s := range steps {
		if !s.on {
			continue
		}
		err := rc.timeLeft(work)
		if err == nil {
			err = s.do(work, r)
		}
		if err != nil {
			if errors.Is(err, errDeadline) || work.Err() != nil {
				r.summary.Complete = false
				r.log.Info("deadline near: stopping; the next run resumes from the stored cursors", "step", s.name)
				break
			}
			r.fail(s.name, err)
		}
	}
	r.summary.Finished = p.Now()
	r.summary.Counts = r.res.Counts
	if err := p.Store.RecordRun(context.WithoutCancel(ctx), r.summary); err != nil {
		r.log.Error("could not store the run summary", "error", err.Error())
	}
	return r.summary
}

// timeLeft fails with errDeadline when less than the margin is left, by
// the processor's clock; ctx is a step's, whose deadline is already half
// the margin before the run's.
func (rc *Reconciler) timeLeft(ctx context.Context) error {
	if deadline, ok := ctx.Deadline(); ok && deadline.Sub(rc.Processor.Now()) < rc.Margin/2 {
		return errDeadline
	}
	return ctx.Err()
}

// listFirstPromoter pages through one filtered list from its stored cursor,
// handing fn each row and endPage (when set) the end of each page. It stops
// before a row when the deadline is near; the cursor keeps the first page
// not wholly handled, which the next run reads again.
func (rc *Reconciler) listFirstPromoter(ctx context.Context, r *run, name string, filters url.Values, fn func(c firstpromoter.Commission) error, endPage func() error) error {
	store := rc.Processor.Store
	cursor, err := store.Cursor(ctx, name)
	if err != nil {
		return err
	}
	from, _ := strconv.Atoi(cursor)
	if rc.Lookback > 0 {
		filters.Set("filters[created_at][from]", rc.Processor.Now().Add(-rc.Lookback).UTC().Format(time.RFC3339))
	}
	filters.Set("sorting[created_at]", "asc")
	var stop error
	stoppedAt := 0
	next, err := rc.FirstPromoter.ListCommissions(ctx, filters, from, func(page int, rows []firstpromoter.Commission) (bool, error) {
		r.count(CountPages)
		for _, c := range rows {
			if stop = rc.timeLeft(ctx); stop != nil {
				stoppedAt = page
				return false, nil
			}
			r.count(CountListed)
			if err := fn(c); err != nil {
				return false, err
			}
		}
		if endPage != nil {
			if stop = rc.timeLeft(ctx); stop != nil {
				stoppedAt = page
				return false, nil
			}
			if err := endPage(); err != nil {
				return false, err
			}
		}
		if stop = rc.timeLeft(ctx); stop != nil {
			return false, nil
		}
		return true, nil
	})
	if stoppedAt != 0 {
		next = stoppedAt
	}
	value := ""
	if next != 0 {
		value = strconv.Itoa(next)
	}
	// The cursor is stored even when a call was cut short at the deadline;
	// on an error it keeps the page that failed.
	if serr := store.SetCursor(context.WithoutCancel(ctx), name, value); serr != nil {
		return errors.Join(err, serr)
	}
	if err != nil {
		return err
	}
	return stop
}

// fpIntent turns a platform commission into a ledger intent; ok is false
// for units this deployment does not deliver.
func (rc *Reconciler) fpIntent(c firstpromoter.Commission, target reward.Target) (reward.Intent, bool) {
	u, err := reward.ParseUnit(c.Unit)
	if err != nil || u == reward.Cash || !rc.Processor.Config.Units[u] {
		return reward.Intent{}, false
	}
	return reward.Intent{
		Provider: reward.FirstPromoter, CommissionID: strconv.FormatInt(c.ID, 10), Target: target, Amount: c.Amount,
		Account:     reward.Account{Provider: reward.FirstPromoter, Unit: u, Recipient: rc.Processor.recipient(c, true, fpEnvelope{})},
		Acknowledge: true, At: rc.Processor.Now(),
	}, true
}

// applyFP applies one platform commission and reports amount drift.
func (rc *Reconciler) applyFP(ctx context.Context, r *run, c firstpromoter.Commission, target reward.Target) error {
	in, ok := rc.fpIntent(c, target)
	if !ok {
		return nil
	}
	if !in.Account.Recipient.Valid() {
		r.drift(reward.FirstPromoter, in.CommissionID, "the platform names no recipient for it")
		return nil
	}
	change, err := rc.Processor.apply(ctx, r.batchState, webhook.Delivery{}, in, r.log)
	if err != nil {
		return fmt.Errorf("commission %d: %w", c.ID, err)
	}
	if change.Outcome == reward.Applied {
		rc.audit(ctx, r, reward.FirstPromoter, in.CommissionID)
	}
	if change.Outcome == reward.Stale && change.Reason != "" {
		r.drift(reward.FirstPromoter, in.CommissionID, change.Reason)
	}
	if got := change.After; change.Outcome == reward.Duplicate && got.Status == reward.Approved && got.Effective() != c.Amount {
		r.drift(reward.FirstPromoter, in.CommissionID, fmt.Sprintf("delivered %d, the platform now says %d", got.Effective(), c.Amount))
	}
	if got := change.After; change.Outcome != reward.Applied && got.Account.Unit != "" && got.Account.Unit != in.Account.Unit {
		r.drift(reward.FirstPromoter, in.CommissionID, fmt.Sprintf("unit changed from %s to %s", got.Account.Unit, in.Account.Unit))
	}
	return nil
}

// fpApproved delivers approved commissions the platform has not seen
// fulfilled (missed webhooks); the outbox step acknowledges them.
func (rc *Reconciler) fpApproved(ctx context.Context, r *run) error {
	return rc.listFirstPromoter(ctx, r, "firstpromoter:approved", url.Values{"filters[status]": {"approved"}, "filters[fulfilled]": {"no"}}, func(c firstpromoter.Commission) error {
		return rc.applyFP(ctx, r, c, reward.TargetApproved)
	}, nil)
}

// fpPending records missed creations and applies the approval policy. A
// page's approvals are sent at its end (at most a page of ids), so a run
// stopped in a page leaves none of them behind: the next reads it again.
func (rc *Reconciler) fpPending(ctx context.Context, r *run) error {
	var approve []int64
	return rc.listFirstPromoter(ctx, r, "firstpromoter:pending", url.Values{"filters[status]": {"pending"}}, func(c firstpromoter.Commission) error {
		if err := rc.applyFP(ctx, r, c, reward.TargetPending); err != nil {
			return err
		}
		if rc.AutoApproveAfter > 0 && c.FraudCheck == "no_suspicion" && !c.CreatedAt.IsZero() && rc.Processor.Now().Sub(c.CreatedAt) >= rc.AutoApproveAfter {
			if _, ok := rc.fpIntent(c, reward.TargetApproved); ok {
				approve = append(approve, c.ID)
			}
		}
		return nil
	}, func() error {
		if len(approve) == 0 {
			return nil
		}
		if _, err := rc.FirstPromoter.Approve(ctx, approve); err != nil {
			return fmt.Errorf("approve %d commissions: %w", len(approve), err)
		}
		r.res.Counts[CountAutoApprove] += len(approve)
		r.log.Info("approved by policy; delivery follows through the normal path", "commissions", len(approve))
		approve = nil
		return nil
	})
}

// fpDenied voids pending credits (or reverses deliveries) the platform denied.
func (rc *Reconciler) fpDenied(ctx context.Context, r *run) error {
	return rc.listFirstPromoter(ctx, r, "firstpromoter:denied", url.Values{"filters[status]": {"denied"}}, func(c firstpromoter.Commission) error {
		stored, err := rc.Processor.Store.Commission(ctx, reward.FirstPromoter, strconv.FormatInt(c.ID, 10))
		if errors.Is(err, reward.ErrNotFound) || err == nil && (stored.Status == reward.Denied || stored.Status == reward.Reversed) {
			// Never seen, or already final: nothing to do (and no write).
			return nil
		}
		if err != nil {
			return err
		}
		return rc.applyFP(ctx, r, c, reward.TargetDenied)
	}, nil)
}

// fpFulfilled finds commissions the platform shows fulfilled that the
// ledger never delivered: drift, never credited automatically.
func (rc *Reconciler) fpFulfilled(ctx context.Context, r *run) error {
	return rc.listFirstPromoter(ctx, r, "firstpromoter:fulfilled", url.Values{"filters[status]": {"approved"}, "filters[fulfilled]": {"yes"}}, func(c firstpromoter.Commission) error {
		if _, ok := rc.fpIntent(c, reward.TargetApproved); !ok {
			return nil
		}
		stored, err := rc.Processor.Store.Commission(ctx, reward.FirstPromoter, strconv.FormatInt(c.ID, 10))
		switch {
		case errors.Is(err, reward.ErrNotFound):
			r.drift(reward.FirstPromoter, strconv.FormatInt(c.ID, 10), "the platform shows it fulfilled; the ledger never saw it")
		case err != nil:
			return err
		case stored.Status != reward.Approved && stored.Status != reward.Reversed:
			r.drift(reward.FirstPromoter, stored.ID, fmt.Sprintf("the platform shows it fulfilled; the ledger has it %s", stored.Status))
		}
		return nil
	}, nil)
}

// pollBatches records the outcome of finished asynchronous acknowledgements.
func (rc *Reconciler) pollBatches(ctx context.Context, r *run) error {
	store := rc.Processor.Store
	batches, err := store.Batches(ctx, reward.FirstPromoter)
	if err != nil {
		return err
	}
	for _, b := range batches {
		if err := rc.timeLeft(ctx); err != nil {
			return err
		}
		res, err := rc.FirstPromoter.BatchProcess(ctx, b.ID)
		if errors.Is(err, firstpromoter.ErrNotFound) {
			// The platform forgot it: the outbox step acknowledges again.
			if err := store.DeleteBatch(ctx, b); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("poll batch %s: %w", b.ID, err)
		}
		r.count(CountBatches)
		if !res.Done() {
			continue
		}
		res.Async = false
		var delivered []reward.Commission
		for _, id := range b.CommissionIDs {
			c, err := store.Commission(ctx, reward.FirstPromoter, id)
			if err != nil {
				return err
			}
			if c.Fulfilment == reward.Requested || c.Fulfilment == reward.Failed {
				delivered = append(delivered, c)
			}
		}
		if res.Status != "completed" {
			// A failed or stopped batch: everything in it stays in the outbox.
			delivered = nil
		}
		Record(ctx, store, rc.Processor.Now(), delivered, res, r.count, r.log)
		if err := store.DeleteBatch(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

// outbox acknowledges delivered, unacknowledged commissions in batches of
// the platform's page size, skipping those an unpolled batch covers.
func (rc *Reconciler) outbox(ctx context.Context, r *run) error {
	store := rc.Processor.Store
	limit := rc.OutboxLimit
	if limit <= 0 {
		limit = 1000
	}
	pending, err := store.Batches(ctx, reward.FirstPromoter)
	if err != nil {
		return err
	}
	inBatch := map[string]bool{}
	for _, b := range pending {
		for _, id := range b.CommissionIDs {
			inBatch[id] = true
		}
	}
	out, err := store.Outbox(ctx, reward.FirstPromoter, limit)
	if err != nil {
		return err
	}
	if len(out) > 0 {
		r.res.Counts[GaugeOutboxAge] = int(rc.Processor.Now().Sub(out[0].UpdatedAt).Seconds())
	}
	var todo []reward.Commission
	for _, c := range out {
		if !inBatch[c.ID] {
			todo = append(todo, c)
		}
	}
	for start := 0; start < len(todo); start += firstpromoter.MaxPerPage {
		if err := rc.timeLeft(ctx); err != nil {
			return err
		}
		chunk := todo[start:min(start+firstpromoter.MaxPerPage, len(todo))]
		ids := make([]int64, 0, len(chunk))
		for _, c := range chunk {
			id, _ := strconv.ParseInt(c.ID, 10, 64)
			ids = append(ids, id)
		}
		res, err := rc.FirstPromoter.MarkFulfilled(ctx, ids)
		if err != nil {
			r.count(CountPlatformError)
			return fmt.Errorf("mark_fulfilled %d commissions: %w", len(ids), err)
		}
		Record(ctx, store, rc.Processor.Now(), chunk, res, r.count, r.log)
	}
	return nil
}

// arConversions applies every conversion status AgentRef announces no
// webhook for (approval) or whose webhook may be lost.
func (rc *Reconciler) arConversions(ctx context.Context, r *run) error {
	p := rc.Processor
	for _, status := range []string{"approved", "rejected", "refunded", "partially_refunded"} {
		err := rc.listAgentRef(ctx, r, "agentref:conversions:"+status, func(cursor string) (string, error) {
			rows, next, err := rc.AgentRef.Conversions(ctx, status, cursor)
			if err != nil {
				return cursor, err
			}
			for _, c := range rows {
				if err := rc.timeLeft(ctx); err != nil {
					return cursor, err
				}
				r.count(CountListed)
				in, err := arConversion{ID: c.ID, AffiliateID: c.AffiliateID, Currency: c.Currency, CommissionAmount: c.CommissionAmount, Commission: c.Commission, Status: c.Status}.intent(p.Config.AgentRefCurrency)
				if err != nil {
					r.drift(reward.AgentRef, c.ID, err.Error())
					continue
				}
				in.At = p.Now()
				if in.Target == reward.TargetApproved {
					if in.Held, err = p.Store.Held(ctx, reward.AgentRef, in.Account.Recipient); err != nil {
						return cursor, err
					}
				}
				change, err := p.apply(ctx, r.batchState, webhook.Delivery{}, in, r.log)
				if err != nil {
					return cursor, fmt.Errorf("conversion %s: %w", c.ID, err)
				}
				if change.Outcome == reward.Applied {
					rc.audit(ctx, r, reward.AgentRef, c.ID)
				}
			}
			return next, nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// arPayouts records completed payouts (a debit) and failed ones (credited back).
func (rc *Reconciler) arPayouts(ctx context.Context, r *run) error {
	for _, status := range []string{"completed", "failed"} {
		err := rc.listAgentRef(ctx, r, "agentref:payouts:"+status, func(cursor string) (string, error) {
			rows, next, err := rc.AgentRef.Payouts(ctx, status, cursor)
			if err != nil {
				return cursor, err
			}
			for _, po := range rows {
				if err := rc.timeLeft(ctx); err != nil {
					return cursor, err
				}
				r.count(CountListed)
				eventType := "payout.completed"
				if status == "failed" {
					eventType = "payout.failed"
				}
				if err := rc.Processor.payout(ctx, r.batchState, webhook.Delivery{}, eventType, arPayout{ID: po.ID, AffiliateID: po.AffiliateID, Amount: po.Amount, Currency: po.Currency}, r.log); err != nil {
					return cursor, err
				}
			}
			return next, nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// listAgentRef pages from a stored cursor until the end or the deadline.
// A page that fails or stops at the deadline (its rows check it one by one)
// leaves its own cursor stored: the next run reads it again.
func (rc *Reconciler) listAgentRef(ctx context.Context, r *run, name string, page func(cursor string) (string, error)) error {
	store := rc.Processor.Store
	cursor, err := store.Cursor(ctx, name)
	if err != nil {
		return err
	}
	// Cursors are stored even when a call was cut short at the deadline.
	final := context.WithoutCancel(ctx)
	for {
		next, err := page(cursor)
		r.count(CountPages)
		if err != nil {
			_ = store.SetCursor(final, name, cursor)
			return err
		}
		cursor = next
		if cursor == "" {
			return store.SetCursor(final, name, "")
		}
		if err := rc.timeLeft(ctx); err != nil {
			if serr := store.SetCursor(final, name, cursor); serr != nil {
				return serr
			}
			return err
		}
	}
}

// audit checks a commission the run has just changed. It is part of the
// change's row, so a run stopped at its deadline has audited everything it
// changed and leaves no audit behind. A dry run stored nothing to audit.
func (rc *Reconciler) audit(ctx context.Context, r *run, p reward.Provider, id string) {
	if rc.dry {
		return
	}
	c, entries, err := rc.Processor.Store.History(ctx, p, id)
	if err != nil {
		r.fail("audit", fmt.Errorf("commission %s: %w", id, err))
		return
	}
	r.count(CountAudited)
	for _, v := range reward.AuditCommission(c, entries) {
		r.count(CountViolations)
		r.summary.Errors = append(r.summary.Errors, "audit: "+v.String())
		r.log.Error("ledger invariant violated", "provider", p, "commission_id", id, "problem", v.Problem)
	}
}
