package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// driftLine is one drift item as drift --json prints it.
type driftLine struct {
	Run          string `json:"run"`
	Started      string `json:"started"`
	Provider     string `json:"provider"`
	CommissionID string `json:"commission_id"`
	Problem      string `json:"problem"`
}

func driftCommand(opts *options) *cobra.Command {
	var runs int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "drift",
		Short: "List what the reconciler refused to repair silently, from its recent runs",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := atLeast("runs", runs, 1); err != nil {
				return err
			}
			t, err := openLedger(cmd.Context(), opts)
			if err != nil {
				return err
			}
			recent, err := t.store().Runs(cmd.Context(), runs)
			if err != nil {
				return err
			}
			var lines []driftLine
			seen := map[string]bool{}
			for _, r := range recent {
				for _, d := range r.Drift {
					key := string(d.Provider) + d.CommissionID + d.Problem
					if seen[key] {
						continue
					}
					seen[key] = true
					lines = append(lines, driftLine{Run: r.ID, Started: r.Started.UTC().Format(time.RFC3339), Provider: string(d.Provider), CommissionID: d.CommissionID, Problem: d.Problem})
				}
			}
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				for _, l := range lines {
					if err := enc.Encode(l); err != nil {
						return err
					}
				}
				return nil
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN\tSTARTED\tPROVIDER\tCOMMISSION\tPROBLEM")
			for _, l := range lines {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", l.Run, l.Started, l.Provider, l.CommissionID, l.Problem)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(w, "%d distinct drift items in the last %d runs\n", len(lines), len(recent))
			return nil
		},
	}
	cmd.Flags().IntVar(&runs, "runs", 20, "how many recent runs to read (at least 1)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per drift item")
	return cmd
}
