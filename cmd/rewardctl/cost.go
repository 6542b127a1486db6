package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rewardrelay/rewardrelay/shared/stack"
)

// costCounts are what one reward (one commission, end to end) costs in
// requests, items, milliseconds and bytes. The defaults are the figures the
// README reports from the load run and the benchmarks.
type costCounts struct {
	// WebhooksPerReward: 4,900 deliveries for 3,000 commissions.
	WebhooksPerReward float64
	// AcknowledgedShare is the share of rewards acknowledged on the
	// platform (FirstPromoter's: 2,000 of the 3,000).
	AcknowledgedShare float64
	// DeliveryItems is the items of a delivery's TransactWriteItems: the
	// commission (with the event id), entry, balance. An event that
	// changed nothing is kept on its commission, so no state change checks
	// for a record of its own.
	DeliveryItems float64
	// HoldChecksPerReward is the postings that check their recipient's
	// hold in the same transaction (AgentRef's approvals: 450 of the load
	// run's 1,000 conversions for 3,000 commissions), one item each.
	HoldChecksPerReward float64
	// OtherRequestsPerDelivery is the rest of the 1.73 DynamoDB requests per
	// delivery, counted as one-item writes (an event kept on a commission
	// whose delivery is in the outbox index writes the index too: 2 units).
	OtherRequestsPerDelivery float64
	// AckItems is the items of an acknowledgement transaction: commission,
	// entry, balance.
	AckItems float64
	// AckReads is the reads per acknowledged reward when its asynchronous
	// batch is polled.
	AckReads float64
	// OutboxIndexWrites is the outbox index's writes per acknowledged
	// reward: in at delivery, out at acknowledgement.
	OutboxIndexWrites float64
	// RecipientIndexWrites is the recipient index's writes per ledger entry
	// (the Rewards API lists a recipient's entries through it): one small
	// keys-only item. A delivery writes one entry, an acknowledgement one.
	RecipientIndexWrites float64
	// PlatformRequestsPerReward each take one UpdateItem of the budget.
	PlatformRequestsPerReward float64
	// MessagesPerBatch is the processor's batch (load run: 98).
	MessagesPerBatch float64
	// MessagesPerReceive is what one of the event source mapping's
	// ReceiveMessage and DeleteMessageBatch calls carries (SQS's most: 10).
	MessagesPerReceive float64
	// WebhookMs is one webhook invocation (load run latency p50: 9.2 ms).
	WebhookMs float64
	// ProcessorMsPerDelivery is processor time per delivery (load run:
	// 228 deliveries a second with two invocations at once).
	ProcessorMsPerDelivery float64
	// ReconcilerMsPerReward is reconciler time per reward (benchmark: 214
	// commissions a second).
	ReconcilerMsPerReward float64
	// Log bytes at the template's default LogLevel (INFO): the webhook's
	// line per delivery, the API's access log line, Lambda's START and
	// REPORT lines per invocation, the processor's lines per delivery
	// besides its batch line (its line per applied event is DEBUG) and its
	// batch line.
	WebhookLineBytes, AccessLineBytes, PlatformLinesBytes, EventLineBytes, BatchLineBytes float64
	// Memory sizes in MB, read from the template.
	WebhookMB, ProcessorMB, ReconcilerMB, EventsMB, RewardsMB float64

	// The Rewards API, per request rather than per reward: a redemption
	// is one TransactWriteItems of three items (redemption, entry,
	// balance) and the entry's recipient index write; RedeemMs is the
	// handler's p50 with 10 ms added to each DynamoDB request (the
	// benchmark); RewardsLineBytes its line.
	RedeemItems, RedeemIndexWrites, RedeemMs, RewardsLineBytes float64

	// The events function, from the load run (3,994 events published in
	// 101 invocations, 2.02 s busy in all, for 3,000 commissions): its
	// events (PutEvents entries), invocations and milliseconds per reward.
	EventsPerReward, EventsInvocationsPerReward, EventsMsPerReward float64
	// EventsLookupsPerReward is its FirstPromoter lookups (a promoter's
	// cust_id, a referral's uid), each one UpdateItem of the budget: at
	// most one of each per invocation (TestMerchantUserIDsComeFromThePlatformOncePerBatch),
	// counted at that most (the load run's 44 accounts were known after
	// their first batch).
	EventsLookupsPerReward float64
	// EventsBatchLineBytes is its line per invocation.
	EventsBatchLineBytes float64

	// RewardsPerMonth are the volumes at which the table adds the fixed
	// monthly cost to the variable one.
	RewardsPerMonth []float64
	// ProvisionedUtilization is the share of provisioned write capacity
	// used on average over a month (below autoscaling's target: traffic is
	// not flat), for the comparison with on-demand.
	ProvisionedUtilization float64
	// ProvisionedMinWCU and ProvisionedMinRCU are the least capacity the
	// template's provisioned mode keeps, table and outbox index together.
	ProvisionedMinWCU, ProvisionedMinRCU float64
	// MetricSeries is the custom metrics the functions write (each billed
	// by the month): the processor's and the reconciler's, Webhooks by
	// outcome and RewardsRequests.
	MetricSeries float64
	// AlarmMetrics is the metrics the template's alarms watch, Dashboards
	// its dashboards, Secrets its secrets.
	AlarmMetrics, Dashboards, Secrets float64
	// ReconcileRunsPerMonth follows from the template's interval; an idle
	// run is ReconcilerIdleRunMs, mostly the platforms' round trips.
	ReconcileRunsPerMonth, ReconcilerIdleRunMs float64
}

