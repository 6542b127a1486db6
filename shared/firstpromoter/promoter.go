package firstpromoter

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// Promoter is the API's promoter (the fields rewardrelay uses). CustID is
// the promoter's id in the merchant's own system, when the merchant set
// one.
type Promoter struct {
	ID     int64   `json:"id"`
	CustID *string `json:"cust_id"`
}

// Promoters fetches specific promoters: one GET /promoters?ids[]=... per
// MaxPerPage ids. Ids the platform does not return are absent.
func (c *Client) Promoters(ctx context.Context, ids []int64) ([]Promoter, error) {
	var out []Promoter
	for start := 0; start < len(ids); start += MaxPerPage {
		chunk := ids[start:min(start+MaxPerPage, len(ids))]
		q := url.Values{"per_page": {strconv.Itoa(MaxPerPage)}}
		for _, id := range chunk {
			q.Add("ids[]", strconv.FormatInt(id, 10))
		}
		// Unlike the commissions list, the promoters list is an object.
		var page struct {
			Data []Promoter `json:"data"`
		}
		if _, err := c.do(ctx, "list promoters by id", http.MethodGet, "/promoters", q, nil, &page); err != nil {
			return nil, err
		}
		out = append(out, page.Data...)
	}
	return out, nil
}
