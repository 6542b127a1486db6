package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/rewardrelay/rewardrelay/shared/awstest"
	"github.com/rewardrelay/rewardrelay/shared/dynamo"
	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/simulator"
	"github.com/rewardrelay/rewardrelay/shared/stack"
	"github.com/rewardrelay/rewardrelay/shared/telemetry"
)

// expect is the ground truth of one account.
type expect struct{ pending, available, maxReversed int64 }

// TestEndToEnd runs the whole local stack in process: webhooks through the
// local API Gateway into the SQS emulator, the processor fed by the poller,
// DynamoDB Local, the platform simulator with 20% faults, a processor crash
// mid-batch, 10% of commissions whose webhooks are lost, each other webhook
// delivered 1-3 times in random order; then reconciler runs. The ledger must
// equal the ground truth, every approved FirstPromoter commission be
// acknowledged and no denied one, the audit clean and the DLQ empty.
func TestEndToEnd(t *testing.T) {
	awstest.Require(t, awstest.SQSEndpoint)
	awstest.Require(t, awstest.DynamoDBEndpoint)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	var rngMu sync.Mutex
	chance := func(p float64) bool { rngMu.Lock(); defer rngMu.Unlock(); return rng.Float64() < p }

	tpl, err := stack.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	settings, err := loadLocalDefaults("../../events/env.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg := awstest.Config(t)
	s := &localStack{tpl: tpl, sqs: sqs.NewFromConfig(cfg), db: localDynamoDB(cfg), settings: settings,
		log: telemetry.NewLogger(io.Discard, "ERROR"), prefix: awstest.Name(t, "e2e")}
	sim := simulator.New()
	srv := sim.Start()
	defer srv.Close()
	s.fpURL, s.fpKey, s.fpAccount = simulator.FirstPromoterURL(srv.URL), sim.APIKey, sim.AccountID
	s.arURL, s.arKey = simulator.AgentRefURL(srv.URL), sim.AgentKey
	if err := s.createQueues(ctx); err != nil {
		t.Fatal(err)
	}
	// Redeliveries after a crash in seconds rather than the deployed 3 minutes.
	if _, err := s.sqs.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(s.queueURL), Attributes: map[string]string{"VisibilityTimeout": "2"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.createTable(ctx); err != nil {
		t.Fatal(err)
	}
	wh, err := s.webhookHandler()
	if err != nil {
		t.Fatal(err)
	}
	api := &http.Server{Handler: &apiGateway{now: time.Now, routes: []route{newRoute("POST /webhooks/{provider}", wh.Handle)}}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go api.Serve(ln)
	defer api.Close()
	base := "http://" + ln.Addr().String()

	pl, err := s.poller()
	if err != nil {
		t.Fatal(err)
	}
	inner := pl.handler
	var batches atomic.Int64
	pl.handler = func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		if batches.Add(1) == 3 && len(ev.Records) > 1 {
			// A crash mid-batch: half applied, then the invocation dies.
			_, _ = inner(ctx, events.SQSEvent{Records: ev.Records[:len(ev.Records)/2]})
			return events.SQSEventResponse{}, errors.New("runtime exited mid-batch")
		}
		return inner(ctx, ev)
	}
	polling := make(chan struct{})
	go func() { defer close(polling); pl.run(ctx) }()
	defer func() { cancel(); <-polling }()
	sim.Flaky = func() bool { return chance(0.2) }

	// Ground truth and deliveries.
	want := map[reward.Account]*expect{}
	at := func(a reward.Account) *expect {
		if want[a] == nil {
			want[a] = &expect{}
		}
		return want[a]
	}
	fpSecret := webhookSecret(settings, "FIRSTPROMOTER_WEBHOOK_SECRETS")
	arSecret := webhookSecret(settings, "AGENTREF_WEBHOOK_SECRETS")
	var deliveries []simulator.Delivery
	now := time.Now()
	var approved, denied []int64
	for id := int64(1); id <= 200; id++ {
		promoter := 1 + id%7
		acct := reward.Account{Provider: reward.FirstPromoter, Recipient: reward.Promoter(strconv.FormatInt(promoter, 10)), Unit: reward.Points}
		c := simulator.FPCommission{ID: id, Status: "pending", Unit: "points", Amount: 10 * (1 + id%9), PromoterID: promoter, RewardID: 1, CreatedAt: now}
		lost := chance(0.1)
		var ds []simulator.Delivery
		ds = append(ds, simulator.FirstPromoterEvent(fpSecret, fmt.Sprintf("fp-%d-c", id), "commission.created", c, "", now))
		switch id % 4 {
		case 0:
			at(acct).pending += c.Amount
		case 1:
			c.Status = "approved"
			ds = append(ds, simulator.FirstPromoterEvent(fpSecret, fmt.Sprintf("fp-%d-a", id), "commission.updated", c, "pending", now))
			at(acct).available += c.Amount
			approved = append(approved, id)
		case 2:
			c.Status = "denied"
			ds = append(ds, simulator.FirstPromoterEvent(fpSecret, fmt.Sprintf("fp-%d-d", id), "commission.updated", c, "pending", now))
			denied = append(denied, id)
		case 3:
			c.Status = "approved"
			ds = append(ds, simulator.FirstPromoterEvent(fpSecret, fmt.Sprintf("fp-%d-a", id), "commission.updated", c, "pending", now))
			c.Status = "denied"
			ds = append(ds, simulator.FirstPromoterEvent(fpSecret, fmt.Sprintf("fp-%d-d", id), "commission.updated", c, "approved", now))
			at(acct).maxReversed += c.Amount
		}
		sim.PutCommission(c)
		if !lost {
			deliveries = append(deliveries, ds...)
		}
	}
	for i := 1; i <= 100; i++ {
		id := fmt.Sprintf("conv_%d", i)
		aff := fmt.Sprintf("aff_%d", 1+i%4)
		acct := reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate(aff), Unit: reward.Cash, Currency: "usd"}
		amount := int64(100 * (1 + i%5))
		lost := chance(0.1)
		conv := simulator.Conversion{ID: id, AffiliateID: aff, Currency: "usd", CommissionAmount: amount, Status: "pending"}
		if i%2 == 0 {
			conv.Status = "approved"
			at(acct).available += amount
		} else if !lost {
			// A lost pending conversion has no webhook and no approval yet:
			// nothing can know of it.
			at(acct).pending += amount
		}
		sim.PutConversion(conv)
		d, err := simulator.AgentRefEvent(arSecret, "msg_"+id, "conversion.created", conv, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if !lost {
			deliveries = append(deliveries, d)
		}
	}
	var sends []simulator.Delivery
	for _, d := range deliveries {
		for range 1 + rng.IntN(3) {
			sends = append(sends, d)
		}
	}
	rng.Shuffle(len(sends), func(i, j int) { sends[i], sends[j] = sends[j], sends[i] })
	for _, d := range sends {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/webhooks/"+string(d.Provider), bytes.NewReader(d.Body))
		for k, v := range d.Header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("webhook answered %d", resp.StatusCode)
		}
	}
	t.Logf("%d webhook deliveries of %d events", len(sends), len(deliveries))

	// Wait for the queue to drain.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		out, err := s.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(s.queueURL), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
		if err != nil {
			t.Fatal(err)
		}
		if out.Attributes["ApproximateNumberOfMessages"] == "0" && out.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the queue did not drain: %v", out.Attributes)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The safety net, with the platform healthy again.
	sim.Flaky = nil
	rc, err := s.reconciler()
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		run := rc.Run(ctx)
		if len(run.Errors) > 0 {
			t.Errorf("reconcile: %v", run.Errors)
		}
	}

	store := &dynamo.Store{Client: s.db, Table: s.table}
	l, err := store.Ledger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v := l.Audit(); len(v) > 0 {
		t.Errorf("audit: %v", v)
	}
	got := map[reward.Account]reward.Deltas{}
	for _, b := range l.Balances {
		got[b.Account] = b.Deltas
	}
	for a, w := range want {
		g := got[a]
		if g.Pending != w.pending || g.Available != w.available || g.Reversed > w.maxReversed {
			t.Errorf("%s: pending %d available %d reversed %d; want %d, %d, reversed <= %d", a, g.Pending, g.Available, g.Reversed, w.pending, w.available, w.maxReversed)
		}
	}
	for _, id := range approved {
		if c, _ := sim.Commission(id); !c.Fulfilled {
			t.Errorf("approved commission %d not acknowledged on the platform", id)
		}
	}
	for _, id := range denied {
		if c, _ := sim.Commission(id); c.Fulfilled {
			t.Errorf("denied commission %d acknowledged", id)
		}
	}
	out, err := s.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(s.dlqURL), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages}})
	if err != nil {
		t.Fatal(err)
	}
	if n := out.Attributes["ApproximateNumberOfMessages"]; n != "0" {
		t.Errorf("%s messages in the dead-letter queue", n)
	}
	t.Logf("batches %d, platform calls %d", batches.Load(), len(sim.Calls()))
}

func webhookSecret(d localDefaults, key string) string {
	for _, s := range splitList(d.get(key)) {
		return s
	}
	return ""
}
