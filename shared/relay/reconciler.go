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
	Standings(ctx context.Context, ids []int64) (map[int64]firstpromoter.Standing, error)
	MarkUnfulfilled(ctx context.Context, ids []int64) (firstpromoter.BatchResult, error)
}

// BatchProgressAPI is what a FirstPromoter client may offer besides: the
// progress of every running batch in one request, so a run polls only the
// batches that are over.
type BatchProgressAPI interface {
	BatchProgress(ctx context.Context) (map[string]int, error)
}

// AgentRefAPI is what the reconciler asks of AgentRef.
type AgentRefAPI interface {
	Conversions(ctx context.Context, status, cursor string) ([]agentref.Conversion, string, error)
	Payouts(ctx context.Context, status, cursor string) ([]agentref.Payout, string, error)
	// Affiliates also returns the platform's clock when it answered (zero
	// when unknown).
	Affiliates(ctx context.Context, status, cursor string) ([]agentref.Affiliate, string, time.Time, error)
	Flags(ctx context.Context, status, cursor string) ([]agentref.Flag, string, error)
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
	// Redemptions, when set, has the run void the redemption holds whose
	// expiry has passed (redemption_holds.go).
	Redemptions reward.RedemptionStore
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
	// CountCutShort counts platform lists that said more rows follow and
	// sent none: what they hold past that page went unread (the run's
	// errors say which).
	CountCutShort = "lists_cut_short"
	// GaugeOutboxAge is the age in seconds of the oldest unacknowledged
	// delivery, or failed delivery the platform is still to be told of,
	// when the run looked (0 for an empty outbox).
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
	if errors.Is(err, reward.ErrContract) {
		r.count(CountContractBroken)
	}
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
		{"firstpromoter failed deliveries", rc.unfulfil, rc.FirstPromoter != nil},
		{"agentref holds", rc.arHolds, rc.AgentRef != nil},
		{"agentref conversions", rc.arConversions, rc.AgentRef != nil},
		{"agentref payouts", rc.arPayouts, rc.AgentRef != nil},
		{"expired holds", rc.expireHolds, rc.Redemptions != nil},
	}
	// needs names a step that must have succeeded for another to run: the
	// approvals are posted or held by the holds the step before set, and
	// without them the ledger's may be older than the platform's.
	needs := map[string]string{"agentref conversions": "agentref holds"}
	// The steps' calls end half the margin before the deadline at the
	// latest: the rest is for the cursors and the summary.
	work := ctx
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		work, cancel = context.WithDeadline(ctx, deadline.Add(-rc.Margin/2))
		defer cancel()
	}
	failed := map[string]bool{}
	for _, s := range steps {
		if !s.on {
			continue
		}
		if need, ok := needs[s.name]; ok && failed[need] {
			failed[s.name] = true
			r.fail(s.name, fmt.Errorf("not run: %s failed", need))
			continue
		}
		err := rc.timeLeft(work)
		if err == nil {
			err = s.do(work, r)
		}
		if err != nil {
			failed[s.name] = true
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
func (rc *Reconciler) listFirstPromoter(ctx context.Context, r *run, list firstpromoter.Listing, fn func(c firstpromoter.Commission) error, endPage func() error) error {
	name := list.Name
	store := rc.Processor.Store
	cursor, err := store.Cursor(ctx, name)
	if err != nil {
		return err
	}
	from, _ := strconv.Atoi(cursor)
	var since time.Time
	if rc.Lookback > 0 {
		since = rc.Processor.Now().Add(-rc.Lookback)
	}
	filters := list.Query(since)
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
	cfg := rc.Processor.Config
	in, ok := firstpromoter.Rules{ReferralRewardIDs: cfg.ReferralRewardIDs, Units: cfg.Units}.Intent(c, target)
	in.At = rc.Processor.Now()
	return in, ok
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
	if permanent(err) {
		r.drift(reward.FirstPromoter, in.CommissionID, "not applied: "+err.Error())
		return nil
	}
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
	if ac := change.AccountChange; ac != nil {
		r.drift(reward.FirstPromoter, in.CommissionID, ac.String())
	}
	if got := change.After; target == reward.TargetApproved && got.Fulfilment == reward.Refused {
		// Still approved and unfulfilled on the platform, which refused it.
		r.drift(reward.FirstPromoter, in.CommissionID, refusedProblem(got.FulfilmentError))
	}
	return nil
}

func refusedProblem(reason string) string {
	return "the platform refuses to mark the delivery fulfilled: " + reason
}

// permanent reports whether err is about the data, not the moment: the
// same row would fail the same way every run and hold the rest of its list
// behind it, so it is drift for a person, and the list goes on.
func permanent(err error) bool {
	return errors.Is(err, reward.ErrInvalid) || errors.Is(err, reward.ErrEntryConflict)
}

// fpApproved delivers approved commissions the platform has not seen
// fulfilled (missed webhooks); the outbox step acknowledges them.
func (rc *Reconciler) fpApproved(ctx context.Context, r *run) error {
	return rc.listFirstPromoter(ctx, r, firstpromoter.ListApproved, func(c firstpromoter.Commission) error {
		return rc.applyFP(ctx, r, c, reward.TargetApproved)
	}, nil)
}

// fpPending records missed creations and applies the approval policy. A
// page's approvals are sent at its end (at most a page of ids), so a run
// stopped in a page leaves none of them behind: the next reads it again.
func (rc *Reconciler) fpPending(ctx context.Context, r *run) error {
	var approve []int64
	return rc.listFirstPromoter(ctx, r, firstpromoter.ListPending, func(c firstpromoter.Commission) error {
		if err := rc.applyFP(ctx, r, c, reward.TargetPending); err != nil {
			return err
		}
		if c.AutoApprovable(rc.Processor.Now(), rc.AutoApproveAfter) {
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
	return rc.listFirstPromoter(ctx, r, firstpromoter.ListDenied, func(c firstpromoter.Commission) error {
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
	return rc.listFirstPromoter(ctx, r, firstpromoter.ListFulfilled, func(c firstpromoter.Commission) error {
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
		case stored.Fulfilment == reward.Refused,
			// Withdrawn by a failed delivery while its acknowledgement was
			// on its way: booked, and the platform is told of the failure.
			stored.Undelivered && stored.Fulfilment == reward.Withdrawn:
			// Refused, then fulfilled on the platform (by an operator): the
			// platform confirms it now.
			rc.recorder(r).acknowledged(ctx, stored)
			rc.audit(ctx, r, reward.FirstPromoter, stored.ID)
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
	running := map[string]bool{}
	if pa, ok := rc.FirstPromoter.(BatchProgressAPI); ok && len(batches) > 1 {
		// One request instead of one per running batch; without it, every
		// batch is polled.
		if progress, err := pa.BatchProgress(ctx); err == nil {
			for id := range progress {
				running[id] = true
			}
		} else {
			r.log.Warn("batch progress unavailable: polling each batch", "error", err.Error())
		}
	}
	for _, b := range batches {
		if err := rc.timeLeft(ctx); err != nil {
			return err
		}
		if running[b.ID] {
			continue
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
		var delivered []reward.Commission
		for _, id := range b.CommissionIDs {
			c, err := store.Commission(ctx, reward.FirstPromoter, id)
			if err != nil {
				return err
			}
			if c.Fulfilment.Outstanding() {
				delivered = append(delivered, c)
			}
		}
		// The whole batch is settled, so that its failure count is read
		// against every id it covered.
		s := reward.NewSettlement()
		if len(delivered) > 0 {
			if s, err = firstpromoter.SettleBatch(ctx, rc.FirstPromoter, b.CommissionIDs, res); err != nil {
				r.count(CountPlatformError)
				return fmt.Errorf("batch %s: %w", b.ID, err)
			}
		}
		rc.recorder(r).record(ctx, delivered, s)
		if err := store.DeleteBatch(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

// recorder stores a run's acknowledgements; a refusal is drift.
func (rc *Reconciler) recorder(r *run) recorder {
	return recorder{provider: reward.FirstPromoter, store: rc.Processor.Store, now: rc.Processor.Now(), count: r.count, log: r.log, refused: func(c reward.Commission, reason string) {
		r.drift(c.Provider, c.ID, refusedProblem(reason))
	}}
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
		// From the first delivery: failed attempts since do not make it younger.
		since := out[0].RequestedAt
		if since.IsZero() {
			since = out[0].UpdatedAt
		}
		r.res.Counts[GaugeOutboxAge] = int(rc.Processor.Now().Sub(since).Seconds())
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
		var ack reward.Acknowledger = firstpromoter.Fulfilments{API: rc.FirstPromoter}
		s, err := ack.Acknowledge(ctx, commissionIDs(chunk))
		rc.recorder(r).record(ctx, chunk, s)
		if err != nil {
			r.count(CountPlatformError)
			return err
		}
	}
	return nil
}

// arHolds makes the ledger's holds agree with AgentRef, so that a lost
// affiliate.blocked, affiliate.unblocked or flag.resolved heals: a blocked
// affiliate is held as of the platform's clock when it listed them, a
// confirmed flag holds its affiliate as of its resolution, and a hold
// AgentRef no longer shows is released as of the listing, unless a
// confirmed flag at least as recent as the hold keeps it (a flag's hold
// ends only with affiliate.unblocked, whose time the API does not give).
// Each write is the store's: a newer event always wins. It runs before
// the conversions, whose approvals then post or wait accordingly.
func (rc *Reconciler) arHolds(ctx context.Context, r *run) error {
	p := rc.Processor
	var blocked []agentref.Affiliate
	var asOf time.Time
	err := rc.readAgentRef(ctx, r, func(cursor string) (string, error) {
		rows, next, at, err := rc.AgentRef.Affiliates(ctx, "blocked", cursor)
		if asOf.IsZero() {
			// The first page's time: whatever changed after it is newer.
			asOf = at
		}
		for range rows {
			r.count(CountListed)
		}
		blocked = append(blocked, rows...)
		return next, err
	})
	if err != nil {
		return err
	}
	if asOf.IsZero() {
		asOf = p.Now()
	}
	// The flags are read after the blocked affiliates: a release is as of
	// that listing, so every flag confirmed before it must be known (one
	// confirmed between the two reads is newer than such a release).
	var flags []agentref.Flag
	err = rc.readAgentRef(ctx, r, func(cursor string) (string, error) {
		rows, next, err := rc.AgentRef.Flags(ctx, "confirmed", cursor)
		for range rows {
			r.count(CountListed)
		}
		flags = append(flags, rows...)
		return next, err
	})
	if err != nil {
		return err
	}
	stored, err := p.Store.Holds(ctx, reward.AgentRef)
	if err != nil {
		return err
	}
	known := map[reward.Recipient]reward.Hold{}
	for _, h := range stored {
		known[h.Recipient] = h
	}
	want := agentref.Holds(blocked, flags, asOf, stored)
	for _, h := range want {
		if old, ok := known[h.Recipient]; ok && (old.Held == h.Held || !h.Supersedes(&old)) {
			continue
		}
		err := p.Store.SetHold(ctx, reward.EventRecord{}, h)
		if errors.Is(err, reward.ErrOutdated) {
			continue // a newer event got there first
		}
		if err != nil {
			return fmt.Errorf("hold %s: %w", h.Recipient, err)
		}
		known[h.Recipient] = h
		r.count(CountApplied)
		r.log.Info("hold set from the platform's state: a webhook was lost", "recipient", h.Recipient, "held", h.Held, "as_of", h.At)
	}
	return nil
}

// readAgentRef reads a whole AgentRef list from its first page: a set is
// compared whole, so a list the deadline stops changes nothing.
func (rc *Reconciler) readAgentRef(ctx context.Context, r *run, page func(cursor string) (string, error)) error {
	cursor := ""
	for {
		next, err := page(cursor)
		r.count(CountPages)
		if errors.Is(err, agentref.ErrCutShort) {
			// The set is incomplete: comparing it would release holds.
			r.count(CountCutShort)
		}
		if err != nil || next == "" {
			return err
		}
		if err := rc.timeLeft(ctx); err != nil {
			return err
		}
		cursor = next
	}
}

// arConversions applies every conversion status AgentRef announces no
// webhook for (approval, and payment, which follows it: a conversion
// approved and paid between two runs is only ever listed as paid) or
// whose webhook may be lost.
func (rc *Reconciler) arConversions(ctx context.Context, r *run) error {
	p := rc.Processor
	for _, status := range []string{"approved", "paid", "rejected", "refunded", "partially_refunded"} {
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
				in, err := c.Intent(p.Config.AgentRefCurrency)
				if err != nil {
					r.drift(reward.AgentRef, c.ID, err.Error())
					continue
				}
				in.At = p.Now()
				if in.Posts() {
					if in.Held, err = p.Store.Held(ctx, reward.AgentRef, in.Account.Recipient); err != nil {
						return cursor, err
					}
				}
				change, err := p.apply(ctx, r.batchState, webhook.Delivery{}, in, r.log)
				if permanent(err) {
					r.drift(reward.AgentRef, c.ID, "not applied: "+err.Error())
					continue
				}
				if err != nil {
					return cursor, fmt.Errorf("conversion %s: %w", c.ID, err)
				}
				if change.Outcome == reward.Applied {
					rc.audit(ctx, r, reward.AgentRef, c.ID)
				}
				if change.Outcome == reward.Stale {
					// The platform went back on a final state (approved after
					// a rejection): a person must decide.
					r.drift(reward.AgentRef, c.ID, fmt.Sprintf("the platform says %s: %s", c.Status, change.Reason))
				}
				if ac := change.AccountChange; ac != nil {
					r.drift(reward.AgentRef, c.ID, ac.String())
				}
			}
			return next, nil
		})
		if err := rc.listFailed(ctx, r, "agentref conversions "+status, err); err != nil {
			return err
		}
	}
	return nil
}

// listFailed decides what a list's failure means for the lists after it:
// the deadline stops the step; any other failure (a status filter the API
// refuses, a list cut short, an outage) is the run's error for this list
// alone, and the next status is listed.
func (rc *Reconciler) listFailed(ctx context.Context, r *run, list string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, errDeadline) || ctx.Err() != nil {
		return err
	}
	r.fail(list, err)
	return nil
}

// arPayouts makes each listed payout what the platform says it is now:
// completed, debited once for its current attempt; failed, nothing of it
// debited. What webhooks already did is not done again.
func (rc *Reconciler) arPayouts(ctx context.Context, r *run) error {
	p := rc.Processor
	for _, status := range []reward.PayoutStatus{reward.PayoutCompleted, reward.PayoutFailed} {
		err := rc.listAgentRef(ctx, r, "agentref:payouts:"+string(status), func(cursor string) (string, error) {
			rows, next, err := rc.AgentRef.Payouts(ctx, string(status), cursor)
			if err != nil {
				return cursor, err
			}
			for _, po := range rows {
				if err := rc.timeLeft(ctx); err != nil {
					return cursor, err
				}
				r.count(CountListed)
				in, err := po.Intent(p.Config.AgentRefCurrency, status)
				if err != nil {
					r.drift(reward.AgentRef, po.ID, err.Error())
					continue
				}
				err = p.payout(ctx, r.batchState, webhook.Delivery{}, in, r.log)
				if permanent(err) {
					r.drift(reward.AgentRef, po.ID, "payout not applied: "+err.Error())
					continue
				}
				if err != nil {
					return cursor, fmt.Errorf("payout %s: %w", po.ID, err)
				}
			}
			return next, nil
		})
		if err := rc.listFailed(ctx, r, "agentref payouts "+string(status), err); err != nil {
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
		if errors.Is(err, agentref.ErrCutShort) {
			// Nothing past this page can be read: the next run starts the
			// list again rather than stop at the same page.
			r.count(CountCutShort)
			_ = store.SetCursor(final, name, "")
			return err
		}
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
