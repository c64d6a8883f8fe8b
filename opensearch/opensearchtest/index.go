package opensearchtest

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"
)

// index is an index: its mapping, its documents as a GET sees them (realtime), and the
// view a search sees (as of the last refresh).
type index struct {
	name     string
	mappings map[string]any // as created, returned by GET _mapping
	settings map[string]any // flattened "knn": true, …
	fields   map[string]*field
	dynamic  string // "strict", "false" or "true"
	docs     map[string]*document
	visible  map[string]*document
}

// field is a mapped field. Subfields of text (such as title.keyword) are indexed
// under their dotted name.
type field struct {
	typ       string // text, keyword, date, knn_vector, long, integer, float, double, boolean
	indexed   bool
	dimension int
	spaceType string
}

type document struct {
	id      string
	version int
	seqNo   int64
	source  map[string]any
	values  map[string]any // field name → parsed value: []string tokens, string, time.Time, []float64
}

func (ix *index) refresh() { ix.visible = maps.Clone(ix.docs) }

var (
	knnSpaces  = []string{"l2", "l1", "linf", "cosinesimil", "innerproduct", "hamming"}
	knnEngines = []string{"nmslib", "faiss", "lucene"}
)

func mapperError(format string, args ...any) *osError {
	return errorf(http.StatusBadRequest, "mapper_parsing_exception", format, args...)
}

// createIndex validates a PUT /{index} body and creates the index. s.mu is held.
func (s *Server) createIndex(name string, body []byte) (*index, *osError) {
	if name != strings.ToLower(name) || strings.ContainsAny(name, `\/*?"<>| ,#:`) {
		return nil, errorf(http.StatusBadRequest, "invalid_index_name_exception", "Invalid index name [%s], must be lowercase and must not contain the characters [\\, /, *, ?, \", <, >, |, ' ', ',', #, :]", name)
	}
	if s.indices[name] != nil {
		e := errorf(http.StatusBadRequest, "resource_already_exists_exception", "index [%s/opensearchtest-uuid] already exists", name)
		e.Index = name
		return nil, e
	}
	var req struct {
		Settings map[string]any `json:"settings"`
		Mappings map[string]any `json:"mappings"`
		Aliases  map[string]any `json:"aliases"`
	}
	if len(body) > 0 {
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return nil, errorf(http.StatusBadRequest, "parse_exception", "Failed to parse content to map: %v", err)
		}
	}
	ix := &index{name: name, mappings: req.Mappings, settings: map[string]any{}, fields: map[string]*field{},
		dynamic: "true", docs: map[string]*document{}, visible: map[string]*document{}}
	if ix.mappings == nil {
		ix.mappings = map[string]any{}
	}
	if e := flattenSettings("", req.Settings, ix.settings); e != nil {
		return nil, e
	}
	for k, v := range ix.settings {
		switch k {
		case "knn":
			if _, ok := v.(bool); !ok {
				return nil, errorf(http.StatusBadRequest, "illegal_argument_exception", "Failed to parse value [%v] as only [true] or [false] are allowed for [index.knn]", v)
			}
		case "number_of_shards", "number_of_replicas":
			if s.opts.Serverless {
				return nil, errorf(http.StatusBadRequest, "illegal_argument_exception", "setting [index.%s] is not supported by Amazon OpenSearch Serverless", k)
			}
		case "knn.algo_param.ef_search", "refresh_interval":
		default:
			return nil, errorf(http.StatusBadRequest, "illegal_argument_exception", "unknown setting [index.%s] please check that any required plugins are installed, or check the breaking changes documentation for removed settings", k)
		}
	}
	knn, _ := ix.settings["knn"].(bool)
	for k, v := range ix.mappings {
		switch k {
		case "_meta":
			if _, ok := v.(map[string]any); !ok {
				return nil, mapperError("Failed to parse mapping [_doc]: [_meta] must be an object")
			}
		case "dynamic":
			d := fmt.Sprint(v)
			if d != "strict" && d != "true" && d != "false" {
				return nil, mapperError("Failed to parse mapping [_doc]: Could not convert [dynamic] to boolean or strict")
			}
			ix.dynamic = d
		case "properties":
			props, ok := v.(map[string]any)
			if !ok {
				return nil, mapperError("Failed to parse mapping [_doc]: [properties] must be an object")
			}
			if e := ix.parseProperties("", props, knn); e != nil {
				return nil, e
			}
		default:
			return nil, mapperError("Failed to parse mapping [_doc]: Root mapping definition has unsupported parameters:  [%s : %v]", k, v)
		}
	}
	s.indices[name] = ix
	return ix, nil
}

