package handler

import (
	"strings"

	"github.com/rewardrelay/rewardrelay/shared/webhook"
)

// Settings reads the webhook settings through get, which returns a
// configuration variable by name (the secret's value when it has one, else
// the environment's).
func Settings(get func(string) string) webhook.Settings {
	return webhook.Settings{
		FirstPromoter: webhook.FirstPromoterAuth{
			Secrets:     List(get("FIRSTPROMOTER_WEBHOOK_SECRETS")),
			TokenHeader: get("FIRSTPROMOTER_WEBHOOK_TOKEN_HEADER"),
			Token:       get("FIRSTPROMOTER_WEBHOOK_TOKEN"),
			BasicAuth:   get("FIRSTPROMOTER_WEBHOOK_BASIC_AUTH"),
		},
		AgentRef: webhook.AgentRefAuth{
			Secrets:     List(get("AGENTREF_WEBHOOK_SECRETS")),
			Environment: get("AGENTREF_ENVIRONMENT"),
			MerchantID:  get("AGENTREF_MERCHANT_ID"),
		},
	}
}

// List splits a comma-separated setting, dropping blanks.
func List(csv string) []string {
	var out []string
	for item := range strings.SplitSeq(csv, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
