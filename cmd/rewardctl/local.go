package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/rewardrelay/rewardrelay/cmd/rewardctl/internal/localstack"
)

func localCommand(opts *options) *cobra.Command {
	port := 3000
	if p, err := strconv.Atoi(os.Getenv("PORT")); err == nil {
		port = p
	}
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Run the whole stack on this machine (make run)",
		Long: `Starts DynamoDB Local and the SQS emulator (emulators/, installed by
make run), creates the template's queues and ledger table in them, starts
the platform simulator (unless FIRSTPROMOTER_API_URL and AGENTREF_API_URL
are set) and runs the function handlers: the webhook function behind an
emulation of API Gateway on 127.0.0.1, the processor fed by an emulation of
the SQS event source mapping, the reconciler on the template's schedule.

The stack owns its directory (.local of the checkout; REWARDRELAY_LOCAL_DIR
or --local-dir for a second stack) while it runs: its state for the other
commands, the functions' log lines (logs/functions.log, at LOG_LEVEL) and
the emulators' logs. A second stack on the same directory refuses to start
and leaves the first alone.

SIGINT (Ctrl-C), SIGTERM and SIGHUP stop everything it started and remove
its state; so does the end of the process that started it.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if port < 0 || port > 65535 {
				return fmt.Errorf("--port must be from 0 (any free port) to 65535 (got %d)", port)
			}
			root, err := checkout()
			if err != nil {
				return err
			}
			dir := opts.localDirFlag
			if dir == "" {
				dir = os.Getenv("REWARDRELAY_LOCAL_DIR")
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			go stopWithParent(ctx, cancel)
			err = localstack.Run(ctx, localstack.Config{Checkout: root, Dir: dir, Port: port, Stdout: cmd.OutOrStdout()})
			if errors.Is(err, localstack.ErrRunning) {
				return fmt.Errorf("%w: stop it first, or start another one with its own directory and port (REWARDRELAY_LOCAL_DIR=<dir> PORT=<port> make run)", err)
			}
			return err
		},
	}
	cmd.Flags().IntVar(&port, "port", port, "HTTP port of the local API (default from PORT, else 3000; 0 for any free one)")
	return cmd
}

// stopWithParent cancels when the process that started this one goes
// away without a signal (killed outright): the stack never outlives it.
func stopWithParent(ctx context.Context, cancel context.CancelFunc) {
	parent := os.Getppid()
	if parent == 1 {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if os.Getppid() != parent {
				cancel()
				return
			}
		}
	}
}
