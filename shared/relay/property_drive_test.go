package relay

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/agentref"
	"github.com/rewardrelay/rewardrelay/shared/firstpromoter"
	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/simulator"
)

// propertyConfig sizes a history and says how hard the queue, the
// platforms and the clock make it.
type propertyConfig struct {
	commissions, conversions, payouts, heldAffiliates int
	// faults is the share of platform requests answered 503, and of rounds
	// that queue a 429 (with Retry-After) and a 500 for the next requests;
	// half as many rounds, and a quarter as many turns (see turns), start
	// an outage: the next 8 requests fail, so that a call fails through
	// its retries.
	faults float64
	// lost is the share of FirstPromoter webhooks never delivered.
	lost float64
	// runs is the share of rounds with a reconciler run beside the
	// processors and the platform; deadlines the share of runs cut short
	// by a deadline a few rows away.
	runs, deadlines float64
}

// webhooksFirst says whether a seed's history is played webhooks first
// (see driver.webhooksFirst): a third of the seeds are.
func webhooksFirst(seed uint64) bool { return seed%3 == 0 }

// queued is a delivery waiting in the queue.
type queued struct {
	msg Message
	// receives counts its deliveries so far; waits the times it was sent
	// back to wait for its platform (each time as a new message, whose
	// receives start again).
	receives, waits int
	// due is the round from which it may be delivered.
	due int
}

// maxReceives bounds the deliveries of one message: past it, a message
// that keeps failing is a defect (the queue would dead-letter it). maxWaits
// bounds the times one waits for a platform that fails only now and then.
const (
	maxReceives = 10
	maxWaits    = 30
)

// maxRounds bounds a history's rounds.
const maxRounds = 5000

// queue is the SQS queue of a history, and the platforms' retries before
// it: each webhook joins it 1-3 times as its step sends it, half of the
// copies at once and the others some rounds later (a retry, a platform
// that sends late); what is due leaves it in batches taken at random or,
// half the time, the newest first. So the queue reorders and repeats, and
// often delivers a webhook right after it was sent.
type queue struct {
	mu   sync.Mutex
	rng  *rand.Rand
	msgs []queued
	ids  int
	// round is the current round.
	round int
}

func (q *queue) send(msgs []Message) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, m := range msgs {
		for range 1 + q.rng.IntN(3) {
			due := q.round
			switch r := q.rng.IntN(8); {
			case r == 7:
				due += 10 + q.rng.IntN(90)
			case r >= 4:
				due += 1 + q.rng.IntN(10)
			}
			q.msgs = append(q.msgs, queued{msg: m, due: due})
		}
	}
}

// again puts a delivered message back, due next round: it failed or waits.
func (q *queue) again(m queued) {
	q.mu.Lock()
	defer q.mu.Unlock()
	m.due = q.round + 1
	q.msgs = append(q.msgs, m)
}

// take removes up to n random due messages, each under a new message id.
func (q *queue) take(n int) []queued {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []queued
	for ; n > 0; n-- {
		var due []int
		for i, m := range q.msgs {
			if m.due <= q.round {
				due = append(due, i)
			}
		}
		if len(due) == 0 {
			break
		}
		i := due[len(due)-1]
		if q.rng.IntN(2) == 0 {
			i = due[q.rng.IntN(len(due))]
		}
		m := q.msgs[i]
		q.msgs = slices.Delete(q.msgs, i, i+1)
		q.ids++
		m.msg.ID = fmt.Sprintf("q-%d", q.ids)
		m.receives++
		out = append(out, m)
	}
	return out
}

// newest removes the n newest messages due, each under a new message id:
// webhooks delivered as soon as they are sent.
func (q *queue) newest(n int) []queued {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []queued
	for i := len(q.msgs) - 1; i >= 0 && len(out) < n; i-- {
		if q.msgs[i].due > q.round {
			continue
		}
		m := q.msgs[i]
		q.msgs = slices.Delete(q.msgs, i, i+1)
		q.ids++
		m.msg.ID = fmt.Sprintf("q-%d", q.ids)
		m.receives++
		out = append(out, m)
	}
	return out
}

