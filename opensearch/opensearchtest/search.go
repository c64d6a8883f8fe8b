package opensearchtest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
)

func parsingError(format string, args ...any) *osError {
	return errorf(http.StatusBadRequest, "parsing_exception", format, args...)
}

// search serves POST /{index}/_search.
func (s *Server) search(name string, q url.Values, body []byte) *response {
	start := time.Now()
	if e := checkParams("/"+name+"/_search", q, "typed_keys", "search_type", "allow_partial_search_results",
		"preference", "request_cache", "timeout", "rest_total_hits_as_int", "_source", "_source_excludes", "_source_includes"); e != nil {
		return fail(e)
	}
	req, e := parseSearch(body)
	if e != nil {
		return fail(e)
	}
	if q.Has("_source") || q.Has("_source_excludes") || q.Has("_source_includes") {
		req.source = sourceFilterFromParams(q)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	ix := s.indices[name]
	if ix == nil {
		return fail(indexNotFound(name))
	}
	type hit struct {
		doc   *document
		score float64
		sort  []any
	}
	docs := make([]*document, 0, len(ix.visible))
	for _, d := range ix.visible {
		docs = append(docs, d)
	}
	// Ties break by index order, as Lucene's doc ids do.
	slices.SortFunc(docs, func(a, b *document) int { return cmp.Compare(a.seqNo, b.seqNo) })

	scores, e := ix.score(req.query, docs)
	if e != nil {
		return fail(e)
	}
	hits := make([]hit, 0, len(scores))
	for _, d := range docs {
		if sc, ok := scores[d]; ok {
			hits = append(hits, hit{doc: d, score: sc})
		}
	}
	total := len(hits)
	if req.searchAfter != nil && len(req.sort) == 0 {
		return fail(errorf(http.StatusBadRequest, "action_request_validation_exception", "Validation Failed: 1: search_after requires sort;"))
	}
	if len(req.sort) == 0 {
		slices.SortStableFunc(hits, func(a, b hit) int { return cmp.Compare(b.score, a.score) })
	} else {
		for _, sf := range req.sort {
			if sf.field == "_score" {
				continue
			}
			f := ix.fields[sf.field]
			switch {
			case f == nil:
				return fail(errorf(http.StatusBadRequest, "query_shard_exception", "No mapping found for [%s] in order to sort on", sf.field))
			case f.typ == "text":
				return fail(errorf(http.StatusBadRequest, "illegal_argument_exception", "Text fields are not optimised for operations that require per-document field data like aggregations and sorting, so these operations are disabled by default. Please use a keyword field instead. Alternatively, set fielddata=true on [%s] in order to load field data by uninverting the inverted index. Note that this can use significant memory.", sf.field))
			case f.typ == "knn_vector":
				return fail(errorf(http.StatusBadRequest, "illegal_argument_exception", "Field [%s] of type [knn_vector] does not support sorting", sf.field))
			}
		}
		for i := range hits {
			for _, sf := range req.sort {
				if sf.field == "_score" {
					hits[i].sort = append(hits[i].sort, hits[i].score)
				} else {
					hits[i].sort = append(hits[i].sort, sortValue(hits[i].doc, sf.field))
				}
			}
		}
		compare := func(a, b []any) int {
			for i, sf := range req.sort {
				c := compareValues(a[i], b[i])
				if sf.desc {
					c = -c
				}
				if c != 0 {
					return c
				}
			}
			return 0
		}
		slices.SortStableFunc(hits, func(a, b hit) int { return compare(a.sort, b.sort) })
		if req.searchAfter != nil {
			if len(req.searchAfter) != len(req.sort) {
				return fail(errorf(http.StatusBadRequest, "illegal_argument_exception", "search_after has %d value(s) but sort has %d.", len(req.searchAfter), len(req.sort)))
			}
			after := make([]any, len(req.searchAfter))
			for i, v := range req.searchAfter {
				after[i] = v
				if n, ok := v.(json.Number); ok {
					if x, err := n.Int64(); err == nil {
						after[i] = x
					} else {
						f, _ := n.Float64()
						after[i] = f
					}
				}
			}
			i := 0
			for i < len(hits) && compare(hits[i].sort, after) <= 0 {
				i++
			}
			hits = hits[i:]
		}
	}
	if req.from < len(hits) {
		hits = hits[req.from:]
	} else {
		hits = nil
	}
	if len(hits) > req.size {
		hits = hits[:req.size]
	}

	out := make([]map[string]any, 0, len(hits))
	var maxScore any
	for _, h := range hits {
		m := map[string]any{"_index": name, "_id": h.doc.id}
		if len(req.sort) == 0 {
			m["_score"] = h.score
			if maxScore == nil {
				maxScore = h.score
			}
		} else {
			m["_score"] = nil
			m["sort"] = h.sort
		}
		src, e := filterSource(h.doc.source, req.source)
		if e != nil {
			return fail(e)
		}
		if src != nil {
			m["_source"] = src
		}
		out = append(out, m)
	}
	return ok(map[string]any{
		"took":      time.Since(start).Milliseconds(),
		"timed_out": false,
		"_shards":   map[string]int{"total": 1, "successful": 1, "skipped": 0, "failed": 0},
		"hits": map[string]any{
			"total":     map[string]any{"value": total, "relation": "eq"},
			"max_score": maxScore,
			"hits":      out,
		},
	})
}

func compareValues(a, b any) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1 // missing values sort last
	case b == nil:
		return -1
	}
	switch x := a.(type) {
	case int64:
		switch y := b.(type) {
		case int64:
			return cmp.Compare(x, y)
		case float64:
			return cmp.Compare(float64(x), y)
		}
	case float64:
		switch y := b.(type) {
		case int64:
			return cmp.Compare(x, float64(y))
		case float64:
			return cmp.Compare(x, y)
		}
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y)
		}
	}
	return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

