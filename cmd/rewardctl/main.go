// Command rewardctl operates rewardrelay: it runs the whole stack locally,
// sends signed sample webhooks, and (against AWS or the local stack) shows
// balances, commissions, drift and dead letters.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := rootCommand().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "rewardctl:", err)
		os.Exit(1)
	}
}

// options are the flags every command shares.
type options struct {
	template string
	envFile  string
}

func rootCommand() *cobra.Command {
	opts := &options{}
	root := &cobra.Command{
		Use:           "rewardctl",
		Short:         "Operate rewardrelay locally and in AWS",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&opts.template, "template", "template.yaml", "the SAM template that defines the stack")
	root.PersistentFlags().StringVar(&opts.envFile, "env-file", "events/env.json", "local settings used where the environment sets none")
	root.AddCommand(localCommand(opts), sendCommand(opts), balancesCommand(), auditCommand(), driftCommand(), commissionCommand(), dlqCommand(), reconcileCommand(opts), simulateCommand(opts), costCommand(opts))
	return root
}
