package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func auditCommand(opts *options) *cobra.Command {
	return &cobra.Command{
		Use:   "audit",
		Short: "Check the ledger's invariants over all accounts",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := ledger(cmd.Context(), opts)
			if err != nil {
				return err
			}
			v := l.Audit()
			for _, x := range v {
				fmt.Fprintln(cmd.OutOrStdout(), x)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d entries, %d balances, %d commissions: %d violations\n", len(l.Entries), len(l.Balances), len(l.Commissions), len(v))
			if len(v) > 0 {
				return fmt.Errorf("the ledger has %d violations", len(v))
			}
			return nil
		},
	}
}