// searchRequest is a parsed search body.
type searchRequest struct {
	size, from  int
	query       map[string]any
	sort        []sortField
	searchAfter []any
	source      *sourceFilter
}

type sortField struct {
	field string
	desc  bool
}

func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	return dec.Decode(v)
}

func parseSearch(body []byte) (*searchRequest, *osError) {
	req := &searchRequest{size: 10, query: map[string]any{"match_all": map[string]any{}}}
	if len(bytes.TrimSpace(body)) == 0 {
		return req, nil
	}
	var top map[string]any
	if err := decodeStrict(body, &top); err != nil {
		return nil, parsingError("Failed to parse search body: %v", err)
	}
	for k, v := range top {
		switch k {
		case "size", "from":
			n, e := intValue(k, v)
			if e != nil {
				return nil, e
			}
			if n < 0 || n > 10000 {
				return nil, errorf(http.StatusBadRequest, "illegal_argument_exception", "Result window is too large, from + size must be less than or equal to: [10000] but was [%d].", n)
			}
			if k == "size" {
				req.size = n
			} else {
				req.from = n
			}
		case "query":
			q, ok := v.(map[string]any)
			if !ok || len(q) != 1 {
				return nil, parsingError("[query] must be an object with exactly one query clause")
			}
			req.query = q
		case "sort":
			sorts, e := parseSort(v)
			if e != nil {
				return nil, e
			}
			req.sort = sorts
		case "search_after":
			arr, ok := v.([]any)
			if !ok {
				return nil, parsingError("[search_after] must be an array")
			}
			req.searchAfter = arr
		case "_source":
			f, e := parseSourceFilter(v)
			if e != nil {
				return nil, e
			}
			req.source = f
		case "track_total_hits":
		default:
			return nil, parsingError("Unknown key for a %s in [%s].", jsonKind(v), k)
		}
	}
	if req.from+req.size > 10000 {
		return nil, errorf(http.StatusBadRequest, "illegal_argument_exception", "Result window is too large, from + size must be less than or equal to: [10000] but was [%d].", req.from+req.size)
	}
	return req, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "START_OBJECT"
	case []any:
		return "START_ARRAY"
	}
	return "VALUE_STRING"
}