// next starts a round; skip, set when nothing else happens until a
// message is due, moves on to the round the first one is.
func (q *queue) next(skip bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.round++
	if !skip || len(q.msgs) == 0 {
		return
	}
	first := q.msgs[0].due
	for _, m := range q.msgs {
		first = min(first, m.due)
	}
	q.round = max(q.round, first)
}

// len counts the messages queued; due those that may be delivered now.
func (q *queue) len() (all, due int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, m := range q.msgs {
		if m.due <= q.round {
			due++
		}
	}
	return len(q.msgs), due
}

// outcome is one reconciler run and the deadline it had (zero: none).
type outcome struct {
	run      reward.Run
	deadline time.Time
}

// driver plays a history against a harness: in each round the platform
// takes a few steps while two processors apply random batches of the
// queue at once and reconciler runs may go on beside them. In half the
// rounds the steps happen beside them, in the others between their
// platform calls (see turns), where batches are delivered too, so that the
// platform changes and webhooks apply between a processor's enrichment and
// its acknowledgement, or a run's reads and its writes. What the steps
// send joins the queue at once; what failed or must wait goes back to it.
type driver struct {
	t     *testing.T
	h     *harness
	cfg   propertyConfig
	rng   *rand.Rand
	clock *platformClock
	hist  *history
	phase int
	queue *queue
	procs [2]*Processor
	// turnProc applies the batches delivered during a run's turns.
	turnProc *Processor
	rc       *Reconciler
	// stepMu makes each step whole: its change, its webhooks and the clock.
	stepMu sync.Mutex
	// turns are the current round's.
	turns *turns
	// runs are the reconciler runs so far.
	runs []outcome
	// mu guards counts, the processors' counters summed, and exhausted,
	// the messages that kept failing or waiting.
	mu        sync.Mutex
	counts    map[string]int
	exhausted []queued
	// webhooksFirst: no webhook is lost and no reconciler runs until every
	// webhook is delivered, so that what webhooks alone must do is checked
	// before the reconciler repairs anything.
	webhooksFirst bool
}

func newDriver(t *testing.T, h *harness, seed uint64, cfg propertyConfig) *driver {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	clock := &platformClock{base: time.Now().UTC().Truncate(time.Minute)}
	// The platforms' clock is the history's; the rate limit would count
	// every request of a round as made in one minute.
	h.sim.Now = clock.now
	h.sim.RateLimit = math.MaxInt
	h.sim.RefuseWholeRequests(rng.IntN(2) == 0) // publishes the fields above to the server
	h.sim.SetFaultRate(cfg.faults)
	d := &driver{t: t, h: h, cfg: cfg, rng: rng, clock: clock, counts: map[string]int{}, queue: &queue{rng: rand.New(rand.NewPCG(seed, seed))}}
	if webhooksFirst(seed) {
		d.webhooksFirst = true
		d.cfg.runs, d.cfg.lost = 0, 0
	}
	d.hist = buildHistory(t, rng, h, d.cfg)
	// Every writer's holds are checked as they are written.
	h.p.Store = watchedStore{Store: h.store, d: d}
	for i := range d.procs {
		p := *h.p
		setFP(&p, turnProcessorFP{FirstPromoterAPI: fpOf(&p), turn: d.turn})
		d.procs[i] = &p
	}
	turnProc := *h.p
	d.turnProc = &turnProc
	d.rc = h.reconciler(t)
	return d
}

// play runs rounds until every step is done and the queue is empty.
func (d *driver) play(ctx context.Context) {
	for range maxRounds {
		if d.t.Failed() {
			return
		}
		if len(d.hist.phases[d.phase].steps) == 0 && d.phase < len(d.hist.phases)-1 {
			d.phase++
			continue
		}
		queued, _ := d.queue.len()
		done := len(d.hist.phases[d.phase].steps) == 0
		if done && len(d.hist.afterDelivery) == 0 && queued == 0 {
			return
		}
		d.queue.next(done)
		d.round(ctx)
	}
	queued, _ := d.queue.len()
	d.t.Fatalf("the history did not end in %d rounds: %d steps wait for a delivery, %d messages queued", maxRounds, len(d.hist.afterDelivery), queued)
}