func defaultCostCounts() costCounts {
	return costCounts{
		WebhooksPerReward:          4900.0 / 3000,
		AcknowledgedShare:          2000.0 / 3000,
		DeliveryItems:              3,
		HoldChecksPerReward:        450.0 / 3000,
		OtherRequestsPerDelivery:   0.73,
		AckItems:                   3,
		AckReads:                   1,
		OutboxIndexWrites:          2,
		RecipientIndexWrites:       1,
		PlatformRequestsPerReward:  0.113,
		MessagesPerBatch:           98,
		MessagesPerReceive:         10,
		WebhookMs:                  9.2,
		ProcessorMsPerDelivery:     1000 / (228.0 / 2),
		ReconcilerMsPerReward:      1000 / 214.0,
		WebhookLineBytes:           510,
		AccessLineBytes:            390,
		PlatformLinesBytes:         500,
		EventLineBytes:             0,
		BatchLineBytes:             980,
		WebhookMB:                  256,
		ProcessorMB:                256,
		ReconcilerMB:               256,
		EventsMB:                   256,
		EventsPerReward:            3994.0 / 3000,
		EventsInvocationsPerReward: 101.0 / 3000,
		EventsMsPerReward:          2020.0 / 3000,
		EventsLookupsPerReward:     2 * 101.0 / 3000,
		RewardsMB:                  256,
		RedeemItems:                3,
		RedeemIndexWrites:          1,
		RedeemMs:                   75,
		RewardsLineBytes:           460,
		EventsBatchLineBytes:       330,
		RewardsPerMonth:            []float64{1e5, 1e6, 1e7},
		ProvisionedUtilization:     0.5,
		ProvisionedMinWCU:          10,
		ProvisionedMinRCU:          2,
		MetricSeries:               25,
		AlarmMetrics:               21,
		Dashboards:                 1,
		Secrets:                    2,
		ReconcileRunsPerMonth:      30 * 24 * 60 / 5,
		ReconcilerIdleRunMs:        2000,
	}
}

// costPrices are AWS's public us-east-1 list prices (arm64 Lambda), free
// tiers left out.
type costPrices struct {
	Date                string
	HTTPAPIPerMillion   float64 // requests, first 300 million a month
	LambdaPerMillion    float64 // requests
	LambdaPerGBSecond   float64 // arm64
	SQSPerMillion       float64 // standard queue requests (64 KB chunks)
	WriteUnitPerMillion float64 // DynamoDB on-demand, standard table class
	ReadUnitPerMillion  float64
	LogsPerGB           float64 // CloudWatch Logs standard ingestion
	MetricPerMonth      float64 // custom metric, first 10,000
	AlarmPerMonth       float64 // standard-resolution alarm metric
	DashboardPerMonth   float64
	SchedulerPerMillion float64 // EventBridge Scheduler invocations
	PutEventsPerMillion float64 // EventBridge custom events (64 KB chunks)
	SecretPerMonth      float64 // Secrets Manager
	WCUPerHour          float64 // DynamoDB provisioned write capacity unit
	RCUPerHour          float64 // DynamoDB provisioned read capacity unit
}

