// Command rewardctl operates rewardrelay: against the local stack or AWS
// (an explicit choice, local by default) it shows balances, commissions,
// drift and dead letters, reconciles and sends signed sample webhooks; it
// also runs the whole stack locally and drives traffic through it.
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
	// Ctrl-C, SIGTERM (a process manager, kill) and SIGHUP (a closed
	// terminal) all stop the command and what it started; a second signal
	// kills it outright.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() { <-ctx.Done(); stop() }()
	err := rootCommand().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "rewardctl:", err)
		os.Exit(1)
	}
}

// options are the flags every command shares.
type options struct {
	template string
	envFile  string
	// aws and local choose the target; localDirFlag is --local-dir.
	aws, local   bool
	localDirFlag string
}

func rootCommand() *cobra.Command {
	opts := &options{}
	root := &cobra.Command{
		Use:   "rewardctl",
		Short: "Operate rewardrelay locally and in AWS",
		Long: `Operate rewardrelay. Commands that read or change a stack work on the local
stack (make run) unless told otherwise: --aws, or REWARDRELAY_TARGET=aws,
uses your AWS credentials and the stack's outputs (TABLE_NAME, QUEUE_URL,
DLQ_URL). A command never turns to AWS because no local stack runs.`,
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          noArgs,
	}
	root.SetVersionTemplate("rewardctl {{.Version}}\n")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usageError(cmd, "%v", err) })
	f := root.PersistentFlags()
	f.StringVar(&opts.template, "template", "", "the SAM template that defines the stack (default: template.yaml of the checkout)")
	f.StringVar(&opts.envFile, "env-file", "", "local settings used where the environment sets none (default: events/env.json of the checkout)")
	f.BoolVar(&opts.aws, "aws", false, "work on the stack in AWS (REWARDRELAY_TARGET=aws)")
	f.BoolVar(&opts.local, "local", false, "work on the local stack (the default; REWARDRELAY_TARGET=local)")
	f.StringVar(&opts.localDirFlag, "local-dir", "", "the local stack's directory (default: REWARDRELAY_LOCAL_DIR, else .local of the checkout)")
	root.AddCommand(localCommand(opts), sendCommand(opts), balancesCommand(opts), auditCommand(opts), driftCommand(opts), commissionCommand(opts),
		dlqCommand(opts), reconcileCommand(opts), simulateCommand(opts), costCommand(opts), redeemCommand(opts), eventsCommand(opts))
	return root
}
