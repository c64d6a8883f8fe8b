package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"

	"genai"
)

// This file holds the protections every request passes before a handler runs: a
// request id, the Host check against DNS rebinding, cross-origin protection of writes,
// API keys, and a deadline on reading the request.

// LoopbackHosts are the host names a server listening on loopback answers to by
// default: a page elsewhere that rebinds its own name to 127.0.0.1 sends its own name
// as Host and is refused.
var LoopbackHosts = []string{"localhost", "127.0.0.1", "::1"}

// DefaultBodyReadTimeout bounds reading a request body, so that a client trickling bytes
// cannot hold a connection; streamed answers have no write timeout at all.
const DefaultBodyReadTimeout = 30 * time.Second

// requestInfo is what the middleware learns of a request, kept in its context once
// so that the layers fill it in without copying the request: its id, the route
// pattern it matched (for metrics) and who made it.
type requestInfo struct {
	id, pattern, caller string
}

type infoKey struct{}

func infoOf(ctx context.Context) *requestInfo {
	if ri, ok := ctx.Value(infoKey{}).(*requestInfo); ok {
		return ri
	}
	return &requestInfo{}
}

// RequestID returns the id of the request ctx belongs to, or "".
func RequestID(ctx context.Context) string { return infoOf(ctx).id }

// Route returns the pattern of the route the request ctx belongs to matched, such as
// "POST /v1/chat/completions", once it has been routed; "" before, or when none matched.
func Route(ctx context.Context) string { return infoOf(ctx).pattern }

// Caller returns who made the request ctx belongs to: the name of the key it carried
// (for a key of APIKeys, "key:" and the first 16 hex digits of its SHA-256), or "" when
// the server has no keys. It binds state such as knowledge-base sessions to the key
// that made it.
func Caller(ctx context.Context) string { return infoOf(ctx).caller }

// maxRequestIDLength bounds an X-Request-Id a caller sends.
const maxRequestIDLength = 64

// validRequestID reports whether a caller's X-Request-Id can be used as ours: short,
// and of characters that are safe in logs and headers.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLength {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:", c)) {
			return false
		}
	}
	return true
}

// requestID gives every request an id, the caller's X-Request-Id when it is valid, and
// sends it back in X-Request-Id: an error's detail is logged with it and the client is
// shown it, so the two can be matched.
func (s *Server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			var b [12]byte
			rand.Read(b[:])
			id = "req_" + hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), infoKey{}, &requestInfo{id: id})))
	})
}

