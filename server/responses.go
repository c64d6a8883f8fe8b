package server

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"genai"
	"genai/agent"
)

// This file serves OpenAI's Responses API: POST /v1/responses (whole, or streamed with
// the documented event sequence), GET and DELETE /v1/responses/{id}. A response is
// answered from one pass over the model's event stream, streamed or not, so that both
// give the same output items. Stored responses (store, the default) are kept in
// Options.Responses, bound to the API key that made them, and continued by
// previous_response_id.
//
// The server's own tools (server_tools, as on /api/chat) run inside the request; each
// call shows as an "mcp_call" output item, the shape OpenAI gives a tool that a remote
// MCP server ran for the model, with server_label the tool group ("knowledge_base"…),
// its arguments, and its output (or error, with status "failed"). Function tools of the
// client end the response with "function_call" items, as OpenAI's do.

// The output items of a response.
type (
	respOutputMessage struct {
		Type    string           `json:"type"` // "message"
		ID      string           `json:"id"`
		Status  string           `json:"status"`
		Role    string           `json:"role"`
		Content []respOutputText `json:"content"`
	}
	respOutputText struct {
		Type        string `json:"type"` // "output_text"
		Text        string `json:"text"`
		Annotations []any  `json:"annotations"`
		Logprobs    []any  `json:"logprobs"`
	}
	respFunctionCall struct {
		Type      string `json:"type"` // "function_call"
		ID        string `json:"id"`
		CallID    string `json:"call_id"`
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
		Status    string `json:"status"`
	}
	respMCPCall struct {
		Type        string  `json:"type"` // "mcp_call"
		ID          string  `json:"id"`
		ServerLabel string  `json:"server_label"`
		Name        string  `json:"name"`
		Arguments   string  `json:"arguments"`
		Output      *string `json:"output"`
		Error       *string `json:"error"`
		Status      string  `json:"status"`
	}
)

// respObject is OpenAI's Response object.
type respObject struct {
	ID                 string                `json:"id"`
	Object             string                `json:"object"` // "response"
	CreatedAt          int64                 `json:"created_at"`
	Status             string                `json:"status"`
	Background         bool                  `json:"background"`
	Error              *respError            `json:"error"`
	IncompleteDetails  *respIncomplete       `json:"incomplete_details"`
	Instructions       *string               `json:"instructions"`
	MaxOutputTokens    *int                  `json:"max_output_tokens"`
	Model              string                `json:"model"`
	Output             []any                 `json:"output"`
	ParallelToolCalls  bool                  `json:"parallel_tool_calls"`
	PreviousResponseID *string               `json:"previous_response_id"`
	Temperature        *float64              `json:"temperature"`
	TopP               *float64              `json:"top_p"`
	ToolChoice         any                   `json:"tool_choice"`
	Tools              []respFunctionToolOut `json:"tools"`
	ServerTools        []string              `json:"server_tools,omitempty"`
	Store              bool                  `json:"store"`
	Text               respTextConfig        `json:"text"`
	Truncation         string                `json:"truncation"`
	Usage              *respUsage            `json:"usage"`
	Metadata           map[string]string     `json:"metadata"`
}

type (
	respError struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	respIncomplete struct {
		Reason string `json:"reason"`
	}
	respTextConfig struct {
		Format struct {
			Type string `json:"type"`
		} `json:"format"`
	}
	respUsage struct {
		InputTokens        int `json:"input_tokens"`
		InputTokensDetails struct {
			CachedTokens int `json:"cached_tokens"`
		} `json:"input_tokens_details"`
		OutputTokens        int `json:"output_tokens"`
		OutputTokensDetails struct {
			ReasoningTokens int `json:"reasoning_tokens"`
		} `json:"output_tokens_details"`
		TotalTokens int `json:"total_tokens"`
	}
	// respTextDelta is the most frequent event, a struct rather than a map.
	respTextDelta struct {
		Type           string `json:"type"`
		SequenceNumber int    `json:"sequence_number"`
		ItemID         string `json:"item_id"`
		OutputIndex    int    `json:"output_index"`
		ContentIndex   int    `json:"content_index"`
		Delta          string `json:"delta"`
		Logprobs       []any  `json:"logprobs"`
	}
)

// Incomplete reasons: OpenAI's for the output limit, and this server's for an agent
// cut at its step limit (GENAI_AGENT_MAX_STEPS).
const (
	incompleteMaxTokens = "max_output_tokens"
	incompleteMaxSteps  = "max_steps"
)