func intValue(name string, v any) (int, *osError) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, parsingError("[%s] must be a number", name)
	}
	i, err := n.Int64()
	if err != nil {
		return 0, parsingError("[%s] must be an integer, got [%s]", name, n)
	}
	return int(i), nil
}

func parseSort(v any) ([]sortField, *osError) {
	arr, ok := v.([]any)
	if !ok {
		arr = []any{v}
	}
	var out []sortField
	for _, item := range arr {
		switch x := item.(type) {
		case string:
			out = append(out, sortField{field: x, desc: x == "_score"})
		case map[string]any:
			if len(x) != 1 {
				return nil, parsingError("[sort] each sort object must name one field")
			}
			for field, spec := range x {
				sf := sortField{field: field, desc: field == "_score"}
				var order any
				switch sp := spec.(type) {
				case string:
					order = sp
				case map[string]any:
					for k, val := range sp {
						switch k {
						case "order":
							order = val
						case "missing", "unmapped_type":
						default:
							return nil, parsingError("[field_sort] unknown field [%s]", k)
						}
					}
				default:
					return nil, parsingError("[sort] unexpected value for [%s]", field)
				}
				switch order {
				case nil:
				case "asc":
					sf.desc = false
				case "desc":
					sf.desc = true
				default:
					return nil, errorf(http.StatusBadRequest, "illegal_argument_exception", "Unknown SortOrder [%v]", order)
				}
				out = append(out, sf)
			}
		default:
			return nil, parsingError("[sort] malformed sort")
		}
	}
	return out, nil
}

// score runs a query over docs and returns the matching ones with their scores.
func (ix *index) score(q map[string]any, docs []*document) (map[*document]float64, *osError) {
	out := map[*document]float64{}
	for kind, body := range q {
		args, ok := body.(map[string]any)
		if !ok {
			return nil, parsingError("[%s] query malformed, no start_object after query name", kind)
		}
		switch kind {
		case "match_all":
			for k := range args {
				if k != "boost" {
					return nil, parsingError("[match_all] query does not support [%s]", k)
				}
			}
			for _, d := range docs {
				out[d] = 1
			}
		case "knn":
			return ix.knn(args, docs)
		case "bool":
			return ix.boolQuery(args, docs)
		case "term", "terms":
			return ix.terms(kind, args, docs)
		case "range":
			return ix.rangeQuery(args, docs)
		case "match":
			if len(args) != 1 {
				return nil, parsingError("[match] query doesn't support multiple fields, found [%d]", len(args))
			}
			for field, v := range args {
				text, operator, e := matchArgs(v)
				if e != nil {
					return nil, e
				}
				return ix.bm25([]string{field}, text, operator, docs)
			}
		case "multi_match":
			var text, operator string = "", "or"
			var fields []string
			for k, v := range args {
				switch k {
				case "query":
					s, ok := v.(string)
					if !ok {
						return nil, parsingError("[multi_match] query must be a string")
					}
					text = s
				case "fields":
					arr, ok := v.([]any)
					if !ok {
						return nil, parsingError("[multi_match] fields must be an array")
					}
					for _, f := range arr {
						s, ok := f.(string)
						if !ok {
							return nil, parsingError("[multi_match] fields must be strings")
						}
						fields = append(fields, s)
					}
				case "type":
					if v != "best_fields" {
						return nil, parsingError("the fake supports only the best_fields type of [multi_match], not [%v]", v)
					}
				case "operator":
					op, _ := v.(string)
					operator = strings.ToLower(op)
				default:
					return nil, parsingError("[multi_match] query does not support [%s]", k)
				}
			}
			if len(fields) == 0 {
				return nil, parsingError("[multi_match] requires fields (the fake does not search all fields)")
			}
			return ix.bm25(fields, text, operator, docs)
		default:
			return nil, parsingError("unknown query [%s]", kind)
		}
	}
	return out, nil
}

