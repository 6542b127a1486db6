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

	"github.com/rewardrelay/rewardrelay/shared/agentref"
	"github.com/rewardrelay/rewardrelay/shared/firstpromoter"
	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/webhook"
)

// FirstPromoterAPI is what the processor asks of FirstPromoter.
type FirstPromoterAPI interface {
	Commissions(ctx context.Context, ids []int64) ([]firstpromoter.Commission, error)
	MarkFulfilled(ctx context.Context, ids []int64) (firstpromoter.BatchResult, error)
	Standings(ctx context.Context, ids []int64) (map[int64]firstpromoter.Standing, error)
}

// Config is the processor's behaviour.
type Config struct {
	// ReferralRewardIDs are FirstPromoter reward ids whose commissions
	// reward the referred customer instead of the promoter.
	ReferralRewardIDs map[int64]bool
	// Units are the FirstPromoter units this deployment delivers; cash
	// never is.
	Units map[reward.Unit]bool
	// IdempotencyTTL is how long event ids are remembered.
	IdempotencyTTL time.Duration
	// AgentRefCurrency is used where an AgentRef payload names none.
	AgentRefCurrency string
	// Parallelism is how many recipients' events of a batch apply at once.
	Parallelism int
	// PlatformWait is how long after its acceptance a delivery may wait
	// for an unreachable platform; past it, it fails like any other.
	PlatformWait time.Duration
}

// DefaultConfig delivers the five non-monetary units, remembers event ids
// for 7 days (longer than either platform retries), applies 8 recipients'
// events at once and lets a delivery wait a day for its platform.
func DefaultConfig() Config {
	units := map[reward.Unit]bool{}
	for _, u := range reward.NonMonetary {
		units[u] = true
	}
	return Config{Units: units, IdempotencyTTL: 7 * 24 * time.Hour, AgentRefCurrency: "usd", Parallelism: 8, PlatformWait: 24 * time.Hour}
}

