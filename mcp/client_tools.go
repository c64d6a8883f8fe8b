package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"genai"
)

// Bounds of one tool result, constants rather than settings because they follow from
// what a model can take, not from the server: 64 KiB of text is about 16,000 tokens, so
// the results of a whole answer's steps (GENAI_AGENT_MAX_STEPS, 8 by default) still fit
// the context of the models we serve; images stay within the limits every provider
// takes in one request.
const (
	MaxResultText   = 64 << 10 // bytes of text of one result; the rest is cut with a note
	MaxResultImages = 4        // images of one result; further ones become a note
)

// maxTools bounds the tools of one server: the tools a request may offer.
const maxTools = genai.MaxTools

// list lists the server's tools as runners, named by the rule of toolName. A tool whose
// schema no provider would take is left out, and logged.
func (s *supervisor) list(ctx context.Context, session *sdk.ClientSession) ([]genai.ToolRunner, error) {
	var out []genai.ToolRunner
	taken := map[string]bool{}
	for t, err := range session.Tools(ctx, nil) {
		if err != nil {
			return nil, err
		}
		schema, err := json.Marshal(t.InputSchema)
		spec := genai.Tool{Name: toolName(s.cfg.Name, t.Name, taken), Description: t.Description, InputSchema: schema}
		if err == nil {
			err = checkSchema(schema)
		}
		if err != nil {
			s.log.Warn("MCP tool left out: its input schema is not one a model takes", "tool", t.Name, "err", err)
			continue
		}
		if len(out) == maxTools {
			s.log.Warn("MCP server has more tools than a request may offer; the rest are left out", "max", maxTools)
			break
		}
		taken[spec.Name] = true
		if spec.Description == "" {
			spec.Description = fmt.Sprintf("The tool %s of the MCP server %s.", t.Name, s.cfg.Name)
		}
		out = append(out, &runner{sup: s, spec: spec, name: t.Name})
	}
	return out, nil
}

// checkSchema applies the rule of genai.Tool.InputSchema, which every provider keeps: a
// JSON Schema object of type "object", of at most genai.MaxToolSchemaSize bytes.
func checkSchema(schema []byte) error {
	if len(schema) > genai.MaxToolSchemaSize {
		return fmt.Errorf("%d bytes, over the limit of %d", len(schema), genai.MaxToolSchemaSize)
	}
	var s struct {
		Type any `json:"type"`
	}
	if json.Unmarshal(schema, &s) != nil || s.Type != "object" {
		return fmt.Errorf("not a JSON Schema of type \"object\"")
	}
	return nil
}

// toolName is the name the model sees for the tool name of server: server + "__" +
// name, with every byte outside [a-zA-Z0-9_-] made '_' and cut to 64 bytes, and "_2",
// "_3"… at the end when that is taken by an earlier tool of the same server. The
// server's name, which has no "__" and ends in no '_', is the part before the first
// "__", so two servers never share a tool name.
func toolName(server, name string, taken map[string]bool) string {
	b := []byte(server + "__" + name)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	base := string(b[:min(len(b), genai.MaxToolNameLength)])
	out := base
	for n := 2; taken[out]; n++ {
		suffix := "_" + strconv.Itoa(n)
		out = base[:min(len(base), genai.MaxToolNameLength-len(suffix))] + suffix
	}
	return out
}

// runner is one tool of a server.
type runner struct {
	sup  *supervisor
	spec genai.Tool
	name string // the server's name for it
}

func (r *runner) Tool() genai.Tool { return r.spec }