// respBuilder turns a model's events into a response's output items and, when sse is
// set, into the Responses API's stream events, numbered by sequence_number.
type respBuilder struct {
	obj *respObject
	sse *sseWriter
	seq int

	msg      *respOutputMessage // the message item being written, or nil
	msgIndex int
	text     strings.Builder
	calls    map[int]int    // a streamed call's Index → its item's output index
	byCallID map[string]int // a server tool call's id → its item's output index
	// serverLabel is the group of each server tool, by name; a call to any other tool
	// is the client's function call.
	serverLabel map[string]string
	// answer is the assistant turn a continuation sees: the thinking, the text and the
	// client's function calls (server tools' calls and results are shown, not kept).
	answer []genai.ContentBlock
	// reasoning is the reasoning item being written, or nil (responses_reasoning.go);
	// thought its blocks so far.
	reasoning      *respReasoningItem
	reasoningIndex int
	thought        []genai.ContentBlock
}

// send writes one stream event of type typ with fields, numbered; nothing without a stream.
func (b *respBuilder) send(typ string, fields map[string]any) error {
	if b.sse == nil {
		return nil
	}
	fields["type"] = typ
	fields["sequence_number"] = b.seq
	b.seq++
	return b.sse.event(typ, fields)
}

// start writes response.created and response.in_progress.
func (b *respBuilder) start() error {
	if b.sse == nil {
		return nil
	}
	b.sse.hold = true
	err := b.send("response.created", map[string]any{"response": b.obj})
	if err == nil {
		err = b.send("response.in_progress", map[string]any{"response": b.obj})
	}
	b.sse.hold = false
	return err
}

func (b *respBuilder) addItem(item any) (int, error) {
	b.obj.Output = append(b.obj.Output, item)
	i := len(b.obj.Output) - 1
	return i, b.send("response.output_item.added", map[string]any{"output_index": i, "item": item})
}

// addText writes text to the open message item, opening one first if none is.
func (b *respBuilder) addText(text string) error {
	if b.msg == nil {
		b.msg = &respOutputMessage{Type: "message", ID: newID("msg_"), Status: "in_progress", Role: "assistant", Content: []respOutputText{}}
		// The item's opening events leave with its first text, in one write.
		if b.sse != nil {
			b.sse.hold = true
		}
		var err error
		b.msgIndex, err = b.addItem(b.msg)
		if err == nil {
			err = b.send("response.content_part.added", map[string]any{"item_id": b.msg.ID, "output_index": b.msgIndex,
				"content_index": 0, "part": respOutputText{Type: "output_text", Annotations: []any{}, Logprobs: []any{}}})
		}
		if b.sse != nil {
			b.sse.hold = false
		}
		if err != nil {
			return err
		}
	}
	b.text.WriteString(text)
	if b.sse == nil {
		return nil
	}
	ev := respTextDelta{"response.output_text.delta", b.seq, b.msg.ID, b.msgIndex, 0, text, []any{}}
	b.seq++
	return b.sse.event(ev.Type, ev)
}

// closeMessage ends the open message item, if any.
func (b *respBuilder) closeMessage() error {
	m := b.msg
	if m == nil {
		return nil
	}
	b.msg = nil
	text := b.text.String()
	b.text.Reset()
	part := respOutputText{Type: "output_text", Text: text, Annotations: []any{}, Logprobs: []any{}}
	m.Content, m.Status = []respOutputText{part}, "completed"
	if strings.TrimSpace(text) != "" {
		b.answer = append(b.answer, genai.ContentBlock{Type: genai.BlockText, Text: text})
	}
	ids := map[string]any{"item_id": m.ID, "output_index": b.msgIndex, "content_index": 0}
	if err := b.send("response.output_text.done", withFields(ids, "text", text, "logprobs", []any{})); err != nil {
		return err
	}
	if err := b.send("response.content_part.done", withFields(ids, "part", part)); err != nil {
		return err
	}
	return b.send("response.output_item.done", map[string]any{"output_index": b.msgIndex, "item": m})
}