// terms matches keyword fields exactly, with the constant score 1 of a filter.
func (ix *index) terms(kind string, args map[string]any, docs []*document) (map[*document]float64, *osError) {
	if len(args) != 1 {
		return nil, parsingError("[%s] query doesn't support multiple fields", kind)
	}
	out := map[*document]float64{}
	for name, v := range args {
		var values []string
		switch x := v.(type) {
		case string:
			if kind == "terms" {
				return nil, parsingError("[terms] query does not support [%s] as a single value", name)
			}
			values = []string{x}
		case []any:
			if kind == "term" {
				return nil, parsingError("[term] query does not support array of values")
			}
			for _, e := range x {
				str, ok := e.(string)
				if !ok {
					return nil, parsingError("[terms] values must be strings")
				}
				values = append(values, str)
			}
		case map[string]any:
			if kind == "terms" || len(x) != 1 {
				return nil, parsingError("[%s] query malformed", kind)
			}
			str, ok := x["value"].(string)
			if !ok {
				return nil, parsingError("[term] query needs a string value")
			}
			values = []string{str}
		default:
			return nil, parsingError("[%s] query malformed", kind)
		}
		f := ix.fields[name]
		if f != nil && f.typ != "keyword" {
			return nil, errorf(http.StatusBadRequest, "query_shard_exception", "the fake runs term queries on keyword fields only, not [%s] of type [%s]", name, f.typ)
		}
		for _, d := range docs {
			if val, ok := d.values[name].(string); ok && slices.Contains(values, val) {
				out[d] = 1
			}
		}
	}
	return out, nil
}

func matchArgs(v any) (text, operator string, e *osError) {
	operator = "or"
	switch x := v.(type) {
	case string:
		return x, operator, nil
	case map[string]any:
		for k, val := range x {
			switch k {
			case "query":
				s, ok := val.(string)
				if !ok {
					return "", "", parsingError("[match] query must be a string")
				}
				text = s
			case "operator":
				op, _ := val.(string)
				operator = strings.ToLower(op)
			case "zero_terms_query":
				if val != "none" {
					return "", "", parsingError("the fake supports only zero_terms_query none")
				}
			default:
				return "", "", parsingError("[match] query does not support [%s]", k)
			}
		}
		return text, operator, nil
	}
	return "", "", parsingError("[match] query malformed")
}

func (ix *index) knn(args map[string]any, docs []*document) (map[*document]float64, *osError) {
	if len(args) != 1 {
		return nil, parsingError("[knn] query malformed: expected one field")
	}
	for name, v := range args {
		spec, ok := v.(map[string]any)
		if !ok {
			return nil, parsingError("[knn] query malformed, no start_object after field name")
		}
		var vector []float64
		k := 0
		for key, val := range spec {
			switch key {
			case "vector":
				arr, ok := val.([]any)
				if !ok {
					return nil, parsingError("[knn] vector must be an array of numbers")
				}
				for _, x := range arr {
					n, ok := x.(json.Number)
					if !ok {
						return nil, parsingError("[knn] vector must be an array of numbers")
					}
					f, _ := n.Float64()
					vector = append(vector, f)
				}
			case "k":
				n, e := intValue("k", val)
				if e != nil {
					return nil, e
				}
				k = n
			case "boost":
			case "filter":
				var e *osError
				if docs, e = ix.knnFilter(val, docs); e != nil {
					return nil, e
				}
			default:
				return nil, parsingError("[knn] unknown token [%s] after [%s]", key, name)
			}
		}
		f := ix.fields[name]
		if f == nil || f.typ != "knn_vector" {
			return nil, errorf(http.StatusBadRequest, "query_shard_exception", "Field '%s' is not knn_vector type.", name)
		}
		if k < 1 || k > 10000 {
			return nil, errorf(http.StatusBadRequest, "illegal_argument_exception", "[knn] requires k to be in the range [1, 10000], got [%d]", k)
		}
		if len(vector) != f.dimension {
			return nil, errorf(http.StatusBadRequest, "illegal_argument_exception", "Query vector has invalid dimension: %d. Dimension should be: %d", len(vector), f.dimension)
		}
		type scored struct {
			d     *document
			score float64
		}
		var all []scored
		for _, d := range docs {
			dv, ok := d.values[name].([]float64)
			if !ok {
				continue
			}
			all = append(all, scored{d, similarity(f.spaceType, vector, dv)})
		}
		slices.SortStableFunc(all, func(a, b scored) int { return cmp.Compare(b.score, a.score) })
		out := map[*document]float64{}
		for i, s := range all {
			if i == k {
				break
			}
			out[s.d] = s.score
		}
		return out, nil
	}
	return nil, nil
}

