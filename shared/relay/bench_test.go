package relay

import (
	"fmt"
	"testing"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/simulator"
)

// benchBatch is the template's default batch size.
const benchBatch = 100

// BenchmarkProcessBatch processes batches of 100 FirstPromoter approvals
// of pending commissions (50 promoters) against DynamoDB Local and the
// simulator, then the same batch again (exact duplicates), and reports
// requests and capacity, applying one recipient at a time and 8 at once,
// on loopback and with 10 ms added to each DynamoDB request (about what a
// transaction takes in AWS).
func BenchmarkProcessBatch(b *testing.B) {
	for _, latency := range []time.Duration{0, 10 * time.Millisecond} {
		for _, n := range []int{1, 8} {
			b.Run(fmt.Sprintf("latency=%s/parallelism=%d", latency, n), func(b *testing.B) { benchmarkProcessBatch(b, n, latency) })
		}
	}
}

func benchmarkProcessBatch(b *testing.B, parallelism int, latency time.Duration) {
	h := newHarness(b)
	h.p.Log = discard()
	h.p.Config.Parallelism = parallelism
	h.db.latency = latency
	next := int64(1)
	var events, dupEvents, newReq, dupReq, newWCU, platform int64
	var elapsed time.Duration
	for b.Loop() {
		var created, batch []Message
		for i := range int64(benchBatch) {
			h.sim.PutCommission(simulator.FPCommission{ID: next + i, Status: "pending", Unit: "points", Amount: 100, PromoterID: 1 + (next+i)%50, RewardID: 3, CreatedAt: t0})
			created = append(created, h.fpEvent(fmt.Sprintf("c-%d", next+i), "commission.created", next+i, ""))
		}
		b.StopTimer()
		if res := h.p.Process(b.Context(), created); len(res.Failed) > 0 {
			b.Fatalf("created: %+v", res)
		}
		b.StartTimer()
		for range benchBatch {
			h.sim.SetStatus(next, "approved")
			batch = append(batch, h.fpEvent(fmt.Sprintf("b-%d", next), "commission.updated", next, "pending"))
			next++
		}
		calls := len(h.sim.Calls())
		req, wcu := h.db.requests.Load(), h.db.wcu.Load()
		start := time.Now()
		res := h.p.Process(b.Context(), batch)
		elapsed += time.Since(start)
		if len(res.Failed) > 0 || res.Counts[CountDelivered] != benchBatch {
			b.Fatalf("batch: %+v", res)
		}
		platform += int64(len(h.sim.Calls()) - calls)
		// The acknowledgements are written after mark_fulfilled: count the
		// delivery itself and the acknowledgement separately.
		newReq += h.db.requests.Load() - req
		newWCU += h.db.wcu.Load() - wcu
		events += benchBatch

		req = h.db.requests.Load()
		res = h.p.Process(b.Context(), batch)
		if res.Counts[CountDuplicate] != benchBatch {
			b.Fatalf("replay: %+v", res.Counts)
		}
		dupReq += h.db.requests.Load() - req
		dupEvents += benchBatch
	}
	// Each delivered event costs its transaction plus the acknowledgement's.
	b.ReportMetric(float64(newReq)/float64(events), "ddb-req/delivered-event")
	b.ReportMetric(float64(newWCU)/1000/float64(events), "wcu/delivered-event")
	b.ReportMetric(float64(dupReq)/float64(dupEvents), "ddb-req/duplicate")
	b.ReportMetric(float64(platform)/float64(b.N), "platform-req/batch")
	b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
}

// BenchmarkPendingEvents measures the plain state change: a new pending
// commission (no platform acknowledgement involved).
func BenchmarkPendingEvents(b *testing.B) {
	h := newHarness(b)
	h.p.Log = discard()
	next := int64(1)
	var events, req, wcu int64
	var elapsed time.Duration
	for b.Loop() {
		var batch []Message
		for range benchBatch {
			h.sim.PutCommission(simulator.FPCommission{ID: next, Status: "pending", Unit: "points", Amount: 100, PromoterID: 1 + next%50, RewardID: 3, CreatedAt: t0})
			batch = append(batch, h.fpEvent(fmt.Sprintf("p-%d", next), "commission.created", next, ""))
			next++
		}
		r, w := h.db.requests.Load(), h.db.wcu.Load()
		start := time.Now()
		res := h.p.Process(b.Context(), batch)
		elapsed += time.Since(start)
		if res.Counts[CountApplied] != benchBatch {
			b.Fatalf("batch: %+v", res)
		}
		req += h.db.requests.Load() - r
		wcu += h.db.wcu.Load() - w
		events += benchBatch
	}
	b.ReportMetric(float64(req)/float64(events), "ddb-req/event")
	b.ReportMetric(float64(wcu)/1000/float64(events), "wcu/event")
	b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
}