var awsPrices = costPrices{
	Date:                "2026-11-27",
	HTTPAPIPerMillion:   1.00,
	LambdaPerMillion:    0.20,
	LambdaPerGBSecond:   0.0000133334,
	SQSPerMillion:       0.40,
	WriteUnitPerMillion: 0.625,
	ReadUnitPerMillion:  0.125,
	LogsPerGB:           0.50,
	MetricPerMonth:      0.30,
	AlarmPerMonth:       0.10,
	DashboardPerMonth:   3.00,
	SchedulerPerMillion: 1.00,
	PutEventsPerMillion: 1.00,
	SecretPerMonth:      0.40,
	WCUPerHour:          0.00065,
	RCUPerHour:          0.00013,
}

// costTerm is one line of the model: what is used of one priced unit, and
// its dollars.
type costTerm struct {
	Name    string
	Usage   float64
	Unit    string
	Dollars float64
}

func sum(terms []costTerm) (total float64) {
	for _, t := range terms {
		total += t.Dollars
	}
	return total
}

// writeUnits is what a million rewards write to DynamoDB, in write units.
func (c costCounts) writeUnits() float64 {
	const million = 1e6
	webhooks := c.WebhooksPerReward * million
	// A transaction writes 2 units per item under 1 KB, a single write 1.
	return webhooks*(2*c.DeliveryItems+c.OtherRequestsPerDelivery+c.RecipientIndexWrites) +
		million*c.AcknowledgedShare*(2*c.AckItems+c.OutboxIndexWrites+c.RecipientIndexWrites) +
		million*2*c.HoldChecksPerReward +
		million*c.PlatformRequestsPerReward +
		million*c.EventsLookupsPerReward
}

// variable is what a million rewards cost, whatever the month.
func (c costCounts) variable(p costPrices) []costTerm {
	const million = 1e6
	webhooks := c.WebhooksPerReward * million
	batches := webhooks / c.MessagesPerBatch
	streamBatches := million * c.EventsInvocationsPerReward
	gbSeconds := webhooks*c.WebhookMs/1000*c.WebhookMB/1024 +
		webhooks*c.ProcessorMsPerDelivery/1000*c.ProcessorMB/1024 +
		million*c.ReconcilerMsPerReward/1000*c.ReconcilerMB/1024 +
		million*c.EventsMsPerReward/1000*c.EventsMB/1024
	published := million * c.EventsPerReward
	sqs := webhooks * (1 + 2/c.MessagesPerReceive) // send, receive, delete
	writes := c.writeUnits()
	reads := million * c.AcknowledgedShare * c.AckReads
	logBytes := webhooks*(c.WebhookLineBytes+c.AccessLineBytes+c.PlatformLinesBytes+c.EventLineBytes) +
		batches*(c.BatchLineBytes+c.PlatformLinesBytes) +
		streamBatches*(c.EventsBatchLineBytes+c.PlatformLinesBytes)
	gb := logBytes / (1 << 30)
	return []costTerm{
		{"API Gateway HTTP API requests", webhooks, "requests", webhooks / million * p.HTTPAPIPerMillion},
		{"Lambda requests (webhook, processor, events)", webhooks + batches + streamBatches, "requests", (webhooks + batches + streamBatches) / million * p.LambdaPerMillion},
		{"Lambda duration, arm64", gbSeconds, "GB-seconds", gbSeconds * p.LambdaPerGBSecond},
		{"SQS requests (send, receive, delete)", sqs, "requests", sqs / million * p.SQSPerMillion},
		{"DynamoDB writes (transactions at 2 units an item)", writes, "write units", writes / million * p.WriteUnitPerMillion},
		{"DynamoDB reads", reads, "read units", reads / million * p.ReadUnitPerMillion},
		{"EventBridge PutEvents entries", published, "events", published / million * p.PutEventsPerMillion},
		{"CloudWatch Logs ingestion (EMF metrics included)", gb, "GB", gb * p.LogsPerGB},
	}
}

