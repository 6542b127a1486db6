package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// usageError is a mistake on the command line: its message ends with the
// command's usage line.
func usageError(cmd *cobra.Command, format string, args ...any) error {
	return fmt.Errorf("%s\nusage: %s", fmt.Sprintf(format, args...), cmd.UseLine())
}

// exactArgs accepts the arguments names, no more and no fewer.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < len(names):
			return usageError(cmd, "missing %s", strings.Join(names[len(args):], " "))
		case len(args) > len(names):
			return usageError(cmd, "unexpected argument %q", args[len(names)])
		}
		return nil
	}
}

// noArgs accepts no argument.
var noArgs = exactArgs()

// checkProvider refuses a provider rewardrelay does not know.
func checkProvider(p string) error {
	switch reward.Provider(p) {
	case reward.FirstPromoter, reward.AgentRef:
		return nil
	}
	return fmt.Errorf("unknown provider %q: firstpromoter or agentref", p)
}

// atLeast refuses a flag value below min.
func atLeast(flag string, v, min int) error {
	if v < min {
		return fmt.Errorf("--%s must be at least %d (got %d)", flag, min, v)
	}
	return nil
}
