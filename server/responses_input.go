package server

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"genai"
)

// This file reads a request of OpenAI's Responses API (POST /v1/responses) into a
// ChatRequest: "input" as text or as items (messages, function calls and their outputs),
// "instructions", function tools and the server's own tools. Every field is decoded
// strictly: one this server does not implement is refused by name, never dropped.

// respRequest is the body of POST /v1/responses.
type respRequest struct {
	Model              string            `json:"model"`
	Input              json.RawMessage   `json:"input"`
	Instructions       *string           `json:"instructions"`
	MaxOutputTokens    *float64          `json:"max_output_tokens"`
	Temperature        *float64          `json:"temperature"`
	TopP               *float64          `json:"top_p"`
	Tools              []json.RawMessage `json:"tools"`
	ToolChoice         json.RawMessage   `json:"tool_choice"`
	ParallelToolCalls  *bool             `json:"parallel_tool_calls"`
	ServerTools        []string          `json:"server_tools"`
	Stream             *bool             `json:"stream"`
	Store              *bool             `json:"store"`
	PreviousResponseID *string           `json:"previous_response_id"`
	Metadata           map[string]string `json:"metadata"`

	// Fields that clients and frameworks send with their neutral values: taken at those
	// values, refused at any other, since nothing here implements the others.
	Text       json.RawMessage `json:"text"`       // {"format":{"type":"text"}}
	Truncation *string         `json:"truncation"` // "disabled"
	Include    []string        `json:"include"`    // none, or reasoning.encrypted_content (always given)
	// Reasoning turns on extended thinking (responses_reasoning.go).
	Reasoning json.RawMessage `json:"reasoning"`
	// User identifies the end user to the provider for abuse monitoring; it changes
	// nothing in the answer.
	User string `json:"user"`
}