// fixed is what the stack costs each month, whatever the rewards.
func (c costCounts) fixed(p costPrices) []costTerm {
	runs := c.ReconcileRunsPerMonth
	idleGBSeconds := runs * c.ReconcilerIdleRunMs / 1000 * c.ReconcilerMB / 1024
	return []costTerm{
		{"CloudWatch custom metrics", c.MetricSeries, "metrics", c.MetricSeries * p.MetricPerMonth},
		{"CloudWatch alarms and dashboard", c.AlarmMetrics + c.Dashboards, "alarm metrics and dashboards", c.AlarmMetrics*p.AlarmPerMonth + c.Dashboards*p.DashboardPerMonth},
		{"EventBridge Scheduler and idle reconciler runs", runs, "runs", runs/1e6*(p.SchedulerPerMillion+p.LambdaPerMillion) + idleGBSeconds*p.LambdaPerGBSecond},
		{"Secrets Manager", c.Secrets, "secrets", c.Secrets * p.SecretPerMonth},
	}
}

// redemptions is what a million Rewards API redemptions cost: the API's
// own cost, per request, beside the rewards'.
func (c costCounts) redemptions(p costPrices) float64 {
	const million = 1e6
	gbSeconds := million * c.RedeemMs / 1000 * c.RewardsMB / 1024
	writes := million * (2*c.RedeemItems + c.RedeemIndexWrites)
	gb := million * (c.RewardsLineBytes + c.AccessLineBytes + c.PlatformLinesBytes) / (1 << 30)
	return p.HTTPAPIPerMillion + p.LambdaPerMillion + gbSeconds*p.LambdaPerGBSecond +
		writes/million*p.WriteUnitPerMillion + gb*p.LogsPerGB
}

// provisionedWrites is what a million rewards' write units cost on
// provisioned capacity that autoscaling keeps at the given utilization.
func (c costCounts) provisionedWrites(p costPrices, utilization float64) float64 {
	unitsPerWCUMonth := hoursPerMonth * 3600 * utilization
	return c.writeUnits() / unitsPerWCUMonth * p.WCUPerHour * hoursPerMonth
}

// hoursPerMonth is the model's month, as AWS's prices count it.
const hoursPerMonth = 730

// costTable renders the model as the README's Markdown tables: the
// variable cost of a million rewards, the fixed cost of a month, and both
// at each volume.
func costTable(c costCounts, p costPrices) string {
	var b strings.Builder
	variable, fixed := c.variable(p), c.fixed(p)
	perMillion, monthly := sum(variable), sum(fixed)
	fmt.Fprintf(&b, "| a million rewards (prices of %s) | usage | dollars |\n|---|---|---|\n", p.Date)
	largest := variable[0]
	for _, t := range variable {
		fmt.Fprintf(&b, "| %s | %s %s | %.2f |\n", t.Name, humanNumber(t.Usage), t.Unit, t.Dollars)
		if t.Dollars > largest.Dollars {
			largest = t
		}
	}
	fmt.Fprintf(&b, "| **per million rewards** | | **%.2f** |\n\n", perMillion)
	fmt.Fprintf(&b, "| each month, whatever the volume | usage | dollars |\n|---|---|---|\n")
	for _, t := range fixed {
		fmt.Fprintf(&b, "| %s | %s %s | %.2f |\n", t.Name, humanNumber(t.Usage), t.Unit, t.Dollars)
	}
	fmt.Fprintf(&b, "| **a month** | | **%.2f** |\n\n", monthly)
	fmt.Fprintf(&b, "| rewards a month | variable | fixed | total a month | per million rewards |\n|---|---|---|---|---|\n")
	for _, v := range c.RewardsPerMonth {
		varMonth := perMillion * v / 1e6
		fmt.Fprintf(&b, "| %s | %.2f | %.2f | %.2f | %.2f |\n", humanNumber(v), varMonth, monthly, varMonth+monthly, (varMonth+monthly)/(v/1e6))
	}
	fmt.Fprintf(&b, "\nLargest term: %s, %.0f%% of the variable cost.\n", largest.Name, 100*largest.Dollars/perMillion)
	onDemand, provisioned := variable[4].Dollars, c.provisionedWrites(p, c.ProvisionedUtilization)
	floor := (c.ProvisionedMinWCU*p.WCUPerHour + c.ProvisionedMinRCU*p.RCUPerHour) * hoursPerMonth
	fmt.Fprintf(&b, "With `LedgerCapacity=provisioned`, used at %.0f%% on average, the write units cost %.2f per million rewards instead of %.2f, and the least capacity %.2f a month",
		100*c.ProvisionedUtilization, provisioned, onDemand, floor)
	if saved := onDemand - provisioned; saved > 0 {
		fmt.Fprintf(&b, ": it pays from about %s rewards a month.\n", humanNumber(math.Round(floor/saved*10)*1e5))
	} else {
		b.WriteString(": it never pays.\n")
	}
	fmt.Fprintf(&b, "The Rewards API, per request: a million redemptions cost %.2f (HTTP API, Lambda at %.0f ms, %.0f write units each, logs), on top of the rewards.\n",
		c.redemptions(p), c.RedeemMs, 2*c.RedeemItems+c.RedeemIndexWrites)
	return b.String()
}

