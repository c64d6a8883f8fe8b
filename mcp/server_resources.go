package mcp

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"genai"
)

// The knowledge base's documents as MCP resources: resources/list is the list of
// documents, read each time (they change as they are ingested, here and by other
// servers on the same store); resources/read of genai://kb/documents/{id} is the
// document's text, put together again from its chunks.

// documentURIPrefix starts the URI of every document resource.
const documentURIPrefix = "genai://kb/documents/"

// documentsPageSize bounds the resources of one resources/list answer; nextCursor
// leads on.
const documentsPageSize = 500

func (s *Server) addDocuments() {
	s.srv.AddResourceTemplate(&sdk.ResourceTemplate{
		Name:        "document",
		Title:       "Knowledge-base document",
		Description: "The text of a document of the knowledge base, by its id (list_documents and resources/list name them).",
		MIMEType:    "text/plain",
		URITemplate: documentURIPrefix + "{id}",
	}, s.readDocument)
	s.srv.AddReceivingMiddleware(func(next sdk.MethodHandler) sdk.MethodHandler {
		return func(ctx context.Context, method string, req sdk.Request) (sdk.Result, error) {
			if method != "resources/list" {
				return next(ctx, method, req)
			}
			var cursor string
			if p, ok := req.GetParams().(*sdk.ListResourcesParams); ok && p != nil {
				cursor = p.Cursor
			}
			return s.listDocuments(ctx, cursor)
		}
	})
}

// listDocuments answers resources/list from cursor, the offset where the page before
// ended.
func (s *Server) listDocuments(ctx context.Context, cursor string) (*sdk.ListResourcesResult, error) {
	from := 0
	if cursor != "" {
		n, err := strconv.Atoi(cursor)
		if err != nil || n < 0 {
			return nil, protocolError(genai.Errorf(genai.EINVALID, "cursor: %q is not a cursor this server gave", clip(cursor)))
		}
		from = n
	}
	docs, err := s.opts.Documents.ListDocuments(ctx)
	if err != nil {
		return nil, s.failed("resources/list", err)
	}
	out := &sdk.ListResourcesResult{Resources: []*sdk.Resource{}}
	for _, d := range docs[min(from, len(docs)):min(from+documentsPageSize, len(docs))] {
		out.Resources = append(out.Resources, &sdk.Resource{
			// No size: the resource is the extracted text, whose size the store does not
			// keep; the source's (a PDF's, say) would mislead.
			URI: documentURIPrefix + d.ID, Name: d.ID, Title: d.Title, MIMEType: "text/plain",
			Description: d.URI + " (" + d.Format + ", " + strconv.FormatInt(d.Bytes, 10) + " bytes, " + strconv.Itoa(d.Chunks) + " chunks)",
		})
	}
	if from+documentsPageSize < len(docs) {
		out.NextCursor = strconv.Itoa(from + documentsPageSize)
	}
	return out, nil
}

func (s *Server) readDocument(ctx context.Context, req *sdk.ReadResourceRequest) (*sdk.ReadResourceResult, error) {
	uri := req.Params.URI
	id, ok := strings.CutPrefix(uri, documentURIPrefix)
	if !ok || id == "" || strings.ContainsAny(id, "/?#") {
		return nil, sdk.ResourceNotFoundError(uri)
	}
	if _, err := s.opts.Documents.GetDocument(ctx, id); err != nil {
		if genai.ErrorCode(err) == genai.ENOTFOUND {
			return nil, sdk.ResourceNotFoundError(uri)
		}
		return nil, s.failed("resources/read", err)
	}
	chunks, err := s.opts.Documents.DocumentChunks(ctx, id)
	if err != nil {
		return nil, s.failed("resources/read", err)
	}
	return &sdk.ReadResourceResult{Contents: []*sdk.ResourceContents{{URI: uri, MIMEType: "text/plain", Text: DocumentText(chunks)}}}, nil
}

// DocumentText puts a document's text together from its chunks, in order: each
// section's heading path where it changes, on lines of their own, and each chunk's text
// without the start it shares with the chunk before (chunks overlap by a few sentences
// so that a passage cut in two is found whole in one of them).
func DocumentText(chunks []genai.Chunk) string {
	chunks = slices.Clone(chunks)
	slices.SortStableFunc(chunks, func(a, b genai.Chunk) int { return a.Index - b.Index })
	var b strings.Builder
	var headings []string
	prev := ""
	for i, c := range chunks {
		text := c.Text
		if i == 0 || !slices.Equal(c.Headings, headings) {
			if b.Len() > 0 {
				b.WriteString("\n\n")
			}
			for _, h := range c.Headings {
				b.WriteString(h)
				b.WriteString("\n\n")
			}
			headings = c.Headings
		} else if k := overlap(prev, text); k > 0 {
			text = text[k:] // starts with the separator the chunker put after the overlap
		} else {
			b.WriteString("\n\n")
		}
		b.WriteString(text)
		prev = c.Text
	}
	return b.String()
}

// overlap returns the length of the longest start of next, ending at a word boundary,
// that is also the end of prev: the text the chunker repeated.
func overlap(prev, next string) int {
	best := 0
	for k := 0; k < len(next) && k <= len(prev); {
		i := strings.IndexAny(next[k:], " \t\n")
		end := len(next)
		if i >= 0 {
			end = k + i
		}
		if end > len(prev) {
			break
		}
		if strings.HasSuffix(prev, next[:end]) && (end == len(prev) || isSpace(prev[len(prev)-end-1])) {
			best = end
		}
		k = end + 1
	}
	return best
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' }

// failed is the protocol error of a store's failure: its message when it is safe to
// show, else "internal error" with the detail logged.
func (s *Server) failed(method string, err error) error {
	if genai.ErrorCode(err) == genai.EINTERNAL {
		s.log.Error("mcp: "+method+" failed", "err", err)
	}
	return protocolError(err)
}

// protocolError maps an error to a JSON-RPC error by its code, in one table: bad input
// is Invalid Params, anything else an internal error, each with the client-safe message.
func protocolError(err error) error {
	var code int64 = jsonrpc.CodeInternalError
	switch genai.ErrorCode(err) {
	case genai.EINVALID, genai.ETOOLARGE, genai.ENOTFOUND:
		code = jsonrpc.CodeInvalidParams
	}
	return &jsonrpc.Error{Code: code, Message: genai.ErrorMessage(err)}
}

func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return s
}
