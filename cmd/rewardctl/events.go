package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rewardrelay/rewardrelay/cmd/rewardctl/internal/localstack"
	"github.com/rewardrelay/rewardrelay/shared/announce"
)

func eventsCommand(opts *options) *cobra.Command {
	var recipient string
	var follow, asJSON bool
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Show the reward events the local stack published (its event bus)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if kind, err := opts.targetKind(); err != nil {
				return err
			} else if kind != targetLocal {
				return errors.New("events reads the local stack's bus; in AWS the events are on the stack's bus (output EventBusArn): route them with a rule, as the README shows")
			}
			st, err := opts.localState()
			if err != nil {
				return err
			}
			if st.EventsFile == "" {
				return fmt.Errorf("the local stack in %s publishes no events: stop it and start it again with make run", st.Dir)
			}
			return showEvents(cmd.Context(), cmd.OutOrStdout(), st.EventsFile, recipient, follow, asJSON)
		},
	}
	cmd.Flags().StringVar(&recipient, "recipient", "", "only this recipient, e.g. promoter:123")
	cmd.Flags().BoolVar(&follow, "follow", false, "keep printing events as they are published, until Ctrl-C")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line, as the bus received it")
	return cmd
}

// showEvents prints the events of the file, then, with follow, those
// published after, until ctx ends.
func showEvents(ctx context.Context, w io.Writer, path, recipient string, follow, asJSON bool) error {
	var off int64
	var tw *tabwriter.Writer
	if !asJSON {
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "OCCURRED\tDETAIL TYPE\tRECIPIENT\tUNIT\tAMOUNT\tAVAILABLE\tID")
	}
	for {
		evs, next, err := localstack.ReadEvents(path, off)
		if err != nil {
			return err
		}
		off = next
		for _, e := range evs {
			var d announce.Detail
			if err := json.Unmarshal(e.Detail, &d); err != nil {
				return fmt.Errorf("event %s: %w", e.ID, err)
			}
			if recipient != "" && d.Recipient != recipient {
				continue
			}
			if asJSON {
				if err := json.NewEncoder(w).Encode(e); err != nil {
					return err
				}
				continue
			}
			unit := d.Unit
			if d.Currency != nil {
				unit += " " + *d.Currency
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", d.OccurredAt, e.DetailType, d.Recipient, unit, d.Amount, d.Balance.Available, d.ID)
		}
		if tw != nil {
			if err := tw.Flush(); err != nil {
				return err
			}
		}
		if !follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}
