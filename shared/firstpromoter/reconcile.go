package firstpromoter

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// ReconcileAPI is what reconciling FirstPromoter asks of the platform.
type ReconcileAPI interface {
	ListCommissions(ctx context.Context, filters url.Values, from int, fn func(page int, rows []Commission) (bool, error)) (int, error)
	MarkFulfilled(ctx context.Context, ids []int64) (BatchResult, error)
	BatchProcess(ctx context.Context, id string) (BatchResult, error)
	Approve(ctx context.Context, ids []int64) (BatchResult, error)
	Standings(ctx context.Context, ids []int64) (map[int64]Standing, error)
	MarkUnfulfilled(ctx context.Context, ids []int64) (BatchResult, error)
}

// BatchProgressAPI is what a client may offer besides: the progress of
// every running batch in one request, so a run polls only the batches
// that are over.
type BatchProgressAPI interface {
	BatchProgress(ctx context.Context) (map[string]int, error)
}

// Reconciliation is FirstPromoter behind the reward.Reconcilable port: its
// filtered commission lists, the approval policy, its asynchronous batches,
// mark_fulfilled for the outbox and mark_unfulfilled for failed deliveries.
type Reconciliation struct {
	API   ReconcileAPI
	Rules Rules
	// AutoApproveAfter approves pending commissions older than this whose
	// fraud check found nothing; 0 turns it off.
	AutoApproveAfter time.Duration
	// Lookback bounds the lists by creation time; 0 lists them whole.
	Lookback time.Duration
}

var (
	_ reward.Reconcilable = (*Reconciliation)(nil)
	_ reward.BatchPoller  = (*Reconciliation)(nil)
	_ reward.Acknowledger = (*Reconciliation)(nil)
	_ reward.Unfulfiller  = (*Reconciliation)(nil)
)

// Provider is reward.FirstPromoter.
func (f *Reconciliation) Provider() reward.Provider { return reward.FirstPromoter }

// Chunk: mark_fulfilled carries a page of ids; mark_unfulfilled at most
// the synchronous limit, so that every answer says what happened and no
// batch process has to be recorded and polled (failed deliveries are rare:
// the requests this costs are few).
func (f *Reconciliation) Chunk() (acknowledge, unfulfil int) { return MaxPerPage, SyncBatchLimit }

// Steps list the approved, pending, denied and fulfilled commissions.
func (f *Reconciliation) Steps() []reward.Step {
	return []reward.Step{
		{Name: "firstpromoter approved", Run: f.approved},
		{Name: "firstpromoter pending", Run: f.pending},
		{Name: "firstpromoter denied", Run: f.denied},
		{Name: "firstpromoter fulfilled", Run: f.fulfilled},
	}
}

// Acknowledge sends delivered rewards to mark_fulfilled (Fulfilments).
func (f *Reconciliation) Acknowledge(ctx context.Context, ids []string) (*reward.Settlement, error) {
	return Fulfilments{API: f.API}.Acknowledge(ctx, ids)
}

// Unfulfil sends failed deliveries to mark_unfulfilled (Unfulfilments).
func (f *Reconciliation) Unfulfil(ctx context.Context, ids []string) (*reward.Settlement, error) {
	return Unfulfilments{API: f.API}.Unfulfil(ctx, ids)
}

// Running asks the progress of every running batch in one request, when
// the client can.
func (f *Reconciliation) Running(ctx context.Context) (map[string]bool, bool, error) {
	pa, ok := f.API.(BatchProgressAPI)
	if !ok {
		return nil, false, nil
	}
	progress, err := pa.BatchProgress(ctx)
	if err != nil {
		return nil, false, err
	}
	running := make(map[string]bool, len(progress))
	for id := range progress {
		running[id] = true
	}
	return running, true, nil
}

// Poll reads a batch process; a finished one settles as a synchronous
// answer does, the whole batch at once, so that its failure count is read
// against every id it covered.
func (f *Reconciliation) Poll(ctx context.Context, b reward.Batch) (func(context.Context) (*reward.Settlement, error), error) {
	res, err := f.API.BatchProcess(ctx, b.ID)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("batch %s: %w", b.ID, reward.ErrNotFound)
	}
	if err != nil || !res.Done() {
		return nil, err
	}
	return func(ctx context.Context) (*reward.Settlement, error) {
		return SettleBatch(ctx, f.API, b.CommissionIDs, res)
	}, nil
}