// round is one round: steps, batches and runs at once.
func (d *driver) round(ctx context.Context) {
	rng := d.rng
	phase := &d.hist.phases[d.phase]
	steps := phase.steps[:min(rng.IntN(4), len(phase.steps))]
	if phase.atOnce {
		steps = phase.steps
	}
	phase.steps = phase.steps[len(steps):]
	waiting := d.hist.afterDelivery
	var sizes [2][]int // each processor's batches
	for i := range sizes {
		for range rng.IntN(3) {
			sizes[i] = append(sizes[i], 1+rng.IntN(10))
		}
	}
	var runs []time.Duration // each run's deadline, 0 for none
	// A round with nothing else to do runs the reconciler, which delivers
	// what lost webhooks did not.
	_, due := d.queue.len()
	idle := len(steps) == 0 && (len(sizes[0])+len(sizes[1]) == 0 || due == 0) && !d.webhooksFirst
	share := phase.runs
	if share < 0 || d.webhooksFirst {
		share = d.cfg.runs
	}
	if idle || rng.Float64() < share {
		for range 1 + rng.IntN(2) {
			var deadline time.Duration
			if !idle && rng.Float64() < d.cfg.deadlines {
				// A second of margin leaves 0.1-0.9 s of 20 ms ledger
				// requests: a few rows, where a whole run takes more.
				deadline = time.Second + time.Duration(100+rng.IntN(800))*time.Millisecond
			}
			runs = append(runs, deadline)
		}
	}
	if rng.Float64() < d.cfg.faults {
		d.h.sim.InjectFaults(simulator.Fault{Status: 429, RetryAfter: "1"}, simulator.Fault{Status: 500})
	}
	if rng.Float64() < d.cfg.faults/2 {
		d.outage()
	}

	// Half the time the round's steps are the turns' to give; what they
	// leave is done after the round.
	turns := newTurns(d, rng)
	if rng.IntN(2) == 0 {
		turns.steps, steps = steps, nil
	}
	d.turns = turns
	var wg sync.WaitGroup
	var stillWaiting []step
	wg.Go(func() {
		for _, s := range steps {
			d.queue.send(d.do(s))
		}
		for _, s := range waiting {
			if s.ready(ctx) {
				d.queue.send(d.do(s))
			} else {
				stillWaiting = append(stillWaiting, s)
			}
		}
	})
	for i, p := range d.procs {
		wg.Go(func() {
			for _, n := range sizes[i] {
				d.process(ctx, p, d.queue.take(n))
			}
		})
	}
	outcomes := make([]outcome, len(runs))
	for i, deadline := range runs {
		wg.Go(func() { outcomes[i] = d.run(ctx, deadline) })
	}
	wg.Wait()
	for _, s := range turns.steps {
		d.queue.send(d.do(s))
	}

	d.hist.afterDelivery = stillWaiting
	for _, q := range d.exhausted {
		d.t.Errorf("message %s (%s %s) failed %d times, waited %d times\n%s", q.msg.ID, q.msg.Delivery.EventType, q.msg.Delivery.EventID, q.receives, q.waits, d.linesAbout(q.msg.Delivery.EventID))
	}
	for _, o := range outcomes {
		d.checkRun(o)
	}
	d.runs = append(d.runs, outcomes...)
}

