package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/rewardrelay/rewardrelay/cmd/rewardctl/internal/localstack"
	webhookhandler "github.com/rewardrelay/rewardrelay/functions/webhook/handler"
	"github.com/rewardrelay/rewardrelay/shared/relay"
	"github.com/rewardrelay/rewardrelay/shared/simulator"
)

// simulation is how `rewardctl simulate` drives the stack.
type simulation struct {
	commissions int
	copies      int
	lost        float64
	faults      float64
	concurrency int
	// rate paces the webhooks per second (0: as fast as the senders go).
	rate         int
	load         bool
	seed         uint64
	drainTimeout time.Duration
	// pollEvery is how often drain looks at the queue (250 ms when zero).
	pollEvery time.Duration
	// progress receives the progress bars (nil: none).
	progress io.Writer
	// onProcessed, when set, is told each value the processing bar shows.
	onProcessed func(done, total int)
}

func simulateCommand(opts *options) *cobra.Command {
	sim := simulation{commissions: 200, copies: 3, lost: 0.1, faults: 0.2, concurrency: 8, drainTimeout: 10 * time.Minute}
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Drive realistic traffic through the running local stack and check the outcome",
		Long: `Creates commissions with random lifecycles on the local platform simulator
(two thirds FirstPromoter: pending, approved, denied, approved then denied;
one third AgentRef: pending, approved, rejected), sends their webhooks signed
like the platforms, each 1 to --copies times in random order, loses every
webhook of --lost of the commissions, and makes --faults of the platform's
answers fail. When the queue has drained it runs the reconciler (as
rewardctl reconcile) until nothing is left to repair, then prints the ground
truth next to the ledger and the platform's acknowledgements.

Exits non-zero on any difference.

--load measures instead of tormenting: 3,000 commissions, each webhook once,
none lost, no faults, 32 senders (flags given explicitly still apply), and
prints webhook latency and throughput, delivery-to-acknowledgement time,
platform requests per fulfilled reward and DynamoDB requests per event.

Needs the local stack (make run) with its platform simulator.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if sim.load {
				f := cmd.Flags()
				for name, set := range map[string]func(){
					"commissions": func() { sim.commissions = 3000 }, "copies": func() { sim.copies = 1 },
					"lost": func() { sim.lost = 0 }, "faults": func() { sim.faults = 0 }, "concurrency": func() { sim.concurrency = 32 },
				} {
					if !f.Changed(name) {
						set()
					}
				}
			}
			if !cmd.Flags().Changed("seed") {
				sim.seed = uint64(time.Now().UnixNano())
			}
			sim.progress = cmd.ErrOrStderr()
			return sim.run(cmd.Context(), opts, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.IntVar(&sim.commissions, "commissions", sim.commissions, "how many commissions (up to 100,000)")
	f.IntVar(&sim.copies, "copies", sim.copies, "each webhook is delivered 1 to this many times")
	f.Float64Var(&sim.lost, "lost", sim.lost, "share of commissions whose webhooks are all lost (the reconciler must find them)")
	f.Float64Var(&sim.faults, "faults", sim.faults, "share of platform requests answered 503 while webhooks flow")
	f.IntVar(&sim.concurrency, "concurrency", sim.concurrency, "webhooks sent at once")
	f.IntVar(&sim.rate, "rate", 0, "webhooks per second (default: as fast as the senders go)")
	f.BoolVar(&sim.load, "load", false, "measure throughput and latency (see above)")
	f.Uint64Var(&sim.seed, "seed", 0, "random seed, to repeat a run (default: from the clock)")
	f.DurationVar(&sim.drainTimeout, "drain-timeout", sim.drainTimeout, "how long to wait for the queue to drain")
	return cmd
}

// sendResult is what sending the scenario's webhooks measured.
type sendResult struct {
	latencies []time.Duration
	elapsed   time.Duration
	// sent is when each approval webhook was first sent.
	sent map[int64]time.Time
	// queued counts the deliveries the stack queued (answered 202).
	queued  int
	refused []string
}

func (s simulation) run(ctx context.Context, opts *options, out io.Writer) error {
	switch {
	case s.commissions < 3 || s.commissions > 100_000:
		return fmt.Errorf("--commissions must be between 3 and 100000")
	case s.lost < 0 || s.lost > 1 || s.faults < 0 || s.faults >= 1:
		return fmt.Errorf("--lost must be a share from 0 to 1, --faults from 0 to below 1 (0.2 is 20%%)")
	case s.copies < 1 || s.concurrency < 1 || s.rate < 0:
		return fmt.Errorf("--copies and --concurrency must be at least 1, --rate at least 0")
	case s.drainTimeout <= 0:
		return fmt.Errorf("--drain-timeout must be a positive duration (got %s)", s.drainTimeout)
	}
	if kind, err := opts.targetKind(); err != nil {
		return err
	} else if kind != targetLocal {
		return errors.New("simulate drives the local stack and its platform simulator, never AWS")
	}
	t, err := openLedger(ctx, opts)
	if err != nil {
		return err
	}
	apiURL, simURL := t.local.APIURL, t.local.SimulatorURL
	if simURL == "" {
		return errors.New("simulate needs the local stack's platform simulator: start make run without FIRSTPROMOTER_API_URL and AGENTREF_API_URL")
	}
	get, err := opts.localSettings(t.local)
	if err != nil {
		return err
	}
	sqsClient, queueURL, dlqURL := t.sqs, t.queueURL, t.dlqURL
	remote := &simulator.Remote{URL: simURL}
	rng := rand.New(rand.NewPCG(s.seed, 0x5eed))
	start := time.Now()
	sc := newScenario(rng, start.UnixMilli(), s.commissions, s.lost, scenarioSecrets{
		firstPromoter: firstSecret(get("FIRSTPROMOTER_WEBHOOK_SECRETS")),
		agentRef:      firstSecret(get("AGENTREF_WEBHOOK_SECRETS")),
	}, start)
	sends := sc.sends(rng, s.copies)
	fmt.Fprintf(out, "simulate: seed %d, %d commissions (%d FirstPromoter, %d AgentRef), %d with every webhook lost, %d deliveries of %d webhooks, %.0f%% platform faults\n",
		s.seed, s.commissions, len(sc.fp), len(sc.conversions), sc.lost, len(sends), len(sc.webhooks), 100*s.faults)

	if err := remote.PutCommissions(ctx, sc.fpStart); err != nil {
		return err
	}
	if err := remote.PutConversions(ctx, sc.conversions); err != nil {
		return err
	}
	platformBefore, err := remote.Stats(ctx)
	if err != nil {
		return err
	}
	// The local stack's own counts: what settled and, for --load, its
	// DynamoDB requests and batches.
	localBefore, err := localstack.FetchStats(ctx, apiURL)
	if err != nil {
		return fmt.Errorf("the local stack's counts: %w", err)
	}
	deadBefore, err := dlqDepth(ctx, sqsClient, dlqURL)
	if err != nil {
		return err
	}
	if err := remote.SetFaultRate(ctx, s.faults); err != nil {
		return err
	}
	defer remote.SetFaultRate(context.WithoutCancel(ctx), 0)

	sent := s.send(ctx, apiURL, remote, sends)
	for _, r := range sent.refused {
		fmt.Fprintln(out, "refused:", r)
	}
	probe := &stackProbe{sqs: sqsClient, queueURL: queueURL, dlqURL: dlqURL, apiURL: apiURL, before: localBefore, deadBefore: deadBefore}
	if err := s.drain(ctx, probe, sent.queued); err != nil {
		return err
	}
	drained := time.Since(start)
	platformAfter, err := remote.Stats(ctx)
	if err != nil {
		return err
	}
	localAfter, localErr := localstack.FetchStats(ctx, apiURL)
	var beforeReconcile []simulator.FPCommission
	if s.load {
		// What the processor acknowledged, before the reconciler helps.
		if beforeReconcile, err = remote.Commissions(ctx, sc.fpFrom, sc.fpTo); err != nil {
			return err
		}
	}

	if err := remote.SetFaultRate(ctx, 0); err != nil {
		return err
	}
	if err := s.reconcile(ctx, opts, out); err != nil {
		return err
	}

	l, err := t.store().Ledger(ctx)
	if err != nil {
		return err
	}
	platform, err := remote.Commissions(ctx, sc.fpFrom, sc.fpTo)
	if err != nil {
		return err
	}
	rows, diffs := sc.check(l, platform)
	diffs = append(diffs, sent.refused...)
	dead, err := dlqDepth(ctx, sqsClient, dlqURL)
	if err != nil {
		return err
	}
	if dead > deadBefore {
		diffs = append(diffs, fmt.Sprintf("%d messages were dead-lettered during the run (rewardctl dlq shows why)", dead-deadBefore))
	}
	printChecks(out, sc, rows, platform, dead)
	var events eventsCheck
	if path := t.local.EventsFile; path != "" {
		if events, err = checkEvents(ctx, path, l, start, s.drainTimeout); err != nil {
			return err
		}
		diffs = append(diffs, events.diffs...)
		fmt.Fprintf(out, "reward events: %d differences (%d posted rewards, each one distinct Reward Posted id; %d reversals, each one Reward Reversed)\n", len(events.diffs), events.posted, events.reversed)
	} else {
		fmt.Fprintln(out, "reward events: this stack publishes none (start it again with make run)")
	}

	if s.load {
		fig := loadFigures{sent: sent, deliveries: len(sends), drained: drained, platform: platformAfter.Calls - platformBefore.Calls,
			rateLimited: platformAfter.RateLimited - platformBefore.RateLimited}
		fig.ackLatencies, fig.fulfilled = ackLatencies(sent.sent, beforeReconcile)
		if localErr == nil {
			fig.dynamodb = localAfter.DynamoDBRequests - localBefore.DynamoDBRequests
			fig.dynamodbByOp = map[string]int64{}
			for op, n := range localAfter.DynamoDBByOperation {
				if d := n - localBefore.DynamoDBByOperation[op]; d > 0 {
					fig.dynamodbByOp[op] = d
				}
			}
			fig.batches = localAfter.ProcessorBatches - localBefore.ProcessorBatches
			fig.messages = localAfter.ProcessorMessages - localBefore.ProcessorMessages
		} else {
			fig.dynamodb = -1
		}
		fig.print(out)
		if after, err := localstack.FetchStats(ctx, apiURL); err == nil && t.local.EventsFile != "" {
			eventFigures{
				published: after.EventsPublished - localBefore.EventsPublished, invocations: after.EventsInvocations - localBefore.EventsInvocations,
				busy:        after.EventsBusySeconds - localBefore.EventsBusySeconds,
				putRequests: after.PutEventsRequests - localBefore.PutEventsRequests, putEntries: after.PutEventsEntries - localBefore.PutEventsEntries,
				lags: events.lags,
			}.print(out)
		}
	}
	if len(diffs) > 0 {
		for _, d := range diffs {
			fmt.Fprintln(out, "DIFFERENCE", d)
		}
		return fmt.Errorf("%d differences between the ground truth and the ledger or the platform (seed %d)", len(diffs), s.seed)
	}
	fmt.Fprintln(out, "no differences: the ledger equals the ground truth, every approved FirstPromoter commission is acknowledged and no denied one")
	return nil
}

// send posts the deliveries with s.concurrency senders; a webhook refused
// with a retryable status is sent again, as the platforms do. Before a
// FirstPromoter event goes out the platform's commission takes its status.
func (s simulation) send(ctx context.Context, apiURL string, remote *simulator.Remote, sends []plannedWebhook) sendResult {
	res := sendResult{sent: map[int64]time.Time{}}
	bar := s.bar(len(sends), "sending webhooks")
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: s.concurrency}}
	platform := &lifecycles{remote: remote}
	var mu sync.Mutex
	work := make(chan plannedWebhook)
	var wg sync.WaitGroup
	begin := time.Now()
	for range max(1, s.concurrency) {
		wg.Go(func() {
			for w := range work {
				err := platform.advance(ctx, w)
				sentAt := time.Now()
				var lat time.Duration
				queued := false
				if err == nil {
					lat, queued, err = deliver(ctx, client, apiURL, w)
				}
				mu.Lock()
				if err != nil {
					res.refused = append(res.refused, err.Error())
				} else {
					res.latencies = append(res.latencies, lat)
					if queued {
						res.queued++
					}
					if _, seen := res.sent[w.commission]; w.approves && !seen {
						res.sent[w.commission] = sentAt
					}
				}
				mu.Unlock()
				_ = bar.Add(1)
			}
		})
	}
	var pace <-chan time.Time
	if s.rate > 0 {
		tick := time.NewTicker(time.Second / time.Duration(s.rate))
		defer tick.Stop()
		pace = tick.C
	}
	for _, w := range sends {
		if pace != nil {
			<-pace
		}
		select {
		case work <- w:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	res.elapsed = time.Since(begin)
	_ = bar.Finish()
	return res
}

// lifecycles moves the platform's commissions forward as their events are
// sent: a later stage sent first wins, an earlier one sent after changes
// nothing.
type lifecycles struct {
	remote  *simulator.Remote
	stripes [64]struct {
		sync.Mutex
		stage map[int64]int
	}
}

func (l *lifecycles) advance(ctx context.Context, w plannedWebhook) error {
	if w.commission == 0 {
		return nil
	}
	st := &l.stripes[w.commission%int64(len(l.stripes))]
	st.Lock()
	defer st.Unlock()
	if w.stage <= st.stage[w.commission] {
		return nil
	}
	if err := l.remote.SetStatus(ctx, w.commission, w.status); err != nil {
		return err
	}
	if st.stage == nil {
		st.stage = map[int64]int{}
	}
	st.stage[w.commission] = w.stage
	return nil
}

// deliver posts one webhook, retrying 5xx and 429 a few times; it returns
// the latency of the accepted attempt and whether the stack queued it.
func deliver(ctx context.Context, client *http.Client, apiURL string, w plannedWebhook) (time.Duration, bool, error) {
	var last string
	for attempt := range 5 {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 200 * time.Millisecond)
		}
		d, err := w.build(time.Now())
		if err != nil {
			return 0, false, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, apiURL+"/webhooks/"+string(d.Provider), bytes.NewReader(d.Body))
		if err != nil {
			return 0, false, err
		}
		for k, v := range d.Header {
			req.Header.Set(k, v)
		}
		began := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			last = err.Error()
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		lat := time.Since(began)
		switch {
		case resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusOK:
			return lat, resp.StatusCode == http.StatusAccepted, nil
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
			last = resp.Status
		default:
			return 0, false, fmt.Errorf("%s webhook %s answered %s", d.Provider, d.EventID, resp.Status)
		}
	}
	return 0, false, fmt.Errorf("webhook not accepted after 5 attempts: %s", last)
}

// queueProbe tells how far the stack has come with the run's deliveries.
type queueProbe interface {
	// settled counts the deliveries the stack is done with since the run
	// began: applied (or found to change nothing) or dead-lettered. It
	// only grows: a delivery retried, or queued again to wait for its
	// platform, is not done with.
	settled(ctx context.Context) (int, error)
	// pending counts the messages on the event queue: waiting, in flight
	// and delayed.
	pending(ctx context.Context) (visible, inFlight, delayed int, err error)
}

// drain waits until the event queue is empty and nothing is in flight,
// showing the deliveries settled so far out of total.
func (s simulation) drain(ctx context.Context, probe queueProbe, total int) error {
	bar := s.bar(total, "processing")
	deadline := time.Now().Add(s.drainTimeout)
	// The processor counts a batch once its deletions are answered: an
	// empty queue may come a moment before the count.
	emptyLooks := 0
	for {
		visible, inFlight, delayed, err := probe.pending(ctx)
		if err != nil {
			return fmt.Errorf("event queue: %w", err)
		}
		done, err := probe.settled(ctx)
		if err != nil {
			return err
		}
		done = min(done, total)
		_ = bar.Set(done)
		if s.onProcessed != nil {
			s.onProcessed(done, total)
		}
		if visible == 0 && inFlight == 0 && delayed == 0 {
			if emptyLooks++; done >= total || emptyLooks > 4 {
				_ = bar.Finish()
				return nil
			}
		} else {
			emptyLooks = 0
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the event queue did not drain within %s: %d waiting, %d in flight, %d delayed (a failed batch reappears after the queue's visibility timeout)", s.drainTimeout, visible, inFlight, delayed)
		}
		every := s.pollEvery
		if every == 0 {
			every = 250 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}

// stackProbe is the local stack's queueProbe: the processor's settled
// messages (GET /_local/stats) and the dead-letter queue's growth.
type stackProbe struct {
	sqs              *sqs.Client
	queueURL, dlqURL string
	apiURL           string
	before           localstack.Snapshot
	deadBefore       int
}

func (p *stackProbe) settled(ctx context.Context) (int, error) {
	st, err := localstack.FetchStats(ctx, p.apiURL)
	if err != nil {
		return 0, fmt.Errorf("the local stack's counts: %w", err)
	}
	dead, err := dlqDepth(ctx, p.sqs, p.dlqURL)
	if err != nil {
		return 0, err
	}
	return int(st.ProcessorSettled-p.before.ProcessorSettled) + max(0, dead-p.deadBefore), nil
}

func (p *stackProbe) pending(ctx context.Context) (visible, inFlight, delayed int, err error) {
	out, err := p.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(p.queueURL), AttributeNames: []types.QueueAttributeName{
		types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		types.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
	if err != nil {
		return 0, 0, 0, err
	}
	visible, _ = strconv.Atoi(out.Attributes["ApproximateNumberOfMessages"])
	inFlight, _ = strconv.Atoi(out.Attributes["ApproximateNumberOfMessagesNotVisible"])
	// Deliveries that wait for a platform are queued again with a delay.
	delayed, _ = strconv.Atoi(out.Attributes["ApproximateNumberOfMessagesDelayed"])
	return visible, inFlight, delayed, nil
}

// reconcile runs the reconciler until a run has nothing left to repair.
func (s simulation) reconcile(ctx context.Context, opts *options, out io.Writer) error {
	rc, err := buildReconciler(ctx, opts)
	if err != nil {
		return err
	}
	for i := 1; i <= 5; i++ {
		run := rc.Run(ctx)
		c := run.Counts
		fmt.Fprintf(out, "reconcile run %d: listed %d, applied %d, acknowledged %d, drift %d, errors %d\n", i, c[relay.CountListed], c[relay.CountApplied], c[relay.CountAcknowledged], len(run.Drift), len(run.Errors))
		for _, e := range run.Errors {
			fmt.Fprintln(out, "  error:", e)
		}
		if len(run.Errors) == 0 && c[relay.CountApplied] == 0 && c[relay.CountAcknowledged] == 0 && c[relay.CountAckPending] == 0 {
			return nil
		}
	}
	return nil
}

func (s simulation) bar(total int, what string) *progressbar.ProgressBar {
	if s.progress == nil {
		return progressbar.NewOptions(total, progressbar.OptionSetVisibility(false))
	}
	return progressbar.NewOptions(total, progressbar.OptionSetWriter(s.progress), progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(), progressbar.OptionSetWidth(30), progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(s.progress) }))
}

func dlqDepth(ctx context.Context, client *sqs.Client, dlqURL string) (int, error) {
	out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(dlqURL), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages}})
	if err != nil {
		return 0, fmt.Errorf("dead-letter queue: %w", err)
	}
	n, _ := strconv.Atoi(out.Attributes["ApproximateNumberOfMessages"])
	return n, nil
}

// printChecks prints the ground truth next to the ledger and the platform.
func printChecks(w io.Writer, sc *scenario, rows []accountCheck, platform []simulator.FPCommission, dead int) {
	fmt.Fprintln(w)
	var show []accountCheck
	for _, r := range rows {
		// Many accounts: only the different ones.
		if !r.ok() || len(rows) <= 40 {
			show = append(show, r)
		}
	}
	if len(show) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "PROVIDER\tRECIPIENT\tUNIT\tWANT PENDING\tLEDGER\tWANT AVAILABLE\tLEDGER\tREVERSED (<= WANT)\t\t")
		for _, r := range show {
			mark := "ok"
			if !r.ok() {
				mark = "DIFFERENT"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d (%d)\t%s\t\n", r.account.Provider, r.account.Recipient, unitLabel(r.account),
				r.want.pending, r.got.Pending, r.want.available, r.got.Available, r.got.Reversed, r.want.maxReversed, mark)
		}
		tw.Flush()
	}
	if len(show) < len(rows) {
		fmt.Fprintf(w, "%d accounts checked, %d matching not shown\n", len(rows), len(rows)-len(show))
	}
	fulfilled := map[int64]bool{}
	for _, c := range platform {
		fulfilled[c.ID] = c.Fulfilled
	}
	count := func(ids []int64) int {
		n := 0
		for _, id := range ids {
			if fulfilled[id] {
				n++
			}
		}
		return n
	}
	fmt.Fprintf(w, "\nFirstPromoter acknowledgements: %d of %d approved commissions, %d of %d denied ones (want all and none)\n",
		count(sc.approved), len(sc.approved), count(sc.denied), len(sc.denied))
	fmt.Fprintf(w, "dead-letter queue: %d messages (rewardctl dlq lists them)\n", dead)
}

// loadFigures are what --load reports.
type loadFigures struct {
	sent                  sendResult
	deliveries            int
	drained               time.Duration
	ackLatencies          []time.Duration
	fulfilled             int
	platform, rateLimited int
	dynamodb              int64
	dynamodbByOp          map[string]int64
	batches, messages     int64
}

// ackLatencies is, for each approval acknowledged before the reconciler
// ran, the time from its webhook's sending to the platform's record.
func ackLatencies(sent map[int64]time.Time, platform []simulator.FPCommission) ([]time.Duration, int) {
	var out []time.Duration
	fulfilled := 0
	for _, c := range platform {
		if !c.Fulfilled {
			continue
		}
		fulfilled++
		if at, ok := sent[c.ID]; ok && !c.FulfilledAt.IsZero() {
			out = append(out, c.FulfilledAt.Sub(at))
		}
	}
	return out, fulfilled
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(ds))
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func (f loadFigures) print(w io.Writer) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
	fmt.Fprintln(w, "\nload figures")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  webhooks accepted\t%d in %.1f s: %.0f per second\n", len(f.sent.latencies), f.sent.elapsed.Seconds(), float64(len(f.sent.latencies))/f.sent.elapsed.Seconds())
	fmt.Fprintf(tw, "  webhook latency\tp50 %s, p99 %s\n", ms(percentile(f.sent.latencies, 0.5)), ms(percentile(f.sent.latencies, 0.99)))
	fmt.Fprintf(tw, "  all deliveries processed\tin %.1f s: %.0f per second\n", f.drained.Seconds(), float64(f.deliveries)/f.drained.Seconds())
	fmt.Fprintf(tw, "  delivery to acknowledgement\tp50 %s, p99 %s (%d approvals)\n", ms(percentile(f.ackLatencies, 0.5)), ms(percentile(f.ackLatencies, 0.99)), len(f.ackLatencies))
	perReward := "n/a"
	if f.fulfilled > 0 {
		perReward = fmt.Sprintf("%.3f", float64(f.platform)/float64(f.fulfilled))
	}
	fmt.Fprintf(tw, "  platform requests per fulfilled reward\t%s (%d requests, %d rewards acknowledged; %d answered 429)\n", perReward, f.platform, f.fulfilled, f.rateLimited)
	if f.dynamodb >= 0 && f.deliveries > 0 {
		var ops []string
		for _, op := range slices.Sorted(maps.Keys(f.dynamodbByOp)) {
			ops = append(ops, fmt.Sprintf("%s %d", op, f.dynamodbByOp[op]))
		}
		fmt.Fprintf(tw, "  DynamoDB requests per event\t%.2f (%d requests for %d deliveries: %s)\n", float64(f.dynamodb)/float64(f.deliveries), f.dynamodb, f.deliveries, strings.Join(ops, ", "))
		if f.batches > 0 {
			fmt.Fprintf(tw, "  processor batches\t%d, %.1f messages each\n", f.batches, float64(f.messages)/float64(f.batches))
		}
	} else {
		fmt.Fprintf(tw, "  DynamoDB requests per event\tunavailable (the stack serves no /_local/stats)\n")
	}
	tw.Flush()
}

// firstSecret is the first of a comma-separated secrets setting: the one a
// platform signs with.
func firstSecret(csv string) string {
	for _, s := range webhookhandler.List(csv) {
		return s
	}
	return ""
}