// checkHost refuses requests whose Host is not one the server answers to. A server on
// loopback is reachable by any page the user opens; a page whose own name resolves to
// 127.0.0.1 (DNS rebinding) would be same-origin with it but for the Host it sends.
// With no allowed hosts configured (a server beyond loopback, behind keys) any Host
// passes.
func (s *Server) checkHost(next http.Handler) http.Handler {
	if len(s.opts.AllowedHosts) == 0 {
		return next
	}
	allowed := map[string]bool{}
	for _, h := range s.opts.AllowedHosts {
		if h == "*" {
			return next
		}
		allowed[strings.ToLower(strings.Trim(h, "[]"))] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
		if !allowed[host] {
			s.refuse(w, r, genai.Errorf(genai.EFORBIDDEN,
				"Host %q is not served here; to serve it, add it to GENAI_ALLOWED_HOSTS", clipForMessage(r.Host)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// crossOrigin refuses state-changing requests that a browser sent from another origin,
// by Go's CrossOriginProtection (Sec-Fetch-Site, else Origin against Host), trusting
// the origins allowed by CORS. Without it, any page the user visits could post notes,
// uploads or chats to a server on loopback: a form or a fetch with a "simple" content
// type needs no preflight.
func (s *Server) crossOrigin(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	for _, o := range s.opts.CORSOrigins {
		if o == "*" {
			return next // every origin trusted, as configured; API keys protect the API
		}
		if err := cop.AddTrustedOrigin(o); err != nil {
			// CheckOrigins refuses such a setting at start; a server built without it
			// trusts the origins it can parse.
			s.log.Error("GENAI_CORS_ORIGINS: ignoring an origin", "origin", o, "err", err)
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := cop.Check(r); err != nil {
			origin := r.Header.Get("Origin")
			if origin == "" {
				origin = "another site"
			}
			s.refuse(w, r, genai.Errorf(genai.EFORBIDDEN,
				"cross-origin %s from %s refused; to allow a browser app on another origin, add it to GENAI_CORS_ORIGINS",
				r.Method, clipForMessage(origin)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// CheckOrigins returns an error naming the first of origins that cannot be trusted as a
// browser origin ("scheme://host[:port]", or "*" for every origin).
func CheckOrigins(origins []string) error {
	cop := http.NewCrossOriginProtection()
	for _, o := range origins {
		if o == "*" {
			continue
		}
		if err := cop.AddTrustedOrigin(o); err != nil {
			return fmt.Errorf("%q is not an origin such as https://app.example.com: %w", o, err)
		}
	}
	return nil
}

// refuse answers err and closes the connection without reading what is left of the
// body: net/http would otherwise drain it to reuse the connection, for as long as the
// client cares to trickle it.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, err error) {
	w.Header().Set("Connection", "close")
	s.writeError(w, r, err)
	if r.Body != nil && r.Body != http.NoBody {
		http.NewResponseController(w).SetReadDeadline(time.Now())
	}
}

// clipForMessage bounds a client's value quoted in an error message.
func clipForMessage(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return s
}

// open reports whether a route is served without an API key: the probes, the pages and
// their assets, and /metrics when configured so. Every other route, those added later
// included, needs a key when keys are set.
func (s *Server) open(r *http.Request) bool {
	switch p := r.URL.Path; {
	case p == "/healthz", p == "/readyz":
		return true
	case p == "/metrics":
		return s.opts.MetricsPublic
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		return uiPaths[p] || strings.HasPrefix(p, "/static/")
	}
	return false
}

// uiPaths are the web pages.
var uiPaths = map[string]bool{
	"/": true, "/image": true, "/mirror": true, "/notes": true, "/aoss-index": true, "/aoss-query": true,
	"/knowledge": true, "/retrieve": true, "/retrieve-generate": true,
}

// knownKey is a key the server takes, by the SHA-256 of its secret.
type knownKey struct {
	sum [sha256.Size]byte
	key *genai.Key
}

// knownKeys returns the keys of opts: those of the keys file as they are, and each of
// APIKeys as an unlimited key named "key:" and the first 16 hex digits of its SHA-256.
func knownKeys(opts Options) []knownKey {
	var keys []knownKey
	for i := range opts.Keys {
		k := &opts.Keys[i]
		var kk knownKey
		hex.Decode(kk.sum[:], []byte(k.SHA256)) // validated by genai.ParseKeys
		kk.key = k
		keys = append(keys, kk)
	}
	for _, secret := range opts.APIKeys {
		sum := sha256.Sum256([]byte(secret))
		keys = append(keys, knownKey{sum: sum, key: &genai.Key{Name: "key:" + hex.EncodeToString(sum[:8]), SHA256: hex.EncodeToString(sum[:])}})
	}
	return keys
}

// keyNamed returns the key called name, or nil.
func (s *Server) keyNamed(name string) *genai.Key {
	for _, k := range s.keys {
		if k.key.Name == name {
			return k.key
		}
	}
	return nil
}

// authenticate requires a configured API key on every route but the open ones, before
// any of the body is read, and records the caller and its key in the request's context.
// A refused request's connection is closed rather than drained, so its body is never
// read. Keys are compared by their SHA-256, in constant time and against every key, so
// that neither a key nor its position shows in the time an answer takes.
func (s *Server) authenticate(next http.Handler) http.Handler {
	if len(s.keys) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions || s.open(r) {
			next.ServeHTTP(w, r)
			return
		}
		got := r.Header.Get("X-API-Key")
		if auth := r.Header.Get("Authorization"); auth != "" {
			scheme, token, _ := strings.Cut(auth, " ")
			if !strings.EqualFold(scheme, "Bearer") {
				s.refuse(w, r, genai.Errorf(genai.EUNAUTH, "Authorization: expected \"Bearer <key>\""))
				return
			}
			got = strings.TrimSpace(token)
		}
		if got == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="genai"`)
			s.refuse(w, r, genai.Errorf(genai.EUNAUTH, "an API key is required: send Authorization: Bearer <key> or X-API-Key"))
			return
		}
		sum := sha256.Sum256([]byte(got))
		var key *genai.Key
		for _, k := range s.keys {
			if subtle.ConstantTimeCompare(sum[:], k.sum[:]) == 1 {
				key = k.key
			}
		}
		if key == nil {
			s.refuse(w, r, genai.Errorf(genai.EUNAUTH, "the API key is not valid"))
			return
		}
		infoOf(r.Context()).caller = key.Name
		next.ServeHTTP(w, r.WithContext(genai.WithKey(r.Context(), key)))
	})
}

// bodyDeadline bounds the time to read a request's body: a client that announces a body
// and trickles it, or stops, is cut when the deadline passes and its connection freed.
// The deadline is lifted as soon as the body has been read, so that it never cuts an
// answer: net/http watches the connection for the client going away once the body is
// read, and a deadline still set would end that watch, and the request, mid-stream.
// A route that reads its body for longer (uploads) sets its own deadline.
func (s *Server) bodyDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		rc.SetReadDeadline(time.Now().Add(s.opts.BodyReadTimeout))
		r.Body = &liftOnEOF{ReadCloser: r.Body, lift: func() { rc.SetReadDeadline(time.Time{}) }}
		next.ServeHTTP(w, r)
	})
}

// liftOnEOF runs lift once, when its body has been read to the end.
type liftOnEOF struct {
	io.ReadCloser
	lift func()
	done bool
}

func (b *liftOnEOF) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		b.lift()
	}
	return n, err
}

// contentTypeIs reports whether r declares the media type want; the error names what it
// declared instead. A JSON route takes application/json only: text/plain and form types
// are what a page on another site can send without a preflight.
func contentTypeIs(r *http.Request, want string) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return genai.Errorf(genai.EMEDIATYPE, "Content-Type: missing; send %s", want)
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != want {
		return genai.Errorf(genai.EMEDIATYPE, "Content-Type: %q is not %s", clipForMessage(ct), want)
	}
	return nil
}
