package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rewardrelay/rewardrelay/shared/relay"
	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/secret"
	"github.com/rewardrelay/rewardrelay/shared/telemetry"
	"github.com/rewardrelay/rewardrelay/shared/wiring"
)

func reconcileCommand(opts *options) *cobra.Command {
	var dryRun, asJSON bool
	timeout := 5 * time.Minute
	cmd := &cobra.Command{
		Use:   "reconcile",
		Short: "Run the reconciler once now and print what it did (or, with --dry-run, would do)",
		Long: `Runs one reconciliation with the same code and settings as the
ReconcilerFunction: lists the platforms, repairs what webhooks missed,
acknowledges the outbox, applies the approval policy and reports drift.

Settings come from the environment (or the secret named by SECRET_ARN), as for
the function; against the local stack, from make run and events/env.json.

--dry-run reads everything and writes nothing: no ledger change, no cursor,
no run summary, no mark_fulfilled or approval on the platform. Its reads
count against the platform's shared rate budget.

Exits non-zero when the run reported errors.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if timeout <= 0 {
				return fmt.Errorf("--timeout must be a positive duration, e.g. 5m (got %s)", timeout)
			}
			ctx := cmd.Context()
			rc, err := buildReconciler(ctx, opts)
			if err != nil {
				return err
			}
			rc, acts := rc.Observed(dryRun)
			runCtx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			run := rc.Run(runCtx)
			if asJSON {
				err = json.NewEncoder(cmd.OutOrStdout()).Encode(reconcileReport{Run: reportRun(run), DryRun: dryRun, Actions: reportActions(acts)})
			} else {
				printRun(cmd.OutOrStdout(), run, acts, dryRun)
			}
			if err != nil {
				return err
			}
			if len(run.Errors) > 0 {
				return fmt.Errorf("the run reported %d errors; the next run retries them", len(run.Errors))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "read and plan only: write nothing to the ledger or the platforms")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the run as one JSON object")
	cmd.Flags().DurationVar(&timeout, "timeout", timeout, "stop the run (resumably) after this long")
	return cmd
}

// buildReconciler wires the reconciler as the function does, against the
// target stack.
func buildReconciler(ctx context.Context, opts *options) (*relay.Reconciler, error) {
	t, err := openLedger(ctx, opts)
	if err != nil {
		return nil, err
	}
	var get func(string) string
	if t.kind == targetLocal {
		if get, err = opts.localSettings(t.local); err != nil {
			return nil, err
		}
	} else {
		src, err := secret.FromEnvironment(ctx, t.cfg)
		if err != nil {
			return nil, fmt.Errorf("settings: %w", err)
		}
		get = src.Get
	}
	level := os.Getenv("LOG_LEVEL")
	if level == "" {
		level = "WARN"
	}
	log := telemetry.NewLogger(os.Stderr, level)
	p, err := wiring.Processor(get, t.db, t.table, log)
	if err != nil {
		return nil, err
	}
	rc, err := wiring.Reconciler(get, p)
	if err != nil {
		return nil, err
	}
	if len(rc.Platforms) == 0 {
		return nil, fmt.Errorf("no platform is configured: set FIRSTPROMOTER_API_KEY and FIRSTPROMOTER_ACCOUNT_ID, or AGENTREF_API_KEY (or start the local stack with make run)")
	}
	return rc, nil
}

// reconcileReport is the --json output.
type reconcileReport struct {
	Run     runReport      `json:"run"`
	DryRun  bool           `json:"dry_run"`
	Actions []actionReport `json:"actions"`
}

// runReport is a run summary in the CLI's JSON style.
type runReport struct {
	ID       string         `json:"id"`
	Started  time.Time      `json:"started"`
	Finished time.Time      `json:"finished"`
	Complete bool           `json:"complete"`
	Counts   map[string]int `json:"counts"`
	Drift    []driftReport  `json:"drift"`
	Errors   []string       `json:"errors"`
}

type driftReport struct {
	Provider     reward.Provider `json:"provider"`
	CommissionID string          `json:"commission_id"`
	Problem      string          `json:"problem"`
}

func reportRun(r reward.Run) runReport {
	out := runReport{ID: r.ID, Started: r.Started, Finished: r.Finished, Complete: r.Complete, Counts: r.Counts, Drift: []driftReport{}, Errors: r.Errors}
	for _, d := range r.Drift {
		out.Drift = append(out.Drift, driftReport(d))
	}
	if out.Errors == nil {
		out.Errors = []string{}
	}
	return out
}

// actionReport is one change of a run, as an operator reads it.
type actionReport struct {
	Provider   reward.Provider `json:"provider"`
	ID         string          `json:"id"`
	Recipient  string          `json:"recipient,omitempty"`
	From       string          `json:"from,omitempty"`
	To         string          `json:"to"`
	Unit       string          `json:"unit,omitempty"`
	Pending    int64           `json:"pending"`
	Available  int64           `json:"available"`
	Reversed   int64           `json:"reversed"`
	Fulfilled  int64           `json:"fulfilled"`
	PlatformOp string          `json:"platform_op,omitempty"`
}

func reportActions(a *relay.Actions) []actionReport {
	var out []actionReport
	row := func(p reward.Provider, id string, acct reward.Account, from, to string, entries []reward.Entry) {
		var d reward.Deltas
		for _, e := range entries {
			d = d.Add(e.Deltas)
		}
		out = append(out, actionReport{Provider: p, ID: id, Recipient: string(acct.Recipient), From: from, To: to, Unit: unitLabel(acct),
			Pending: d.Pending, Available: d.Available, Reversed: d.Reversed, Fulfilled: d.Fulfilled})
	}
	for _, c := range a.Changes {
		from := "new"
		if c.Before != nil {
			from = string(c.Before.Status)
		}
		to := string(c.After.Status)
		if c.After.Fulfilment != "" && (c.Before == nil || c.Before.Fulfilment != c.After.Fulfilment) {
			to += "/" + string(c.After.Fulfilment)
		}
		row(c.After.Provider, c.After.ID, c.After.Account, from, to, c.Entries)
	}
	for _, c := range a.Payouts {
		from := "new"
		if c.Before != nil {
			from = string(c.Before.Status)
		}
		row(c.After.Provider, "payout "+c.After.ID, c.After.Account, from, string(c.After.Status), c.Entries)
	}
	for _, op := range []struct {
		name string
		refs []relay.CommissionRef
	}{{"mark_fulfilled", a.Acknowledge}, {"approve", a.Approve}, {"mark_unfulfilled", a.Unfulfil}} {
		// By platform, numeric ids in their order: a shorter one is a
		// smaller one.
		refs := slices.SortedFunc(slices.Values(op.refs), func(x, y relay.CommissionRef) int {
			return cmp.Or(strings.Compare(string(x.Provider), string(y.Provider)), cmp.Compare(len(x.ID), len(y.ID)), strings.Compare(x.ID, y.ID))
		})
		for _, r := range refs {
			out = append(out, actionReport{Provider: r.Provider, ID: r.ID, To: op.name, PlatformOp: op.name})
		}
	}
	return out
}

func unitLabel(a reward.Account) string {
	if a.Currency != "" {
		return string(a.Unit) + " " + a.Currency
	}
	return string(a.Unit)
}

func printRun(w io.Writer, run reward.Run, acts *relay.Actions, dry bool) {
	verb := "did"
	if dry {
		verb = "would do (dry run: nothing was written)"
	}
	state := "complete"
	if !run.Complete {
		state = "stopped at its deadline; the next run resumes"
	}
	fmt.Fprintf(w, "reconcile run %s %s, %s in %s\n", run.ID, verb, state, run.Finished.Sub(run.Started).Round(time.Millisecond))
	var counts []string
	for _, k := range slices.Sorted(maps.Keys(run.Counts)) {
		counts = append(counts, fmt.Sprintf("%s %d", k, run.Counts[k]))
	}
	fmt.Fprintf(w, "  %s\n", strings.Join(counts, ", "))
	rows := reportActions(acts)
	if len(rows) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PROVIDER\tID\tRECIPIENT\tCHANGE\tUNIT\tPENDING\tAVAILABLE\tREVERSED\tFULFILLED")
		for _, r := range rows {
			if r.PlatformOp != "" {
				fmt.Fprintf(tw, "%s\t%s\t\t%s on the platform\t\t\t\t\t\n", r.Provider, r.ID, r.PlatformOp)
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s -> %s\t%s\t%+d\t%+d\t%+d\t%+d\n", r.Provider, r.ID, r.Recipient, r.From, r.To, r.Unit, r.Pending, r.Available, r.Reversed, r.Fulfilled)
		}
		tw.Flush()
	}
	for _, d := range run.Drift {
		fmt.Fprintf(w, "drift  %s %s: %s\n", d.Provider, d.CommissionID, d.Problem)
	}
	for _, e := range run.Errors {
		fmt.Fprintf(w, "error  %s\n", e)
	}
}
