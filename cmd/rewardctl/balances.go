package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// balanceLine is one balance as `balances --json` prints it.
type balanceLine struct {
	Provider  string `json:"provider"`
	Recipient string `json:"recipient"`
	Unit      string `json:"unit"`
	Currency  string `json:"currency"`
	Pending   int64  `json:"pending"`
	Available int64  `json:"available"`
	Reversed  int64  `json:"reversed"`
	Fulfilled int64  `json:"fulfilled"`
	Redeemed  int64  `json:"redeemed"`
	Held      int64  `json:"held"`
}

func balancesCommand(opts *options) *cobra.Command {
	var recipient, provider string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "balances",
		Short: "Show reward balances (pending, available, reversed, fulfilled, redeemed, held)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if provider != "" {
				if err := checkProvider(provider); err != nil {
					return err
				}
			}
			l, err := ledger(cmd.Context(), opts)
			if err != nil {
				return err
			}
			var lines []balanceLine
			for _, b := range l.Balances {
				if recipient != "" && string(b.Account.Recipient) != recipient || provider != "" && string(b.Account.Provider) != provider {
					continue
				}
				lines = append(lines, lineOf(b))
			}
			return printBalances(cmd.OutOrStdout(), lines, asJSON)
		},
	}
	cmd.Flags().StringVar(&recipient, "recipient", "", "only this recipient, e.g. promoter:123")
	cmd.Flags().StringVar(&provider, "provider", "", "only this provider: firstpromoter or agentref")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line")
	return cmd
}

func lineOf(b reward.Balance) balanceLine {
	return balanceLine{
		Provider: string(b.Account.Provider), Recipient: string(b.Account.Recipient), Unit: string(b.Account.Unit), Currency: b.Account.Currency,
		Pending: b.Pending, Available: b.Available, Reversed: b.Reversed, Fulfilled: b.Fulfilled, Redeemed: b.Redeemed, Held: b.Held,
	}
}

func printBalances(w io.Writer, lines []balanceLine, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, l := range lines {
			if err := enc.Encode(l); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "PROVIDER\tRECIPIENT\tUNIT\tPENDING\tAVAILABLE\tREVERSED\tFULFILLED\tREDEEMED\tHELD\t")
	for _, l := range lines {
		unit := l.Unit
		if l.Currency != "" {
			unit += " " + l.Currency
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t\n", l.Provider, l.Recipient, unit, l.Pending, l.Available, l.Reversed, l.Fulfilled, l.Redeemed, l.Held)
	}
	if len(lines) == 0 {
		fmt.Fprintln(tw, "(no balances)\t\t\t\t\t\t\t\t\t")
	}
	return tw.Flush()
}
