package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

func commissionCommand(opts *options) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "commission <provider> <id>",
		Short: "Show one commission: its state, its ledger entries and its acknowledgement",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := openLedger(cmd.Context(), opts)
			if err != nil {
				return err
			}
			c, entries, err := t.store().History(cmd.Context(), reward.Provider(args[0]), args[1])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(w).Encode(struct {
					Commission reward.Commission
					Entries    []reward.Entry
					Violations []reward.Violation
				}{c, entries, reward.AuditCommission(c, entries)})
			}
			fmt.Fprintf(w, "%s commission %s for %s: %s, amount %d %s", c.Provider, c.ID, c.Account.Recipient, c.Status, c.Amount, c.Account.Unit)
			if c.Account.Currency != "" {
				fmt.Fprintf(w, " %s", c.Account.Currency)
			}
			if c.Refunded > 0 {
				fmt.Fprintf(w, " (refunded %d)", c.Refunded)
			}
			fmt.Fprintf(w, ", version %d, updated %s\n", c.Version, c.UpdatedAt.Format(time.RFC3339))
			ack := string(c.Fulfilment)
			if ack == "" {
				ack = "not requested"
			}
			fmt.Fprintf(w, "acknowledgement: %s", ack)
			if c.FulfilmentError != "" {
				fmt.Fprintf(w, " (%s)", c.FulfilmentError)
			}
			if !c.RequestedAt.IsZero() {
				fmt.Fprintf(w, ", requested %s", c.RequestedAt.Format(time.RFC3339))
			}
			if c.HeldApproval {
				fmt.Fprint(w, "; approved while the recipient is on hold")
			}
			fmt.Fprintln(w)
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "AT\tKIND\tPENDING\tAVAILABLE\tREVERSED\tFULFILLED\tEVENT")
			for _, e := range entries {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\n", e.At.Format(time.RFC3339), e.Kind, e.Deltas.Pending, e.Deltas.Available, e.Deltas.Reversed, e.Deltas.Fulfilled, e.EventID)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			for _, v := range reward.AuditCommission(c, entries) {
				fmt.Fprintln(w, "VIOLATION:", v)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