// process has p apply a batch and puts back what failed or must wait.
func (d *driver) process(ctx context.Context, p *Processor, batch []queued) {
	if len(batch) == 0 {
		return
	}
	msgs := make([]Message, len(batch))
	for k, q := range batch {
		msgs[k] = q.msg
	}
	res := p.Process(ctx, msgs)
	failed, later := map[string]bool{}, map[string]bool{}
	for _, id := range res.Failed {
		failed[id] = true
	}
	for _, l := range res.Later {
		later[l.ID] = true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, q := range batch {
		switch {
		case later[q.msg.ID] && q.waits < maxWaits:
			q.receives, q.waits = 0, q.waits+1
		case !failed[q.msg.ID] && !later[q.msg.ID]:
			continue
		case q.receives >= maxReceives || q.waits >= maxWaits:
			d.exhausted = append(d.exhausted, q)
			continue
		}
		d.queue.again(q)
	}
	for k, v := range res.Counts {
		d.counts[k] += v
	}
}

// outage makes the platforms' next 8 requests fail.
func (d *driver) outage() {
	for range 8 {
		d.h.sim.InjectFaults(simulator.Fault{Status: 503})
	}
}

// do takes one platform step at the next minute of the platform's clock.
func (d *driver) do(s step) []Message {
	d.stepMu.Lock()
	defer d.stepMu.Unlock()
	n := d.clock.done.Load() + 1
	msgs := s.do(d.clock.at(n))
	d.clock.done.Store(n)
	return msgs
}

// run is one reconciler run. With a deadline, the run's clock moves 20 ms
// with every ledger request, as if DynamoDB were slow, so that the run
// reaches its deadline after a few rows.
func (d *driver) run(ctx context.Context, deadline time.Duration) outcome {
	p := *d.h.p
	rc := *d.rc
	rc.Processor = &p
	setRecFP(&rc, turnFP{ReconcileFirstPromoterAPI: fpRec(&rc).API, turn: d.turn})
	setRecAR(&rc, turnAR{AgentRefAPI: arRec(&rc).API, turn: d.turn})
	if deadline == 0 {
		return outcome{run: rc.Run(ctx)}
	}
	clock := &stepClock{now: time.Now(), step: 20 * time.Millisecond}
	p.Now = clock.Now
	p.Store = steppingStore{Store: p.Store, clock: clock}
	rc.Margin = time.Second
	rctx, cancel := context.WithDeadline(ctx, clock.Now().Add(deadline))
	defer cancel()
	at, _ := rctx.Deadline()
	return outcome{run: rc.Run(rctx), deadline: at}
}

// checkRun holds every run to what a run promises whatever runs beside
// it: its summary stored before its deadline, and no change it made that
// breaks a commission's invariants.
func (d *driver) checkRun(o outcome) {
	if !o.deadline.IsZero() && o.run.Finished.After(o.deadline) {
		d.t.Errorf("run %s finished %s after its deadline", o.run.ID, o.run.Finished.Sub(o.deadline))
	}
	if n := o.run.Counts[CountViolations]; n > 0 {
		d.t.Errorf("run %s found %d audit violations: %v", o.run.ID, n, o.run.Errors)
	}
}

// watchedStore is the ledger with every hold, and every payout an event
// changes, checked as it is written against what the platform said.
type watchedStore struct {
	reward.Store
	d *driver
}

// SetHold holds a written hold to what the platform said: whoever writes
// it (an event, a listing), a hold as of t says what the platform said at
// t or since (a listing's Date, to the second, may precede a word it
// shows), never what no word from t on says: such a hold would stand
// against the platform until a later word undid it.
func (s watchedStore) SetHold(ctx context.Context, ev reward.EventRecord, h reward.Hold) error {
	err := s.Store.SetHold(ctx, ev, h)
	if err != nil {
		return err
	}
	words, subject, says := s.d.hist.words, "hold:"+strings.TrimPrefix(string(h.Recipient), "affiliate:"), strconv.FormatBool(h.Held)
	said := words.at(subject, h.At)
	if said == "" {
		said = "false" // not held before the platform's first word
	}
	if said != says && !words.since(subject, h.At, says) {
		s.d.t.Errorf("%s written held %v as of %s; the platform has not said so since", h.Recipient, h.Held, h.At.Format(time.TimeOnly))
	}
	return nil
}

// ApplyPayout holds a payout an event changed to the platform's word at
// the time it is then as of: an event's word, or a newer one it was
// applied after, never an older one that arrived late.
func (s watchedStore) ApplyPayout(ctx context.Context, ev reward.EventRecord, c reward.PayoutChange) error {
	err := s.Store.ApplyPayout(ctx, ev, c)
	p := c.After
	if said := s.d.hist.words.at("payout:"+p.ID, p.StatusAt); err == nil && ev.ID != "" && said != string(p.Status) {
		s.d.t.Errorf("payout %s written %s as of %s, by event %s; the platform then said %s", p.ID, p.Status, p.StatusAt.Format(time.TimeOnly), ev.ID, said)
	}
	return err
}

// settle ends a history: the platforms stop failing and the reconciler
// runs until a complete run, after another complete one (so that every
// list was read from its first page), has nothing left to do.
func (d *driver) settle(ctx context.Context) reward.Run {
	d.h.sim.SetFaultRate(0)
	complete := 0
	var last reward.Run
	for range 12 {
		last = d.rc.Run(ctx)
		d.runs = append(d.runs, outcome{run: last})
		d.checkRun(outcome{run: last})
		c := last.Counts
		quiet := c[CountApplied]+c[CountAcknowledged]+c[CountAckPending]+c[CountBatches]+c[CountAckFailed]+c[CountAckRefused]+c[CountPlatformError]+
			c[CountUnfulfilled]+c[CountUnfulfilFailed]+c[CountUnfulfilRefused] == 0
		if !last.Complete || len(last.Errors) > 0 {
			complete = 0
			continue
		}
		if complete++; quiet && complete >= 2 {
			return last
		}
	}
	d.t.Errorf("the reconciler never settled: last run %+v", last)
	return last
}

// turn is a turn of the current round (see turns) at point.
func (d *driver) turn(ctx context.Context, point string) { d.turns.take(ctx, point) }

// turnPoints are the points where turns are given: before each platform
// call of a processor ("processor ...") or a run, after a run's AgentRef
// reads ("... read"), and before the rows of a FirstPromoter page are
// applied ("firstpromoter page").
var turnPoints = []string{
	"processor enrich", "processor mark_fulfilled", "processor standings",
	"firstpromoter list", "firstpromoter page", "firstpromoter mark_fulfilled", "firstpromoter batch", "firstpromoter approve", "firstpromoter standings",
	"agentref affiliates", "agentref affiliates read", "agentref flags", "agentref flags read",
	"agentref conversions", "agentref conversions read", "agentref payouts", "agentref payouts read",
}

// turns are the platform's and the queue's turns during a round: at each
// point a batch may be delivered (to a processor of its own), and a step
// of the round may happen, its webhooks delivered at once half the time:
// at any point, or in half the rounds only at one point chosen for the
// round, so that a round's steps reach even the points a run comes to
// last.
type turns struct {
	d     *driver
	mu    sync.Mutex
	rng   *rand.Rand
	steps []step
	// point, when set, is the only point where steps happen.
	point string
}

func newTurns(d *driver, rng *rand.Rand) *turns {
	t := &turns{d: d, rng: rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64()))}
	if rng.IntN(2) == 0 {
		t.point = turnPoints[rng.IntN(len(turnPoints))]
	}
	return t
}

