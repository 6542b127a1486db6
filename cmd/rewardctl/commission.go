package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// commissionReport is commission --json.
type commissionReport struct {
	Commission commissionView  `json:"commission"`
	Entries    []entryView     `json:"entries"`
	Violations []violationView `json:"violations"`
}

type commissionView struct {
	Provider     string `json:"provider"`
	ID           string `json:"id"`
	Recipient    string `json:"recipient"`
	Unit         string `json:"unit"`
	Currency     string `json:"currency"`
	Amount       int64  `json:"amount"`
	Refunded     int64  `json:"refunded"`
	Status       string `json:"status"`
	Version      int64  `json:"version"`
	HeldApproval bool   `json:"held_approval"`
	// Undelivered is set while the merchant's delivery of the reward has
	// failed; UndeliveredReason is the reason it gave.
	Undelivered       bool   `json:"undelivered"`
	UndeliveredReason string `json:"undelivered_reason"`
	Fulfilment        string `json:"fulfilment"`
	FulfilmentBatch   string `json:"fulfilment_batch"`
	FulfilmentError   string `json:"fulfilment_error"`
	// RequestedAt is empty until the delivery entered the outbox.
	RequestedAt string `json:"requested_at"`
	UpdatedAt   string `json:"updated_at"`
}

type entryView struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	Recipient string `json:"recipient"`
	Unit      string `json:"unit"`
	Currency  string `json:"currency"`
	Pending   int64  `json:"pending"`
	Available int64  `json:"available"`
	Reversed  int64  `json:"reversed"`
	Fulfilled int64  `json:"fulfilled"`
	EventID   string `json:"event_id"`
	At        string `json:"at"`
}

type violationView struct {
	Subject string `json:"subject"`
	Problem string `json:"problem"`
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func reportCommission(c reward.Commission, entries []reward.Entry) commissionReport {
	r := commissionReport{
		Commission: commissionView{
			Provider: string(c.Provider), ID: c.ID, Recipient: string(c.Account.Recipient), Unit: string(c.Account.Unit), Currency: c.Account.Currency,
			Amount: c.Amount, Refunded: c.Refunded, Status: string(c.Status), Version: c.Version, HeldApproval: c.HeldApproval,
			Undelivered: c.Undelivered, UndeliveredReason: c.UndeliveredReason,
			Fulfilment: string(c.Fulfilment), FulfilmentBatch: c.FulfilmentBatch, FulfilmentError: c.FulfilmentError,
			RequestedAt: timeText(c.RequestedAt), UpdatedAt: timeText(c.UpdatedAt),
		},
		Entries: []entryView{}, Violations: []violationView{},
	}
	for _, e := range entries {
		r.Entries = append(r.Entries, entryView{ID: e.ID, Kind: string(e.Kind), Recipient: string(e.Account.Recipient), Unit: string(e.Account.Unit),
			Currency: e.Account.Currency, Pending: e.Deltas.Pending, Available: e.Deltas.Available, Reversed: e.Deltas.Reversed,
			Fulfilled: e.Deltas.Fulfilled, EventID: e.EventID, At: timeText(e.At)})
	}
	for _, v := range reward.AuditCommission(c, entries) {
		r.Violations = append(r.Violations, violationView{Subject: v.Subject, Problem: v.Problem})
	}
	return r
}

func commissionCommand(opts *options) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "commission <provider> <id>",
		Short: "Show one commission: its state, its ledger entries and its acknowledgement",
		Args:  exactArgs("<provider>", "<id>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkProvider(args[0]); err != nil {
				return err
			}
			t, err := openLedger(cmd.Context(), opts)
			if err != nil {
				return err
			}
			c, entries, err := t.store().History(cmd.Context(), reward.Provider(args[0]), args[1])
			if errors.Is(err, reward.ErrNotFound) {
				return fmt.Errorf("%s commission %s is not in the ledger of %s", args[0], args[1], t.where())
			}
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(w).Encode(reportCommission(c, entries))
			}
			fmt.Fprintf(w, "%s commission %s for %s: %s, amount %d %s", c.Provider, c.ID, c.Account.Recipient, c.Status, c.Amount, c.Account.Unit)
			if c.Account.Currency != "" {
				fmt.Fprintf(w, " %s", c.Account.Currency)
			}
			if c.Refunded > 0 {
				fmt.Fprintf(w, " (refunded %d)", c.Refunded)
			}
			fmt.Fprintf(w, ", version %d, updated %s\n", c.Version, c.UpdatedAt.Format(time.RFC3339))
			if c.Undelivered {
				fmt.Fprintf(w, "undelivered: %s\n", c.UndeliveredReason)
			}
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
