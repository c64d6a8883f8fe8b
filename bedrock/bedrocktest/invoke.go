package bedrocktest

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Titan text embeddings models that POST /model/{modelId}/invoke answers.
const (
	TitanEmbedV2 = "amazon.titan-embed-text-v2:0"
	TitanEmbedV1 = "amazon.titan-embed-text-v1"
)

// InvokeRequest is an InvokeModel request for a Titan text embeddings model, as the
// server decoded it. Pointer fields were absent when nil, so tests can check what a
// client sent for each model version.
type InvokeRequest struct {
	ModelID       string          `json:"-"` // unescaped, as the client passed it
	Path          string          `json:"-"` // the escaped URL path the client sent
	Authorization string          `json:"-"` // the SigV4 Authorization header
	ContentType   string          `json:"-"` // the Content-Type header
	Accept        string          `json:"-"` // the Accept header
	Body          json.RawMessage `json:"-"` // the body as sent

	InputText  string `json:"inputText"`
	Dimensions *int   `json:"dimensions"`
	Normalize  *bool  `json:"normalize"`
}

// InvokeRequests returns the InvokeModel requests received so far, in order of arrival
// (throttled ones, which are not read, excluded).
func (s *Server) InvokeRequests() []*InvokeRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.invokes)
}

// TitanEmbedding returns the vector the server answers for text with a Titan model: a
// pseudo-random vector of dims floats seeded by a hash of the model id and the text, so
// equal texts get equal vectors and different texts unrelated ones. When normalize is
// false its length is not 1 (nor is Titan v1's), so a client must normalise it itself.
func TitanEmbedding(modelID, text string, dims int, normalize bool) []float32 {
	h := fnv.New64a()
	io.WriteString(h, modelID)
	h.Write([]byte{0})
	io.WriteString(h, text)
	rng := rand.New(rand.NewPCG(h.Sum64(), uint64(dims)))
	v := make([]float64, dims)
	var sum float64
	for i := range v {
		v[i] = rng.NormFloat64()
		sum += v[i] * v[i]
	}
	scale := 1 / math.Sqrt(sum)
	if !normalize {
		scale *= 3.5 // an arbitrary length, as unnormalised Titan vectors have
	}
	out := make([]float32, dims)
	for i, x := range v {
		out[i] = float32(x * scale)
	}
	return out
}

// handleInvoke answers InvokeModel for the Titan text embeddings models, applying
// ThrottleFirst and the checks Bedrock makes of each model's body. Other models get 404
// ResourceNotFoundException.
func (s *Server) handleInvoke(w http.ResponseWriter, r *http.Request) {
	n := s.counter.Add(1)
	throttled := n <= int64(s.opts.ThrottleFirst)
	s.update(func(st *Stats) {
		st.Requests++
		if throttled {
			st.Throttled++
		}
	})
	w.Header().Set("X-Amzn-Requestid", "bedrocktest-"+strconv.FormatInt(n, 10))
	if throttled {
		writeError(w, &APIError{Status: http.StatusTooManyRequests, Type: "ThrottlingException",
			Message: "Too many requests, please wait before trying again."})
		return
	}
	auth := r.Header.Get("Authorization")
	if err := s.checkAuth(r); err != nil {
		writeError(w, &APIError{Status: http.StatusForbidden, Type: "UnrecognizedClientException", Message: err.Error()})
		return
	}
	if model := r.PathValue("modelId"); model != TitanEmbedV2 && model != TitanEmbedV1 {
		writeError(w, &APIError{Status: http.StatusNotFound, Type: "ResourceNotFoundException",
			Message: fmt.Sprintf("bedrocktest: InvokeModel answers only %s and %s, not %q", TitanEmbedV2, TitanEmbedV1, model)})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		if r.Context().Err() != nil {
			s.update(func(st *Stats) { st.Canceled++ })
			return
		}
		writeError(w, &APIError{Status: http.StatusBadRequest, Type: "ValidationException", Message: "reading body: " + err.Error()})
		return
	}
	req := &InvokeRequest{
		ModelID: r.PathValue("modelId"), Path: r.URL.EscapedPath(), Authorization: auth,
		ContentType: r.Header.Get("Content-Type"), Accept: r.Header.Get("Accept"), Body: body,
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || json.Unmarshal(body, req) != nil {
		writeError(w, &APIError{Status: http.StatusBadRequest, Type: "ValidationException", Message: fmt.Sprintf("Malformed input request: %v, please reformat your input and try again.", err)})
		return
	}
	if !s.opts.NoRecord {
		s.mu.Lock()
		s.invokes = append(s.invokes, req)
		s.mu.Unlock()
	}
	dims, msg := validateTitan(req, fields)
	if msg != "" {
		writeError(w, &APIError{Status: http.StatusBadRequest, Type: "ValidationException", Message: msg})
		return
	}
	normalize := req.ModelID == TitanEmbedV2 && (req.Normalize == nil || *req.Normalize)
	resp, _ := json.Marshal(struct {
		Embedding           []float32 `json:"embedding"`
		InputTextTokenCount int       `json:"inputTextTokenCount"`
	}{TitanEmbedding(req.ModelID, req.InputText, dims, normalize), len(strings.Fields(req.InputText))})
	if _, thaw := s.hangOf(); thaw != nil && !s.hold(r, thaw) {
		s.update(func(st *Stats) { st.Canceled++ })
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if _, err := w.Write(resp); err != nil {
		s.update(func(st *Stats) { st.Canceled++ })
		return
	}
	s.update(func(st *Stats) { st.Completed++ })
}

// validateTitan applies Bedrock's checks of a Titan embeddings body and returns the
// dimensions to answer, or the message of a ValidationException.
func validateTitan(req *InvokeRequest, fields map[string]json.RawMessage) (int, string) {
	var allowed []string
	dims := 0
	switch req.ModelID {
	case TitanEmbedV2:
		allowed, dims = []string{"inputText", "dimensions", "normalize", "embeddingTypes"}, 1024
		if req.Dimensions != nil {
			dims = *req.Dimensions
			if dims != 256 && dims != 512 && dims != 1024 {
				return 0, fmt.Sprintf("Malformed input request: #/dimensions: %d is not a valid enum value, please reformat your input and try again.", dims)
			}
		}
	default: // TitanEmbedV1, the handler having checked the model
		allowed, dims = []string{"inputText"}, 1536
	}
	for k := range fields {
		if !slices.Contains(allowed, k) {
			return 0, fmt.Sprintf("Malformed input request: extraneous key [%s] is not permitted, please reformat your input and try again.", k)
		}
	}
	if req.InputText == "" {
		return 0, "Malformed input request: #/inputText: expected minLength: 1, actual: 0, please reformat your input and try again."
	}
	return dims, ""
}
