// Package relay turns queued webhook deliveries into ledger changes and
// platform acknowledgements: the processor's use case. It decides; the
// reward package plans each transition; the Store and the platform clients
// do the I/O.
package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/webhook"
)

// Config is the processor's behaviour.
type Config struct {
	// IdempotencyTTL is how long event ids are remembered.
	IdempotencyTTL time.Duration
	// Parallelism is how many recipients' events of a batch apply at once.
	Parallelism int
	// PlatformWait is how long after its acceptance a delivery may wait
	// for an unreachable platform; past it, it fails like any other.
	PlatformWait time.Duration
}

// DefaultConfig remembers event ids for 7 days (longer than either
// platform retries), applies 8 recipients' events at once and lets a
// delivery wait a day for its platform.
func DefaultConfig() Config {
	return Config{IdempotencyTTL: 7 * 24 * time.Hour, Parallelism: 8, PlatformWait: 24 * time.Hour}
}

// Processor applies deliveries to the ledger.
type Processor struct {
	Store reward.Store
	// Platforms decode their deliveries; a delivery of a provider none of
	// them is fails.
	Platforms []reward.Platform
	Config    Config
	Log       *slog.Logger
	Now       func() time.Time
}

// Message is one queued delivery.
type Message struct {
	ID       string // the queue's message id
	Delivery webhook.Delivery
}

// Counter names, for metrics.
const (
	CountApplied       = "applied"
	CountDuplicate     = "duplicate"
	CountStale         = "stale"
	CountIgnored       = "ignored"
	CountDelivered     = "delivered"
	CountAcknowledged  = "acknowledged"
	CountAckFailed     = "acknowledgement_failed"
	CountAckRefused    = "acknowledgement_refused"
	CountAckPending    = "acknowledgement_async"
	CountPlatformError = "platform_error"
	CountFailed        = "failed"
	// CountAccountChanged counts commissions whose platform account differs
	// from the ledger's: a pending credit moved, or a delivered reward kept
	// where it was delivered (drift).
	CountAccountChanged = "account_changed"
	// CountWaiting counts messages queued again to wait for the platform.
	CountWaiting = "waiting"
	// CountContractBroken counts platform answers that break their
	// documented contract (a field relied on missing or mistyped).
	CountContractBroken = "contract_broken"
)

// Result is what a batch came to: the messages to retry, those to deliver
// again later, and counters.
type Result struct {
	Failed []string
	// Reasons says why each failed message failed, by message id.
	Reasons map[string]string
	// Later are messages that wait for their platform: they are to be
	// queued again, as new messages, after their delay, so that waiting
	// out an outage never counts against their receives.
	Later  []Later
	Counts map[string]int
}

// Later is a message to deliver again after a delay.
type Later struct {
	ID    string
	After time.Duration
}

// The delay of a delivery that waits for its platform: as long as it has
// waited so far (so the delays double), at least a minute and at most 15
// minutes, the longest delay SQS gives a message.
const (
	minPlatformDelay = time.Minute
	maxPlatformDelay = 15 * time.Minute
)

// maxAttempts bounds the plan-apply loop: each retry follows a concurrent
// change, which at most a few other events can cause.
const maxAttempts = 6

type batchState struct {
	mu        sync.Mutex
	res       Result
	delivered []reward.Commission // commissions to acknowledge
}

func (b *batchState) count(k string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.res.Counts[k]++
}

func (b *batchState) fail(id string, err error) {
	b.mu.Lock()
	b.res.Failed = append(b.res.Failed, id)
	b.res.Reasons[id] = err.Error()
	b.mu.Unlock()
	b.count(CountFailed)
}

func (b *batchState) later(id string, after time.Duration) {
	b.mu.Lock()
	b.res.Later = append(b.res.Later, Later{ID: id, After: after})
	b.mu.Unlock()
	b.count(CountWaiting)
}

func (b *batchState) deliver(c reward.Commission) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.delivered = append(b.delivered, c)
}

// Process handles one batch. Its messages are split into lanes by
// recipient (lanes), which run at once, up to Config.Parallelism: events
// of one commission or one recipient apply one after another in the order
// they were queued, and never contend for one balance.
func (p *Processor) Process(ctx context.Context, msgs []Message) Result {
	b := &batchState{res: Result{Counts: map[string]int{}, Reasons: map[string]string{}}}
	items := p.prepare(ctx, b, msgs)
	var g errgroup.Group
	g.SetLimit(max(1, p.Config.Parallelism))
	for _, lane := range lanes(items) {
		g.Go(func() error {
			for _, it := range lane {
				p.handle(ctx, b, it)
			}
			return nil
		})
	}
	_ = g.Wait()
	p.acknowledge(ctx, b)
	return b.res
}

