package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os/user"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/rewardsapi"
)

func redeemCommand(opts *options) *cobra.Command {
	var provider, unit, currency, key, reference string
	var hold, asJSON bool
	var holdTTL time.Duration
	cmd := &cobra.Command{
		Use:   "redeem <recipient> <amount> --provider P --unit U --key K",
		Short: "Redeem from a recipient's available balance, as the Rewards API does (with its idempotency key)",
		Long: `Redeem from a recipient's available balance through the Rewards API's own
code: the same checks, the same transaction, and the same idempotency: the
same --key with the same request answers the same redemption, with another
request it is refused. The actor recorded is rewardctl:<your user name>.`,
		Args: exactArgs("<recipient>", "<amount>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			amount, err := strconv.ParseInt(args[1], 10, 64)
			if err != nil || amount <= 0 {
				return usageError(cmd, "<amount> must be an integer greater than 0")
			}
			if key == "" {
				return usageError(cmd, "--key is required: the idempotency key of this redemption")
			}
			if holdTTL < 0 || holdTTL%time.Second != 0 {
				return usageError(cmd, "--hold-ttl must be a whole number of seconds, e.g. 15m")
			}
			body := map[string]any{"provider": provider, "unit": unit, "currency": currency, "amount": amount, "reference": reference, "hold": hold}
			if holdTTL > 0 {
				body["hold_ttl_seconds"] = int64(holdTTL / time.Second)
			}
			raw, _ := json.Marshal(body) // strings, numbers and a bool
			t, err := openLedger(cmd.Context(), opts)
			if err != nil {
				return err
			}
			api := rewardsapi.API{Store: t.store(), Now: time.Now}
			resp := api.Serve(cmd.Context(), rewardsapi.Request{
				Route: rewardsapi.RouteRedemptions, Params: map[string]string{"recipient": args[0]}, Body: raw, Actor: operator(),
				Header: func(name string) string {
					if name == "idempotency-key" {
						return key
					}
					return ""
				},
			})
			if resp.Err != nil {
				return fmt.Errorf("redeem in %s: %w", t.where(), resp.Err)
			}
			w := cmd.OutOrStdout()
			if !asJSON {
				status := fmt.Sprintf("%d %s", resp.Status, http.StatusText(resp.Status))
				if resp.Header["idempotent-replayed"] == "true" {
					status += " (replayed: this key's redemption)"
				}
				fmt.Fprintln(w, status)
			}
			if err := json.NewEncoder(w).Encode(resp.Body); err != nil {
				return err
			}
			if resp.Status >= 300 {
				return fmt.Errorf("the redemption was refused (%d)", resp.Status)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&provider, "provider", "", "firstpromoter or agentref")
	f.StringVar(&unit, "unit", string(reward.Points), "the balance's unit")
	f.StringVar(&currency, "currency", "", "the balance's currency (cash units)")
	f.StringVar(&key, "key", "", "the idempotency key (required): the same key and request redeem once")
	f.StringVar(&reference, "reference", "", "a reference of yours, at most 255 characters")
	f.BoolVar(&hold, "hold", false, "hold the amount (captured, voided or expired later) instead of posting it")
	f.DurationVar(&holdTTL, "hold-ttl", 0, "how long a hold lasts (default 15m, at most 168h)")
	f.BoolVar(&asJSON, "json", false, "print only the answer's JSON")
	return cmd
}

// operator is the actor of a rewardctl write: the user running it.
func operator() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "rewardctl:" + u.Username
	}
	return "rewardctl"
}