// withFields returns a copy of m with the key-value pairs kv added.
func withFields(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m)+len(kv)/2+2)
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// addTool handles a step of a streamed tool call.
func (b *respBuilder) addTool(t *genai.ToolUseEvent) error {
	if err := b.closeMessage(); err != nil {
		return err
	}
	label, server := b.serverLabel[t.Name]
	switch {
	case t.ID != "" && !t.Done: // its start
		var item any = &respFunctionCall{Type: "function_call", ID: newID("fc_"), CallID: t.ID, Name: t.Name, Status: "in_progress"}
		if server {
			item = &respMCPCall{Type: "mcp_call", ID: newID("mcp_"), ServerLabel: label, Name: t.Name, Status: "in_progress"}
		}
		i, err := b.addItem(item)
		b.calls[t.Index] = i
		return err
	case !t.Done: // a piece of its input
		i, ok := b.calls[t.Index]
		if !ok {
			return nil
		}
		switch item := b.obj.Output[i].(type) {
		case *respFunctionCall:
			item.Arguments += t.InputDelta
			return b.send("response.function_call_arguments.delta", map[string]any{"item_id": item.ID, "output_index": i, "delta": t.InputDelta})
		case *respMCPCall:
			item.Arguments += t.InputDelta
			return b.send("response.mcp_call_arguments.delta", map[string]any{"item_id": item.ID, "output_index": i, "delta": t.InputDelta})
		}
		return nil
	}
	i, ok := b.calls[t.Index]
	if !ok { // a call whose start was not streamed: added whole
		b.calls[t.Index] = -1
		if err := b.addTool(&genai.ToolUseEvent{Index: t.Index, ID: t.ID, Name: t.Name}); err != nil {
			return err
		}
		i = b.calls[t.Index]
	}
	args := string(t.Input)
	if args == "" {
		args = "{}"
	}
	switch item := b.obj.Output[i].(type) {
	case *respFunctionCall:
		item.Arguments, item.Status = args, "completed"
		call := genai.ToolUse{ID: t.ID, Name: t.Name, Input: json.RawMessage(args)}
		b.answer = append(b.answer, genai.ContentBlock{Type: genai.BlockToolUse, ToolUse: &call})
		if err := b.send("response.function_call_arguments.done", map[string]any{"item_id": item.ID, "output_index": i, "arguments": args}); err != nil {
			return err
		}
		return b.send("response.output_item.done", map[string]any{"output_index": i, "item": item})
	case *respMCPCall:
		item.Arguments, item.Status = args, "calling"
		b.byCallID[t.ID] = i
		if err := b.send("response.mcp_call_arguments.done", map[string]any{"item_id": item.ID, "output_index": i, "arguments": args}); err != nil {
			return err
		}
		return b.send("response.mcp_call.in_progress", map[string]any{"item_id": item.ID, "output_index": i})
	}
	return nil
}

// addToolResult completes the item of a server tool's call with its result.
func (b *respBuilder) addToolResult(res *genai.ToolResult) error {
	i, ok := b.byCallID[res.ToolUseID]
	if !ok {
		return nil
	}
	item := b.obj.Output[i].(*respMCPCall)
	var text []string
	for _, c := range resultContent(res.Content) {
		text = append(text, c.(textContent).Text)
	}
	out := strings.Join(text, "\n")
	event := "response.mcp_call.completed"
	if res.IsError {
		item.Error, item.Status, event = &out, "failed", "response.mcp_call.failed"
	} else {
		item.Output, item.Status = &out, "completed"
	}
	if err := b.send(event, map[string]any{"item_id": item.ID, "output_index": i}); err != nil {
		return err
	}
	return b.send("response.output_item.done", map[string]any{"output_index": i, "item": item})
}

// finish ends the output with the model's last event: the status, why it is
// incomplete if it is, and the usage.
func (b *respBuilder) finish(done genai.Event) error {
	if err := b.closeMessage(); err != nil {
		return err
	}
	if err := b.closeReasoning(); err != nil {
		return err
	}
	b.obj.Status = "completed"
	switch done.StopReason {
	case "max_tokens":
		b.obj.Status, b.obj.IncompleteDetails = "incomplete", &respIncomplete{incompleteMaxTokens}
	case agent.StopMaxSteps:
		b.obj.Status, b.obj.IncompleteDetails = "incomplete", &respIncomplete{incompleteMaxSteps}
	case genai.StopGuardrail: // the text is the guardrail's message, as OpenAI's filter cuts one
		b.obj.Status, b.obj.IncompleteDetails = "incomplete", &respIncomplete{"content_filter"}
	}
	// As OpenAI counts them: input tokens include those read from and written to the
	// prompt cache, and cached_tokens are those read.
	in := done.Usage.InputTokens + done.Usage.CacheReadTokens + done.Usage.CacheWriteTokens
	u := &respUsage{InputTokens: in, OutputTokens: done.Usage.OutputTokens}
	u.InputTokensDetails.CachedTokens = done.Usage.CacheReadTokens
	u.TotalTokens = u.InputTokens + u.OutputTokens
	b.obj.Usage = u
	return nil
}