func (t *turns) take(ctx context.Context, point string) {
	t.mu.Lock()
	var next []step
	switch {
	case len(t.steps) == 0:
	case t.point == "" && t.rng.IntN(6) == 0, t.point == point && t.rng.IntN(2) == 0:
		next, t.steps = t.steps[:1], t.steps[1:]
	}
	// Half the step's webhooks are delivered at once, in the same turn.
	now := t.rng.IntN(2) == 0
	n := 0
	if t.rng.IntN(3) == 0 {
		n = 1 + t.rng.IntN(3)
	}
	// An outage may start here: the call after the turn fails through its
	// retries.
	outage := t.rng.Float64() < t.d.cfg.faults/4
	t.mu.Unlock()
	if outage {
		t.d.outage()
	}
	for _, s := range next {
		sent := t.d.do(s)
		t.d.queue.send(sent)
		if now {
			t.d.process(ctx, t.d.turnProc, t.d.queue.newest(len(sent)))
		}
	}
	if n > 0 {
		t.d.process(ctx, t.d.turnProc, t.d.queue.take(n))
	}
}

// turnProcessorFP gives a turn before each FirstPromoter call of a
// processor: its enrichment, its acknowledgement and what it asks after.
type turnProcessorFP struct {
	FirstPromoterAPI
	turn func(context.Context, string)
}

