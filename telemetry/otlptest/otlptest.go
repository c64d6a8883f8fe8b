// Package otlptest is an OTLP/HTTP trace receiver for tests: an HTTP server that decodes
// the protobuf export requests of OpenTelemetry exporters with the official OTLP
// protobufs (go.opentelemetry.io/proto/otlp) and keeps the spans, so that a test checks
// what a collector would receive.
package otlptest

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Span is one received span, its ids in hex and its attributes as Go values (string,
// bool, int64, float64, or []any for arrays).
type Span struct {
	Name                          string
	TraceID, SpanID, ParentSpanID string
	Kind                          tracepb.Span_SpanKind
	Attributes                    map[string]any
	StatusCode                    tracepb.Status_StatusCode
	StatusMessage                 string
	// Resource holds the attributes of the span's resource (service.name…).
	Resource   map[string]any
	Start, End uint64 // Unix nanoseconds
}

// Server receives OTLP/HTTP trace exports at /v1/traces.
type Server struct {
	*httptest.Server
	mu    sync.Mutex
	spans []Span
	bad   []string
}

// NewServer starts a receiver on a loopback port; Close stops it.
func NewServer() *Server {
	s := &Server{}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Endpoint is the URL to set as OTEL_EXPORTER_OTLP_ENDPOINT.
func (s *Server) Endpoint() string { return s.URL }

// Spans returns the spans received so far, in the order they arrived.
func (s *Server) Spans() []Span {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Span(nil), s.spans...)
}

// Errors lists the export requests the receiver could not decode, each with the reason.
func (s *Server) Errors() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bad...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, why string) {
		s.mu.Lock()
		s.bad = append(s.bad, why)
		s.mu.Unlock()
		http.Error(w, why, status)
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		fail(http.StatusNotFound, r.Method+" "+r.URL.Path+": not an OTLP trace export")
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		fail(http.StatusUnsupportedMediaType, "content type "+ct+", want application/x-protobuf")
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			fail(http.StatusBadRequest, "gzip: "+err.Error())
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		fail(http.StatusBadRequest, "read: "+err.Error())
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		fail(http.StatusBadRequest, "decode: "+err.Error())
		return
	}
	var got []Span
	for _, rs := range req.GetResourceSpans() {
		res := attrs(rs.GetResource().GetAttributes())
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				got = append(got, Span{
					Name: sp.GetName(), TraceID: hex.EncodeToString(sp.GetTraceId()), SpanID: hex.EncodeToString(sp.GetSpanId()),
					ParentSpanID: hex.EncodeToString(sp.GetParentSpanId()), Kind: sp.GetKind(), Attributes: attrs(sp.GetAttributes()),
					StatusCode: sp.GetStatus().GetCode(), StatusMessage: sp.GetStatus().GetMessage(), Resource: res,
					Start: sp.GetStartTimeUnixNano(), End: sp.GetEndTimeUnixNano(),
				})
			}
		}
	}
	s.mu.Lock()
	s.spans = append(s.spans, got...)
	s.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	io.Copy(w, bytes.NewReader(out))
}

func attrs(kvs []*commonpb.KeyValue) map[string]any {
	m := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		m[kv.GetKey()] = value(kv.GetValue())
	}
	return m
}

func value(v *commonpb.AnyValue) any {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BoolValue:
		return x.BoolValue
	case *commonpb.AnyValue_IntValue:
		return x.IntValue
	case *commonpb.AnyValue_DoubleValue:
		return x.DoubleValue
	case *commonpb.AnyValue_ArrayValue:
		var out []any
		for _, e := range x.ArrayValue.GetValues() {
			out = append(out, value(e))
		}
		return out
	case *commonpb.AnyValue_BytesValue:
		return x.BytesValue
	}
	return nil
}
