package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/spf13/cobra"

	"github.com/rewardrelay/rewardrelay/cmd/rewardctl/internal/localstack"
	webhookhandler "github.com/rewardrelay/rewardrelay/functions/webhook/handler"
	"github.com/rewardrelay/rewardrelay/shared/webhook"
)

func sendCommand(opts *options) *cobra.Command {
	var provider, url string
	cmd := &cobra.Command{
		Use:   "send <event.json>",
		Short: "Sign a webhook like the platform does and post it",
		Long: `Reads a sample (an API Gateway event from events/, or a bare webhook body),
signs its body with the configured secret and the current time, and posts it to
the local stack (or --url: another stack, in AWS its webhook URL up to
/webhooks). Prints the status and the answer.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			get, err := sendSettings(opts, &url)
			if err != nil {
				return err
			}
			body, p, err := readSample(args[0], provider)
			if err != nil {
				return err
			}
			req, err := signedRequest(strings.TrimRight(url, "/"), p, body, get, time.Now())
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req.WithContext(cmd.Context()))
			if err != nil {
				return fmt.Errorf("post to %s: %w", req.URL, err)
			}
			defer resp.Body.Close()
			answer, _ := io.ReadAll(resp.Body)
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", resp.Status, bytes.TrimSpace(answer))
			if resp.StatusCode >= 300 {
				return fmt.Errorf("the webhook was not accepted (%s)", resp.Status)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&provider, "provider", "", "firstpromoter or agentref (default: the sample's path parameter)")
	cmd.Flags().StringVar(&url, "url", "", "base URL of the stack (default: the running local stack's)")
	return cmd
}

// sendSettings finds where to send and what to sign with: the local stack's
// API and secrets, or, with --url, the environment's secrets (else
// events/env.json's).
func sendSettings(opts *options, url *string) (func(string) string, error) {
	if *url != "" {
		path, err := opts.envFilePath()
		if err != nil {
			return os.Getenv, nil
		}
		settings, err := localstack.LoadSettings(path)
		if err != nil {
			return nil, err
		}
		return settings.Get, nil
	}
	kind, err := opts.targetKind()
	if err != nil {
		return nil, err
	}
	if kind == targetAWS {
		return nil, fmt.Errorf("send needs --url against AWS: the stack's webhook URL up to /webhooks (its FirstPromoterWebhookURL output without /webhooks/firstpromoter)")
	}
	st, err := opts.localState()
	if err != nil {
		return nil, err
	}
	*url = st.APIURL
	return opts.localSettings(st)
}

// readSample returns the webhook body of a sample file and its provider.
func readSample(path, provider string) ([]byte, webhook.Provider, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	var e events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &e); err == nil && e.RouteKey != "" {
		raw = []byte(e.Body)
		if provider == "" {
			provider = e.PathParameters["provider"]
		}
	}
	p := webhook.Provider(provider)
	if p != webhook.FirstPromoter && p != webhook.AgentRef {
		return nil, "", fmt.Errorf("%s: say which provider with --provider firstpromoter or --provider agentref", path)
	}
	return raw, p, nil
}

// signedRequest builds the request a platform would send for body.
func signedRequest(baseURL string, p webhook.Provider, body []byte, get func(string) string, now time.Time) (*http.Request, error) {
	req, err := http.NewRequest(http.MethodPost, baseURL+"/webhooks/"+string(p), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	switch p {
	case webhook.FirstPromoter:
		secrets := webhookhandler.List(get("FIRSTPROMOTER_WEBHOOK_SECRETS"))
		if len(secrets) == 0 {
			return nil, fmt.Errorf("FIRSTPROMOTER_WEBHOOK_SECRETS is empty: nothing to sign with")
		}
		req.Header.Set("X-Webhook-Signature", webhook.SignFirstPromoter(secrets[0], body))
	case webhook.AgentRef:
		secrets := webhookhandler.List(get("AGENTREF_WEBHOOK_SECRETS"))
		if len(secrets) == 0 {
			return nil, fmt.Errorf("AGENTREF_WEBHOOK_SECRETS is empty: nothing to sign with")
		}
		var env struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(body, &env); err != nil || env.ID == "" {
			env.ID = "msg_" + strconv.FormatInt(now.UnixNano(), 36)
		}
		sig, err := webhook.SignAgentRef(secrets[0], env.ID, now.Unix(), body)
		if err != nil {
			return nil, err
		}
		req.Header.Set("svix-id", env.ID)
		req.Header.Set("svix-timestamp", strconv.FormatInt(now.Unix(), 10))
		req.Header.Set("svix-signature", sig)
	}
	return req, nil
}