// The items of "input", each kind with its own fields so that another is refused by name.
type (
	respItemHead struct {
		Type string          `json:"type"`
		Role json.RawMessage `json:"role"`
	}
	respMessageItem struct {
		Type    string          `json:"type"`
		ID      string          `json:"id"`     // set when a client sends back an output item
		Status  string          `json:"status"` // likewise
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	respPart struct {
		Type        string            `json:"type"`
		Text        *string           `json:"text"`
		ImageURL    *string           `json:"image_url"`
		Detail      string            `json:"detail"`
		FileID      *string           `json:"file_id"`
		Filename    *string           `json:"filename"`    // input_file
		FileData    *string           `json:"file_data"`   // input_file: a data URL
		FileURL     *string           `json:"file_url"`    // input_file: refused, never fetched
		Annotations []json.RawMessage `json:"annotations"` // of output_text sent back; none made here
		Logprobs    []json.RawMessage `json:"logprobs"`    // likewise
	}
	respFunctionCallItem struct {
		Type      string  `json:"type"`
		ID        string  `json:"id"`
		Status    string  `json:"status"`
		CallID    *string `json:"call_id"`
		Name      *string `json:"name"`
		Arguments *string `json:"arguments"`
	}
	respFunctionOutputItem struct {
		Type   string          `json:"type"`
		ID     string          `json:"id"`
		Status string          `json:"status"`
		CallID *string         `json:"call_id"`
		Name   string          `json:"name"` // the call's, which call_id already names
		Output json.RawMessage `json:"output"`
	}
	respFunctionTool struct {
		Type        string          `json:"type"`
		Name        *string         `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
		Strict      *bool           `json:"strict"`
	}
	respToolChoiceObject struct {
		Type string `json:"type"`
		Name string `json:"name"`
	}
)

// Limits of the Responses API's request, as OpenAI documents them.
const (
	maxMetadataPairs     = 16
	maxMetadataKeyLen    = 64
	maxMetadataValueLen  = 512
	maxResponseIDLength  = 128
	maxResponseItems     = 2 * genai.MaxMessages // items of "input"
	emptyToolParameters  = `{"type":"object","properties":{}}`
	respNoServerFetching = "; this server does not fetch URLs or files"
)

// parsedResponseRequest is a decoded POST /v1/responses: the request for the model, with
// what the answer echoes and what storing it needs.
type parsedResponseRequest struct {
	in     respRequest
	req    *genai.ChatRequest
	stream bool
	store  bool
	// system is the text of the input's system and developer messages, kept with a
	// stored response (instructions are not).
	system string
	// input are the messages the input adds to the conversation.
	input []genai.Message
	tools []respFunctionToolOut
}

// respFunctionToolOut is a function tool as a response echoes it.
type respFunctionToolOut struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Description *string         `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
	Strict      bool            `json:"strict"`
}

// parseResponseRequest decodes and checks the body of POST /v1/responses, all but what
// needs the store (previous_response_id) and the server's tools.
func parseResponseRequest(data []byte) (*parsedResponseRequest, error) {
	p := &parsedResponseRequest{}
	in := &p.in
	if err := genai.DecodeJSON(data, in); err != nil {
		return nil, err
	}
	if err := genai.RefuseUnknown(data, "", &respRequest{}); err != nil {
		return nil, err
	}
	p.stream = in.Stream != nil && *in.Stream
	p.store = in.Store == nil || *in.Store
	req := &genai.ChatRequest{Model: in.Model, Temperature: in.Temperature, TopP: in.TopP, ServerTools: in.ServerTools}
	p.req = req
	if n := in.MaxOutputTokens; n != nil {
		if *n != math.Trunc(*n) || *n < 1 || *n > genai.MaxOutputTokens {
			return nil, genai.Errorf(genai.EINVALID, "max_output_tokens: must be a whole number from 1 to %d, got %v", genai.MaxOutputTokens, *n)
		}
		req.MaxTokens = int(*n)
	}
	if id := in.PreviousResponseID; id != nil && (*id == "" || len(*id) > maxResponseIDLength || !utf8.ValidString(*id)) {
		return nil, genai.Errorf(genai.EINVALID, "previous_response_id: must be a response id of at most %d bytes", maxResponseIDLength)
	}
	if err := checkMetadata(in.Metadata); err != nil {
		return nil, err
	}
	if err := checkNeutralResponse(in); err != nil {
		return nil, err
	}
	var err error
	if p.system, p.input, err = parseInput(in.Input); err != nil {
		return nil, err
	}
	if req.Tools, p.tools, err = parseRespTools(in.Tools); err != nil {
		return nil, err
	}
	if req.ToolChoice, err = parseRespToolChoice(in.ToolChoice); err != nil {
		return nil, err
	}
	if req.ThinkingBudget, req.ThinkingOff, err = parseReasoningConfig(in.Reasoning); err != nil {
		return nil, err
	}
	if in.ParallelToolCalls != nil && !*in.ParallelToolCalls {
		if req.ToolChoice == nil {
			req.ToolChoice = &genai.ToolChoice{Type: genai.ToolChoiceAuto}
		}
		req.ToolChoice.DisableParallel = true
	}
	return p, nil
}

// checkNeutralResponse refuses text, truncation and include at any but their neutral
// values.
func checkNeutralResponse(in *respRequest) error {
	if len(in.Text) > 0 && string(in.Text) != "null" {
		var t struct {
			Format *struct {
				Type string `json:"type"`
			} `json:"format"`
		}
		if genai.RefuseUnknown(in.Text, "text.", &t) != nil || json.Unmarshal(in.Text, &t) != nil || t.Format == nil || t.Format.Type != "text" {
			return genai.Errorf(genai.EINVALID, "text: only {\"format\": {\"type\": \"text\"}} is supported by this server")
		}
	}
	if in.Truncation != nil && *in.Truncation != "disabled" {
		return genai.Errorf(genai.EINVALID, "truncation: only \"disabled\" is supported by this server")
	}
	for i, inc := range in.Include {
		if inc != "reasoning.encrypted_content" { // given with every reasoning item anyway
			return genai.Errorf(genai.EINVALID, "include[%d]: %q is not supported by this server; only \"reasoning.encrypted_content\"", i, inc)
		}
	}
	return nil
}

// checkMetadata applies OpenAI's limits to "metadata".
func checkMetadata(m map[string]string) error {
	if len(m) > maxMetadataPairs {
		return genai.Errorf(genai.EINVALID, "metadata: at most %d pairs, got %d", maxMetadataPairs, len(m))
	}
	for k, v := range m {
		if len(k) > maxMetadataKeyLen {
			return genai.Errorf(genai.EINVALID, "metadata: key %.20q… is over %d characters", k, maxMetadataKeyLen)
		}
		if len(v) > maxMetadataValueLen {
			return genai.Errorf(genai.EINVALID, "metadata: the value of %q is over %d characters", k, maxMetadataValueLen)
		}
	}
	return nil
}

// parseInput reads "input": a string (one user message), or an array of items. It
// returns the text of the system and developer messages and the conversation's
// messages, consecutive items of one role merged into one message (a function call
// joins the assistant's text before it, an output the user's turn).
func parseInput(raw json.RawMessage) (string, []genai.Message, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil, genai.Errorf(genai.EINVALID, "input: required, a string or an array of items")
	}
	var text string
	if json.Unmarshal(raw, &text) == nil {
		return "", []genai.Message{genai.TextMessage(genai.RoleUser, text)}, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return "", nil, genai.Errorf(genai.EINVALID, "input: expected a string or an array of items")
	}
	if len(items) == 0 {
		return "", nil, genai.Errorf(genai.EINVALID, "input: must hold at least one item")
	}
	if len(items) > maxResponseItems {
		return "", nil, genai.Errorf(genai.ETOOLARGE, "input: at most %d items, got %d", maxResponseItems, len(items))
	}
	var system []string
	var msgs []genai.Message
	add := func(role genai.Role, blocks ...genai.ContentBlock) {
		msgs = appendTurn(msgs, genai.Message{Role: role, Content: blocks})
	}
	for i, item := range items {
		path := fmt.Sprintf("input[%d]", i)
		var head respItemHead
		if err := json.Unmarshal(item, &head); err != nil {
			return "", nil, genai.Errorf(genai.EINVALID, "%s: expected an object", path)
		}
		if head.Type == "" && len(head.Role) > 0 {
			head.Type = "message" // an easy input message: {role, content}
		}
		switch head.Type {
		case "message":
			role, blocks, err := parseMessageItem(item, path)
			if err != nil {
				return "", nil, err
			}
			if role == "" {
				for _, b := range blocks {
					system = append(system, b.Text)
				}
				continue
			}
			add(role, blocks...)
		case "function_call":
			var f respFunctionCallItem
			if err := genai.DecodeStrict(item, path, &f); err != nil {
				return "", nil, err
			}
			switch {
			case f.CallID == nil || *f.CallID == "":
				return "", nil, genai.Errorf(genai.EINVALID, "%s.call_id: required", path)
			case f.Name == nil:
				return "", nil, genai.Errorf(genai.EINVALID, "%s.name: required", path)
			case f.Arguments == nil:
				return "", nil, genai.Errorf(genai.EINVALID, "%s.arguments: required, the call's arguments as a JSON string", path)
			}
			args := strings.TrimSpace(*f.Arguments)
			if args == "" {
				args = "{}"
			}
			var obj map[string]json.RawMessage
			if json.Unmarshal([]byte(args), &obj) != nil || args[0] != '{' {
				return "", nil, genai.Errorf(genai.EINVALID, "%s.arguments: must be a JSON object, as a string", path)
			}
			add(genai.RoleAssistant, genai.ContentBlock{Type: genai.BlockToolUse, ToolUse: &genai.ToolUse{ID: *f.CallID, Name: *f.Name, Input: json.RawMessage(args)}})
		case "function_call_output":
			var f respFunctionOutputItem
			if err := genai.DecodeStrict(item, path, &f); err != nil {
				return "", nil, err
			}
			if f.CallID == nil || *f.CallID == "" {
				return "", nil, genai.Errorf(genai.EINVALID, "%s.call_id: required", path)
			}
			content, err := parseFunctionOutput(f.Output, path+".output")
			if err != nil {
				return "", nil, err
			}
			add(genai.RoleUser, genai.ContentBlock{Type: genai.BlockToolResult, ToolResult: &genai.ToolResult{ToolUseID: *f.CallID, Content: content}})
		case "reasoning":
			b, err := parseReasoningItem(item, path)
			if err != nil {
				return "", nil, err
			}
			add(genai.RoleAssistant, b)
		case "mcp_call":
			// A server tool's call sent back with the output it was in: checked and left
			// out, as from a stored conversation; the model sees the answer it led to.
			var c struct {
				respMCPCall
				ApprovalRequestID *string `json:"approval_request_id"`
			}
			if err := genai.DecodeStrict(item, path, &c); err != nil {
				return "", nil, err
			}
		case "":
			return "", nil, genai.Errorf(genai.EINVALID, "%s.type: required (\"message\", \"function_call\" or \"function_call_output\")", path)
		default:
			return "", nil, genai.Errorf(genai.EINVALID, "%s.type: %q is not supported by this server; items are \"message\", \"function_call\", \"function_call_output\", \"reasoning\" and this server's \"mcp_call\"", path, head.Type)
		}
	}
	return strings.Join(system, "\n\n"), msgs, nil
}

// appendTurn appends m to msgs, merged into the last message when both have one role.
func appendTurn(msgs []genai.Message, m genai.Message) []genai.Message {
	if n := len(msgs); n > 0 && msgs[n-1].Role == m.Role {
		last := &msgs[n-1]
		last.Content = append(last.Content[:len(last.Content):len(last.Content)], m.Content...)
		return msgs
	}
	return append(msgs, m)
}

// parseMessageItem reads a message item. A system or developer message returns role ""
// and its text blocks.
func parseMessageItem(item json.RawMessage, path string) (genai.Role, []genai.ContentBlock, error) {
	var m respMessageItem
	if err := genai.DecodeStrict(item, path, &m); err != nil {
		return "", nil, err
	}
	var role genai.Role
	switch m.Role {
	case "user":
		role = genai.RoleUser
	case "assistant":
		role = genai.RoleAssistant
	case "system", "developer":
	default:
		return "", nil, genai.Errorf(genai.EINVALID, "%s.role: %q is not \"user\", \"assistant\", \"system\" or \"developer\"", path, m.Role)
	}
	var text string
	if json.Unmarshal(m.Content, &text) == nil {
		return role, []genai.ContentBlock{{Type: genai.BlockText, Text: text}}, nil
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(m.Content, &parts); err != nil || len(parts) == 0 {
		return "", nil, genai.Errorf(genai.EINVALID, "%s.content: expected a string or a non-empty array of content parts", path)
	}
	blocks := make([]genai.ContentBlock, len(parts))
	for j, raw := range parts {
		pp := fmt.Sprintf("%s.content[%d]", path, j)
		b, err := parsePart(raw, pp, m.Role)
		if err != nil {
			return "", nil, err
		}
		blocks[j] = b
	}
	return role, blocks, nil
}

// parsePart reads a content part of a message of role: input_text and input_image for
// the user, system and developer (text only), output_text for the assistant.
func parsePart(raw json.RawMessage, path, role string) (genai.ContentBlock, error) {
	var p respPart
	if err := genai.DecodeStrict(raw, path, &p); err != nil {
		return genai.ContentBlock{}, err
	}
	want := "input_text"
	if role == "assistant" {
		want = "output_text"
	}
	switch {
	case p.Type == want || (role == "assistant" && p.Type == "input_text"):
		if p.Text == nil {
			return genai.ContentBlock{}, genai.Errorf(genai.EINVALID, "%s.text: required", path)
		}
		if p.ImageURL != nil || p.FileID != nil || p.Detail != "" {
			return genai.ContentBlock{}, genai.Errorf(genai.EINVALID, "%s: a %s part takes text only", path, p.Type)
		}
		return genai.ContentBlock{Type: genai.BlockText, Text: *p.Text}, nil
	case p.Type == "input_image" && role == "user":
		return respImage(p, path)
	case p.Type == "input_image":
		return genai.ContentBlock{}, genai.Errorf(genai.EINVALID, "%s: images are allowed only in user messages", path)
	case p.Type == "input_file" && role == "user":
		return respFile(p, path)
	case p.Type == "input_file":
		return genai.ContentBlock{}, genai.Errorf(genai.EINVALID, "%s: files are allowed only in user messages", path)
	case p.Type == "output_text":
		return genai.ContentBlock{}, genai.Errorf(genai.EINVALID, "%s.type: \"output_text\" is for assistant messages; a %s message takes \"input_text\"", path, role)
	default:
		return genai.ContentBlock{}, genai.Errorf(genai.EINVALID, "%s.type: %q is not supported by this server; a %s message takes %q, \"input_image\" or \"input_file\"", path, p.Type, role, want)
	}
}

// respFile reads an input_file part as a document, as /v1/chat/completions reads a file
// part: file_data a data URL, named by filename.
func respFile(p respPart, path string) (genai.ContentBlock, error) {
	switch {
	case p.Text != nil || p.ImageURL != nil || p.Detail != "":
		return genai.ContentBlock{}, genai.Errorf(genai.EINVALID, "%s: an input_file part takes filename and file_data", path)
	case p.FileURL != nil:
		return genai.ContentBlock{}, genai.Errorf(genai.EINVALID, "%s.file_url: not supported; send file_data as a data URL (data:application/pdf;base64,…)%s", path, respNoServerFetching)
	}
	f := &oaiFile{}
	if p.Filename != nil {
		f.Filename = *p.Filename
	}
	if p.FileData != nil {
		f.FileData = *p.FileData
	}
	if p.FileID != nil {
		f.FileID = *p.FileID
	}
	doc, err := fileDocument(f, path)
	if err != nil {
		return genai.ContentBlock{}, err
	}
	return genai.ContentBlock{Type: genai.BlockDocument, Document: doc}, nil
}

// respImage reads an input_image part: its image_url must be a data URL.
func respImage(p respPart, path string) (genai.ContentBlock, error) {
	if p.Text != nil {
		return genai.ContentBlock{}, genai.Errorf(genai.EINVALID, "%s.text: not taken by an input_image part", path)
	}
	if p.FileID != nil {
		return genai.ContentBlock{}, genai.Errorf(genai.EINVALID, "%s.file_id: files are not supported; send image_url as a data URL (data:image/png;base64,…)%s", path, respNoServerFetching)
	}
	if p.ImageURL == nil {
		return genai.ContentBlock{}, genai.Errorf(genai.EINVALID, "%s.image_url: required, a data URL (data:image/png;base64,…)", path)
	}
	if d := p.Detail; d != "" && d != "auto" {
		return genai.ContentBlock{}, genai.Errorf(genai.EINVALID, "%s.detail: only \"auto\" is supported by this server, got %q", path, d)
	}
	im, err := dataURLImage(*p.ImageURL, path+".image_url")
	if err != nil {
		return genai.ContentBlock{}, err
	}
	return genai.ContentBlock{Type: genai.BlockImage, Image: im}, nil
}

// parseFunctionOutput reads a function_call_output's output: a string, or an array of
// input_text and input_image parts.
func parseFunctionOutput(raw json.RawMessage, path string) ([]genai.ContentBlock, error) {
	var text string
	if json.Unmarshal(raw, &text) == nil {
		if text == "" {
			text = "(empty)" // a tool result needs content; the model is told there was none
		}
		return []genai.ContentBlock{{Type: genai.BlockText, Text: text}}, nil
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(raw, &parts); err != nil || len(parts) == 0 {
		return nil, genai.Errorf(genai.EINVALID, "%s: required, a string or a non-empty array of input_text and input_image parts", path)
	}
	blocks := make([]genai.ContentBlock, len(parts))
	for j, raw := range parts {
		b, err := parsePart(raw, fmt.Sprintf("%s[%d]", path, j), "user")
		if err != nil {
			return nil, err
		}
		blocks[j] = b
	}
	return blocks, nil
}

// parseRespTools reads "tools": function tools only. The server's own tools are turned
// on by "server_tools", as on /api/chat.
func parseRespTools(raws []json.RawMessage) ([]genai.Tool, []respFunctionToolOut, error) {
	if len(raws) > genai.MaxTools {
		return nil, nil, genai.Errorf(genai.ETOOLARGE, "tools: at most %d tools, got %d", genai.MaxTools, len(raws))
	}
	var tools []genai.Tool
	echo := []respFunctionToolOut{}
	for i, raw := range raws {
		path := fmt.Sprintf("tools[%d]", i)
		var head struct {
			Type string `json:"type"`
		}
		json.Unmarshal(raw, &head)
		if head.Type != "function" {
			return nil, nil, genai.Errorf(genai.EINVALID, "%s.type: %q is not supported; only \"function\" tools (this server's own tools are turned on by server_tools)", path, head.Type)
		}
		var f respFunctionTool
		if err := genai.DecodeStrict(raw, path, &f); err != nil {
			return nil, nil, err
		}
		if f.Name == nil {
			return nil, nil, genai.Errorf(genai.EINVALID, "%s.name: required", path)
		}
		params := f.Parameters
		if len(params) == 0 || string(params) == "null" {
			params = json.RawMessage(emptyToolParameters)
		}
		strict := f.Strict != nil && *f.Strict // held to its schema by structured.Check
		tools = append(tools, genai.Tool{Name: *f.Name, Description: f.Description, InputSchema: params, Strict: strict})
		out := respFunctionToolOut{Type: "function", Name: *f.Name, Parameters: params, Strict: f.Strict != nil && *f.Strict}
		if f.Description != "" {
			out.Description = &f.Description
		}
		echo = append(echo, out)
	}
	return tools, echo, nil
}

// parseRespToolChoice reads "tool_choice": "auto", "none", "required", or
// {"type": "function", "name": …}.
func parseRespToolChoice(raw json.RawMessage) (*genai.ToolChoice, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch s {
		case "auto":
			return &genai.ToolChoice{Type: genai.ToolChoiceAuto}, nil
		case "none":
			return &genai.ToolChoice{Type: genai.ToolChoiceNone}, nil
		case "required":
			return &genai.ToolChoice{Type: genai.ToolChoiceAny}, nil
		}
		return nil, genai.Errorf(genai.EINVALID, "tool_choice: %q is not \"auto\", \"none\" or \"required\"", s)
	}
	var o respToolChoiceObject
	if err := genai.DecodeStrict(raw, "tool_choice", &o); err != nil {
		return nil, err
	}
	if o.Type != "function" {
		return nil, genai.Errorf(genai.EINVALID, "tool_choice.type: %q is not supported; only \"function\" with a name", o.Type)
	}
	if o.Name == "" {
		return nil, genai.Errorf(genai.EINVALID, "tool_choice.name: required")
	}
	return &genai.ToolChoice{Type: genai.ToolChoiceTool, Name: o.Name}, nil
}

// toolChoiceEcho is the tool_choice of the answer, in OpenAI's shape.
func toolChoiceEcho(c *genai.ToolChoice) any {
	if c == nil {
		return "auto"
	}
	switch c.Type {
	case genai.ToolChoiceNone:
		return "none"
	case genai.ToolChoiceAny:
		return "required"
	case genai.ToolChoiceTool:
		return respToolChoiceObject{Type: "function", Name: c.Name}
	}
	return "auto"
}