// Processor applies deliveries to the ledger.
type Processor struct {
	Store         reward.Store
	FirstPromoter FirstPromoterAPI
	Config        Config
	Log           *slog.Logger
	Now           func() time.Time
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

// errPlatformDown means a message cannot be applied until the platform's
// API answers again.
var errPlatformDown = errors.New("the platform's API is unreachable")

// maxAttempts bounds the plan-apply loop: each retry follows a concurrent
// change, which at most a few other events can cause.
const maxAttempts = 6

type batchState struct {
	mu        sync.Mutex
	res       Result
	delivered []reward.Commission // FirstPromoter commissions to acknowledge
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
	items := decode(msgs)
	fp, fpErr := p.enrich(ctx, items)
	if errors.Is(fpErr, reward.ErrContract) {
		b.count(CountContractBroken)
		p.Log.ErrorContext(ctx, "the platform's answer breaks its contract; its events wait for the platform", "error", fpErr.Error())
	}
	var g errgroup.Group
	g.SetLimit(max(1, p.Config.Parallelism))
	for _, lane := range lanes(items, fp) {
		g.Go(func() error {
			for _, it := range lane {
				p.handle(ctx, b, it, fp, fpErr)
			}
			return nil
		})
	}
	_ = g.Wait()
	p.acknowledge(ctx, b)
	return b.res
}

// item is a message with its body decoded, once, for its platform.
type item struct {
	Message
	fp  *firstpromoter.Event
	ar  *agentref.Event
	err error // the body cannot be decoded, or names no platform
}

// decode decodes each message's body once, for its platform.
func decode(msgs []Message) []item {
	items := make([]item, len(msgs))
	for i, m := range msgs {
		items[i].Message = m
		switch m.Delivery.Provider {
		case webhook.FirstPromoter:
			ev, err := firstpromoter.ParseEvent(m.Delivery.Body)
			items[i].fp, items[i].err = &ev, err
		case webhook.AgentRef:
			ev, err := agentref.ParseEvent(m.Delivery.Body)
			items[i].ar, items[i].err = &ev, err
		default:
			items[i].err = fmt.Errorf("provider %q: %w", m.Delivery.Provider, reward.ErrInvalid)
		}
	}
	return items
}

// handle applies one message, recording it as failed when it cannot.
func (p *Processor) handle(ctx context.Context, b *batchState, it item, fp map[int64]firstpromoter.Commission, fpErr error) {
	m := it.Message
	log := p.Log.With("message_id", m.ID, "provider", m.Delivery.Provider, "event_id", m.Delivery.EventID, "event_type", m.Delivery.EventType)
	err := it.err
	switch {
	case err != nil:
	case it.fp != nil:
		err = p.firstPromoter(ctx, b, m, *it.fp, fp, fpErr, log)
	case it.ar != nil:
		err = p.agentRef(ctx, b, m, *it.ar, log)
	}
	if errors.Is(err, errPlatformDown) {
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

// lanes groups messages, in their order, by whom they concern: a
// FirstPromoter promoter (a commission the platform did not return is its
// own lane) or an AgentRef affiliate (a hold and the conversions it holds
// share one). A message that names neither is a lane of its own.
func lanes(items []item, fp map[int64]firstpromoter.Commission) [][]item {
	index := map[string]int{}
	var out [][]item
	for i, it := range items {
		key := laneKey(it, fp)
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

func laneKey(it item, fp map[int64]firstpromoter.Commission) string {
	switch {
	case it.err != nil:
		return ""
	case it.fp != nil:
		id, err := it.fp.CommissionID()
		if err != nil {
			return ""
		}
		if c, ok := fp[id]; ok && c.PromoterID() != 0 {
			return "firstpromoter#promoter#" + strconv.FormatInt(c.PromoterID(), 10)
		}
		return "firstpromoter#commission#" + strconv.FormatInt(id, 10)
	case it.ar != nil:
		if who := it.ar.Recipient(); who != "" {
			return "agentref#affiliate#" + who
		}
	}
	return ""
}

// enrich fetches every FirstPromoter commission of the batch in one request
// (chunks of 100): the webhook lacks the promoter and the reward, and the
// platform's current status defends against reordered deliveries.
func (p *Processor) enrich(ctx context.Context, items []item) (map[int64]firstpromoter.Commission, error) {
	var ids []int64
	seen := map[int64]bool{}
	for _, it := range items {
		if it.fp == nil || it.err != nil || it.fp.Data.Test {
			continue
		}
		if id, err := it.fp.CommissionID(); err == nil && it.fp.IsCommission() && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	if p.FirstPromoter == nil {
		return nil, errors.New("no FirstPromoter API configured (FIRSTPROMOTER_API_KEY, FIRSTPROMOTER_ACCOUNT_ID)")
	}
	rows, err := p.FirstPromoter.Commissions(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]firstpromoter.Commission, len(rows))
	for _, c := range rows {
		out[c.ID] = c
	}
	return out, nil
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

func (p *Processor) firstPromoter(ctx context.Context, b *batchState, m Message, env firstpromoter.Event, api map[int64]firstpromoter.Commission, apiErr error, log *slog.Logger) error {
	if env.Data.Test {
		return p.record(ctx, b, m.Delivery, reward.Duplicate, CountIgnored)
	}
	if !env.IsCommission() {
		// payout.updated / payout.completed echo our own mark_fulfilled: the
		// acknowledgement was recorded when the call answered.
		return p.record(ctx, b, m.Delivery, reward.Duplicate, CountIgnored)
	}
	id, err := env.CommissionID()
	if err != nil {
		return err
	}
	if apiErr != nil {
		b.count(CountPlatformError)
		return p.withoutPlatform(ctx, b, m, env, id, fmt.Errorf("read commission %d from firstpromoter: %w: %w", id, errPlatformDown, apiErr), log)
	}
	c, known := api[id]
	in, verdict, err := p.firstPromoterRules().EventIntent(env, id, c, known)
	if err != nil {
		return err
	}
	in.EventID, in.At = m.Delivery.EventID, p.Now()
	switch verdict {
	case firstpromoter.Ignore:
		log.Info("commission unit is not delivered by this deployment", "commission_id", id, "unit", in.Account.Unit)
		return p.record(ctx, b, m.Delivery, reward.Duplicate, CountIgnored)
	case firstpromoter.NotListed:
		// Deleted since the event (a deletion follows it) or not listed
		// yet; retrying it would only end in the dead-letter queue.
		log.Info("commission not returned by the platform: acknowledged, not applied", "commission_id", id)
		return p.record(ctx, b, m.Delivery, reward.Stale, CountStale)
	case firstpromoter.StoredAccount:
		stored, err := p.Store.Commission(ctx, reward.FirstPromoter, in.CommissionID)
		if errors.Is(err, reward.ErrNotFound) {
			return p.record(ctx, b, m.Delivery, reward.Stale, CountStale)
		}
		if err != nil {
			return err
		}
		in.Account = stored.Account
	}
	_, err = p.apply(ctx, b, m.Delivery, in, log)
	return err
}

// withoutPlatform applies what a FirstPromoter event can do while the
// platform's API is unreachable: a denial or deletion of a commission the
// ledger has needs nothing from it (a denial is final, and the stored
// account is the one its entries were written to). Anything else waits
// for the platform, whose view decides it: down is returned.
func (p *Processor) withoutPlatform(ctx context.Context, b *batchState, m Message, env firstpromoter.Event, id int64, down error, log *slog.Logger) error {
	if env.Target() != reward.TargetDenied {
		return down
	}
	in := reward.Intent{Provider: reward.FirstPromoter, CommissionID: strconv.FormatInt(id, 10), EventID: m.Delivery.EventID, Target: reward.TargetDenied, Acknowledge: true, At: p.Now()}
	stored, err := p.stored(ctx, in)
	if err != nil {
		return err
	}
	if stored == nil {
		return down
	}
	if u := stored.Account.Unit; !p.firstPromoterRules().Delivers(u) {
		log.Info("commission unit is not delivered by this deployment", "commission_id", id, "unit", u)
		return p.record(ctx, b, m.Delivery, reward.Duplicate, CountIgnored)
	}
	in.Account, in.Amount = stored.Account, stored.Amount
	_, err = p.apply(ctx, b, m.Delivery, in, log)
	return err
}

// firstPromoterRules are the configuration's FirstPromoter choices.
func (p *Processor) firstPromoterRules() firstpromoter.Rules {
	return firstpromoter.Rules{ReferralRewardIDs: p.Config.ReferralRewardIDs, Units: p.Config.Units}
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
			if change.Outcome == reward.Stale {
				log.Info("stale transition acknowledged", "commission_id", in.CommissionID, "recipient", in.Account.Recipient, "reason", change.Reason)
			}
			accountChanged(b, in, change, log)
			counter := CountDuplicate
			if change.Outcome == reward.Stale {
				counter = CountStale
			}
			// Kept on the commission: a later change cannot apply it.
			return change, p.recordOn(ctx, b, d, in.CommissionID, change.Outcome, counter)
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

func (p *Processor) agentRef(ctx context.Context, b *batchState, m Message, env agentref.Event, log *slog.Logger) error {
	received := m.Delivery.ReceivedAt
	if received.IsZero() {
		received = p.Now()
	}
	req, err := env.Request(p.Config.AgentRefCurrency, received)
	if err != nil {
		return err
	}
	return p.request(ctx, b, m.Delivery, req, log)
}

// request applies what a platform event asks of the ledger.
func (p *Processor) request(ctx context.Context, b *batchState, d webhook.Delivery, req reward.Request, log *slog.Logger) error {
	switch {
	case req.Intent != nil:
		in := *req.Intent
		in.EventID, in.At = d.EventID, p.Now()
		if err := p.readHold(ctx, &in); err != nil {
			return err
		}
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
	// Nothing to change: the event is kept for reference as a record.
	return p.record(ctx, b, d, reward.Duplicate, CountIgnored)
}

// readHold reads the recipient's hold into an intent that may post, whose
// write then checks the hold is still so.
func (p *Processor) readHold(ctx context.Context, in *reward.Intent) error {
	if !in.Posts() {
		return nil
	}
	held, err := p.Store.Held(ctx, in.Provider, in.Account.Recipient)
	if err != nil {
		return err
	}
	in.Held, in.HoldKnown = held, true
	return nil
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