// platform is the platform named provider; nil when none is.
func (p *Processor) platform(provider reward.Provider) reward.Platform {
	for _, pl := range p.Platforms {
		if pl.Provider() == provider {
			return pl
		}
	}
	return nil
}

// item is a message with its body decoded, once, by its platform.
type item struct {
	Message
	batch reward.Prepared // nil: the message names no platform, or its platform prepared none
	i     int             // its index in batch
	down  error           // why its platform's view could not be read
}

// prepare has each platform decode its messages of the batch, each once,
// and read what they need of it in one go.
func (p *Processor) prepare(ctx context.Context, b *batchState, msgs []Message) []item {
	items := make([]item, len(msgs))
	type group struct {
		ds    []reward.Delivery
		items []int
	}
	groups := map[reward.Platform]*group{}
	var order []reward.Platform
	for i, m := range msgs {
		items[i].Message = m
		pl := p.platform(reward.Provider(m.Delivery.Provider))
		if pl == nil {
			continue
		}
		g := groups[pl]
		if g == nil {
			g = &group{}
			groups[pl] = g
			order = append(order, pl)
		}
		received := m.Delivery.ReceivedAt
		if received.IsZero() {
			received = p.Now()
		}
		items[i].i = len(g.ds)
		g.ds = append(g.ds, reward.Delivery{Body: m.Delivery.Body, ReceivedAt: received})
		g.items = append(g.items, i)
	}
	for _, pl := range order {
		g := groups[pl]
		batch, err := pl.Prepare(ctx, g.ds)
		if errors.Is(err, reward.ErrContract) {
			b.count(CountContractBroken)
			p.Log.ErrorContext(ctx, "the platform's answer breaks its contract; its events wait for the platform", "provider", pl.Provider(), "error", err.Error())
		}
		for _, i := range g.items {
			items[i].batch, items[i].down = batch, err
		}
	}
	return items
}

// handle applies one message, recording it as failed when it cannot.
func (p *Processor) handle(ctx context.Context, b *batchState, it item) {
	m := it.Message
	log := p.Log.With("message_id", m.ID, "provider", m.Delivery.Provider, "event_id", m.Delivery.EventID, "event_type", m.Delivery.EventType)
	var err error
	switch {
	case it.batch == nil && it.down != nil:
		// Its platform could not be read and prepared nothing: the
		// delivery waits for it.
		b.count(CountPlatformError)
		err = fmt.Errorf("provider %q: %w: %w", m.Delivery.Provider, reward.ErrPlatformDown, it.down)
	case it.batch == nil:
		err = fmt.Errorf("provider %q: %w", m.Delivery.Provider, reward.ErrInvalid)
	default:
		var req reward.Request
		req, err = it.batch.Request(ctx, it.i, p.Store)
		if it.down != nil && (req.Offline || errors.Is(err, reward.ErrPlatformDown)) {
			b.count(CountPlatformError)
		}
		if err == nil {
			err = p.request(ctx, b, m.Delivery, req, log)
		}
	}
	if errors.Is(err, reward.ErrPlatformDown) {
		if after, ok := p.platformDelay(m.Delivery); ok {
			b.later(m.ID, after)
			log.Info("event waits for the platform; queued again", "retry_in", after.String(), "error", err.Error())
			return
		}
		err = fmt.Errorf("waited for the platform longer than %s: %w", p.Config.PlatformWait, err)
	}
	if err != nil {
		b.fail(m.ID, err)
		level := slog.LevelWarn
		if errors.Is(err, reward.ErrEntryConflict) {
			// A ledger entry exists with other content: a person must look.
			level = slog.LevelError
		}
		log.Log(ctx, level, "event not applied; it will be retried, then dead-lettered", "error", err.Error())
	}
}

// platformDelay is when a delivery that waits for its platform is tried
// again; ok is false once it has waited Config.PlatformWait since it was
// accepted (or when that time is unknown): it then fails, is retried and
// reaches the dead-letter queue like any other failure.
func (p *Processor) platformDelay(d webhook.Delivery) (time.Duration, bool) {
	if d.ReceivedAt.IsZero() {
		return 0, false
	}
	waited := p.Now().Sub(d.ReceivedAt)
	if waited >= p.Config.PlatformWait {
		return 0, false
	}
	return min(maxPlatformDelay, max(minPlatformDelay, waited)), true
}

// lanes groups messages, in their order, by whom they concern, as their
// platform names them (a FirstPromoter promoter, an AgentRef affiliate):
// events of one commission or one recipient apply one after another. A
// message its platform names no one for is a lane of its own.
func lanes(items []item) [][]item {
	index := map[string]int{}
	var out [][]item
	for i, it := range items {
		key := ""
		if it.batch != nil {
			key = it.batch.Lane(it.i)
		}
		if key == "" {
			key = "message#" + strconv.Itoa(i)
		}
		n, ok := index[key]
		if !ok {
			n = len(out)
			index[key] = n
			out = append(out, nil)
		}
		out[n] = append(out[n], it)
	}
	return out
}