// similarity is the OpenSearch score of a k-NN hit in a space.
func similarity(space string, q, v []float64) float64 {
	var dot, nq, nv, l2 float64
	for i := range q {
		dot += q[i] * v[i]
		nq += q[i] * q[i]
		nv += v[i] * v[i]
		l2 += (q[i] - v[i]) * (q[i] - v[i])
	}
	switch space {
	case "cosinesimil":
		if nq == 0 || nv == 0 {
			return 0
		}
		cos := dot / math.Sqrt(nq*nv)
		return (2 - (1 - cos)) / 2
	case "innerproduct":
		if dot >= 0 {
			return dot + 1
		}
		return 1 / (1 - dot)
	}
	return 1 / (1 + l2)
}

// bm25 scores the docs that match text in any of fields (best field wins), with
// Lucene's BM25 (k1 1.2, b 0.75).
func (ix *index) bm25(fields []string, text, operator string, docs []*document) (map[*document]float64, *osError) {
	if operator != "or" && operator != "and" {
		return nil, errorf(http.StatusBadRequest, "illegal_argument_exception", "No enum constant for operator [%s]", operator)
	}
	terms := slices.Compact(slices.Sorted(slices.Values(tokenize(text))))
	out := map[*document]float64{}
	for _, name := range fields {
		name, _, _ = strings.Cut(name, "^")
		f := ix.fields[name]
		if f == nil {
			continue // an unmapped field matches nothing
		}
		if f.typ != "text" {
			return nil, errorf(http.StatusBadRequest, "query_shard_exception", "the fake runs match queries on text fields only, not [%s] of type [%s]", name, f.typ)
		}
		if !f.indexed {
			return nil, errorf(http.StatusBadRequest, "query_shard_exception", "failed to create query: Cannot search on field [%s] since it is not indexed.", name)
		}
		var n, totalLen float64
		df := map[string]float64{}
		for _, d := range docs {
			toks, ok := d.values[name].([]string)
			if !ok {
				continue
			}
			n++
			totalLen += float64(len(toks))
			seen := map[string]bool{}
			for _, t := range toks {
				if !seen[t] {
					seen[t] = true
					df[t]++
				}
			}
		}
		if n == 0 {
			continue
		}
		avg := totalLen / n
		const k1, b = 1.2, 0.75
		for _, d := range docs {
			toks, ok := d.values[name].([]string)
			if !ok {
				continue
			}
			tf := map[string]float64{}
			for _, t := range toks {
				tf[t]++
			}
			var score float64
			matched := 0
			for _, t := range terms {
				if tf[t] == 0 {
					continue
				}
				matched++
				idf := math.Log(1 + (n-df[t]+0.5)/(df[t]+0.5))
				score += idf * tf[t] / (tf[t] + k1*(1-b+b*float64(len(toks))/avg))
			}
			if matched == 0 || (operator == "and" && matched < len(terms)) {
				continue
			}
			if score > out[d] {
				out[d] = score
			}
		}
	}
	return out, nil
}

