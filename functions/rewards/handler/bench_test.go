package handler

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/rewardrelay/rewardrelay/shared/awstest"
	"github.com/rewardrelay/rewardrelay/shared/dynamo"
	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/rewardsapi"
)

// countingDB counts DynamoDB requests; latency is added to each (a stand-in
// for the network to DynamoDB in AWS).
type countingDB struct {
	dynamo.API
	latency  time.Duration
	requests atomic.Int64
}

func (c *countingDB) wait() { c.requests.Add(1); time.Sleep(c.latency) }

func (c *countingDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.wait()
	return c.API.TransactWriteItems(ctx, in, o...)
}
func (c *countingDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.wait()
	return c.API.GetItem(ctx, in, o...)
}
func (c *countingDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.wait()
	return c.API.PutItem(ctx, in, o...)
}
func (c *countingDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.wait()
	return c.API.UpdateItem(ctx, in, o...)
}
func (c *countingDB) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.wait()
	return c.API.Query(ctx, in, o...)
}
func (c *countingDB) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.wait()
	return c.API.BatchGetItem(ctx, in, o...)
}

// BenchmarkRedeem sends redemptions through the handler against DynamoDB
// Local, 8 at once, against one balance and against 64, on loopback and
// with 10 ms added to each DynamoDB request, then replays each (the same
// key and body), and reports DynamoDB requests per redemption and per
// replay, the handler's p50 and p99 and redemptions per second.
func BenchmarkRedeem(b *testing.B) {
	for _, latency := range []time.Duration{0, 10 * time.Millisecond} {
		for _, balances := range []int{1, 64} {
			b.Run(fmt.Sprintf("latency=%s/balances=%d", latency, balances), func(b *testing.B) { benchmarkRedeem(b, latency, balances) })
		}
	}
}

func benchmarkRedeem(b *testing.B, latency time.Duration, balances int) {
	const perRound, concurrency = 64, 8
	client, table := awstest.Table(b)
	db := &countingDB{API: client}
	store := &dynamo.Store{Client: db, Table: table}
	for i := range balances {
		acct := reward.Account{Provider: reward.FirstPromoter, Recipient: reward.Promoter(fmt.Sprint(i)), Unit: reward.Points}
		c, err := reward.Plan(nil, reward.Intent{Provider: reward.FirstPromoter, CommissionID: fmt.Sprint(i), Target: reward.TargetApproved, Account: acct, Amount: reward.MaxAmount, At: start})
		if err != nil {
			b.Fatal(err)
		}
		if err := store.Apply(b.Context(), reward.EventRecord{}, c); err != nil {
			b.Fatal(err)
		}
	}
	db.latency = latency
	h := Handler{API: rewardsapi.API{Store: store, Now: time.Now}, Log: slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil)), Now: time.Now, DefaultActor: "bench"}
	request := func(n int) events.APIGatewayV2HTTPRequest {
		return events.APIGatewayV2HTTPRequest{
			RouteKey: rewardsapi.RouteRedemptions, PathParameters: map[string]string{"recipient": fmt.Sprintf("promoter:%d", n%balances)},
			Headers: map[string]string{"idempotency-key": fmt.Sprint("k", n)}, Body: `{"provider":"firstpromoter","unit":"points","amount":1}`,
		}
	}
	// run sends requests first..first+perRound-1, concurrency at once, and
	// returns each one's latency.
	run := func(first int, status int) []time.Duration {
		took := make([]time.Duration, perRound)
		var wg sync.WaitGroup
		next := atomic.Int64{}
		for range concurrency {
			wg.Go(func() {
				for i := int(next.Add(1)) - 1; i < perRound; i = int(next.Add(1)) - 1 {
					t := time.Now()
					resp, err := h.Handle(b.Context(), request(first+i))
					took[i] = time.Since(t)
					if err != nil || resp.StatusCode != status {
						b.Errorf("redemption %d: %d %s, want %d", first+i, resp.StatusCode, resp.Body, status)
					}
				}
			})
		}
		wg.Wait()
		return took
	}
	var all []time.Duration
	var redeemed, redeemReq, replayReq int64
	var elapsed time.Duration
	first := 0
	for b.Loop() {
		req := db.requests.Load()
		t := time.Now()
		all = append(all, run(first, 201)...)
		elapsed += time.Since(t)
		redeemReq += db.requests.Load() - req
		req = db.requests.Load()
		b.StopTimer()
		run(first, 201) // the replays
		b.StartTimer()
		replayReq += db.requests.Load() - req
		redeemed += perRound
		first += perRound
	}
	slices.Sort(all)
	b.ReportMetric(float64(redeemReq)/float64(redeemed), "ddb-req/redemption")
	b.ReportMetric(float64(replayReq)/float64(redeemed), "ddb-req/replay")
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(redeemed)/elapsed.Seconds(), "redemptions/s")
}