func (p *Processor) record(ctx context.Context, b *batchState, d webhook.Delivery, outcome reward.Outcome, counter string) error {
	return p.recordOn(ctx, b, d, "", outcome, counter)
}

// recordOn remembers an event that changed nothing, on the commission it
// was planned against when there is one.
func (p *Processor) recordOn(ctx context.Context, b *batchState, d webhook.Delivery, commissionID string, outcome reward.Outcome, counter string) error {
	if d.EventID == "" {
		// The reconciler's changes have no event to remember.
		b.count(counter)
		return nil
	}
	ev := p.eventRecord(d, outcome)
	ev.CommissionID = commissionID
	err := p.Store.RecordEvent(ctx, ev)
	switch {
	case errors.Is(err, reward.ErrDuplicateEvent):
		b.count(CountDuplicate)
		return nil
	case err != nil:
		return err
	}
	b.count(counter)
	return nil
}

func (p *Processor) eventRecord(d webhook.Delivery, outcome reward.Outcome) reward.EventRecord {
	received := d.ReceivedAt
	if received.IsZero() {
		received = p.Now()
	}
	return reward.EventRecord{
		Provider: reward.Provider(d.Provider), ID: d.EventID, Type: d.EventType, Outcome: outcome,
		ReceivedAt: received, ExpiresAt: p.Now().Add(p.Config.IdempotencyTTL),
	}
}

// guess is the state a transition most likely starts from: assuming it
// makes the common case one write; a wrong guess costs one more.
func guess(in reward.Intent) *reward.Commission {
	if in.Target == reward.TargetPending {
		return nil
	}
	return &reward.Commission{Provider: in.Provider, ID: in.CommissionID, Account: in.Account, Status: reward.Pending, Amount: in.Amount}
}

// apply plans and writes one intent, re-planning from the stored state when
// the assumption was wrong. It returns the final plan: applied, or the
// duplicate or stale outcome against the stored state.
func (p *Processor) apply(ctx context.Context, b *batchState, d webhook.Delivery, in reward.Intent, log *slog.Logger) (reward.Change, error) {
	cur, guessed := guess(in), true
	for range maxAttempts {
		change, err := reward.Plan(cur, in)
		if err != nil {
			return change, err
		}
		if change.Outcome != reward.Applied && guessed {
			// Only a stored state may make an event stale or a duplicate.
			if cur, err = p.stored(ctx, in); err != nil {
				return change, err
			}
			guessed = false
			continue
		}
		if change.Outcome != reward.Applied {
			counter := CountDuplicate
			if change.Outcome == reward.Stale {
				counter = CountStale
			}
			// Kept on the commission: a later change cannot apply it.
			err := p.recordOn(ctx, b, d, in.CommissionID, change.Outcome, counter)
			if errors.Is(err, reward.ErrConflict) {
				// A write on the commission got in the way: what it wrote
				// may make the event apply after all.
				if cur, err = p.stored(ctx, in); err != nil {
					return change, err
				}
				continue
			}
			if err == nil && change.Outcome == reward.Stale {
				log.Info("stale transition acknowledged", "commission_id", in.CommissionID, "recipient", in.Account.Recipient, "reason", change.Reason)
			}
			if err == nil {
				accountChanged(b, in, change, log)
			}
			return change, err
		}
		err = p.Store.Apply(ctx, p.eventRecord(d, reward.Applied), change)
		var mm *reward.Mismatch
		switch {
		case err == nil:
			b.count(CountApplied)
			accountChanged(b, in, change, log)
			if change.Delivered {
				b.count(CountDelivered)
				if in.Acknowledge {
					b.deliver(change.After)
				}
			}
			// DEBUG: the batch line counts what was applied; a line per event
			// would be most of the processor's billed log bytes.
			log.Debug("applied", "commission_id", in.CommissionID, "recipient", in.Account.Recipient, "status", change.After.Status)
			return change, nil
		case errors.Is(err, reward.ErrDuplicateEvent):
			b.count(CountDuplicate)
			change.Outcome = reward.Duplicate
			return change, nil
		case errors.As(err, &mm):
			// Plan again from the stored state; where its account differs
			// from the platform's, the plan moves the pending credit.
			cur, guessed = mm.Current, false
		case errors.Is(err, reward.ErrConflict):
			// Another writer is on this commission right now: plan again
			// from what it wrote.
			if cur, err = p.stored(ctx, in); err != nil {
				return change, err
			}
			guessed = false
		case errors.Is(err, reward.ErrHoldChanged):
			// The recipient was blocked or released since its hold was
			// read: plan again with the hold as it is now.
			if in.Held, err = p.Store.Held(ctx, in.Provider, in.Account.Recipient); err != nil {
				return change, err
			}
		default:
			return change, err
		}
	}
	return reward.Change{}, fmt.Errorf("commission %s kept changing under %d attempts: %w", in.CommissionID, maxAttempts, reward.ErrConflict)
}