func flattenSettings(prefix string, in map[string]any, out map[string]any) *osError {
	for k, v := range in {
		key := strings.TrimPrefix(prefix+k, "index.")
		if m, ok := v.(map[string]any); ok {
			if e := flattenSettings(key+".", m, out); e != nil {
				return e
			}
			continue
		}
		out[key] = v
	}
	return nil
}

func (ix *index) parseProperties(prefix string, props map[string]any, knn bool) *osError {
	for name, v := range props {
		def, ok := v.(map[string]any)
		if !ok {
			return mapperError("Expected map for property [fields] on field [%s] but got a class java.lang.String", name)
		}
		full := prefix + name
		f := &field{indexed: true}
		typ, _ := def["type"].(string)
		f.typ = typ
		allowed := []string{"type"}
		switch typ {
		case "text":
			allowed = append(allowed, "fields", "analyzer", "index")
		case "keyword":
			allowed = append(allowed, "index", "doc_values", "ignore_above")
		case "date":
			allowed = append(allowed, "format", "index", "doc_values")
		case "long", "integer", "float", "double", "boolean":
			allowed = append(allowed, "index", "doc_values")
		case "knn_vector":
			allowed = append(allowed, "dimension", "method", "space_type", "data_type")
		default:
			return mapperError("No handler for type [%s] declared on field [%s]", typ, full)
		}
		for k := range def {
			if !slices.Contains(allowed, k) {
				return mapperError("unknown parameter [%s] on mapper [%s] of type [%s]", k, full, typ)
			}
		}
		if idx, ok := def["index"]; ok {
			b, isBool := idx.(bool)
			if !isBool {
				return mapperError("Failed to parse mapping: [index] on field [%s] must be a boolean", full)
			}
			f.indexed = b
		}
		switch typ {
		case "text":
			if a, ok := def["analyzer"]; ok && a != "standard" {
				return mapperError("analyzer [%v] has not been configured in mappings", a)
			}
			if sub, ok := def["fields"]; ok {
				m, ok := sub.(map[string]any)
				if !ok {
					return mapperError("[fields] on field [%s] must be an object", full)
				}
				if e := ix.parseProperties(full+".", m, knn); e != nil {
					return e
				}
			}
		case "date":
			if f, ok := def["format"]; ok && f != "strict_date_optional_time||epoch_millis" && f != "strict_date_optional_time" {
				return mapperError("the fake supports only the format strict_date_optional_time[||epoch_millis], not [%v] on field [%s]", f, full)
			}
		case "knn_vector":
			if e := parseKNN(full, def, f, knn); e != nil {
				return e
			}
		}
		ix.fields[full] = f
	}
	return nil
}

func parseKNN(name string, def map[string]any, f *field, knn bool) *osError {
	dim, ok := def["dimension"].(float64)
	if !ok || dim != math.Trunc(dim) {
		return mapperError("Dimension value missing for vector: %s", name)
	}
	if dim < 1 || dim > 16000 {
		return mapperError("Dimension value cannot be greater than 16000 or less than 1 for vector: %s", name)
	}
	f.dimension = int(dim)
	f.spaceType = "l2"
	if st, ok := def["space_type"].(string); ok {
		f.spaceType = st
	}
	if dt, ok := def["data_type"]; ok && dt != "float" {
		return mapperError("the fake supports only data_type [float] on field [%s], not [%v]", name, dt)
	}
	m, hasMethod := def["method"]
	if !hasMethod {
		return nil
	}
	method, ok := m.(map[string]any)
	if !ok {
		return mapperError("Unable to parse [method] for vector: %s", name)
	}
	if !knn {
		return mapperError("Cannot set modelId or method parameters when index.knn setting is false for field: %s", name)
	}
	for k := range method {
		if !slices.Contains([]string{"name", "space_type", "engine", "parameters"}, k) {
			return mapperError("Invalid parameter for method: %s", k)
		}
	}
	if method["name"] != "hnsw" {
		return mapperError("Invalid method name: %v", method["name"])
	}
	if st, ok := method["space_type"].(string); ok {
		f.spaceType = st
	}
	if !slices.Contains(knnSpaces, f.spaceType) {
		return mapperError("Unable to parse the space type: %s", f.spaceType)
	}
	engine, _ := method["engine"].(string)
	if engine == "" {
		engine = "faiss"
	}
	if !slices.Contains(knnEngines, engine) {
		return mapperError("Invalid engine type: %s", engine)
	}
	if params, ok := method["parameters"]; ok {
		p, ok := params.(map[string]any)
		if !ok {
			return mapperError("Unable to parse [parameters] for vector: %s", name)
		}
		for k, v := range p {
			if !slices.Contains([]string{"m", "ef_construction", "ef_search", "encoder"}, k) {
				return mapperError("Invalid parameter for method hnsw: %s", k)
			}
			if n, ok := v.(float64); k != "encoder" && (!ok || n < 1 || n != math.Trunc(n)) {
				return mapperError("Invalid value for hnsw parameter %s: %v", k, v)
			}
		}
	}
	return nil
}