// add handles one event of the model's stream but its end.
func (b *respBuilder) add(ev genai.Event) error {
	switch {
	case ev.Thinking != nil:
		return b.addThinking(ev.Thinking)
	case ev.ToolUse != nil:
		return b.addTool(ev.ToolUse)
	case ev.ToolResult != nil:
		return b.addToolResult(ev.ToolResult)
	case ev.Text != "":
		return b.addText(ev.Text)
	}
	return nil
}

// respErrorCode maps a code to the code of a failed response's error object.
func respErrorCode(code string) string {
	switch code {
	case genai.ERATELIMIT, genai.ETHROTTLED:
		return "rate_limit_exceeded"
	case genai.EINVALID, genai.ETOOLARGE, genai.EMEDIATYPE:
		return "invalid_prompt"
	}
	return "server_error"
}

// createResponse serves POST /v1/responses.
func (s *Server) createResponse(w http.ResponseWriter, r *http.Request) {
	if s.opts.Chat == nil {
		s.writeError(w, r, genai.Errorf(genai.ENOPROVIDER, "%s", noProviderMessage))
		return
	}
	data, err := s.readBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := parseResponseRequest(data)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	prev, err := s.previousResponse(r, p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	req := p.req
	if req.Model == "" {
		req.Model = s.opts.ChatModel
	}
	if req.MaxTokens == 0 {
		req.MaxTokens = s.opts.MaxTokens + req.ThinkingBudget
	}
	system, depth := p.system, 1
	if prev != nil {
		system, depth = joinNonEmpty(prev.System, p.system), prev.Depth+1
		req.Messages = append(req.Messages, prev.Messages...)
	}
	for _, m := range p.input {
		req.Messages = appendTurn(req.Messages, m)
	}
	instructions := ""
	if p.in.Instructions != nil {
		instructions = *p.in.Instructions
	}
	req.System = joinNonEmpty(instructions, system)
	store := p.store && s.opts.Responses != nil
	if len(req.Messages) == 0 {
		err = genai.Errorf(genai.EINVALID, "input: holds no user or assistant message")
	} else {
		err = req.Validate()
	}
	if err == nil && store {
		if n := genai.StoredSize(system, req.Messages); n > genai.MaxStoredResponseBytes {
			err = genai.Errorf(genai.ETOOLARGE, "input: the conversation is %d bytes, over the limit of %d a stored response holds; start a new conversation (no previous_response_id) or send store: false", n, genai.MaxStoredResponseBytes)
		}
	}
	var model genai.ChatModel
	if err == nil {
		model, err = s.modelFor(req)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}

	obj := &respObject{
		ID: newID("resp_"), Object: "response", CreatedAt: time.Now().Unix(), Status: "in_progress",
		Instructions: p.in.Instructions, Model: req.Model, Output: []any{},
		ParallelToolCalls:  req.ToolChoice == nil || !req.ToolChoice.DisableParallel,
		PreviousResponseID: p.in.PreviousResponseID, Temperature: req.Temperature, TopP: req.TopP,
		ToolChoice: toolChoiceEcho(req.ToolChoice), Tools: p.tools, ServerTools: req.ServerTools,
		Store: store, Truncation: "disabled", Metadata: p.in.Metadata,
	}
	obj.Text.Format.Type = "text"
	if p.in.MaxOutputTokens != nil {
		obj.MaxOutputTokens = &req.MaxTokens
	}
	if obj.Metadata == nil {
		obj.Metadata = map[string]string{}
	}
	b := &respBuilder{obj: obj, calls: map[int]int{}, byCallID: map[string]int{}, serverLabel: s.serverToolLabels(req.ServerTools)}
	call := s.metrics.startCall(s.opts.Provider, s.modelLabel(req.Model))
	var usage genai.Usage
	defer func() { call.finish(err, usage) }()
	var done *genai.Event
	for ev, evErr := range model.Stream(r.Context(), req) {
		if evErr != nil {
			err = evErr
			break
		}
		if p.stream && b.sse == nil {
			// Headers wait for the first event, so an error before it is an ordinary
			// HTTP error with its status.
			b.sse = s.newSSEWriter(w, r)
			defer b.sse.close()
			if err = b.start(); err != nil {
				return
			}
		}
		if ev.Done {
			usage, done = ev.Usage, &ev
			break
		}
		if ev.Text != "" || ev.ToolUse != nil {
			call.firstToken()
		}
		if err = b.add(ev); err != nil {
			return // the client went away; leaving the loop cancels the upstream call
		}
	}
	if err == nil && done == nil {
		err = genai.Errorf(genai.EUPSTREAM, "the model's stream ended without a stop event")
	}
	var body []byte
	if err == nil {
		err = b.finish(*done)
	}
	if err == nil {
		body, err = json.Marshal(obj)
	}
	if err == nil && store {
		// Stored before the client hears of it, so a continuation sent at once finds it.
		err = s.opts.Responses.PutResponse(r.Context(), &genai.StoredResponse{
			ID: obj.ID, Owner: Caller(r.Context()), CreatedAt: time.Unix(obj.CreatedAt, 0).UTC(), System: system,
			Messages: appendTurn(slices.Clip(req.Messages), b.answerMessage()), Depth: depth, Body: body,
		})
	}
	if b.sse != nil {
		b.sse.ending()
	}
	switch {
	case err == nil && b.sse == nil:
		writeJSON(w, http.StatusOK, json.RawMessage(body))
	case err == nil:
		event := "response.completed"
		if obj.Status == "incomplete" {
			event = "response.incomplete"
		}
		err = b.send(event, map[string]any{"response": json.RawMessage(body)})
	case b.sse == nil:
		s.writeError(w, r, err)
	default:
		d := s.errorDetailOf(r, err)
		obj.Status, obj.Error = "failed", &respError{Code: respErrorCode(d.Code), Message: d.Message}
		var param any
		if p := paramOf(d.Message); p != nil {
			param = *p
		}
		b.send("error", map[string]any{"code": d.Code, "message": d.Message, "param": param})
		b.send("response.failed", map[string]any{"response": obj})
	}
}

// answerMessage is the assistant turn a stored response keeps.
func (b *respBuilder) answerMessage() genai.Message {
	if len(b.answer) == 0 {
		// An empty turn would make the conversation invalid; the model is told so.
		return genai.TextMessage(genai.RoleAssistant, "(no answer)")
	}
	return genai.Message{Role: genai.RoleAssistant, Content: b.answer}
}

// previousResponse loads the response p continues, if any: the caller's own, within the
// chain limit.
func (s *Server) previousResponse(r *http.Request, p *parsedResponseRequest) (*genai.StoredResponse, error) {
	id := p.in.PreviousResponseID
	if id == nil {
		return nil, nil
	}
	if s.opts.Responses == nil {
		return nil, genai.Errorf(genai.ENOTFOUND, "previous_response_id: no response %q: this server keeps no responses", *id)
	}
	prev, err := s.opts.Responses.GetResponse(r.Context(), *id, Caller(r.Context()))
	switch {
	case genai.ErrorCode(err) == genai.ENOTFOUND:
		return nil, genai.Errorf(genai.ENOTFOUND, "previous_response_id: no response %q for this API key", *id)
	case err != nil:
		return nil, err
	case prev.Depth >= genai.MaxResponseChain:
		return nil, genai.Errorf(genai.EINVALID, "previous_response_id: %q ends a chain of %d responses, the limit; start a new conversation", *id, prev.Depth)
	}
	return prev, nil
}

// serverToolLabels returns the group of each tool of groups, by tool name.
func (s *Server) serverToolLabels(groups []string) map[string]string {
	labels := map[string]string{}
	for _, g := range groups {
		if tools, ok := s.opts.ServerTools[g]; ok {
			for _, t := range tools() {
				labels[t.Tool().Name] = g
			}
		}
	}
	return labels
}

func joinNonEmpty(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "\n\n")
}