// accountChanged reports a commission whose platform account differs from
// the ledger's: counted, and logged as drift.
func accountChanged(b *batchState, in reward.Intent, change reward.Change, log *slog.Logger) {
	ac := change.AccountChange
	if ac == nil {
		return
	}
	b.count(CountAccountChanged)
	log.Warn("drift: the platform names another account for the commission", "commission_id", in.CommissionID,
		"from", ac.From.String(), "to", ac.To.String(), "moved", ac.Moved, "problem", ac.String())
}

// stored reads a commission's stored state: nil when it does not exist.
func (p *Processor) stored(ctx context.Context, in reward.Intent) (*reward.Commission, error) {
	c, err := p.Store.Commission(ctx, in.Provider, in.CommissionID)
	switch {
	case errors.Is(err, reward.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return &c, nil
}

// request applies what a platform event asks of the ledger.
func (p *Processor) request(ctx context.Context, b *batchState, d webhook.Delivery, req reward.Request, log *slog.Logger) error {
	switch {
	case req.Intent != nil:
		in := *req.Intent
		in.EventID, in.At = d.EventID, p.Now()
		change, err := p.apply(ctx, b, d, in, log)
		if err == nil && change.Outcome == reward.Stale && in.Target == reward.TargetApproved {
			log.Warn("approval after a rejection not applied: the reconciler reports it as drift while the platform says approved", "commission_id", in.CommissionID, "recipient", in.Account.Recipient, "status", change.After.Status)
		}
		return err
	case req.Hold != nil:
		h := *req.Hold
		err := p.Store.SetHold(ctx, p.eventRecord(d, reward.Applied), h)
		switch {
		case errors.Is(err, reward.ErrDuplicateEvent):
			b.count(CountDuplicate)
			return nil
		case errors.Is(err, reward.ErrOutdated):
			log.Info("hold event older than the stored hold: acknowledged, not applied", "recipient", h.Recipient, "held", h.Held, "event_at", h.At)
			return p.record(ctx, b, d, reward.Stale, CountStale)
		case err != nil:
			return err
		}
		b.count(CountApplied)
		log.Info("hold changed", "recipient", h.Recipient, "held", h.Held, "event_at", h.At)
		return nil
	case req.Payout != nil:
		in := *req.Payout
		in.EventID = d.EventID
		return p.payout(ctx, b, d, in, log)
	}
	if req.Note != "" {
		if req.CommissionID != "" {
			log = log.With("commission_id", req.CommissionID)
		}
		if req.Unit != "" {
			log = log.With("unit", req.Unit)
		}
		log.Info(req.Note)
	}
	if req.Stale {
		return p.record(ctx, b, d, reward.Stale, CountStale)
	}
	// Nothing to change: the event is kept for reference as a record.
	return p.record(ctx, b, d, reward.Duplicate, CountIgnored)
}

// payout plans and writes one payout intent, re-planning from the stored
// payout when it is not the state assumed.
func (p *Processor) payout(ctx context.Context, b *batchState, d webhook.Delivery, in reward.PayoutIntent, log *slog.Logger) error {
	in.At = p.Now()
	var cur *reward.Payout
	for range maxAttempts {
		change, err := reward.PlanPayout(cur, in)
		if err != nil {
			return err
		}
		if change.Outcome != reward.Applied {
			counter := CountDuplicate
			if change.Outcome == reward.Stale {
				counter = CountStale
				log.Info("stale payout event acknowledged", "payout_id", in.PayoutID, "recipient", in.Account.Recipient, "reason", change.Reason)
			}
			return p.record(ctx, b, d, change.Outcome, counter)
		}
		err = p.Store.ApplyPayout(ctx, p.eventRecord(d, reward.Applied), change)
		var mm *reward.PayoutMismatch
		switch {
		case err == nil:
			b.count(CountApplied)
			log.Info("payout applied", "payout_id", in.PayoutID, "recipient", in.Account.Recipient, "status", change.After.Status, "attempt", change.After.Attempts)
			return nil
		case errors.Is(err, reward.ErrDuplicateEvent):
			b.count(CountDuplicate)
			return nil
		case errors.As(err, &mm):
			cur = mm.Current
		case errors.Is(err, reward.ErrConflict):
			continue
		default:
			return err
		}
	}
	return fmt.Errorf("payout %s kept changing: %w", in.PayoutID, reward.ErrConflict)
}
