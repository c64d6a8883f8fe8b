package openaitest

import (
	"encoding/base64"
	"encoding/binary"
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

// DefaultEmbeddingDimensions is the length of the vectors answered when neither the
// request nor Config.EmbeddingDimensions says otherwise: that of nomic-embed-text.
const DefaultEmbeddingDimensions = 768

// EmbeddingRequest is an embeddings request as the server decoded it from the wire.
type EmbeddingRequest struct {
	Model string `json:"model"`
	// Input holds the texts; a single string is decoded as one text, and InputIsString
	// records that it was sent so.
	Input          StringList `json:"input"`
	InputIsString  bool       `json:"-"`
	Dimensions     *int       `json:"dimensions"`
	EncodingFormat string     `json:"encoding_format"`

	// Header holds the request's HTTP headers, such as Authorization.
	Header http.Header `json:"-"`
}

// EmbeddingRequests returns the embeddings requests received so far, in order of
// arrival, including those that were throttled, rejected or unauthorized.
func (s *Server) EmbeddingRequests() []*EmbeddingRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.embeddingRequests)
}

// Embedding returns the vector the server answers by default for input with model: dims
// pseudo-random floats seeded by a hash of the model and the input, so equal inputs get
// equal vectors and different ones unrelated vectors. Its length is 2, not 1, as some
// servers' vectors are not normalised, so that a client must normalise it itself.
func Embedding(model, input string, dims int) []float32 {
	h := fnv.New64a()
	io.WriteString(h, model)
	h.Write([]byte{0})
	io.WriteString(h, input)
	rng := rand.New(rand.NewPCG(h.Sum64(), uint64(dims)))
	v := make([]float64, dims)
	var sum float64
	for i := range v {
		v[i] = rng.NormFloat64()
		sum += v[i] * v[i]
	}
	scale := 2 / math.Sqrt(sum)
	out := make([]float32, dims)
	for i, x := range v {
		out[i] = float32(x * scale)
	}
	return out
}

func (s *Server) handleEmbeddings(w http.ResponseWriter, r *http.Request) {
	var req EmbeddingRequest
	body, err := io.ReadAll(r.Body)
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", "We could not parse the JSON body of your request: "+err.Error())
		return
	}
	var probe struct {
		Input json.RawMessage `json:"input"`
	}
	_ = json.Unmarshal(body, &probe)
	req.InputIsString = strings.HasPrefix(strings.TrimSpace(string(probe.Input)), `"`)
	req.Header = r.Header.Clone()
	s.mu.Lock()
	s.embeddingRequests = append(s.embeddingRequests, &req)
	s.mu.Unlock()

	if !s.authorized(w, r) {
		return
	}
	if s.embeddingCalls.Add(1) <= int64(s.cfg.Throttle) {
		ra := s.cfg.RetryAfter
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(ra.Seconds()))))
		w.Header().Set("Retry-After-Ms", strconv.FormatInt(ra.Milliseconds(), 10))
		writeError(w, http.StatusTooManyRequests, "requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again later.")
		return
	}
	switch {
	case req.Model == "":
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", "you must provide a model parameter")
		return
	case len(req.Input) == 0:
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", "'input' must not be empty")
		return
	case len(req.Input) > 2048:
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", "'input' must have at most 2048 items")
		return
	case req.Dimensions != nil && (*req.Dimensions < 1 || *req.Dimensions > 4096):
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", fmt.Sprintf("dimensions: %d is not supported", *req.Dimensions))
		return
	}
	for i, in := range req.Input {
		if in == "" {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "", fmt.Sprintf("'$.input[%d]' is invalid: an empty string", i))
			return
		}
	}
	dims := s.cfg.EmbeddingDimensions
	if req.Dimensions != nil {
		dims = *req.Dimensions
	}
	resp := embeddingList{Object: "list", Model: req.Model, Data: []embeddingItem{}}
	for i, in := range req.Input {
		var v []float32
		if s.cfg.Embed != nil {
			v = s.cfg.Embed(&req, in)
		} else {
			v = Embedding(req.Model, in, dims)
		}
		item := embeddingItem{Object: "embedding", Index: i, Embedding: v}
		if req.EncodingFormat == "base64" {
			buf := make([]byte, 4*len(v))
			for k, x := range v {
				binary.LittleEndian.PutUint32(buf[4*k:], math.Float32bits(x))
			}
			item.Embedding = base64.StdEncoding.EncodeToString(buf)
		}
		resp.Data = append(resp.Data, item)
		resp.Usage.PromptTokens += len(strings.Fields(in))
	}
	resp.Usage.TotalTokens = resp.Usage.PromptTokens
	if s.cfg.EmbeddingsReversed {
		slices.Reverse(resp.Data)
	}
	writeJSON(w, http.StatusOK, resp)
}

type embeddingList struct {
	Object string          `json:"object"`
	Data   []embeddingItem `json:"data"`
	Model  string          `json:"model"`
	Usage  struct {
		PromptTokens int `json:"prompt_tokens"`
		TotalTokens  int `json:"total_tokens"`
	} `json:"usage"`
}

type embeddingItem struct {
	Object    string `json:"object"`
	Index     int    `json:"index"`
	Embedding any    `json:"embedding"` // []float32, or a base64 string
}