// parseDoc validates a document's source against the mapping, as indexing does.
func (ix *index) parseDoc(src []byte) (*document, *osError) {
	var source map[string]any
	dec := json.NewDecoder(strings.NewReader(string(src)))
	dec.UseNumber()
	if err := dec.Decode(&source); err != nil || source == nil {
		return nil, mapperError("failed to parse, document is empty or not a JSON object")
	}
	doc := &document{values: map[string]any{}}
	for k, v := range source {
		f := ix.fields[k]
		if f == nil {
			if ix.dynamic == "strict" {
				return nil, errorf(http.StatusBadRequest, "strict_dynamic_mapping_exception",
					"mapping set to strict, dynamic introduction of [%s] within [_doc] is not allowed", k)
			}
			continue
		}
		if v == nil {
			continue
		}
		val, e := parseValue(k, f, v)
		if e != nil {
			return nil, e
		}
		doc.values[k] = val
		if f.typ == "text" {
			for sub, sf := range ix.fields {
				if strings.HasPrefix(sub, k+".") && sf.typ == "keyword" {
					doc.values[sub] = v.(string)
				}
			}
		}
	}
	// Keep the source as a plain decoded map (numbers as float64), as it is returned.
	json.Unmarshal(src, &doc.source)
	return doc, nil
}

func parseValue(name string, f *field, v any) (any, *osError) {
	bad := func(format string, args ...any) *osError {
		return mapperError("failed to parse field [%s] of type [%s] in document: %s", name, f.typ, fmt.Sprintf(format, args...))
	}
	switch f.typ {
	case "text":
		s, ok := v.(string)
		if !ok {
			return nil, bad("expected a string, got %T", v)
		}
		return tokenize(s), nil
	case "keyword":
		s, ok := v.(string)
		if !ok {
			return nil, bad("expected a string, got %T", v)
		}
		return s, nil
	case "date":
		switch x := v.(type) {
		case string:
			t, err := time.Parse(time.RFC3339Nano, x)
			if err != nil {
				return nil, bad("failed to parse date field [%s] with format [strict_date_optional_time||epoch_millis]", x)
			}
			return t, nil
		case json.Number:
			ms, err := x.Int64()
			if err != nil {
				return nil, bad("failed to parse date field [%s]", x)
			}
			return time.UnixMilli(ms), nil
		}
		return nil, bad("expected a date, got %T", v)
	case "knn_vector":
		arr, ok := v.([]any)
		if !ok {
			return nil, bad("expected an array of numbers")
		}
		if len(arr) != f.dimension {
			return nil, errorf(http.StatusBadRequest, "mapper_parsing_exception",
				"failed to parse field [%s] of type [knn_vector] in document. Preview of field's value: '%v'; Vector dimension mismatch. Expected: %d, Given: %d", name, preview(arr), f.dimension, len(arr))
		}
		vec := make([]float64, len(arr))
		var norm float64
		for i, x := range arr {
			n, ok := x.(json.Number)
			if !ok {
				return nil, bad("vector element %d is not a number", i)
			}
			vec[i], _ = n.Float64()
			if math.IsNaN(vec[i]) || math.IsInf(vec[i], 0) {
				return nil, bad("KNN vector values cannot be NaN or Infinity")
			}
			norm += vec[i] * vec[i]
		}
		if f.spaceType == "cosinesimil" && norm == 0 {
			return nil, errorf(http.StatusBadRequest, "mapper_parsing_exception",
				"failed to parse field [%s] of type [knn_vector]: zero vector is not supported when space type is [cosinesimil]", name)
		}
		return vec, nil
	case "long", "integer", "float", "double":
		n, ok := v.(json.Number)
		if !ok {
			return nil, bad("expected a number")
		}
		f, _ := n.Float64()
		return f, nil
	case "boolean":
		b, ok := v.(bool)
		if !ok {
			return nil, bad("expected a boolean")
		}
		return b, nil
	}
	return nil, bad("unsupported type")
}

func preview(arr []any) string {
	var b strings.Builder
	b.WriteString("[")
	for i, x := range arr {
		if i == 3 {
			b.WriteString(", …")
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, x)
	}
	b.WriteString("]")
	return b.String()
}

// sortValue is a document's value for sorting on field: dates sort (and are returned)
// as epoch milliseconds, as OpenSearch does.
func sortValue(d *document, f string) any {
	switch v := d.values[f].(type) {
	case time.Time:
		return v.UnixMilli()
	case string:
		return v
	case float64:
		return v
	}
	return nil
}