// humanNumber prints usage with a sensible precision.
func humanNumber(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 2, 64) + " million"
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// templateMemory reads a function's memory size (MB) from the template:
// its own MemorySize, else the Globals'.
func templateMemory(tpl *stack.Template, id string) (float64, error) {
	v, ok := tpl.Resources[id].Properties["MemorySize"]
	if !ok {
		g, _ := tpl.Globals["Function"].(map[string]any)
		v = g["MemorySize"]
	}
	mb, err := strconv.ParseFloat(fmt.Sprint(v), 64)
	if err != nil {
		return 0, fmt.Errorf("memory size of %s: %v is not a number", id, v)
	}
	return mb, nil
}

// fromTemplate takes the memory sizes, the alarms, the reconciler's
// interval and the least provisioned capacity from the template (its
// defaults).
func (c *costCounts) fromTemplate(tpl *stack.Template) error {
	for id, mb := range map[string]*float64{"WebhookFunction": &c.WebhookMB, "ProcessorFunction": &c.ProcessorMB, "ReconcilerFunction": &c.ReconcilerMB, "EventsFunction": &c.EventsMB, "RewardsApiFunction": &c.RewardsMB} {
		v, err := templateMemory(tpl, id)
		if err != nil {
			return err
		}
		*mb = v
	}
	c.AlarmMetrics, c.Dashboards = 0, 0
	for _, r := range tpl.Resources {
		switch r.Type {
		case "AWS::CloudWatch::Alarm":
			metrics, ok := r.Properties["Metrics"].([]any)
			if !ok {
				c.AlarmMetrics++
			}
			for _, m := range metrics {
				if _, stat := m.(map[string]any)["MetricStat"]; stat {
					c.AlarmMetrics++
				}
			}
		case "AWS::CloudWatch::Dashboard":
			c.Dashboards++
		}
	}
	minWCU, err := strconv.ParseFloat(fmt.Sprint(tpl.Parameters["LedgerWriteCapacityMin"].Default), 64)
	if err != nil {
		return fmt.Errorf("template LedgerWriteCapacityMin: %v", tpl.Parameters["LedgerWriteCapacityMin"].Default)
	}
	c.ProvisionedMinWCU = 2 * minWCU // the table and its outbox index
	minutes, err := strconv.ParseFloat(fmt.Sprint(tpl.Parameters["ReconcileIntervalMinutes"].Default), 64)
	if err != nil || minutes <= 0 {
		return fmt.Errorf("template ReconcileIntervalMinutes: %v", tpl.Parameters["ReconcileIntervalMinutes"].Default)
	}
	c.ReconcileRunsPerMonth = 30 * 24 * 60 / minutes
	return nil
}

