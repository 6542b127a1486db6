package main

import (
	"os"
	"strconv"

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
		Short: "Run the whole stack on this machine against the local emulators (make run)",
		Long: `Creates the template's queues in the SQS emulator and serves the webhook
function on 127.0.0.1 like API Gateway would. Start it with make run, which
starts the emulators and sets AWS_ENDPOINT_URL_SQS.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return localstack.Run(cmd.Context(), localstack.Config{Template: opts.template, EnvFile: opts.envFile, Port: port, Stdout: cmd.OutOrStdout()})
		},
	}
	cmd.Flags().IntVar(&port, "port", port, "HTTP port of the local API (default from PORT, else 3000)")
	return cmd
}