func (f turnProcessorFP) Commissions(ctx context.Context, ids []int64) ([]firstpromoter.Commission, error) {
	f.turn(ctx, "processor enrich")
	return f.FirstPromoterAPI.Commissions(ctx, ids)
}

func (f turnProcessorFP) MarkFulfilled(ctx context.Context, ids []int64) (firstpromoter.BatchResult, error) {
	f.turn(ctx, "processor mark_fulfilled")
	return f.FirstPromoterAPI.MarkFulfilled(ctx, ids)
}

func (f turnProcessorFP) Standings(ctx context.Context, ids []int64) (map[int64]firstpromoter.Standing, error) {
	f.turn(ctx, "processor standings")
	return f.FirstPromoterAPI.Standings(ctx, ids)
}

// turnFP gives a turn before each FirstPromoter call of a run, and before
// the rows of each listed page are applied.
type turnFP struct {
	ReconcileFirstPromoterAPI
	turn func(context.Context, string)
}

func (f turnFP) ListCommissions(ctx context.Context, filters url.Values, from int, fn func(page int, rows []firstpromoter.Commission) (bool, error)) (int, error) {
	f.turn(ctx, "firstpromoter list")
	return f.ReconcileFirstPromoterAPI.ListCommissions(ctx, filters, from, func(page int, rows []firstpromoter.Commission) (bool, error) {
		f.turn(ctx, "firstpromoter page")
		return fn(page, rows)
	})
}

func (f turnFP) MarkFulfilled(ctx context.Context, ids []int64) (firstpromoter.BatchResult, error) {
	f.turn(ctx, "firstpromoter mark_fulfilled")
	return f.ReconcileFirstPromoterAPI.MarkFulfilled(ctx, ids)
}

func (f turnFP) MarkUnfulfilled(ctx context.Context, ids []int64) (firstpromoter.BatchResult, error) {
	f.turn(ctx, "firstpromoter mark_unfulfilled")
	return f.ReconcileFirstPromoterAPI.MarkUnfulfilled(ctx, ids)
}

func (f turnFP) BatchProcess(ctx context.Context, id string) (firstpromoter.BatchResult, error) {
	f.turn(ctx, "firstpromoter batch")
	return f.ReconcileFirstPromoterAPI.BatchProcess(ctx, id)
}

func (f turnFP) Approve(ctx context.Context, ids []int64) (firstpromoter.BatchResult, error) {
	f.turn(ctx, "firstpromoter approve")
	return f.ReconcileFirstPromoterAPI.Approve(ctx, ids)
}

func (f turnFP) Standings(ctx context.Context, ids []int64) (map[int64]firstpromoter.Standing, error) {
	f.turn(ctx, "firstpromoter standings")
	return f.ReconcileFirstPromoterAPI.Standings(ctx, ids)
}

// turnAR gives a turn before each AgentRef call of a run and after it,
// before its rows are applied.
type turnAR struct {
	AgentRefAPI
	turn func(context.Context, string)
}

func (a turnAR) Conversions(ctx context.Context, status, cursor string) ([]agentref.Conversion, string, error) {
	a.turn(ctx, "agentref conversions")
	defer a.turn(ctx, "agentref conversions read")
	return a.AgentRefAPI.Conversions(ctx, status, cursor)
}

func (a turnAR) Payouts(ctx context.Context, status, cursor string) ([]agentref.Payout, string, error) {
	a.turn(ctx, "agentref payouts")
	defer a.turn(ctx, "agentref payouts read")
	return a.AgentRefAPI.Payouts(ctx, status, cursor)
}

func (a turnAR) Affiliates(ctx context.Context, status, cursor string) ([]agentref.Affiliate, string, time.Time, error) {
	a.turn(ctx, "agentref affiliates")
	defer a.turn(ctx, "agentref affiliates read")
	return a.AgentRefAPI.Affiliates(ctx, status, cursor)
}

func (a turnAR) Flags(ctx context.Context, status, cursor string) ([]agentref.Flag, string, error) {
	a.turn(ctx, "agentref flags")
	defer a.turn(ctx, "agentref flags read")
	return a.AgentRefAPI.Flags(ctx, status, cursor)
}
