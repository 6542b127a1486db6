package reward

import (
	"context"
	"log/slog"
	"time"
)

// Reconcilable is a platform the reconciler makes the ledger agree with:
// its package lists what webhooks may have missed in named steps. The
// reconciler also polls its asynchronous acknowledgements when it is a
// BatchPoller, acknowledges its outbox when it is an Acknowledger, and
// tells it of failed deliveries when it is an Unfulfiller.
type Reconcilable interface {
	// Provider names the platform's ledger rows.
	Provider() Provider
	// Steps are the platform's listing steps, in the order they run.
	Steps() []Step
	// Chunk is how many commission ids one acknowledgement or one
	// notice of failed deliveries carries at most.
	Chunk() (acknowledge, unfulfil int)
}

// Step is one named reconcile step of a platform.
type Step struct {
	// Name names the step in the run's errors, e.g. "agentref holds".
	Name string
	// Needs names a step that must have succeeded for this one to run.
	Needs string
	// Run lists the platform and hands what it finds to r. Its error is
	// the step's: the run records it and goes on with the next step (the
	// deadline's error stops the run).
	Run func(ctx context.Context, r Reconciling) error
}

// BatchPoller is a platform whose acknowledgements may complete
// asynchronously, as batches to poll.
type BatchPoller interface {
	// Running lists, in one request, the batches still running; ok is
	// false when the platform cannot say (every batch is then polled).
	Running(ctx context.Context) (running map[string]bool, ok bool, err error)
	// Poll reads one batch: settle is nil while it runs; once it is over,
	// settle settles it (reading the platform again if it must). An error
	// wrapping ErrNotFound means the platform forgot the batch.
	Poll(ctx context.Context, b Batch) (settle func(context.Context) (*Settlement, error), err error)
}

// Reconciling is what a platform's reconcile steps ask of the run: the
// ledger through the processor's own transaction path, the run's clock
// and deadline, its cursors, counters and drift.
type Reconciling interface {
	// Now is the run's clock.
	Now() time.Time
	// TimeLeft fails once the run is to start no new work (a row, a
	// page, a call): the step returns that error.
	TimeLeft(ctx context.Context) error
	// Cursor and SetCursor keep where a list is to resume.
	Cursor(ctx context.Context, name string) (string, error)
	SetCursor(ctx context.Context, name, value string) error
	// Page, Listed and CutShort count a page read, a row listed, and a
	// list that said more rows follow and sent none.
	Page()
	Listed(n int)
	CutShort()
	// Apply applies a listed commission's intent. ok is false when the
	// ledger refuses it for its data (recorded as drift): the list goes
	// on. A change it applied is audited.
	Apply(ctx context.Context, in Intent) (c Change, ok bool, err error)
	// ApplyPayout applies a listed payout's intent, as Apply does.
	ApplyPayout(ctx context.Context, in PayoutIntent) (ok bool, err error)
	// Acknowledged books the platform's confirmation of a delivered
	// reward, and audits it.
	Acknowledged(ctx context.Context, c Commission)
	// Drift records a problem no run repairs: a person must look.
	Drift(p Provider, id, problem string)
	// ListFailed records a list's failure as the run's and lets the step
	// go on with its next list; it returns err when the run is to stop
	// (the deadline).
	ListFailed(ctx context.Context, list string, err error) error
	// Approve has the platform approve commissions through send and
	// counts them; a dry run records them without sending.
	Approve(ctx context.Context, ids []string, send func(context.Context) error) error
	// Ledger reads the ledger; Holds and SetHold keep a platform's holds
	// (SetHold counts and logs what it changed; a newer event's hold
	// wins: ErrOutdated).
	Ledger() LedgerReader
	Holds(ctx context.Context, p Provider) ([]Hold, error)
	SetHold(ctx context.Context, h Hold) error
	// Log is the run's logger.
	Log() *slog.Logger
}