// getResponse serves GET /v1/responses/{id}: the response as it was answered.
func (s *Server) getResponse(w http.ResponseWriter, r *http.Request) {
	if err := noQuery(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	stored, err := s.storedResponse(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, stored.Body)
}

// deleteResponse serves DELETE /v1/responses/{id}, answering OpenAI's deleted object.
func (s *Server) deleteResponse(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var err error = genai.Errorf(genai.ENOTFOUND, "no response %q: this server keeps no responses", id)
	if s.opts.Responses != nil {
		err = s.opts.Responses.DeleteResponse(r.Context(), id, Caller(r.Context()))
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "object": "response", "deleted": true})
}

func (s *Server) storedResponse(r *http.Request) (*genai.StoredResponse, error) {
	id := r.PathValue("id")
	if s.opts.Responses == nil {
		return nil, genai.Errorf(genai.ENOTFOUND, "no response %q: this server keeps no responses", id)
	}
	return s.opts.Responses.GetResponse(r.Context(), id, Caller(r.Context()))
}

// noQuery refuses the query parameters of GET /v1/responses/{id} (include, stream…):
// none is implemented.
func noQuery(r *http.Request) error {
	for k := range r.URL.Query() {
		return genai.Errorf(genai.EINVALID, "%s: not supported by this server; remove it", k)
	}
	return nil
}