// tokenize is a small stand-in for the standard analyzer: lowercased runs of letters
// and digits.
func tokenize(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// sourceFilter is _source filtering: nil means the whole source.
type sourceFilter struct {
	disabled           bool
	includes, excludes []string
}

func parseSourceFilter(v any) (*sourceFilter, *osError) {
	strs := func(v any) ([]string, bool) {
		switch x := v.(type) {
		case string:
			return []string{x}, true
		case []any:
			var out []string
			for _, s := range x {
				str, ok := s.(string)
				if !ok {
					return nil, false
				}
				out = append(out, str)
			}
			return out, true
		}
		return nil, false
	}
	switch x := v.(type) {
	case bool:
		return &sourceFilter{disabled: !x}, nil
	case map[string]any:
		f := &sourceFilter{}
		for k, val := range x {
			list, ok := strs(val)
			if !ok {
				return nil, parsingError("[_source] %s must be a string or an array of strings", k)
			}
			switch k {
			case "includes", "include":
				f.includes = list
			case "excludes", "exclude":
				f.excludes = list
			default:
				return nil, parsingError("Unknown key for a START_ARRAY in [%s].", k)
			}
		}
		return f, nil
	}
	if list, ok := strs(v); ok {
		return &sourceFilter{includes: list}, nil
	}
	return nil, parsingError("[_source] malformed")
}

func sourceFilterFromParams(q url.Values) *sourceFilter {
	split := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, ",")
	}
	f := &sourceFilter{includes: split(q.Get("_source_includes")), excludes: split(q.Get("_source_excludes"))}
	switch v := q.Get("_source"); v {
	case "", "true":
	case "false":
		f.disabled = true
	default:
		f.includes = split(v)
	}
	return f
}

func filterSource(src map[string]any, f *sourceFilter) (map[string]any, *osError) {
	if f == nil {
		return src, nil
	}
	if f.disabled {
		return nil, nil
	}
	out := map[string]any{}
	for k, v := range src {
		if len(f.includes) > 0 && !slices.Contains(f.includes, k) {
			continue
		}
		if slices.Contains(f.excludes, k) {
			continue
		}
		out[k] = v
	}
	return out, nil
}

// rangeQuery matches numeric fields within bounds (gt, gte, lt, lte), with the constant
// score 1 of a filter.
func (ix *index) rangeQuery(args map[string]any, docs []*document) (map[*document]float64, *osError) {
	if len(args) != 1 {
		return nil, parsingError("[range] query doesn't support multiple fields")
	}
	out := map[*document]float64{}
	for name, v := range args {
		f := ix.fields[name]
		if f == nil {
			return out, nil // an unmapped field matches nothing
		}
		switch f.typ {
		case "long", "integer", "float", "double":
		default:
			return nil, parsingError("the fake supports [range] only on numeric fields, not [%s] of type [%s]", name, f.typ)
		}
		bounds, ok := v.(map[string]any)
		if !ok || len(bounds) == 0 {
			return nil, parsingError("[range] query malformed, no start_object after field name")
		}
		limits := map[string]float64{}
		for op, b := range bounds {
			num, ok := b.(json.Number)
			n, err := num.Float64()
			if !ok || err != nil {
				return nil, parsingError("[range] bound [%s] of [%s] must be a number", op, name)
			}
			switch op {
			case "gt", "gte", "lt", "lte":
				limits[op] = n
			default:
				return nil, parsingError("[range] query does not support [%s]", op)
			}
		}
		for _, d := range docs {
			x, ok := d.values[name].(float64)
			if !ok {
				continue
			}
			if g, ok := limits["gt"]; ok && !(x > g) {
				continue
			}
			if g, ok := limits["gte"]; ok && !(x >= g) {
				continue
			}
			if l, ok := limits["lt"]; ok && !(x < l) {
				continue
			}
			if l, ok := limits["lte"]; ok && !(x <= l) {
				continue
			}
			out[d] = 1
		}
	}
	return out, nil
}