// list pages through one filtered list from its stored cursor, handing fn
// each row and endPage (when set) the end of each page. It stops before a
// row when the deadline is near; the cursor keeps the first page not
// wholly handled, which the next run reads again.
func (f *Reconciliation) list(ctx context.Context, r reward.Reconciling, list Listing, fn func(c Commission) error, endPage func() error) error {
	name := list.Name
	cursor, err := r.Cursor(ctx, name)
	if err != nil {
		return err
	}
	from, _ := strconv.Atoi(cursor)
	var since time.Time
	if f.Lookback > 0 {
		since = r.Now().Add(-f.Lookback)
	}
	filters := list.Query(since)
	var stop error
	stoppedAt := 0
	next, err := f.API.ListCommissions(ctx, filters, from, func(page int, rows []Commission) (bool, error) {
		r.Page()
		for _, c := range rows {
			if stop = r.TimeLeft(ctx); stop != nil {
				stoppedAt = page
				return false, nil
			}
			r.Listed(1)
			if err := fn(c); err != nil {
				return false, err
			}
		}
		if endPage != nil {
			if stop = r.TimeLeft(ctx); stop != nil {
				stoppedAt = page
				return false, nil
			}
			if err := endPage(); err != nil {
				return false, err
			}
		}
		if stop = r.TimeLeft(ctx); stop != nil {
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
	if serr := r.SetCursor(context.WithoutCancel(ctx), name, value); serr != nil {
		return errors.Join(err, serr)
	}
	if err != nil {
		return err
	}
	return stop
}

// apply applies one listed commission and reports amount drift.
func (f *Reconciliation) apply(ctx context.Context, r reward.Reconciling, c Commission, target reward.Target) error {
	in, ok := f.Rules.Intent(c, target)
	if !ok {
		return nil
	}
	if !in.Account.Recipient.Valid() {
		r.Drift(reward.FirstPromoter, in.CommissionID, "the platform names no recipient for it")
		return nil
	}
	change, ok, err := r.Apply(ctx, in)
	if err != nil {
		return fmt.Errorf("commission %d: %w", c.ID, err)
	}
	if !ok {
		return nil
	}
	if change.Outcome == reward.Stale && change.Reason != "" {
		r.Drift(reward.FirstPromoter, in.CommissionID, change.Reason)
	}
	if got := change.After; change.Outcome == reward.Duplicate && got.Status == reward.Approved && got.Effective() != c.Amount {
		r.Drift(reward.FirstPromoter, in.CommissionID, fmt.Sprintf("delivered %d, the platform now says %d", got.Effective(), c.Amount))
	}
	if ac := change.AccountChange; ac != nil {
		r.Drift(reward.FirstPromoter, in.CommissionID, ac.String())
	}
	if got := change.After; target == reward.TargetApproved && got.Fulfilment == reward.Refused {
		// Still approved and unfulfilled on the platform, which refused it.
		r.Drift(reward.FirstPromoter, in.CommissionID, refusedProblem(got.FulfilmentError))
	}
	return nil
}

// refusedProblem is the drift of a delivery the platform refuses to mark
// fulfilled.
func refusedProblem(reason string) string {
	return "the platform refuses to mark the delivery fulfilled: " + reason
}

// approved delivers approved commissions the platform has not seen
// fulfilled (missed webhooks); the outbox step acknowledges them.
func (f *Reconciliation) approved(ctx context.Context, r reward.Reconciling) error {
	return f.list(ctx, r, ListApproved, func(c Commission) error {
		return f.apply(ctx, r, c, reward.TargetApproved)
	}, nil)
}

// pending records missed creations and applies the approval policy. A
// page's approvals are sent at its end (at most a page of ids), so a run
// stopped in a page leaves none of them behind: the next reads it again.
func (f *Reconciliation) pending(ctx context.Context, r reward.Reconciling) error {
	var approve []int64
	return f.list(ctx, r, ListPending, func(c Commission) error {
		if err := f.apply(ctx, r, c, reward.TargetPending); err != nil {
			return err
		}
		if c.AutoApprovable(r.Now(), f.AutoApproveAfter) {
			if _, ok := f.Rules.Intent(c, reward.TargetApproved); ok {
				approve = append(approve, c.ID)
			}
		}
		return nil
	}, func() error {
		if len(approve) == 0 {
			return nil
		}
		ids := make([]string, len(approve))
		for i, id := range approve {
			ids[i] = strconv.FormatInt(id, 10)
		}
		err := r.Approve(ctx, ids, func(ctx context.Context) error {
			_, err := f.API.Approve(ctx, approve)
			return err
		})
		if err != nil {
			return fmt.Errorf("approve %d commissions: %w", len(approve), err)
		}
		approve = nil
		return nil
	})
}

// denied voids pending credits (or reverses deliveries) the platform denied.
func (f *Reconciliation) denied(ctx context.Context, r reward.Reconciling) error {
	return f.list(ctx, r, ListDenied, func(c Commission) error {
		stored, err := r.Ledger().Commission(ctx, reward.FirstPromoter, strconv.FormatInt(c.ID, 10))
		if errors.Is(err, reward.ErrNotFound) || err == nil && (stored.Status == reward.Denied || stored.Status == reward.Reversed) {
			// Never seen, or already final: nothing to do (and no write).
			return nil
		}
		if err != nil {
			return err
		}
		return f.apply(ctx, r, c, reward.TargetDenied)
	}, nil)
}

// fulfilled finds commissions the platform shows fulfilled that the
// ledger never delivered: drift, never credited automatically.
func (f *Reconciliation) fulfilled(ctx context.Context, r reward.Reconciling) error {
	return f.list(ctx, r, ListFulfilled, func(c Commission) error {
		if _, ok := f.Rules.Intent(c, reward.TargetApproved); !ok {
			return nil
		}
		stored, err := r.Ledger().Commission(ctx, reward.FirstPromoter, strconv.FormatInt(c.ID, 10))
		switch {
		case errors.Is(err, reward.ErrNotFound):
			r.Drift(reward.FirstPromoter, strconv.FormatInt(c.ID, 10), "the platform shows it fulfilled; the ledger never saw it")
		case err != nil:
			return err
		case stored.Status != reward.Approved && stored.Status != reward.Reversed:
			r.Drift(reward.FirstPromoter, stored.ID, fmt.Sprintf("the platform shows it fulfilled; the ledger has it %s", stored.Status))
		case stored.Fulfilment == reward.Refused,
			// Withdrawn by a failed delivery while its acknowledgement was
			// on its way: booked, and the platform is told of the failure.
			stored.Undelivered && stored.Fulfilment == reward.Withdrawn:
			// Refused, then fulfilled on the platform (by an operator): the
			// platform confirms it now.
			r.Acknowledged(ctx, stored)
		}
		return nil
	}, nil)
}