// Run calls the tool on the server's current session, under the call timeout.
func (r *runner) Run(ctx context.Context, input json.RawMessage) (*genai.ToolOutput, error) {
	server := r.sup.cfg.Name
	session, why := r.sup.current()
	if session == nil {
		return nil, genai.Errorf(genai.EUNAVAILABLE, "the MCP server %s is down (%s); it is being restarted", server, why)
	}
	var args map[string]any
	if err := json.Unmarshal(input, &args); err != nil || args == nil {
		return nil, genai.Errorf(genai.EINVALID, "the input of %s must be a JSON object", r.spec.Name)
	}
	timeout := r.sup.opts.CallTimeout
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := session.CallTool(cctx, &sdk.CallToolParams{Name: r.name, Arguments: json.RawMessage(input)})
	var rpcErr *jsonrpc.Error
	switch {
	case err == nil:
		return convertResult(res), nil
	case ctx.Err() != nil:
		return nil, ctx.Err() // the request ended: nobody is waiting for an answer
	case errors.Is(cctx.Err(), context.DeadlineExceeded):
		nudge(r.sup.check) // hung, or just slow? A ping tells, and a hung server is restarted.
		return nil, genai.Errorf(genai.ETIMEOUT, "the MCP server %s did not answer the call of %s within %s", server, r.name, timeout)
	case errors.As(err, &rpcErr):
		return nil, genai.Errorf(genai.EUPSTREAM, "the MCP server %s refused the call of %s: %s", server, r.name, clipText(rpcErr.Message, 1000))
	case errors.Is(err, sdk.ErrConnectionClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return nil, genai.Errorf(genai.EUNAVAILABLE, "the MCP server %s stopped during the call of %s; it is being restarted", server, r.name)
	default:
		return nil, genai.Errorf(genai.EUPSTREAM, "the call of %s on the MCP server %s failed: %s", r.name, server, clipText(err.Error(), 1000))
	}
}

// convertResult is res as the model sees it: its text and images in order, isError
// kept, within MaxResultText and MaxResultImages. What a model cannot take (audio,
// binary resources, images of other formats) becomes a note saying what it was, so the
// model knows it is missing rather than never learning of it.
func convertResult(res *sdk.CallToolResult) *genai.ToolOutput {
	out := &genai.ToolOutput{IsError: res.IsError}
	textLeft, images := MaxResultText, 0
	cut := 0 // bytes of text cut
	// note adds a line of text outside the bound: what was left out, which the model
	// must learn of however long the text was.
	note := func(s string) {
		if n := len(out.Content); n > 0 && out.Content[n-1].Type == genai.BlockText {
			out.Content[n-1].Text += "\n" + s
			return
		}
		out.Content = append(out.Content, genai.ContentBlock{Type: genai.BlockText, Text: s})
	}
	text := func(s string) {
		if len(s) > textLeft {
			cut += len(s) - textLeft
			s = clipText(s, textLeft)
		}
		textLeft -= len(s)
		if s == "" {
			return
		}
		if n := len(out.Content); n > 0 && out.Content[n-1].Type == genai.BlockText {
			out.Content[n-1].Text += "\n" + s // one block per run of text, as a model writes it
			return
		}
		out.Content = append(out.Content, genai.ContentBlock{Type: genai.BlockText, Text: s})
	}
	for _, c := range res.Content {
		switch c := c.(type) {
		case *sdk.TextContent:
			text(c.Text)
		case *sdk.ImageContent:
			format := genai.SniffImage(c.Data)
			switch {
			case format == "" || "image/"+format != strings.ToLower(c.MIMEType) && !(format == "jpeg" && strings.EqualFold(c.MIMEType, "image/jpg")):
				note(fmt.Sprintf("[an image of type %s, %d bytes, left out: not a PNG, JPEG, GIF or WebP image]", c.MIMEType, len(c.Data)))
			case len(c.Data) > genai.MaxImageBytes:
				note(fmt.Sprintf("[a %s image of %d bytes left out: over the limit of %d]", format, len(c.Data), genai.MaxImageBytes))
			case images == MaxResultImages:
				note(fmt.Sprintf("[a %s image left out: a result holds at most %d images]", format, MaxResultImages))
			default:
				images++
				out.Content = append(out.Content, genai.ContentBlock{Type: genai.BlockImage, Image: &genai.Image{Format: format, Data: c.Data}})
			}
		case *sdk.AudioContent:
			note(fmt.Sprintf("[audio of type %s, %d bytes, left out: the model does not take audio]", c.MIMEType, len(c.Data)))
		case *sdk.ResourceLink:
			link := "[resource " + c.Name + ": " + c.URI + "]"
			if c.Description != "" {
				link += " " + c.Description
			}
			text(link)
		case *sdk.EmbeddedResource:
			switch r := c.Resource; {
			case r == nil:
			case r.Text != "" || r.Blob == nil:
				text("[resource " + r.URI + "]\n" + r.Text)
			default:
				note(fmt.Sprintf("[resource %s of type %s, %d bytes of binary data, left out]", r.URI, r.MIMEType, len(r.Blob)))
			}
		}
	}
	if len(res.Content) == 0 && res.StructuredContent != nil {
		if b, err := json.Marshal(res.StructuredContent); err == nil {
			text(string(b))
		}
	}
	if cut > 0 {
		note(fmt.Sprintf("[%d more bytes of text cut: a result holds at most %d]", cut, MaxResultText))
	}
	return out
}

// clipText cuts s to at most n bytes, not inside a UTF-8 character.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
