package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// Reconciler makes the ledger and the platforms agree: it lists what
// webhooks may have missed and applies it through the processor's own
// transaction path, acknowledges the outbox, polls asynchronous batches,
// applies the approval policy, reports drift and audits what it changed.
type Reconciler struct {
	Processor *Processor
	// Platforms are reconciled in order, each by its steps, with its
	// asynchronous batches polled first (reward.BatchPoller), then its
	// outbox acknowledged (reward.Acknowledger) and its failed deliveries
	// told (reward.Unfulfiller). A platform not in it is not reconciled.
	Platforms []reward.Reconcilable
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
	// stored, so there is nothing to audit, and nothing is sent to a
	// platform.
	dry bool
	// acts, when set (Observed), collects what the run asks the
	// platforms to do.
	acts *Actions
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
	steps := rc.steps()
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
		if s.needs != "" && failed[s.needs] {
			failed[s.name] = true
			r.fail(s.name, fmt.Errorf("not run: %s failed", s.needs))
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

// runStep is one step of a run: a platform's, or the run's own.
type runStep struct {
	name, needs string
	do          func(context.Context, *run) error
}

// steps are the run's steps: each platform's, with its batches polled
// first and its outbox and failed deliveries after, then the expired
// redemption holds.
func (rc *Reconciler) steps() []runStep {
	var steps []runStep
	for _, pl := range rc.Platforms {
		name := string(pl.Provider())
		if bp, ok := pl.(reward.BatchPoller); ok {
			steps = append(steps, runStep{name: name + " batches", do: func(ctx context.Context, r *run) error {
				return rc.pollBatches(ctx, r, pl, bp)
			}})
		}
		for _, s := range pl.Steps() {
			steps = append(steps, runStep{name: s.Name, needs: s.Needs, do: func(ctx context.Context, r *run) error {
				return s.Run(ctx, &reconciling{rc: rc, r: r, provider: pl.Provider()})
			}})
		}
		if ack, ok := pl.(reward.Acknowledger); ok {
			steps = append(steps, runStep{name: name + " outbox", do: func(ctx context.Context, r *run) error {
				return rc.outbox(ctx, r, pl, ack)
			}})
		}
		if un, ok := pl.(reward.Unfulfiller); ok {
			steps = append(steps, runStep{name: name + " failed deliveries", do: func(ctx context.Context, r *run) error {
				return rc.unfulfil(ctx, r, pl, un)
			}})
		}
	}
	if rc.Redemptions != nil {
		steps = append(steps, runStep{name: "expired holds", do: rc.expireHolds})
	}
	return steps
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

// refusedProblem is the drift of a delivery the platform refuses to mark
// fulfilled.
func refusedProblem(reason string) string {
	return "the platform refuses to mark the delivery fulfilled: " + reason
}

// permanent reports whether err is about the data, not the moment: the
// same row would fail the same way every run and hold the rest of its list
// behind it, so it is drift for a person, and the list goes on.
func permanent(err error) bool {
	return errors.Is(err, reward.ErrInvalid) || errors.Is(err, reward.ErrEntryConflict)
}

// pollBatches records the outcome of a platform's finished asynchronous
// acknowledgements.
func (rc *Reconciler) pollBatches(ctx context.Context, r *run, pl reward.Reconcilable, bp reward.BatchPoller) error {
	store := rc.Processor.Store
	batches, err := store.Batches(ctx, pl.Provider())
	if err != nil {
		return err
	}
	running := map[string]bool{}
	if len(batches) > 1 {
		// One request instead of one per running batch; without it, every
		// batch is polled.
		if ids, ok, err := bp.Running(ctx); err != nil {
			r.log.Warn("batch progress unavailable: polling each batch", "error", err.Error())
		} else if ok {
			running = ids
		}
	}
	for _, b := range batches {
		if err := rc.timeLeft(ctx); err != nil {
			return err
		}
		if running[b.ID] {
			continue
		}
		settle, err := bp.Poll(ctx, b)
		if errors.Is(err, reward.ErrNotFound) {
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
		if settle == nil {
			continue
		}
		var delivered []reward.Commission
		for _, id := range b.CommissionIDs {
			c, err := store.Commission(ctx, pl.Provider(), id)
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
			if s, err = settle(ctx); err != nil {
				r.count(CountPlatformError)
				return fmt.Errorf("batch %s: %w", b.ID, err)
			}
		}
		rc.recorder(r, pl.Provider()).record(ctx, delivered, s)
		if err := store.DeleteBatch(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

// recorder stores a run's acknowledgements; a refusal is drift.
func (rc *Reconciler) recorder(r *run, provider reward.Provider) recorder {
	return recorder{provider: provider, store: rc.Processor.Store, now: rc.Processor.Now(), count: r.count, log: r.log, refused: func(c reward.Commission, reason string) {
		r.drift(c.Provider, c.ID, refusedProblem(reason))
	}}
}

// outbox acknowledges a platform's delivered, unacknowledged commissions
// in chunks of the platform's size, skipping those an unpolled batch
// covers.
func (rc *Reconciler) outbox(ctx context.Context, r *run, pl reward.Reconcilable, ack reward.Acknowledger) error {
	store := rc.Processor.Store
	limit := rc.OutboxLimit
	if limit <= 0 {
		limit = 1000
	}
	pending, err := store.Batches(ctx, pl.Provider())
	if err != nil {
		return err
	}
	inBatch := map[string]bool{}
	for _, b := range pending {
		for _, id := range b.CommissionIDs {
			inBatch[id] = true
		}
	}
	out, err := store.Outbox(ctx, pl.Provider(), limit)
	if err != nil {
		return err
	}
	if len(out) > 0 {
		// From the first delivery: failed attempts since do not make it younger.
		since := out[0].RequestedAt
		if since.IsZero() {
			since = out[0].UpdatedAt
		}
		// The oldest of the platforms' outboxes.
		age := int(rc.Processor.Now().Sub(since).Seconds())
		if cur, ok := r.res.Counts[GaugeOutboxAge]; !ok || age > cur {
			r.res.Counts[GaugeOutboxAge] = age
		}
	}
	var todo []reward.Commission
	for _, c := range out {
		if !inBatch[c.ID] {
			todo = append(todo, c)
		}
	}
	size, _ := pl.Chunk()
	size = max(size, 1)
	for start := 0; start < len(todo); start += size {
		if err := rc.timeLeft(ctx); err != nil {
			return err
		}
		chunk := todo[start:min(start+size, len(todo))]
		s, err := rc.acknowledge(ctx, pl.Provider(), ack, commissionIDs(chunk))
		rc.recorder(r, pl.Provider()).record(ctx, chunk, s)
		if err != nil {
			r.count(CountPlatformError)
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
