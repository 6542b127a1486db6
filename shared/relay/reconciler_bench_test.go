package relay

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/simulator"
)

// BenchmarkReconcile10000 seeds 10,000 approved, unfulfilled commissions
// whose webhooks were all lost, and reconciles them: one run delivers them
// and acknowledges them in batches of 100, the next polls the batches.
// Platform requests are compared with the floor: ceil(N/100) list pages
// plus ceil(N/100) acknowledgements.
func BenchmarkReconcile10000(b *testing.B) {
	const n = 10000
	for b.Loop() {
		b.StopTimer()
		h := newHarness(b)
		h.p.Log = discard()
		for id := int64(1); id <= n; id++ {
			h.sim.PutCommission(simulator.FPCommission{ID: id, Status: "approved", Unit: "points", Amount: 10, PromoterID: 1 + id%500, RewardID: 3, CreatedAt: t0.Add(time.Duration(id) * time.Second)})
		}
		rc := h.reconciler(b)
		dropPlatform(rc, reward.AgentRef)
		rc.OutboxLimit = n
		fpRec(rc).Lookback = 0
		b.StartTimer()
		start := time.Now()
		run := rc.Run(b.Context())
		elapsed := time.Since(start)
		b.StopTimer()
		if !run.Complete || run.Counts[CountDelivered] != n {
			b.Fatalf("run: complete %v, %+v, errors %v", run.Complete, run.Counts, run.Errors)
		}
		firstRun := len(h.sim.Calls())
		rc.Run(b.Context())
		polls := 0
		for _, c := range h.sim.Calls()[firstRun:] {
			if strings.Contains(c.Path, "/batch_processes/") {
				polls++
			}
		}
		if c, _ := h.sim.Commission(n); !c.Fulfilled {
			b.Fatal("not acknowledged on the platform")
		}
		floor := 2 * math.Ceil(n/100.0)
		b.ReportMetric(float64(firstRun), "platform-req")
		b.ReportMetric(float64(firstRun)/floor, "x-floor")
		b.ReportMetric(float64(polls), "batch-polls-next-run")
		b.ReportMetric(float64(n)/elapsed.Seconds(), "commissions/s")
		b.ReportMetric(float64(h.db.requests.Load())/n, "ddb-req/commission")
		b.StartTimer()
	}
}