func costCommand(opts *options) *cobra.Command {
	c := defaultCostCounts()
	cmd := &cobra.Command{
		Use:   "cost",
		Short: "Dollars per million rewards: the load run's counts at AWS's us-east-1 prices",
		Long: `Prints the cost model of the README: what a million rewards use of each
priced unit (HTTP API requests, Lambda requests and GB-seconds at the
template's memory sizes, SQS requests, DynamoDB write and read units,
CloudWatch Logs) and its dollars. The counts default to the README's load
figures; measure your own with simulate --load and pass them as flags.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.checkFlags(); err != nil {
				return err
			}
			path, err := opts.templatePath()
			if err != nil {
				return err
			}
			tpl, err := stack.Load(path)
			if err != nil {
				return err
			}
			if err := c.fromTemplate(tpl); err != nil {
				return err
			}
			return writeCost(cmd.OutOrStdout(), c)
		},
	}
	f := cmd.Flags()
	f.Float64Var(&c.WebhooksPerReward, "webhooks-per-reward", c.WebhooksPerReward, "webhook deliveries per commission")
	f.Float64Var(&c.AcknowledgedShare, "acknowledged-share", c.AcknowledgedShare, "share of rewards acknowledged on the platform")
	f.Float64Var(&c.DeliveryItems, "delivery-items", c.DeliveryItems, "items of a delivery's transaction")
	f.Float64Var(&c.AckItems, "ack-items", c.AckItems, "items of an acknowledgement's transaction")
	f.Float64Var(&c.OtherRequestsPerDelivery, "other-dynamodb-requests", c.OtherRequestsPerDelivery, "DynamoDB requests per delivery besides its transaction")
	f.Float64Var(&c.PlatformRequestsPerReward, "platform-requests-per-reward", c.PlatformRequestsPerReward, "platform requests per fulfilled reward")
	f.Float64Var(&c.MessagesPerBatch, "messages-per-batch", c.MessagesPerBatch, "messages per processor batch")
	f.Float64Var(&c.WebhookMs, "webhook-ms", c.WebhookMs, "milliseconds of one webhook invocation")
	f.Float64Var(&c.ProcessorMsPerDelivery, "processor-ms", c.ProcessorMsPerDelivery, "processor milliseconds per delivery")
	f.Float64SliceVar(&c.RewardsPerMonth, "rewards-per-month", c.RewardsPerMonth, "volumes (rewards a month) at which to add the fixed monthly cost")
	return cmd
}

// checkFlags refuses counts no stack can have: the flags' values.
func (c costCounts) checkFlags() error {
	for _, f := range []struct {
		flag  string
		v     float64
		least float64
		// above: the value must be greater than least, not equal.
		above bool
	}{
		{"webhooks-per-reward", c.WebhooksPerReward, 0, false},
		{"delivery-items", c.DeliveryItems, 1, false},
		{"ack-items", c.AckItems, 0, false},
		{"other-dynamodb-requests", c.OtherRequestsPerDelivery, 0, false},
		{"platform-requests-per-reward", c.PlatformRequestsPerReward, 0, false},
		{"messages-per-batch", c.MessagesPerBatch, 1, false},
		{"webhook-ms", c.WebhookMs, 0, false},
		{"processor-ms", c.ProcessorMsPerDelivery, 0, false},
	} {
		if f.v < f.least || f.above && f.v == f.least || math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			if f.above {
				return fmt.Errorf("--%s must be more than %g (got %g)", f.flag, f.least, f.v)
			}
			return fmt.Errorf("--%s must be at least %g (got %g)", f.flag, f.least, f.v)
		}
	}
	for _, v := range c.RewardsPerMonth {
		if !(v > 0) || math.IsInf(v, 0) {
			return fmt.Errorf("--rewards-per-month must be more than 0 (got %g)", v)
		}
	}
	if c.AcknowledgedShare < 0 || c.AcknowledgedShare > 1 || math.IsNaN(c.AcknowledgedShare) {
		return fmt.Errorf("--acknowledged-share must be a share from 0 to 1 (got %g)", c.AcknowledgedShare)
	}
	return nil
}

func writeCost(w io.Writer, c costCounts) error {
	_, err := io.WriteString(w, costTable(c, awsPrices))
	return err
}
