package opensearchtest

import (
	"slices"
	"testing"
)

func TestBoolQueryAndKNNFilter(t *testing.T) {
	srv := newIndex(t, Options{})
	docs := `{"index":{"_id":"a"}}
{"id":"a","title":"red apple","embedding":[1,0]}
{"index":{"_id":"b"}}
{"id":"b","title":"green apple","embedding":[0.9,0.1]}
{"index":{"_id":"c"}}
{"id":"c","title":"red car","embedding":[0,1]}
`
	if r := do(t, srv, "POST", "/notes/_bulk?refresh=true", "application/x-ndjson", docs); r.status != 200 {
		t.Fatalf("bulk: %d %v", r.status, r.body)
	}
	ids := func(body string) []string {
		t.Helper()
		r := do(t, srv, "POST", "/notes/_search", "application/json", body)
		if r.status != 200 {
			t.Fatalf("search %s: %d %v", body, r.status, r.body)
		}
		var out []string
		for _, h := range r.body["hits"].(map[string]any)["hits"].([]any) {
			out = append(out, h.(map[string]any)["_id"].(string))
		}
		return out
	}
	for _, tc := range []struct {
		body string
		want []string
	}{
		{`{"query":{"bool":{"must":{"match":{"title":"apple"}},"filter":[{"term":{"id":"b"}}]}}}`, []string{"b"}},
		{`{"query":{"bool":{"must":{"match":{"title":"red"}},"must_not":{"term":{"id":"c"}}}}}`, []string{"a"}},
		{`{"query":{"bool":{"should":[{"term":{"id":"a"}},{"term":{"id":"c"}}]}}}`, []string{"a", "c"}},
		{`{"query":{"bool":{"filter":{"terms":{"id":["b","c"]}},"must_not":{"term":{"id":"c"}}}}}`, []string{"b"}},
		{`{"query":{"knn":{"embedding":{"vector":[1,0],"k":1,"filter":{"term":{"id":"c"}}}}}}`, []string{"c"}},
		{`{"query":{"knn":{"embedding":{"vector":[1,0],"k":2,"filter":{"bool":{"must_not":{"term":{"id":"a"}}}}}}}}`, []string{"b", "c"}},
	} {
		got := ids(tc.body)
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("search %s = %v, want %v", tc.body, got, tc.want)
		}
	}
	if r := do(t, srv, "POST", "/notes/_search", "application/json", `{"query":{"bool":{"minimum_should_match":1}}}`); r.status != 400 {
		t.Errorf("bool with an unsupported key: %d, want 400", r.status)
	}
}
