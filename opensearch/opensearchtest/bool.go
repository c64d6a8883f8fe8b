package opensearchtest

// boolQuery is OpenSearch's bool query: a document matches every must and filter
// clause, no must_not clause, and, when there are should clauses but no must or
// filter, at least one should clause. Its score is the sum of the scores of its must
// and should clauses that match (filter and must_not do not score).
func (ix *index) boolQuery(args map[string]any, docs []*document) (map[*document]float64, *osError) {
	clauses := map[string][]map[string]any{}
	for k, v := range args {
		switch k {
		case "must", "filter", "should", "must_not":
		case "boost":
			continue
		default:
			return nil, parsingError("[bool] query does not support [%s]", k)
		}
		// A clause list is an array of queries or a single query object.
		var list []any
		switch x := v.(type) {
		case []any:
			list = x
		case map[string]any:
			list = []any{x}
		default:
			return nil, parsingError("[bool] [%s] must be a query object or an array of them", k)
		}
		for _, c := range list {
			q, ok := c.(map[string]any)
			if !ok || len(q) != 1 {
				return nil, parsingError("[bool] [%s] clauses must be objects with exactly one query", k)
			}
			clauses[k] = append(clauses[k], q)
		}
	}
	out := map[*document]float64{}
	for _, d := range docs {
		out[d] = 0
	}
	keep := func(m map[*document]float64, add bool) {
		for d := range out {
			s, ok := m[d]
			if !ok {
				delete(out, d)
			} else if add {
				out[d] += s
			}
		}
	}
	for _, q := range clauses["filter"] {
		m, e := ix.score(q, docs)
		if e != nil {
			return nil, e
		}
		keep(m, false)
	}
	for _, q := range clauses["must"] {
		m, e := ix.score(q, docs)
		if e != nil {
			return nil, e
		}
		keep(m, true)
	}
	for _, q := range clauses["must_not"] {
		m, e := ix.score(q, docs)
		if e != nil {
			return nil, e
		}
		for d := range m {
			delete(out, d)
		}
	}
	if should := clauses["should"]; len(should) > 0 {
		matched := map[*document]bool{}
		for _, q := range should {
			m, e := ix.score(q, docs)
			if e != nil {
				return nil, e
			}
			for d, s := range m {
				if _, ok := out[d]; ok {
					out[d] += s
					matched[d] = true
				}
			}
		}
		if len(clauses["must"]) == 0 && len(clauses["filter"]) == 0 {
			for d := range out {
				if !matched[d] {
					delete(out, d)
				}
			}
		}
	} else if len(clauses["must"]) == 0 {
		for d := range out {
			out[d] = 0 // only filters: a constant score
		}
	}
	return out, nil
}

// knnFilter restricts docs to those that match filter, the "filter" of a k-NN query:
// OpenSearch applies it before taking the k nearest (efficient filtering).
func (ix *index) knnFilter(filter any, docs []*document) ([]*document, *osError) {
	q, ok := filter.(map[string]any)
	if !ok || len(q) != 1 {
		return nil, parsingError("[knn] filter must be an object with exactly one query")
	}
	m, e := ix.score(q, docs)
	if e != nil {
		return nil, e
	}
	out := make([]*document, 0, len(m))
	for _, d := range docs {
		if _, ok := m[d]; ok {
			out = append(out, d)
		}
	}
	return out, nil
}
