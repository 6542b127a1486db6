package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func driftCommand(opts *options) *cobra.Command {
	var runs int
	cmd := &cobra.Command{
		Use:   "drift",
		Short: "List what the reconciler refused to repair silently, from its recent runs",
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := openLedger(cmd.Context(), opts)
			if err != nil {
				return err
			}
			recent, err := t.store().Runs(cmd.Context(), runs)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN\tSTARTED\tPROVIDER\tCOMMISSION\tPROBLEM")
			seen := map[string]bool{}
			for _, r := range recent {
				for _, d := range r.Drift {
					key := string(d.Provider) + d.CommissionID + d.Problem
					if seen[key] {
						continue
					}
					seen[key] = true
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.Started.Format("2006-01-02 15:04:05"), d.Provider, d.CommissionID, d.Problem)
				}
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d distinct drift items in the last %d runs\n", len(seen), len(recent))
			return nil
		},
	}
	cmd.Flags().IntVar(&runs, "runs", 20, "how many recent runs to read")
	return cmd
}
