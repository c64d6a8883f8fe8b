package bedrocktest

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
)

// countTokensRequest is the body of CountTokens: {"input":{"converse":{…}}}, the
// converse member holding a Converse request's messages, system, toolConfig and
// additionalModelRequestFields. The invokeModel member is not served.
type countTokensRequest struct {
	Input struct {
		Converse    *Request        `json:"converse"`
		InvokeModel json.RawMessage `json:"invokeModel"`
	} `json:"input"`
}

// handleCountTokens answers CountTokens with {"inputTokens": N}, N the words of the
// request's system prompt and text blocks (as the usage of a Converse call counts
// them), so tests can predict it. It records the request with Operation "CountTokens".
// A model Options.CountTokensRefused names is refused with the ValidationException
// Bedrock answers for a model it cannot count.
func (s *Server) handleCountTokens(w http.ResponseWriter, r *http.Request) {
	n := s.counter.Add(1)
	s.update(func(st *Stats) { st.Requests++ })
	w.Header().Set("X-Amzn-Requestid", "bedrocktest-"+strconv.FormatInt(n, 10))
	auth := r.Header.Get("Authorization")
	if err := s.checkAuth(r); err != nil {
		writeError(w, &APIError{Status: http.StatusForbidden, Type: "UnrecognizedClientException", Message: err.Error()})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		writeError(w, &APIError{Status: http.StatusBadRequest, Type: "ValidationException", Message: "reading body: " + err.Error()})
		return
	}
	var in countTokensRequest
	if err := json.Unmarshal(body, &in); err != nil {
		writeError(w, &APIError{Status: http.StatusBadRequest, Type: "ValidationException", Message: "Malformed input request: " + err.Error()})
		return
	}
	if in.Input.Converse == nil {
		writeError(w, &APIError{Status: http.StatusBadRequest, Type: "ValidationException",
			Message: "bedrocktest: CountTokens answers only input.converse"})
		return
	}
	req := in.Input.Converse
	req.Operation, req.ModelID, req.Path, req.Authorization = "CountTokens", r.PathValue("modelId"), r.URL.EscapedPath(), auth
	// CountTokens takes no inferenceConfig, so the model fields (thinking's budget
	// against maxTokens) are not checked here; the rest is as for Converse.
	check := *req
	check.AdditionalModelRequestFields = nil
	if msg := validate(&check); msg != "" {
		writeError(w, &APIError{Status: http.StatusBadRequest, Type: "ValidationException", Message: msg})
		return
	}
	if !s.opts.NoRecord {
		s.mu.Lock()
		s.requests = append(s.requests, req)
		s.mu.Unlock()
	}
	if s.opts.CountTokensRefused != nil && s.opts.CountTokensRefused(req.ModelID) {
		writeError(w, &APIError{Status: http.StatusBadRequest, Type: "ValidationException",
			Message: "The provided model doesn't support counting tokens."})
		return
	}
	out, _ := json.Marshal(struct {
		InputTokens int `json:"inputTokens"`
	}{countWords(req)})
	w.Header().Set("Content-Type", "application/json")
	w.Write(out)
	s.update(func(st *Stats) { st.Completed++ })
}
